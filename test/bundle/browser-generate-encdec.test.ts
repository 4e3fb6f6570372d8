// Bundles of the encoder–decoder (models/transformer.tfm, PyTorch's weights from
// test/fixtures/transformer_generate.py) generate in headless Chromium (playwright-core,
// /usr/bin/chromium; WebGPU on SwiftShader): the CPU bundle and the WebGPU bundle run the encode
// phase once and the step graph after it, and give PyTorch's greedy tokens (batch 2, the second
// source padded).
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, chromiumArgs, serve, workDir } from "./helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";

const indexPage = `<!doctype html><meta charset="utf-8"><title>tfm generate (encoder–decoder)</title>
<script type="module">
globalThis.generate = async (bundle, ref, n) => {
  const b = await import(bundle);
  const m = await b.load(new URL("/transformer.safetensors", location.href));
  const source = { src: { data: ref.src }, src_mask: { data: ref.src_mask } };
  const steps = [];
  for await (const t of m.generate(ref.tokens.map(() => [ref.start]), { maxNewTokens: n, source })) steps.push(t);
  const cacheLength = m.cacheLength;
  m.dispose();
  return { tokens: ref.tokens.map((_, i) => steps.map((t) => t[i])), cacheLength };
};
globalThis.ready = true;
</script>`;

let dir = "";
let ref: { src: number[][]; src_mask: number[][]; start: number; tokens: number[][] };
let server: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = workDir("tfm-bundle-browser-encdec-");
  const r = spawnSync(python, ["test/fixtures/transformer_generate.py", join(dir, "fixtures")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
  const fixture = join(dir, "fixtures", "transformer_generate");
  ref = JSON.parse(readFileSync(join(fixture, "generate.json"), "utf8")) as typeof ref;
  const { settings } = JSON.parse(readFileSync(join(fixture, "manifest.json"), "utf8")) as { settings: Record<string, unknown> };
  build("models/transformer.tfm", settings, join(dir, "bundles", "transformer.js"));
  build("models/transformer.tfm", settings, join(dir, "bundles", "transformer-webgpu.js"), "webgpu");
  copyFileSync(join(fixture, "weights.safetensors"), join(dir, "transformer.safetensors"));
  server = await serve(dir, { "/": indexPage });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
  page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("encoder–decoder bundles generate in Chromium as PyTorch does (models/transformer.tfm)", () => {
  for (const bundle of ["transformer.js", "transformer-webgpu.js"]) {
    it(bundle, async () => {
      const got = (await page.evaluate(`generate(${JSON.stringify(`/bundles/${bundle}`)}, ${JSON.stringify(ref)}, 32)`)) as { tokens: number[][]; cacheLength: number };
      console.log(`[bundle/chromium/generate] ${bundle}: ${got.tokens.map((t) => t.join(",")).join(" | ")}`);
      expect(got.tokens).toEqual(ref.tokens);
      expect(got.cacheLength).toBe(32);
      expect(pageErrors).toEqual([]);
    }, 180_000);
  }
});

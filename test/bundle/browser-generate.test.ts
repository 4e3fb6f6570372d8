// Bundles of a small GPT-2 (models/gpt2.tfm, random weights) generate in headless Chromium
// (playwright-core, /usr/bin/chromium; WebGPU on SwiftShader): the CPU bundle and the WebGPU
// bundle — whose KV cache stays on the device between steps — give the session's greedy tokens.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { build, chromiumArgs, serve, workDir } from "./helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 61, n_positions: 24 };
const prompt = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
const model = compile(readFileSync(file, "utf8"), { file, settings });

const indexPage = `<!doctype html><meta charset="utf-8"><title>tfm generate</title>
<script type="module">
globalThis.generate = async (bundle, prompt, n) => {
  const b = await import(bundle);
  const m = await b.load(new URL("/gpt2.safetensors", location.href));
  const steps = [];
  for await (const t of m.generate(prompt, { maxNewTokens: n })) steps.push(t);
  m.reset();
  const again = [];
  for await (const t of m.generate(prompt, { maxNewTokens: n })) again.push(t);
  const cacheLength = m.cacheLength;
  m.dispose();
  return { steps, again, cacheLength };
};
globalThis.ready = true;
</script>`;

let dir = "";
let server: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  expect(model.diagnostics).toEqual([]);
  dir = workDir("tfm-bundle-browser-generate-");
  build(file, settings, join(dir, "bundles", "gpt2.js"));
  build(file, settings, join(dir, "bundles", "gpt2-webgpu.js"), "webgpu");
  writeFileSync(join(dir, "gpt2.safetensors"), writeSafetensors(randomCheckpoint(model.checked.instance!.weights, 4)));
  server = await serve(dir, { "/": indexPage });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
  page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("bundles generate in Chromium as the session does (GPT-2, 2 layers)", () => {
  for (const bundle of ["gpt2.js", "gpt2-webgpu.js"]) {
    it(bundle, async () => {
      const s = await model.load(join(dir, "gpt2.safetensors"));
      const want: number[][] = [];
      for await (const t of s.generate(prompt, { maxNewTokens: 8 })) want.push(t);
      s.dispose();
      const got = (await page.evaluate(`generate(${JSON.stringify(`/bundles/${bundle}`)}, ${JSON.stringify(prompt)}, 8)`)) as { steps: number[][]; again: number[][]; cacheLength: number };
      console.log(`[bundle/chromium/generate] ${bundle}: ${got.steps.map((t) => t.join("/")).join(" ")}`);
      expect(got.steps).toEqual(want);
      expect(got.again).toEqual(want);
      expect(got.cacheLength).toBe(5 + 7);
      expect(pageErrors).toEqual([]);
    }, 120_000);
  }
});

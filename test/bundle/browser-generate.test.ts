// Bundles of a small GPT-2 (models/gpt2.tfm, random weights) generate in headless Chromium
// (playwright-core, /usr/bin/chromium; WebGPU on SwiftShader): the CPU bundle and the WebGPU
// bundle — whose KV cache stays on the device between steps — give the session's greedy tokens;
// the WebGPU bundle with `weightsDtype: "f16"` gives the logits of a WebGPU session with f16 weights
// (Dawn in Node), and with "int8" those of a WebGPU session with int8 weights; the CPU bundle with
// "f16" and with "int8" gives the bits of a CPU session with those weights.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { build, chromiumArgs, serve, workDir } from "./helpers.js";
import { openGpu } from "../webgpu/helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 61, n_positions: 24 };
const prompt = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
const model = compile(readFileSync(file, "utf8"), { file, settings });

const indexPage = `<!doctype html><meta charset="utf-8"><title>tfm generate</title>
<script type="module">
globalThis.logits = async (bundle, prompt, options) => {
  const b = await import(bundle);
  let m;
  try {
    m = await b.load(new URL("/gpt2.safetensors", location.href), options);
  } catch (e) {
    return { code: e.code, message: e.message };
  }
  const { logits } = await m.run({ input_ids: { data: prompt } });
  m.dispose();
  return { logits: Array.from(logits.data) };
};
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

  for (const weightsDtype of ["f16", "int8"] as const) {
    it(`gpt2-webgpu.js with ${weightsDtype} weights: the logits of a WebGPU session with ${weightsDtype} weights`, async () => {
      const gpu = await openGpu();
      let want: Float32Array, f32: Float32Array;
      try {
        const s = await model.load(join(dir, "gpt2.safetensors"), { backend: "webgpu", device: gpu.device, weightsDtype });
        want = (await s.run({ input_ids: { data: prompt } })).logits!.data as Float32Array;
        s.dispose();
        const t = await model.load(join(dir, "gpt2.safetensors"));
        f32 = (await t.run({ input_ids: { data: prompt } })).logits!.data as Float32Array;
        t.dispose();
      } finally {
        gpu.close();
      }
      const got = (await page.evaluate(`logits("/bundles/gpt2-webgpu.js", ${JSON.stringify(prompt)}, { weightsDtype: "${weightsDtype}" })`)) as { logits: number[] };
      const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
      console.log(`[bundle/chromium/${weightsDtype}] gpt2-webgpu.js ${weightsDtype} logits: max |Δ| against the Node session with ${weightsDtype} weights ${diff(got.logits, want).toExponential(2)}, against f32 ${diff(got.logits, f32).toExponential(2)}`);
      expect(got.logits.length).toBe(want.length);
      expect(diff(got.logits, want)).toBeLessThan(1e-5);
      expect(diff(got.logits, f32)).toBeGreaterThan(1e-4);
      expect(pageErrors).toEqual([]);
    }, 120_000);
  }

  for (const weightsDtype of ["f16", "int8"] as const) {
    it(`gpt2.js with ${weightsDtype} weights: the bits of a CPU session with ${weightsDtype} weights`, async () => {
      const s = await model.load(join(dir, "gpt2.safetensors"), { weightsDtype });
      const want = (await s.run({ input_ids: { data: prompt } })).logits!.data as Float32Array;
      s.dispose();
      const t = await model.load(join(dir, "gpt2.safetensors"));
      const f32 = (await t.run({ input_ids: { data: prompt } })).logits!.data as Float32Array;
      t.dispose();
      const got = (await page.evaluate(`logits("/bundles/gpt2.js", ${JSON.stringify(prompt)}, { weightsDtype: "${weightsDtype}" })`)) as { logits: number[] };
      const diff = Array.from(got.logits).reduce((m, x, i) => Math.max(m, Math.abs(x - f32[i]!)), 0);
      console.log(`[bundle/chromium/${weightsDtype}] gpt2.js ${weightsDtype} logits: the Node session's bits; max |Δ| against f32 ${diff.toExponential(2)}`);
      expect(got.logits).toEqual(Array.from(want));
      expect(diff).toBeGreaterThan(1e-5);
      expect(pageErrors).toEqual([]);
    }, 120_000);
  }
});

// A bundle's `prefill` and `step` take `{ capture }` as `run` does (src/bundle/api.ts), in a fresh
// Node process (CPU bundle) and in headless Chromium (the WebGPU bundle on SwiftShader, the cache
// on the device): prefill returns what it asks for, bit for bit as `run` of the same prompt on the
// CPU; a step returns the new position's values, equal to the last row of the whole sequence run at
// once (≤ 1e-5); a pattern matching none is TFM5215 before anything runs (the cache length stays);
// without options a step returns the outputs only. The .d.ts types the overloads.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBuild } from "../../src/cli/build.js";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { chromiumArgs, serve, workDir } from "./helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 61, n_positions: 24 };
const prompt = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
const next = [[7], [21]];
const weighted = ["h.0.attn.weights", "h.1.attn.weights"];
const captured = ["h.0.attn.q", "h.0.attn.weights", "h.1.attn.weights", "h.1.attn.y"];

type T = { shape: number[]; data: (number | string)[] };
interface Result {
  prefill: Record<string, T>;
  step: Record<string, T>;
  lengthAfterStep: number;
  refused: { ok: boolean; code?: string; message?: string; isTfmError?: boolean };
  lengthAfterRefused: number;
  plainStep: string[];
  run: Record<string, T>;
  full: Record<string, T>;
}
const f32 = (data: readonly (number | string)[]) => Float32Array.from(data, (x) => (x === "-0" ? -0 : Number(x)));
const bits = (t: T) => Buffer.from(f32(t.data).buffer);

/** The last position (axis -2) of each [.., seq, n] row block of `t`, as `step`'s [.., 1, n]. */
function lastRow(t: T): Float32Array {
  const [seq, n] = t.shape.slice(-2) as [number, number];
  const outer = t.shape.slice(0, -2).reduce((a, d) => a * d, 1);
  const d = f32(t.data);
  const out = new Float32Array(outer * n);
  for (let o = 0; o < outer; o++) out.set(d.subarray((o * seq + seq - 1) * n, (o * seq + seq) * n), o * n);
  return out;
}

/** What every result must show; `exact`: prefill's values are `run`'s bit for bit (the CPU). Returns the worst step error. */
function check(r: Result, exact: boolean): number {
  expect(Object.keys(r.prefill)).toEqual(["logits", ...weighted]);
  for (const name of ["logits", ...weighted]) {
    expect(r.prefill[name]!.shape, name).toEqual(r.run[name]!.shape);
    if (exact) expect(bits(r.prefill[name]!).equals(bits(r.run[name]!)), `prefill's ${name} is run's, bit for bit`).toBe(true);
  }
  expect(Object.keys(r.step)).toEqual(["logits", ...captured]);
  expect(r.step["h.1.attn.weights"]!.shape).toEqual([2, 2, 1, 6]);
  let worst = 0;
  for (const name of ["logits", ...captured]) {
    const want = lastRow(r.full[name]!);
    const got = f32(r.step[name]!.data);
    expect(got.length, name).toBe(want.length);
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  expect(worst).toBeLessThan(1e-5);
  expect(r.lengthAfterStep).toBe(6);
  expect(r.refused).toMatchObject({ ok: false, code: "TFM5215", isTfmError: true });
  expect(r.refused.message).toContain("capture `h.*.atn.weights` matches none of the values this bundle was built to capture");
  expect(r.lengthAfterRefused).toBe(6);
  expect(r.plainStep).toEqual(["logits"]);
  return worst;
}

let dir = "";
beforeAll(() => {
  dir = workDir("tfm-bundle-decode-capture-");
  copyFileSync(join(dirname(fileURLToPath(import.meta.url)), "decode-capture.mjs"), join(dir, "decode-capture.mjs"));
  const model = compile(readFileSync(file, "utf8"), { file, settings });
  writeFileSync(join(dir, "gpt2.safetensors"), writeSafetensors(randomCheckpoint(model.weights, 11)));
  const set = new Map(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  for (const target of ["cpu", "webgpu"]) {
    let err = "";
    const code = runBuild(file, { set, target, output: join(dir, "bundles", `${target}.js`), capture: ["h.*.attn.weights", "h.0.attn.q", "h.1.attn.y"] }, () => {}, (s) => (err += s));
    if (code !== 0) throw new Error(err);
  }
}, 120_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe("a bundle's prefill and step with { capture }", () => {
  it("in Node (CPU): the values asked for, run's and the whole sequence's; TFM5215 leaves the cache", () => {
    writeFileSync(
      join(dir, "node-decode.mjs"),
      `import { decodeCaptures } from "./decode-capture.mjs";
const b = await import("./bundles/cpu.js");
process.stdout.write(JSON.stringify(await decodeCaptures(b, "gpt2.safetensors", ${JSON.stringify(prompt)}, ${JSON.stringify(next)})));`,
    );
    const r = spawnSync(process.execPath, ["node-decode.mjs"], { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(r.stderr);
    const worst = check(JSON.parse(r.stdout) as Result, true);
    console.log(`[bundle decode capture] CPU, Node: step's captures vs the whole sequence's last row: max |Δ| ${worst.toExponential(2)}`);
  }, 120_000);

  it("in Chromium (the WebGPU bundle, the cache on the device): the same", async () => {
    const page$ = `<!doctype html><meta charset="utf-8"><title>tfm decode capture</title>
<script type="module">
import { decodeCaptures } from "/decode-capture.mjs";
globalThis.go = async () => decodeCaptures(await import("/bundles/webgpu.js"), new URL("/gpt2.safetensors", location.href), ${JSON.stringify(prompt)}, ${JSON.stringify(next)});
globalThis.ready = true;
</script>`;
    const server = await serve(dir, { "/": page$, "/favicon.ico": "" });
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      const worst = check((await page.evaluate("go()")) as Result, false);
      console.log(`[bundle decode capture] WebGPU, Chromium: step's captures vs the whole sequence's last row: max |Δ| ${worst.toExponential(2)}`);
      expect(errors).toEqual([]);
    } finally {
      await browser?.close();
      await server.close();
    }
  }, 180_000);

  it("its .d.ts types prefill's and step's capture overloads", () => {
    const use = join(dir, "use-decode.ts");
    writeFileSync(
      use,
      `import { load, type Inputs } from "./bundles/cpu.js";
const m = await load(new Uint8Array(0));
const inputs: Inputs = { input_ids: { data: new Int32Array(2), shape: [1, 2] } };
const p = await m.prefill(inputs, { capture: ["h.*.attn.weights"] });
const w: Float32Array | undefined = p["h.0.attn.weights"]?.data;
const s = await m.step(inputs, { capture: true });
const y: number[] | undefined = s["h.1.attn.y"]?.shape;
const l: Float32Array = s.logits.data;
// @ts-expect-error: without options, step returns the outputs only
void (await m.step(inputs))["h.0.attn.q"];
export { w, y, l };
`,
    );
    const program = ts.createProgram([use], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts"], types: [] });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
  });
});

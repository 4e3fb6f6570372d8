// `tfm export --onnx` checked against implementations we did not write: every PyTorch reference
// fixture's model (test/fixtures/, which covers every model in models/) exported with the
// fixture's weights, accepted by the ONNX checker (Debian's python3-onnx, full_check with shape
// inference), and run by onnxruntime-node — equal to PyTorch's outputs (1e-4, as the CPU
// conformance test) and to tfm's CPU interpreter (1e-5) at the fixture's shapes and at two other
// values of the symbolic dims; differences are relative to the largest magnitude where that is
// above 1. The decode step of a model with a KV cache, opsets 13 and 18, and
// hostile checkpoint names are checked too. The actual errors are printed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompiledModel } from "../../src/index.js";
import { loadInputs } from "../../src/runtime/inputs.js";
import { readNpy } from "../../src/weights/npy.js";
import { emptyStates } from "../../src/generate/decoder.js";
import { numel, type Tensor } from "../../src/core/tensor.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const fixtures = ["additive_attention", "bert", "cosine_attention", "decoder_layer", "decoder_layer_norm_first", "encoder_layer", "encoder_layer_norm_first", "gpt2", "gpt2_generate", "llama", "multihead_attention_cross", "multihead_attention_self", "sinusoidal", "transformer"];
const VS_TORCH = 1e-4;
const VS_TFM = 1e-5;
let out = "";
const exported: string[] = [];

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "tfm-onnx-"));
  const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
}, 120_000);
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

interface Fixture {
  model: CompiledModel;
  dir: string;
  inputs: Map<string, Tensor>;
}

function fixture(fx: string): Fixture {
  const dir = join(out, fx);
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model: string; settings: Record<string, string | number | boolean> };
  const model = compile(readFileSync(m.model, "utf8"), { file: m.model, settings: m.settings });
  expect(model.diagnostics).toEqual([]);
  const loaded = loadInputs(model.checked, readdirSync(join(dir, "inputs")).map((f) => ({ name: f.replace(/\.npy$/, ""), source: { kind: "npyFile" as const, path: join(dir, "inputs", f) } })));
  expect(loaded.diagnostics).toEqual([]);
  return { model, dir, inputs: new Map(loaded.tensors!) };
}

const ortType = { f32: "float32", i32: "int32", bool: "bool" } as const;
const feed = (t: Tensor) => new ort.Tensor(ortType[t.dtype], t.dtype === "bool" ? Uint8Array.from(t.data as Uint8Array) : t.data, [...t.shape]);

/** Runs the exported model; a state's start value is `past.NAME` (empty unless given). */
async function runOrt(session: ort.InferenceSession, model: CompiledModel, inputs: ReadonlyMap<string, Tensor>, states?: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, t] of inputs) feeds[k] = feed(t);
  for (const [k, t] of states ?? emptyStates(model.graph!, inputs)) feeds[`past.${k}`] = feed(t);
  const r = await session.run(feeds);
  return new Map(Object.entries(r).map(([k, v]) => [k, { dtype: v.type === "float32" ? "f32" : v.type === "bool" ? "bool" : "i32", shape: [...v.dims], data: v.data } as Tensor]));
}

/**
 * The largest difference, relative to the reference's largest magnitude when that is above 1
 * (logits of 10 differ by 1e-5 in f32 whenever two engines sum in different orders).
 */
function maxDiff(a: Tensor, b: { shape: readonly number[]; data: ArrayLike<number | bigint | boolean> }, what: string): number {
  expect([...a.shape], what).toEqual([...b.shape]);
  let [max, scale] = [0, 1];
  for (let i = 0; i < numel(a.shape); i++) {
    const [x, y] = [Number(a.data[i]), Number(b.data[i])];
    if (Number.isNaN(x) || Number.isNaN(y)) expect(Number.isNaN(x) && Number.isNaN(y), `${what}[${i}]: ${x} vs ${y}`).toBe(true);
    else [max, scale] = [Math.max(max, Math.abs(x - y)), Math.max(scale, Math.abs(y))];
  }
  return max / scale;
}

/**
 * The inputs at other values of the symbolic dims: each element taken from the fixture's input
 * at its index modulo the fixture's shape (ids stay valid ids, masks stay masks).
 */
function resized(f: Fixture, values: (original: number) => number): Map<string, Tensor> | undefined {
  const sizes = new Map<string, number>();
  const result = new Map<string, Tensor>();
  for (const port of f.model.inputs) {
    const t = f.inputs.get(port.name)!;
    const shape = port.shape.map((d, k) => {
      if (typeof d === "number") return d;
      if (!/^[A-Za-z_]\w*$/.test(d)) return undefined; // a compound dim: left as it is
      if (!sizes.has(d)) sizes.set(d, Math.max(1, values(t.shape[k]!)));
      return sizes.get(d)!;
    });
    if (shape.some((d) => d === undefined)) return undefined;
    const s = shape as number[];
    const data = new (t.data.constructor as new (n: number) => Tensor["data"])(numel(s));
    const strides = t.shape.map((_, k) => t.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      let rest = i;
      let src = 0;
      for (let k = s.length - 1; k >= 0; k--) {
        src += (rest % s[k]!) % t.shape[k]! * strides[k]!;
        rest = Math.floor(rest / s[k]!);
      }
      data[i] = t.data[src]!;
    }
    result.set(port.name, { dtype: t.dtype, shape: s, data } as Tensor);
  }
  return result;
}

describe("ONNX export, run by onnxruntime-node", () => {
  for (const fx of fixtures) {
    it(fx, async () => {
      const f = fixture(fx);
      const weights = join(f.dir, "weights.safetensors");
      const onnx = await f.model.exportOnnx(weights);
      const path = join(out, `${fx}.onnx`);
      writeFileSync(path, onnx.model);
      exported.push(path);
      const session = await ort.InferenceSession.create(onnx.model);
      const tfm = await f.model.load(weights);
      const report: string[] = [];
      // The fixture's inputs: against PyTorch's outputs and tfm's.
      const got = await runOrt(session, f.model, f.inputs);
      const mine = await tfm.run(Object.fromEntries(f.inputs));
      for (const file of readdirSync(join(f.dir, "outputs"))) {
        const name = file.replace(/\.npy$/, "");
        const want = readNpy(readFileSync(join(f.dir, "outputs", file)));
        const [vsTorch, vsTfm] = [maxDiff(got.get(name)!, want, `${fx}.${name} vs PyTorch`), maxDiff(got.get(name)!, mine[name] as Tensor, `${fx}.${name} vs tfm`)];
        report.push(`${name} ${JSON.stringify(want.shape)}: vs PyTorch ${vsTorch.toExponential(2)}, vs tfm ${vsTfm.toExponential(2)}`);
        expect(vsTorch, `${fx}.${name} vs PyTorch`).toBeLessThanOrEqual(VS_TORCH);
        expect(vsTfm, `${fx}.${name} vs tfm`).toBeLessThanOrEqual(VS_TFM);
      }
      // Other values of the symbolic dims: against tfm.
      for (const [what, values] of [["smaller", (n: number) => n - 2], ["larger", (n: number) => n + 3]] as const) {
        const inputs = resized(f, values);
        if (!inputs) continue;
        const [a, b] = [await runOrt(session, f.model, inputs), await tfm.run(Object.fromEntries(inputs))];
        const dims = [...inputs].map(([k, t]) => `${k}${JSON.stringify(t.shape)}`).join(" ");
        const errs = Object.keys(b).map((name) => maxDiff(a.get(name)!, b[name] as Tensor, `${fx}.${name} (${what})`));
        report.push(`${what} (${dims}): vs tfm ${Math.max(...errs).toExponential(2)}`);
        for (const e of errs) expect(e, `${fx} (${what})`).toBeLessThanOrEqual(VS_TFM);
      }
      tfm.dispose();
      console.log(`[onnx] ${fx} (${onnx.nodes} ONNX nodes): ${report.join("; ")}`);
    });
  }

  it("the ONNX checker accepts every export (full check, shape inference)", () => {
    expect(exported.length).toBe(fixtures.length);
    const script = "import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n    print('ok', p)";
    const r = spawnSync(python, ["-c", script, ...exported], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(fixtures.length);
  }, 120_000);

  it("the decode step: the cache passed back as past.*, token by token, as tfm's prefill and step", async () => {
    const f = fixture("gpt2_generate");
    const weights = join(f.dir, "weights.safetensors");
    const session = await ort.InferenceSession.create((await f.model.exportOnnx(weights)).model);
    const tfm = await f.model.load(weights);
    const ids = f.inputs.get("input_ids")!;
    const [B, T] = ids.shape as [number, number];
    const column = (t: number): Tensor => ({ dtype: "i32", shape: [B, 1], data: Int32Array.from({ length: B }, (_, b) => (ids.data as Int32Array)[b * T + t]!) });
    const prompt: Tensor = { dtype: "i32", shape: [B, 3], data: Int32Array.from({ length: B * 3 }, (_, i) => (ids.data as Int32Array)[Math.floor(i / 3) * T + (i % 3)]!) };
    // The exported graph takes GPT-2's attention_mask (all tokens real here), whose state is past.mask_cache.
    const ones = (n: number): Tensor => ({ dtype: "i32", shape: [B, n], data: new Int32Array(B * n).fill(1) });
    let r = await runOrt(session, f.model, new Map([["input_ids", prompt], ["attention_mask", ones(3)]]));
    let mine = await tfm.prefill({ input_ids: prompt });
    const errs = [maxDiff(r.get("logits")!, mine["logits"] as Tensor, "prefill")];
    for (let t = 3; t < T; t++) {
      const states = new Map(f.model.graph!.states.map((s) => [s.name, r.get(`present.${s.name}`)!]));
      expect(states.get("h.0.attn.k_cache")!.shape[2]).toBe(t);
      expect(states.get("mask_cache")!.shape).toEqual([B, t]);
      r = await runOrt(session, f.model, new Map([["input_ids", column(t)], ["attention_mask", ones(1)]]), states);
      mine = await tfm.step({ input_ids: column(t) });
      errs.push(maxDiff(r.get("logits")!, mine["logits"] as Tensor, `step ${t}`));
    }
    console.log(`[onnx] gpt2 decode: prefill 3 tokens, then ${T - 3} steps of batch ${B}: max |Δ| vs tfm ${Math.max(...errs).toExponential(2)}`);
    for (const e of errs) expect(e).toBeLessThanOrEqual(VS_TFM);
    tfm.dispose();
  });

  it("models/figures.tfm (no inputs: the PE table and the causal mask, computed in the graph)", async () => {
    const model = compile(readFileSync("models/figures.tfm", "utf8"), { file: "models/figures.tfm" });
    expect(model.diagnostics).toEqual([]);
    const session = await ort.InferenceSession.create((await model.exportOnnx({ random: true })).model);
    const got = await runOrt(session, model, new Map());
    const want = await (await model.load({ random: true })).run({});
    expect(maxDiff(got.get("pe")!, want["pe"] as Tensor, "pe")).toBeLessThanOrEqual(VS_TFM);
    expect(got.get("mask")!.dtype).toBe("bool");
    expect(maxDiff(got.get("mask")!, want["mask"] as Tensor, "mask")).toBe(0);
  });

  it("cumsum as CumSum: f32 and i32, the last axis (negative) and an outer one, at two sizes", async () => {
    const source = `model Scan() {
  input x: f32[batch, n]
  input m: i32[batch, n]
  output a = cumsum(x, -1)
  output b = cumsum(unsqueeze(x, 2) * 2.0, 0)  # [batch, n, 1]
  output c = cumsum(m, 1) - 1
}
`;
    const model = compile(source, { file: "scan.tfm" });
    expect(model.diagnostics).toEqual([]);
    const onnx = await model.exportOnnx({ random: true });
    const decoded = onnxProto.onnx.ModelProto.decode(onnx.model);
    expect(decoded.graph!.node!.filter((n) => n.opType === "CumSum")).toHaveLength(3);
    const session = await ort.InferenceSession.create(onnx.model);
    const tfm = await model.load({ random: true });
    const report: string[] = [];
    for (const [B, n] of [[3, 7], [2, 300]] as const) {
      const x: Tensor = { dtype: "f32", shape: [B, n], data: Float32Array.from({ length: B * n }, (_, i) => Math.sin(i * 1.7) * 3) };
      const m: Tensor = { dtype: "i32", shape: [B, n], data: Int32Array.from({ length: B * n }, (_, i) => (i % n) < 2 * (i % 3) ? 0 : 1) };
      const got = await runOrt(session, model, new Map<string, Tensor>([["x", x], ["m", m]]));
      const want = await tfm.run({ x, m });
      // onnxruntime sums f32 in f32, tfm in double: they differ by f32 roundings of the running sum.
      const errs = ["a", "b"].map((o) => maxDiff(got.get(o)!, want[o] as Tensor, o));
      for (const e of errs) expect(e).toBeLessThanOrEqual(1e-4);
      expect(maxDiff(got.get("c")!, want["c"] as Tensor, "c")).toBe(0);
      report.push(`[${B}, ${n}]: f32 max |Δ| ${Math.max(...errs).toExponential(2)}, i32 exact`);
    }
    tfm.dispose();
    console.log(`[onnx] cumsum vs onnxruntime: ${report.join("; ")}`);
  });

  it("opsets 13 and 18 (reductions take their axes differently) give the same outputs", async () => {
    const f = fixture("bert");
    const weights = join(f.dir, "weights.safetensors");
    const results = [];
    for (const opset of [13, 18]) {
      const session = await ort.InferenceSession.create((await f.model.exportOnnx(weights, { opset })).model);
      results.push(await runOrt(session, f.model, f.inputs));
    }
    for (const [name, t] of results[0]!) expect(maxDiff(t, results[1]!.get(name)!, name)).toBeLessThanOrEqual(1e-6);
  });
});

describe("ONNX names", () => {
  const hostile = ['x");drop', "naïve-ünïcode✓", "%1", "/Add_3", "a\\b", "<script>"];
  const source = `model Evil() {
  input x: f32[batch, 4]
${hostile.map((n, i) => `  param w${i}: f32[4] as "${n.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}.weight"`).join("\n")}
  output y = x${hostile.map((_, i) => ` + w${i}`).join("")}
}
`;

  it("hostile checkpoint names survive as initializer names, and the model still computes", async () => {
    const model = compile(source, { file: "evil.tfm", until: "none" });
    expect(model.diagnostics).toEqual([]);
    const onnx = await model.exportOnnx({ random: true, seed: 3 });
    const decoded = onnxProto.onnx.ModelProto.decode(onnx.model);
    const names = decoded.graph!.initializer!.map((t) => t.name);
    for (const n of hostile) expect(names).toContain(`${n}.weight`);
    // Generated names never take one of the model's: `/Add_3` and `%1` are weights here.
    const outputsOf = decoded.graph!.node!.flatMap((n) => n.output!);
    expect(new Set(outputsOf).size).toBe(outputsOf.length);
    for (const n of hostile) expect(outputsOf).not.toContain(`${n}.weight`);
    const session = await ort.InferenceSession.create(onnx.model);
    const x: Tensor = { dtype: "f32", shape: [2, 4], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    const got = await runOrt(session, model, new Map([["x", x]]));
    const want = await (await model.load({ random: true, seed: 3 })).run({ x });
    expect(maxDiff(got.get("y")!, want["y"] as Tensor, "y")).toBe(0);
  });

  it("an opset tfm cannot write is TFM5220", async () => {
    const model = compile(source, { file: "evil.tfm" });
    await expect(model.exportOnnx({ random: true }, { opset: 9 })).rejects.toMatchObject({ code: "TFM5220" });
  });
});

// Weights kept as int8 on WebGPU (`weightsDtype: "int8"`, src/backends/webgpu/quarters.ts): the
// weights' matrices are uploaded as a scale per output channel and four int8 to a word, and read
// through extractBits, so a run computes what an f32 run computes on the dequantized weights —
// checked against the CPU interpreter on them (GPT-2, its matrices as given) — with a quarter of
// their bytes on the device. Llama (its q/k/v and gate/up weights concatenated at load) keeps every
// matrix as int8 too. The quantization's formulas are checked on their own, and the accuracy cost
// against f32 is measured on the GPT-2 fixture with PyTorch-made weights (test/helpers/agreement.ts).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { wasmKernels } from "../../src/backends/cpu/kernels/index.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { dequantizeInt8, quantizeInt8 } from "../../src/backends/webgpu/quarters.js";
import { schedule } from "../../src/schedule/fuse.js";
import { randomWeights } from "../../src/runtime/init.js";
import { emptyStates } from "../../src/generate/decoder.js";
import { numel, type Tensor } from "../../src/core/tensor.js";
import type { Graph } from "../../src/ir/graph.js";
import { agreement, gpt2Fixture } from "../helpers/agreement.js";
import { openGpu } from "./helpers.js";

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
}, 60_000);
afterAll(() => gpu?.close());

const vocab = 61;
const models = {
  gpt2: { file: "models/gpt2.tfm", settings: { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: vocab, n_positions: 24 } },
  llama: { file: "models/llama.tfm", settings: { num_hidden_layers: 2, hidden_size: 16, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 32, vocab_size: vocab, max_position_embeddings: 24 } },
} as const;

function weightNames(g: Graph, id: number, out = new Set<string>()): Set<string> {
  const n = g.nodes[id]!;
  if (n.op === "weight") out.add(n.attrs.name as string);
  else for (const i of n.inputs) weightNames(g, i, out);
  return out;
}

describe("int8 weights on WebGPU", () => {
  it("quantizes per channel as documented: s = fround(max |x| / 127), q = floor(x / s + 1/2), the largest magnitude at ±127, a zero channel all zeros", () => {
    const [rows, cols] = [5, 7];
    const x = Float32Array.from({ length: rows * cols }, (_, e) => Math.sin(e * 1.7) * (1 + (e % 5)));
    x.fill(0, 2 * cols, 3 * cols); // row 2: zeros
    x[4 * cols + 3] = -40; // row 4's largest magnitude is negative
    for (const channel of ["row", "column"] as const) {
      const words = quantizeInt8(x, [rows, cols], channel);
      const count = channel === "row" ? rows : cols;
      const scales = new Float32Array(words.buffer, 0, count), q = new Int8Array(words.buffer, count * 4, x.length);
      expect(words.length).toBe(count + Math.ceil(x.length / 4));
      const of = (e: number) => (channel === "row" ? Math.floor(e / cols) : e % cols);
      for (let c = 0; c < count; c++) {
        const members = [...x.keys()].filter((e) => of(e) === c);
        const max = Math.max(...members.map((e) => Math.abs(x[e]!)));
        expect(scales[c]).toBe(Math.fround(max / 127));
        if (max > 0) expect(Math.max(...members.map((e) => Math.abs(q[e]!)))).toBe(127);
      }
      const back = dequantizeInt8(x, [rows, cols], channel);
      for (let e = 0; e < x.length; e++) {
        const s = scales[of(e)]!;
        expect(q[e]).toBe(s > 0 ? Math.floor(x[e]! / s + 0.5) : 0);
        expect(back[e]).toBe(Math.fround(q[e]! * s));
        expect(Math.abs(back[e]! - x[e]!)).toBeLessThanOrEqual(s / 2 + 1e-6 * Math.abs(x[e]!));
      }
    }
  });

  it.each(Object.keys(models) as (keyof typeof models)[])("%s: keeps every matrix as int8 at a quarter of its bytes; GPT-2 computes what f32 computes on the dequantized weights", async (name) => {
    const m = models[name];
    const model = compile(readFileSync(m.file, "utf8"), { file: m.file, settings: m.settings });
    expect(model.diagnostics).toEqual([]);
    const s = schedule(model.graph!);
    const weights = randomWeights(model.checked.instance!.weights, 6);
    const f32 = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues });
    const i8 = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues, weightsDtype: "int8" });
    try {
      const g = s.graph;
      const quarters = i8.compiled.quarters;
      expect(f32.compiled.quarters.size).toBe(0);
      const kept = new Set([...quarters.keys()].flatMap((id) => [...weightNames(g, id)]));
      const matrices = [...weights].filter(([, t]) => t.shape.length >= 2).map(([k]) => k);
      expect([...kept].sort()).toEqual(matrices.sort());
      // The scales and a quarter of the bytes of those values on the device, the rest as before.
      const values = loadTimeValues(g, [...quarters.keys()], weights);
      const saved = [...quarters].reduce((a, [id, channel]) => {
        const shape = values.get(id)!.shape, e = numel(shape);
        return a + 4 * e - 4 * ((channel === "row" ? e / shape.at(-1)! : shape.at(-1)!) + Math.ceil(e / 4));
      }, 0);
      expect(i8.weightBytes).toBe(f32.weightBytes - saved);
      expect(i8.weightBytes).toBeLessThan(0.5 * f32.weightBytes);

      const seq = 7;
      const inputs = new Map<string, Tensor>([
        ["input_ids", { dtype: "i32", shape: [1, seq], data: Int32Array.from({ length: seq }, (_, i) => (i * 13 + 2) % vocab) }],
        ["attention_mask", { dtype: "i32", shape: [1, seq], data: new Int32Array(seq).fill(1) }],
      ]);
      for (const [k, t] of emptyStates(g, inputs)) inputs.set(k, t);
      const got = (await i8.run(inputs)).get("logits")!.data;
      const plain = (await f32.run(inputs)).get("logits")!.data;
      let errF32 = 0, scale = 0;
      for (let i = 0; i < got.length; i++) {
        errF32 = Math.max(errF32, Math.abs(got[i]! - plain[i]!));
        scale = Math.max(scale, Math.abs(plain[i]!));
      }
      if (name === "gpt2") {
        // GPT-2's int8 values are its weights as given: the CPU on them dequantized is the reference.
        expect(quarters.size).toBe(matrices.length);
        const byName = new Map([...quarters].map(([id, channel]) => [g.nodes[id]!.attrs.name as string, channel]));
        const deq = new Map([...weights].map(([k, t]) => [k, byName.has(k) ? ({ ...t, data: dequantizeInt8(t.data as Float32Array, t.shape, byName.get(k)!) } as Tensor) : t]));
        const want = new CpuProgram(model.graph!, deq, wasmKernels).run(inputs).outputs.get("logits")!.data;
        let err = 0;
        for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
        console.log(`[int8] ${name}: max |Δ| against the CPU on the dequantized weights ${err.toExponential(2)}, against f32 weights ${errF32.toExponential(2)} (max |logit| ${scale.toFixed(2)}); channels ${[...new Set(byName.values())].join(", ")}`);
        expect(err).toBeLessThan(1e-5 * Math.max(1, scale));
        expect(errF32).toBeGreaterThan(10 * err);
      } else {
        console.log(`[int8] ${name}: max |Δ| against f32 weights ${errF32.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
        expect(errF32).toBeGreaterThan(0);
        expect(errF32).toBeLessThan(0.05 * scale);
      }
    } finally {
      f32.destroy();
      i8.destroy();
    }
  }, 120_000);

  describe("on a GPT-2 with PyTorch-made weights", () => {
    const fixture = gpt2Fixture();
    it("costs a small logit error and keeps most greedy tokens over 57 steps (figures printed)", async () => {
      const { model, weights, prompt } = fixture();
      expect(model.diagnostics).toEqual([]);
      const f32 = await model.load(weights, { threads: 1 });
      const i8 = await model.load(weights, { backend: "webgpu", device: gpu.device, weightsDtype: "int8" });
      try {
        const r = await agreement(f32, i8, prompt, "[int8] gpt2 fixture on WebGPU, against f32 on the CPU");
        console.log(r.line);
        expect(r.err).toBeLessThan(0.05 * r.scale);
        expect(Math.min(...r.prefix)).toBeGreaterThanOrEqual(8);
        expect(Math.min(...r.same)).toBeGreaterThanOrEqual(40);
      } finally {
        f32.dispose();
        i8.dispose();
      }
    }, 300_000);
  });
});

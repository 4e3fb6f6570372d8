// Weights kept as f16 on WebGPU (`weightsDtype: "f16"`, src/backends/webgpu/halves.ts): the weights'
// matrices are uploaded two to a 32-bit word and read through unpack2x16float, so a run computes
// exactly what an f32 run computes on those weights rounded to f16 — checked against the CPU
// interpreter on the rounded weights, for GPT-2 (its matrices as given) and Llama (its q/k/v and
// gate/up weights concatenated at load) — with half their bytes on the device. The accuracy cost
// against f32 is measured on the GPT-2 fixture with PyTorch-made weights (test/fixtures/gpt2.py):
// the logits' error and the greedy tokens' agreement over 57 steps (printed, and bounded).
// `tfm run --backend webgpu --weights-dtype f16` runs so, and the CPU's f16 weights (src/backends/cpu/kernels/wasm/f16.ts) agree with it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { wasmKernels } from "../../src/backends/cpu/kernels/index.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { schedule } from "../../src/schedule/fuse.js";
import { randomWeights } from "../../src/runtime/init.js";
import { roundToF16 } from "../../src/core/f16.js";
import { emptyStates } from "../../src/generate/decoder.js";
import { numel, type Tensor } from "../../src/core/tensor.js";
import type { Graph } from "../../src/ir/graph.js";
import { agreement, gpt2Fixture } from "../helpers/agreement.js";
import { openGpu } from "./helpers.js";
import { main } from "../../src/cli/main.js";
import { readNpy } from "../../src/weights/npy.js";

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

/** The checkpoint names of the weights a node's value is made of (through the layout ops halves.ts allows). */
function weightNames(g: Graph, id: number, out = new Set<string>()): Set<string> {
  const n = g.nodes[id]!;
  if (n.op === "weight") out.add(n.attrs.name as string);
  else for (const i of n.inputs) weightNames(g, i, out);
  return out;
}

describe("f16 weights on WebGPU", () => {
  it.each(Object.keys(models) as (keyof typeof models)[])("%s: computes what f32 computes on the weights rounded to f16, with the matrices at half their bytes", async (name) => {
    const m = models[name];
    const model = compile(readFileSync(m.file, "utf8"), { file: m.file, settings: m.settings });
    expect(model.diagnostics).toEqual([]);
    const s = schedule(model.graph!);
    const weights = randomWeights(model.checked.instance!.weights, 5);
    const f32 = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues });
    const f16 = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues, weightsDtype: "f16" });
    try {
      const g = s.graph;
      const halves = f16.compiled.halves;
      expect(f32.compiled.halves).toEqual([]);
      // Every matrix of the model's weights is kept as f16 (GPT-2: as given; Llama: some concatenated at load), no vector.
      const rounded = new Set(halves.flatMap((id) => [...weightNames(g, id)]));
      const matrices = [...weights].filter(([, t]) => t.shape.length >= 2).map(([k]) => k);
      expect([...rounded].sort()).toEqual(matrices.sort());
      if (name === "llama") expect(halves.some((id) => g.nodes[id]!.op === "concat")).toBe(true);
      // Half the bytes of those values on the device, the rest as before.
      const sizes = [...loadTimeValues(g, halves, weights).values()].map((t) => numel(t.shape));
      expect(f16.weightBytes).toBe(f32.weightBytes - sizes.reduce((a, e) => a + 4 * e - 4 * Math.ceil(e / 2), 0));
      expect(f16.weightBytes).toBeLessThan(0.6 * f32.weightBytes);

      // The CPU on the weights rounded to f16: the same logits (as WebGPU's f32 run matches the CPU's f32).
      const roundedWeights = new Map([...weights].map(([k, t]) => [k, rounded.has(k) ? ({ ...t, data: roundToF16(t.data as Float32Array) } as Tensor) : t]));
      const cpu = new CpuProgram(model.graph!, roundedWeights, wasmKernels);
      const seq = 7;
      const inputs = new Map<string, Tensor>([
        ["input_ids", { dtype: "i32", shape: [1, seq], data: Int32Array.from({ length: seq }, (_, i) => (i * 13 + 2) % vocab) }],
        ["attention_mask", { dtype: "i32", shape: [1, seq], data: new Int32Array(seq).fill(1) }],
      ]);
      for (const [k, t] of emptyStates(g, inputs)) inputs.set(k, t);
      const want = cpu.run(inputs).outputs.get("logits")!.data;
      const got = (await f16.run(inputs)).get("logits")!.data;
      const plain = (await f32.run(inputs)).get("logits")!.data;
      let errRounded = 0, errF32 = 0, scale = 0;
      for (let i = 0; i < want.length; i++) {
        errRounded = Math.max(errRounded, Math.abs(got[i]! - want[i]!));
        errF32 = Math.max(errF32, Math.abs(got[i]! - plain[i]!));
        scale = Math.max(scale, Math.abs(want[i]!));
      }
      console.log(`[f16] ${name}: max |Δ| against the CPU on f16-rounded weights ${errRounded.toExponential(2)}, against f32 weights ${errF32.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
      expect(errRounded).toBeLessThan(1e-5 * Math.max(1, scale));
      // Rounding the weights does change the logits: the test would see f32 weights read as f32.
      expect(errF32).toBeGreaterThan(10 * errRounded);
    } finally {
      f32.destroy();
      f16.destroy();
    }
  }, 120_000);

  describe("on a GPT-2 with PyTorch-made weights", () => {
    const fixture = gpt2Fixture();
    it("costs a small logit error and keeps the greedy tokens over 57 steps (figures printed)", async () => {
      const { model, weights, prompt } = fixture();
      expect(model.diagnostics).toEqual([]);
      const f32 = await model.load(weights, { threads: 1 });
      const f16 = await model.load(weights, { backend: "webgpu", device: gpu.device, weightsDtype: "f16" });
      try {
        const r = await agreement(f32, f16, prompt, "[f16] gpt2 fixture on WebGPU, against f32 on the CPU");
        console.log(r.line);
        expect(r.err).toBeLessThan(0.01 * r.scale);
        expect(Math.min(...r.prefix)).toBeGreaterThanOrEqual(40);
        expect(Math.min(...r.same)).toBeGreaterThanOrEqual(50);
      } finally {
        f32.dispose();
        f16.dispose();
      }
    }, 300_000);
  });

  it("tfm run --backend webgpu --weights-dtype f16: the f32 logits within the rounding, the CPU's f16 logits to 1e-5; int8 within its rounding", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tfm-f16-cli-"));
    try {
      const tfm = async (...argv: string[]) => {
        let err = "";
        const code = await main(["run", "models/gpt2.tfm", "--set", "n_layer=2", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16", "--random-weights", "--seed", "3", "--input", "input_ids=[[1, 2, 3, 4, 5]]", ...argv], { out: () => undefined, err: (s) => (err += s) });
        return { code, err };
      };
      expect((await tfm("-o", join(dir, "f32"))).code).toBe(0);
      const r = await tfm("-o", join(dir, "f16"), "--backend", "webgpu", "--weights-dtype", "f16");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const [a, b] = ["f32", "f16"].map((d) => readNpy(readFileSync(join(dir, d, "logits.npy"))).data as Float32Array);
      let err = 0, scale = 0;
      for (let i = 0; i < a!.length; i++) {
        err = Math.max(err, Math.abs(a![i]! - b![i]!));
        scale = Math.max(scale, Math.abs(a![i]!));
      }
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(0.01 * scale);
      // The CPU's f16 weights are the same rounding: its logits are WebGPU's, to the backends' f32 agreement.
      const cpu = await tfm("-o", join(dir, "cpu-f16"), "--weights-dtype", "f16");
      expect(cpu.err).toBe("");
      expect(cpu.code).toBe(0);
      const c = readNpy(readFileSync(join(dir, "cpu-f16", "logits.npy"))).data as Float32Array;
      let gap = 0;
      for (let i = 0; i < c.length; i++) gap = Math.max(gap, Math.abs(c[i]! - b![i]!));
      console.log(`[f16] tfm run: max |Δ| f16 against f32 ${err.toExponential(2)}; CPU f16 against WebGPU f16 ${gap.toExponential(2)}`);
      expect(gap).toBeLessThan(1e-5 * Math.max(1, scale));
      // int8 on WebGPU (quarters.ts): runs, within int8's rounding.
      const int8 = await tfm("-o", join(dir, "int8"), "--backend", "webgpu", "--weights-dtype", "int8");
      expect(int8.err).toBe("");
      expect(int8.code).toBe(0);
      const q = readNpy(readFileSync(join(dir, "int8", "logits.npy"))).data as Float32Array;
      let qerr = 0;
      for (let i = 0; i < q.length; i++) qerr = Math.max(qerr, Math.abs(q[i]! - a![i]!));
      expect(qerr).toBeGreaterThan(err);
      expect(qerr).toBeLessThan(0.05 * scale);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

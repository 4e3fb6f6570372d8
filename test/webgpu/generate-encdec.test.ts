// The encoder–decoder (models/transformer.tfm) generating on WebGPU (SwiftShader): the encode
// phase's states written once (the cross-attention keys/values, the source mask) come back from
// the device once per sequence and are the step graph's inputs; the self-attention cache stays on
// the device (runResident). Greedy tokens equal PyTorch's (test/fixtures/transformer_generate.py),
// each cached step's log-probs equal PyTorch's (≤ 1e-4), and WebGPU's own no-cache pass over the
// whole prefix (≤ 1e-5) at every 4th step and the last (each such pass is slow on SwiftShader; the
// CPU's test, test/conformance/generate-encdec.test.ts, compares all 32). The states written once
// go up with the first call of a sequence only and stay on the device: a decode step uploads its
// token id and its mask alone (8 bytes per sequence), not the cross-attention keys and values.
// Target prompts of different lengths (left-padded, masked) continue PyTorch's greedy sequences.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { schedule } from "../../src/schedule/fuse.js";
import { randomWeights } from "../../src/runtime/init.js";
import { capacityOf, Decoder, decoderInfo } from "../../src/generate/decoder.js";
import { numel, type Tensor } from "../../src/core/tensor.js";
import { evalDim } from "../../src/core/dim.js";
import { openGpu } from "./helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let gpu: NodeGpu;
let out = "";
let dir = "";
let ref: { src: number[][]; src_mask: number[][]; start: number; tokens: number[][]; log_probs: number[][][] };
let settings: Record<string, number>;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "tfm-webgpu-encdec-"));
  const r = spawnSync(python, ["test/fixtures/transformer_generate.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
  dir = join(out, "transformer_generate");
  ref = JSON.parse(readFileSync(join(dir, "generate.json"), "utf8")) as typeof ref;
  settings = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { settings: Record<string, number> }).settings;
  gpu = await openGpu();
}, 120_000);
afterAll(() => {
  gpu?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("encoder–decoder generation on WebGPU", () => {
  it("32 greedy tokens × 2 equal PyTorch's; each cached step's log-probs equal the no-cache pass", async () => {
    const model = compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings });
    const s = await model.load(join(dir, "weights.safetensors"), { backend: "webgpu", device: gpu.device });
    const source = { src: { data: ref.src }, src_mask: { data: ref.src_mask } };
    try {
      const steps: number[][] = [];
      for await (const t of s.generate(ref.tokens.map(() => [ref.start]), { maxNewTokens: 32, source })) steps.push(t);
      expect(ref.tokens.map((_, b) => steps.map((t) => t[b]!))).toEqual(ref.tokens);

      const B = ref.tokens.length;
      const V = ref.log_probs[0]![0]!.length;
      const prefix = ref.tokens.map(() => [ref.start]);
      let lp = (await s.prefill({ ...source, tgt: { data: prefix } })).log_probs!;
      let [vsFull, vsTorch] = [0, 0];
      for (let i = 0; i < 32; i++) {
        const T = prefix[0]!.length;
        const full = i % 4 === 0 || i === 31 ? (await s.run({ ...source, tgt: { data: prefix } })).log_probs! : undefined;
        for (let b = 0; b < B; b++) {
          for (let v = 0; v < V; v++) {
            const here = lp.data[b * V + v] as number;
            if (full) vsFull = Math.max(vsFull, Math.abs(here - (full.data[(b * T + T - 1) * V + v] as number)));
            vsTorch = Math.max(vsTorch, Math.abs(here - ref.log_probs[b]![i]![v]!));
          }
        }
        prefix.forEach((p, b) => p.push(ref.tokens[b]![i]!));
        if (i < 31) lp = (await s.step({ tgt: { data: ref.tokens.map((t) => [t[i]!]) } })).log_probs!;
      }
      console.log(`[webgpu] transformer: 32 cached steps × batch ${B}, log-probs vs the no-cache pass (9 steps) max |Δ| ${vsFull.toExponential(2)}, vs PyTorch (float64) ${vsTorch.toExponential(2)}`);
      expect(vsFull).toBeLessThanOrEqual(1e-5);
      expect(vsTorch).toBeLessThanOrEqual(1e-4);
    } finally {
      s.dispose();
    }
  }, 300_000);

  it("target prompts of different lengths (left-padded, tgt_mask kept on the device): each sequence's tokens are PyTorch's", async () => {
    const model = compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings });
    const s = await model.load(join(dir, "weights.safetensors"), { backend: "webgpu", device: gpu.device });
    try {
      const forced = 3;
      const prompts = [[ref.start, ...ref.tokens[0]!.slice(0, forced)], [ref.start]];
      const steps: number[][] = [];
      for await (const t of s.generate(prompts, { maxNewTokens: 12, source: { src: { data: ref.src }, src_mask: { data: ref.src_mask } } })) steps.push(t);
      expect(steps.map((t) => t[0])).toEqual(ref.tokens[0]!.slice(forced, forced + 12));
      expect(steps.map((t) => t[1])).toEqual(ref.tokens[1]!.slice(0, 12));
    } finally {
      s.dispose();
    }
  }, 120_000);

  it("the states written once go up with a sequence's first call only: a decode step uploads its token ids and their mask alone; greedy tokens equal the CPU's", async () => {
    const model = compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings });
    const { encode, step } = model.phases!;
    const weights = randomWeights(model.checked.instance!.weights, 5);
    const enc = await WebGpuProgram.load(schedule(encode), weights, gpu.device, { loadTime: loadTimeValues });
    const program = await WebGpuProgram.load(schedule(step), weights, gpu.device, { loadTime: loadTimeValues });
    const cpu = await model.load({ random: true, seed: 5 });
    try {
      expect(program.resident).toBe(true);
      const info = decoderInfo(step, capacityOf(model.checked.instance!.model.hparams as never), encode);
      const encodeUploads: number[] = [];
      const encoder = { graph: encode, run: async (inputs: ReadonlyMap<string, Tensor>) => {
        const out = await enc.run(inputs);
        encodeUploads.push(enc.transfers.lastUpload);
        return out;
      } };
      const decoder = new Decoder(step, () => Promise.reject(new Error("the resident runner is used")), info, { keepsInputs: true, run: (inputs, opts) => program.runResident(inputs, opts) }, encoder);
      const B = ref.src.length, S = ref.src[0]!.length;
      const source = new Map<string, Tensor>([
        ["src", { dtype: "i32", shape: [B, S], data: Int32Array.from(ref.src.flat()) }],
        ["src_mask", { dtype: "i32", shape: [B, S], data: Int32Array.from(ref.src_mask.flat()) }],
      ]);
      // What the encode phase gives (the cross-attention keys and values of every layer, the source mask): the bytes a step would upload if they were not kept.
      const onceNames = encode.outputs.map((o) => o.name);
      const dims = new Map([["batch", B], ["src_len", S]]);
      expect(onceNames.length).toBe(2 * settings["num_decoder_layers"]! + 1);
      const run = async () => {
        const tokens: number[][] = [];
        const up: number[] = [];
        for await (const t of decoder.generate(ref.src.map(() => [ref.start]), { maxNewTokens: 8 }, source)) {
          tokens.push(t);
          up.push(program.transfers.lastUpload);
        }
        return { tokens, up };
      };
      const first = await run();
      const once = encode.outputs.reduce((acc, o) => acc + numel(step.nodes[step.inputs.find((p) => p.name === o.name)!.node]!.shape.map((d) => evalDim(d, dims)!)) * 4, 0);
      console.log(`[webgpu] transformer: the states written once are ${once} bytes, uploaded once per sequence; a step uploads ${first.up[1]} bytes`);
      expect(once).toBeGreaterThan(1000);
      // The first call: the start tokens (and their mask) and the states written once; every later one: one token id and its mask per sequence.
      expect(first.up[0]).toBe(B * 8 + once);
      for (const u of first.up.slice(1)) expect(u).toBe(B * 8);
      // The encode phase ran once, on the source alone.
      expect(encodeUploads).toEqual([2 * B * S * 4]);
      // The same greedy tokens as the CPU's.
      const want: number[][] = [];
      for await (const t of cpu.generate(ref.src.map(() => [ref.start]), { maxNewTokens: 8, source: { src: { data: ref.src }, src_mask: { data: ref.src_mask } } })) want.push(t);
      expect(first.tokens).toEqual(want);
      // A new sequence (another source) uploads its states again, and gives the CPU's tokens for it.
      const other = ref.src.map((r) => r.map((t, i) => (ref.src_mask[0]![i] ? (t * 7 + 3) % 100 + 3 : t)));
      source.set("src", { dtype: "i32", shape: [B, S], data: Int32Array.from(other.flat()) });
      const second = await run();
      expect(second.up[0]).toBe(B * 8 + once);
      const want2: number[][] = [];
      for await (const t of cpu.generate(ref.src.map(() => [ref.start]), { maxNewTokens: 8, source: { src: { data: other }, src_mask: { data: ref.src_mask } } })) want2.push(t);
      expect(second.tokens).toEqual(want2);
      expect(second.tokens).not.toEqual(first.tokens);
      // A later call that gives a kept input again is refused (it is on the device since the first call).
      const kept = onceNames[0]!;
      const shape = step.nodes[step.inputs.find((p) => p.name === kept)!.node]!.shape.map((d) => evalDim(d, dims)!);
      const again = new Map<string, Tensor>([["tgt", { dtype: "i32", shape: [B, 1], data: new Int32Array(B) }], [kept, { dtype: "f32", shape, data: new Float32Array(numel(shape)) }]]);
      await expect(program.runResident(again, { fresh: false, kept: onceNames })).rejects.toThrow(/kept on the device since the sequence's first call/);
    } finally {
      enc.destroy();
      program.destroy();
      cpu.dispose();
    }
  }, 300_000);
});


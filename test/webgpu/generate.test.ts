// Generation on WebGPU with the KV cache on the device (src/backends/webgpu/program.ts
// `runResident`): greedy tokens and every step's logits equal the CPU's for a small GPT-2
// (models/gpt2.tfm, random weights), a left-padded batch of prompts of different lengths gives each
// row its tokens alone, and each decode step uploads only its token ids and mask, reads back
// one logits row per sequence (plus the gather error words) and creates no buffer: the cache is one
// buffer per state at capacity, the same at every step, which the append kernels write in place
// (the new positions only); `reset()` keeps them. SwiftShader is slow: the model is tiny.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { schedule } from "../../src/schedule/fuse.js";
import { randomWeights } from "../../src/runtime/init.js";
import { capacityOf, Decoder, decoderInfo } from "../../src/generate/decoder.js";
import type { Tensor } from "../../src/core/tensor.js";
import { openGpu } from "./helpers.js";
import { showDim } from "../../src/core/dim.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";

const file = "models/gpt2.tfm";
const vocab = 61;
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: vocab, n_positions: 24 };
const model = compile(readFileSync(file, "utf8"), { file, settings });
const prompt = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
let gpu: NodeGpu;

beforeAll(async () => {
  gpu = await openGpu();
}, 60_000);
afterAll(() => gpu?.close());

/** The smallest gap between the largest and second-largest logit of each row (how safe greedy's choice is). */
function margin(t: Tensor, rowLength: number): number {
  let min = Infinity;
  for (let r = 0; r * rowLength < t.data.length; r++) {
    const row = Array.from(t.data.subarray(r * rowLength, (r + 1) * rowLength) as Float32Array).sort((a, b) => b - a);
    min = Math.min(min, row[0]! - row[1]!);
  }
  return min;
}

describe("generation with the cache on the device (GPT-2, 2 layers)", () => {
  it("a batch of prompts of different lengths (left-padded, the attention mask kept on the device): each row's tokens as alone, as the CPU's", async () => {
    const web = await model.load({ random: true, seed: 3 }, { backend: "webgpu", device: gpu.device });
    const cpu = await model.load({ random: true, seed: 3 });
    try {
      const ragged = [[3, 17, 42, 5, 9, 12], [60, 0], [11, 29, 33]];
      const tokens = async (s: typeof web, p: number[][]) => {
        const steps: number[][] = [];
        for await (const t of s.generate(p, { maxNewTokens: 6 })) steps.push(t);
        return p.map((_, b) => steps.map((t) => t[b]!));
      };
      const got = await tokens(web, ragged);
      expect(got).toEqual(await tokens(cpu, ragged));
      for (const [b, p] of ragged.entries()) expect((await tokens(web, [p]))[0]).toEqual(got[b]);
    } finally {
      web.dispose();
      cpu.dispose();
    }
  }, 120_000);

  it("greedy tokens and each step's logits equal the CPU's", async () => {
    expect(model.diagnostics).toEqual([]);
    const cpu = await model.load({ random: true, seed: 3 });
    const web = await model.load({ random: true, seed: 3 }, { backend: "webgpu", device: gpu.device });
    try {
      const want: number[][] = [];
      for await (const t of cpu.generate(prompt, { maxNewTokens: 8 })) want.push(t);
      const got: number[][] = [];
      for await (const t of web.generate(prompt, { maxNewTokens: 8 })) got.push(t);
      expect(got).toEqual(want);
      expect(web.cacheLength).toBe(prompt[0]!.length + 7);

      // The low-level loop: every step's logits (all positions of the prompt, then one) within 1e-4 of the CPU's.
      let worst = 0;
      let closest = Infinity;
      let ids: number[][] = prompt;
      for (let n = 0; n < 4; n++) {
        const input = { input_ids: { dtype: "i32" as const, shape: [2, ids[0]!.length], data: Int32Array.from(ids.flat()) } };
        const [a, b] = n === 0 ? [await cpu.prefill(input), await web.prefill(input)] : [await cpu.step(input), await web.step(input)];
        const la = a.logits as unknown as Tensor, lb = b.logits as unknown as Tensor;
        expect(lb.shape).toEqual(la.shape);
        for (let i = 0; i < la.data.length; i++) worst = Math.max(worst, Math.abs(la.data[i]! - lb.data[i]!));
        closest = Math.min(closest, margin(la, vocab));
        const T = la.shape[1]!;
        ids = [0, 1].map((s) => {
          const row = Array.from(la.data.subarray((s * T + T - 1) * vocab, (s * T + T) * vocab) as Float32Array);
          return [row.indexOf(Math.max(...row))];
        });
      }
      console.log(`[webgpu generate] logits max |gpu − cpu| over 4 steps: ${worst.toExponential(2)}; smallest top-2 margin ${closest.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      expect(web.cacheLength).toBe(prompt[0]!.length + 3);
    } finally {
      cpu.dispose();
      web.dispose();
    }
  }, 120_000);

  it("a decode step uploads the token ids and their mask only, reads back one logits row per sequence, and reset() keeps the buffers", async () => {
    const g = model.graph!;
    const weights = randomWeights(model.checked.instance!.weights, 3);
    const program = await WebGpuProgram.load(schedule(g), weights, gpu.device, { loadTime: loadTimeValues });
    try {
      expect(program.resident).toBe(true);
      const info = decoderInfo(g, capacityOf(model.checked.instance!.model.hparams as never));
      const decoder = new Decoder(g, () => Promise.reject(new Error("the resident runner is used")), info, { run: (inputs, opts) => program.runResident(inputs, opts) });
      const errorBytes = program.compiled.errorSlots.length * 2 * 4;
      const run = async () => {
        const tokens: number[][] = [];
        const perStep: { up: number; values: number; errors: number }[] = [];
        const buffers: unknown[][] = [];
        for await (const t of decoder.generate(prompt, { maxNewTokens: 6 })) {
          tokens.push(t);
          const x = program.transfers;
          perStep.push({ up: x.lastUpload, values: x.lastReadback.values, errors: x.lastReadback.errors });
          buffers.push([...program.stateBuffers.buffers.values()]);
        }
        return { tokens, perStep, buffers };
      };
      const first = await run();
      // Prefill: the prompt's ids and attention_mask up; every step: one id and one mask value per
      // sequence up (the mask's history stays on the device, as state), one row of `vocab` f32 per sequence back.
      expect(first.perStep[0]).toEqual({ up: 2 * (2 * 5 * 4), values: 2 * vocab * 4, errors: errorBytes });
      for (const s of first.perStep.slice(1)) expect(s).toEqual({ up: 2 * (2 * 4), values: 2 * vocab * 4, errors: errorBytes });
      // In place: one buffer per state at the model's capacity (24), the same at every step, nothing copied between them.
      expect(program.stateBuffers.capacity).toBe(24);
      expect(first.buffers[0]!.every((b) => b !== undefined)).toBe(true);
      for (const step of first.buffers) expect(step).toEqual(first.buffers[0]);
      expect(new Set(first.buffers[0]).size).toBe(g.states.length);
      expect(program.stateBuffers.copiedBytes).toBe(0);
      // The only kernels writing a state write the new positions: the mask's history by the scan of
      // HF's position ids, which reads it, and which computes the embeddings at those positions too
      // (workgroups per sequence for its B·seq·n_embd elements, the first of each storing the
      // sequence's seq new positions: compile.ts appendIntoScan, scanEpilogue), each block's keys and
      // values by its q/k/v projection's matmul kernel, where it computes them (B·seq rows): no
      // `past` in their grids.
      const stateOutputs = new Set(g.states.map((st) => g.outputs.find((o) => o.name === st.name)!.node));
      const writes = (k: (typeof program.compiled.kernels)[number]) => k.binds.flatMap((b) => (b.kind === "write" && stateOutputs.has(b.node) ? [b.node] : []));
      const writers = program.compiled.kernels.filter((k) => writes(k).length > 0);
      expect(writers.flatMap(writes).sort((a, b) => a - b)).toEqual([...stateOutputs].sort((a, b) => a - b));
      expect(writers.map((k) => `${k.kind} ${writes(k).length}`)).toEqual(["op 1", "matmul 2", "matmul 2"]);
      expect(writers[0]!.grid.map((f) => `${showDim(f.size)} / ${f.per}`)).toEqual(["batch / 1", "1 + 16 * seq / 1024"]);
      for (const k of writers) for (const f of k.grid) expect(showDim(f.size)).not.toMatch(/past|capacity/);
      const allocated = program.transfers.allocations;
      decoder.reset();
      const second = await run();
      expect(second.tokens).toEqual(first.tokens);
      expect(program.transfers.allocations).toBe(allocated);
      expect(second.buffers[0]).toEqual(first.buffers[0]);
      // The same tokens as through the session (the plain runner reading the state back every step).
      const cpu = await model.load({ random: true, seed: 3 });
      const want: number[][] = [];
      for await (const t of cpu.generate(prompt, { maxNewTokens: 6 })) want.push(t);
      expect(first.tokens).toEqual(want);
      // Without a capacity the buffers grow past what they hold, keeping it (one copy each time), as the CPU's do.
      const cpuProgram = new CpuProgram(g, weights);
      let worst = 0;
      const ids = (seq: number, salt: number): Tensor => ({ dtype: "i32", shape: [2, seq], data: Int32Array.from({ length: 2 * seq }, (_, i) => (i * 5 + salt) % vocab) });
      // The runners apply no input defaults: every position a real token.
      const feed = (x: Tensor) => new Map([["input_ids", x], ["attention_mask", { dtype: "i32", shape: x.shape, data: new Int32Array(x.data.length).fill(1) } as Tensor]]);
      for (const [n, x] of [ids(5, 1), ids(1, 2), ids(3, 3), ids(1, 4), ids(4, 5)].entries()) {
        const [a, b] = [cpuProgram.runResident(feed(x), { fresh: n === 0 }).outputs.get("logits")!, (await program.runResident(feed(x), { fresh: n === 0 })).get("logits")!];
        for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
      }
      expect(program.stateBuffers.capacity).toBe(24); // kept from the first sequence: 14 positions fit
      expect(worst).toBeLessThan(1e-4);
      const fresh = await WebGpuProgram.load(schedule(g), weights, gpu.device, { loadTime: loadTimeValues });
      try {
        worst = 0;
        const cpuFresh = new CpuProgram(g, weights);
        for (const [n, x] of [ids(5, 1), ids(1, 2), ids(3, 3), ids(1, 4), ids(4, 5)].entries()) {
          const [a, b] = [cpuFresh.runResident(feed(x), { fresh: n === 0 }).outputs.get("logits")!, (await fresh.runResident(feed(x), { fresh: n === 0 })).get("logits")!];
          for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
        }
        // 5 → 12 (at 6) → 28 (at 14): two growths, each copying what the buffers held.
        expect(fresh.stateBuffers.capacity).toBe(28);
        // Per position: batch 2 × 2 heads × 8 for a KV cache, batch 2 for the mask's history; 4 bytes each.
        const perPosition = g.states.reduce((a, st) => a + (st.name === "mask_cache" ? 2 : 2 * 16), 0);
        expect(fresh.stateBuffers.copiedBytes).toBe(perPosition * (5 + 10) * 4);
        expect(worst).toBeLessThan(1e-4);
        console.log(`[webgpu generate] buffers grown past their capacity: ${fresh.stateBuffers.copiedBytes} B copied; logits max |gpu − cpu| ${worst.toExponential(2)}`);
      } finally {
        fresh.destroy();
      }
      console.log(`[webgpu generate] per decode step: ${first.perStep[1]!.up} B up, ${first.perStep[1]!.values} B of logits + ${errorBytes} B of error words back; ${allocated} value buffers, none after reset()`);
    } finally {
      program.destroy();
    }
  }, 120_000);
});

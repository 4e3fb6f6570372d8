// Attention blocks computed on their visible keys only (src/backends/cpu/narrow.ts): which kernels
// may narrow, and that a narrowed run gives the bits of the op-by-op run — causal prefills of many
// blocks, left padding (rows that see nothing), a multi-token step after a cache, GQA, BERT's
// padding at the end (no causal mask), over 2 threads.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../../../src/compile.js";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { plainKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { narrowedBlocks } from "../../../../src/backends/cpu/fused.js";
import { threadedPhaseJobs } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { narrowing, visibleKeys } from "../../../../src/backends/cpu/narrow.js";
import { optimize } from "../../../../src/optimize.js";
import { schedule } from "../../../../src/schedule/fuse.js";
import { fromValues, type Tensor } from "../../../../src/core/tensor.js";
import type { Graph } from "../../../../src/ir/graph.js";
import { graphOf } from "../../passes/helpers.js";

/** The narrowing found for each attention kernel of g (after the optimizer): "none" or its matmuls' modes. */
function narrowings(g: Graph): string[] {
  const opt = optimize(g).graph;
  return schedule(opt)
    .kernels.filter((k) => k.kind === "attention")
    .map((k) => {
      const absorbed = new Set(k.absorbed);
      const n = narrowing(k, opt, k.nodes.filter((id) => !absorbed.has(id)).map((id) => opt.nodes[id]!));
      return n ? [...n.matmuls.values()].join(",") : "none";
    });
}

const attention = (body: string) =>
  graphOf(`model A {\n  input q: f32[B, T, 8]\n  input k: f32[B, T, 8]\n  input v: f32[B, T, 8]\n  input keep: bool[B, T]\n  mask = causal_mask(T) && unsqueeze(keep, 1)\n${body}}\n`);

describe("narrowed attention: which kernels", () => {
  it("the stdlib's masked softmax attention narrows: q · kᵀ by its keys' rows, p · v by its inner dim", () => {
    expect(narrowings(attention("  output y = scaled_dot_product_attention(q, k, v, mask)\n"))).toEqual(["n,k"]);
    expect(narrowings(attention("  output y = cosine_attention(q, k, v, mask, scale=4.0)\n"))).toEqual(["n,k"]);
  });

  it("does not narrow where a masked column would count: an additive mask, a mean over the keys, the weights as an output", () => {
    // −1e9 added is not −∞: exp of it is 0 in f32, but the maximum is taken over it.
    expect(narrowings(attention("  s = q @ transpose(k) / 2.0 + where(mask, 0.0, -1000000000.0)\n  output y = softmax(s, -1) @ v\n"))).not.toContain("n,k");
    expect(narrowings(attention("  s = where(mask, q @ transpose(k), 0.0)\n  output y = (s - mean(s, -1, keepdim=true)) @ v\n"))).not.toContain("n,k");
    expect(narrowings(attention("  output w = masked_softmax(q @ transpose(k), mask)\n  output y = w @ v\n"))).not.toContain("n,k");
  });

  it("a block's visible keys: past its last true column, in multiples of 8, at most the width", () => {
    const rows = (...xs: number[][]) => Uint8Array.from(xs.flat());
    expect(visibleKeys(rows([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]), 2, 10)).toBe(8);
    expect(visibleKeys(rows([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]), 1, 10)).toBe(10);
    expect(visibleKeys(rows(Array(20).fill(0)), 1, 20)).toBe(8);
    expect(visibleKeys(rows([...Array(9).fill(1), ...Array(31).fill(0)]), 1, 40)).toBe(16);
  });
});

describe("narrowed attention: the op-by-op bits", () => {
  it("a causal prefill with left padding, T = 133 (blocks of 32, the last of 37 rows)", () => {
    const g = attention("  output y = scaled_dot_product_attention(q, k, v, mask)\n");
    const B = 2, T = 133;
    const f = (salt: number) => fromValues("f32", [B, T, 8], Array.from({ length: B * T * 8 }, (_, i) => Math.sin(i * 0.37 + salt) * 3));
    const keep = fromValues("bool", [B, T], Array.from({ length: B * T }, (_, i) => (i >= T && i < T + 21 ? 0 : 1)));
    const inputs = new Map<string, Tensor>([["q", f(1)], ["k", f(2)], ["v", f(3)], ["keep", keep]]);
    const opt = optimize(g).graph;
    const before = narrowedBlocks();
    const fused = new CpuProgram(opt, new Map()).run(inputs).outputs.get("y")!;
    expect(narrowedBlocks() - before).toBeGreaterThan(0);
    const plain = new CpuProgram(g, new Map(), undefined, { fuse: false }).run(inputs).outputs.get("y")!;
    expect([...fused.data]).toEqual([...plain.data]);
    // The padded queries of sequence 1 see no key: their rows are 0.
    expect([...fused.data.subarray((T + 3) * 8, (T + 4) * 8)]).toEqual(Array(8).fill(0));
  });

  it("BERT with padding at the end of a sequence (no causal mask): the padded keys skipped, the bits of op by op", async () => {
    const settings = { num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 2, intermediate_size: 48, vocab_size: 41, max_position_embeddings: 160 };
    const model = compile(readFileSync("models/bert.tfm", "utf8"), { file: "models/bert.tfm", settings });
    const [fused, plain] = [await model.load({ random: true, seed: 6 }), await model.load({ random: true, seed: 6 }, { fuse: false })];
    // Sequence 1 is 90 real tokens and 50 of padding.
    const B = 2, T = 140;
    const inputs = { input_ids: { data: Array.from({ length: B * T }, (_, i) => (i * 11) % 41), shape: [B, T] }, attention_mask: { data: Array.from({ length: B * T }, (_, i) => (i >= T + 90 ? 0 : 1)), shape: [B, T] } };
    const before = narrowedBlocks();
    const [a, b] = [await fused.run(inputs), await plain.run(inputs)];
    expect(narrowedBlocks() - before).toBeGreaterThan(0);
    expect([...a.last_hidden_state!.data]).toEqual([...b.last_hidden_state!.data]);
  });

  it("p · v by a weight laid out at load (its rows are not read as the keys): every key, no error, the bits of op by op", () => {
    const g = graphOf(`model W {\n  input q: f32[B, 96, 8]\n  input k: f32[B, 96, 8]\n  input keep: bool[B, 96]\n  param values: f32[96, 8]\n  mask = causal_mask(96) && unsqueeze(keep, 1)\n  output y = masked_softmax(q @ transpose(k), mask) @ values\n}\n`);
    const f = (n: number, salt: number) => fromValues("f32", n === 96 ? [96, 8] : [1, 96, 8], Array.from({ length: 96 * 8 }, (_, i) => Math.cos(i * 0.11 + salt)));
    const inputs = new Map<string, Tensor>([["q", f(1, 1)], ["k", f(1, 2)], ["keep", fromValues("bool", [1, 96], Array(96).fill(1))]]);
    const weights = new Map([["values", f(96, 3)]]);
    // The TypeScript kernels lay the weight out transposed; the wasm GEMM packs it as it is.
    for (const kernels of [plainKernels, undefined]) {
      const fused = new CpuProgram(optimize(g).graph, weights, kernels).run(inputs).outputs.get("y")!;
      const plain = new CpuProgram(g, weights, kernels, { fuse: false }).run(inputs).outputs.get("y")!;
      expect([...fused.data]).toEqual([...plain.data]);
    }
  });

  const gpt2 = readFileSync("models/gpt2.tfm", "utf8");

  it("over 2 threads (larger blocks, their products and phases threaded) the bits of 1 thread and of op by op", async () => {
    // 64-wide heads, 300 tokens: blocks of 55 rows on 2 threads (≥ 2^14 scores), of 37 on one.
    const model = compile(gpt2, { file: "models/gpt2.tfm", settings: { n_layer: 1, n_embd: 128, n_head: 2, vocab_size: 41, n_positions: 320 } });
    const sessions = [await model.load({ random: true, seed: 4 }, { threads: 2 }), await model.load({ random: true, seed: 4 }, { threads: 1 }), await model.load({ random: true, seed: 4 }, { threads: 1, fuse: false })];
    try {
      const prompt = { input_ids: { data: Array.from({ length: 300 }, (_, i) => (i * 7) % 41), shape: [1, 300] } };
      const [before, phases] = [narrowedBlocks(), threadedPhaseJobs()];
      const two = [...(await sessions[0]!.prefill(prompt)).logits!.data];
      expect(narrowedBlocks() - before).toBeGreaterThan(0);
      expect(threadedPhaseJobs() - phases).toBeGreaterThan(0);
      const [one, plain] = await Promise.all(sessions.slice(1).map(async (s) => [...(await s.prefill(prompt)).logits!.data]));
      expect(two).toEqual(one);
      expect(one).toEqual(plain);
    } finally {
      for (const s of sessions) s.dispose();
    }
  });
  const llama = readFileSync("models/llama.tfm", "utf8");
  const models = [
    ["gpt2", gpt2, "models/gpt2.tfm", { n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 41, n_positions: 256 }],
    ["llama (GQA)", llama, "models/llama.tfm", { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 41, max_position_embeddings: 256 }],
  ] as const;
  for (const [name, text, file, settings] of models) {
    it(`${name}: a padded prefill of 150 tokens, then a step of 70 on the cache, fused equal op by op`, async () => {
      const load = (fuse: boolean) => compile(text, { file, settings }).load({ random: true, seed: 3 }, { fuse });
      const [fused, plain] = [await load(true), await load(false)];
      const B = 2, P = 150, S = 70, V = settings.vocab_size;
      const ids = (n: number, salt: number) => ({ data: Array.from({ length: B * n }, (_, i) => (i * 13 + salt) % V), shape: [B, n] });
      const mask = (n: number, pad: number) => ({ data: Array.from({ length: B * n }, (_, i) => (i >= n && i < n + pad ? 0 : 1)), shape: [B, n] });
      const before = narrowedBlocks();
      const [a, b] = [await fused.prefill({ input_ids: ids(P, 1), attention_mask: mask(P, 40) }), await plain.prefill({ input_ids: ids(P, 1), attention_mask: mask(P, 40) })];
      expect([...a.logits!.data]).toEqual([...b.logits!.data]);
      const [c, d] = [await fused.step({ input_ids: ids(S, 5) }), await plain.step({ input_ids: ids(S, 5) })];
      expect([...c.logits!.data]).toEqual([...d.logits!.data]);
      expect(narrowedBlocks() - before).toBeGreaterThan(0);
    });
  }
});

// Fusion (src/schedule/fuse.ts): the schedules of the models are valid (verifySchedule), cover the
// kernels the optimizer is meant to make, and are kept as golden files reviewed as diffs.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { optimize } from "../../../src/optimize.js";
import { schedule, unfused } from "../../../src/schedule/fuse.js";
import { splitAppends } from "../../../src/schedule/appends.js";
import { printSchedule } from "../../../src/schedule/kernel.js";
import { verifySchedule } from "../../../src/schedule/verify.js";

const graphOf = (file: string, settings: Record<string, string> = {}) => {
  const r = check(readFileSync(file, "utf8"), file, { settings: new Map(Object.entries(settings)) });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return optimize(buildGraph(r)!).graph;
};

const models = ["gpt2", "bert", "transformer", "additive_attention", "cosine_attention", "llama"];

describe("fusion", () => {
  for (const m of models) {
    it(`${m}: the fused and the unfused schedules are valid`, () => {
      const g = graphOf(`models/${m}.tfm`);
      expect(verifySchedule(schedule(g))).toEqual([]);
      expect(verifySchedule(unfused(g))).toEqual([]);
    });
  }

  it("gpt2 with its KV cache: 5 kernels per block — the q/k/v projection's matmul kernel also writes the new keys and values into the caches, through the slices, reshapes and permutes that split them", () => {
    const g = graphOf("models/gpt2.tfm");
    const s = schedule(g);
    console.log(`[fuse] gpt2 with use_cache (12 blocks): ${g.nodes.length} nodes → ${s.kernels.length} fused`);
    // 5 before the blocks: the attention mask appended to its state, HF's position ids from it
    // (the mask as 0/1, its cumsum, then one kernel: the last seq of each — a slice read by `ne` —
    // with `where`),
    // the token and position embeddings' sum (the two gathers read in it as indexed loads). The
    // first block also computes the causal && padding mask, once for all the blocks: one
    // elementwise kernel (its aranges, past, their sum and >= computed in it).
    expect(s.kernels.length).toBe(5 + 1 + 12 * 5 + 1);
    const kindsOf = (a: number, b: number) => s.kernels.slice(a, b).map((k) => (k.kind === "op" ? g.nodes[k.anchor!]!.op : k.kind)).join(" ");
    expect(kindsOf(0, 5)).toBe("append elementwise cumsum elementwise elementwise");
    expect(s.kernels[3]!.nodes.filter((i) => !s.kernels[3]!.absorbed.includes(i)).map((i) => g.nodes[i]!.op)).toEqual(["ne", "sub", "where"]);
    expect(s.kernels[4]!.absorbed.map((i) => g.nodes[i]!.op)).toEqual(["gather", "gather"]);
    expect(kindsOf(5, 11)).toBe("matmul elementwise attention matmul matmul matmul");
    expect(kindsOf(11, 16)).toBe("matmul attention matmul matmul matmul");
    const mask = s.kernels[6]!;
    expect(mask.inputs).toHaveLength(1); // the padding mask; the causal part is index arithmetic
    expect(mask.absorbed.map((i) => g.nodes[i]!.op)).toEqual(expect.arrayContaining(["add", "arange", "arange", "const", "ge"]));
    // Each qkv kernel writes the two appends, reading the states (inputs) and its own result
    // through the slices, reshapes and permutes; its result is still written (attention reads q).
    for (const k of [s.kernels[5]!, s.kernels[11]!]) {
      expect(k.appends!.map((i) => g.nodes[i]!.op)).toEqual(["append", "append"]);
      expect(k.outputs).toEqual([k.epilogue!.at(-1), ...k.appends!]);
      expect(k.inputs.filter((i) => g.nodes[i]!.op === "input")).toHaveLength(2);
      expect(k.absorbed.map((i) => g.nodes[i]!.op).sort()).toEqual(["permute", "permute", "reshape", "reshape", "slice", "slice"]);
      // The kernels a backend runs in its place: the matmul kernel, then the two append op kernels.
      const parts = splitAppends(k, g);
      expect(parts.map((p) => (p.kind === "op" ? g.nodes[p.anchor!]!.op : p.kind))).toEqual(["matmul", "append", "append"]);
      expect(parts[0]!.appends).toBeUndefined();
      for (const p of parts.slice(1)) {
        expect(p.inputs.map((i) => g.nodes[i]!.op).sort()).toEqual(["add", "input"]);
        expect(p.absorbed.map((i) => g.nodes[i]!.op).sort()).toEqual(["permute", "reshape", "slice"]);
        expect(p.outputs).toEqual([p.anchor]);
      }
      expect(verifySchedule({ ...s, kernels: s.kernels.flatMap((x) => splitAppends(x, g)).map((x, id) => ({ ...x, id })) })).toEqual([]);
    }
  });

  it("gpt2 without a cache: 5 kernels per block (LayerNorm+qkv+bias, attention, proj+bias+residual, LayerNorm+fc+bias+gelu, proj+bias+residual)", () => {
    const g = graphOf("models/gpt2.tfm", { use_cache: "false" });
    const s = schedule(g);
    const u = unfused(g);
    console.log(`[fuse] gpt2 (12 blocks): ${g.nodes.length} nodes, ${u.kernels.length} kernels unfused → ${s.kernels.length} fused`);
    const kinds = s.kernels.map((k) => k.kind).join(" ");
    // 4 kernels for the embeddings (HF's position ids from the attention mask: its cumsum between
    // two elementwise kernels; the sum of the token and position gathers), the causal && padding mask
    // once (one elementwise kernel: &&, its aranges and >= computed in it), 5 per block, the LM head
    // with ln_f.
    expect(s.kernels.length).toBe(4 + 1 + 12 * 5 + 1);
    expect(kinds).toContain(["elementwise op elementwise elementwise", "matmul elementwise attention matmul matmul matmul", ...Array(11).fill("matmul attention matmul matmul matmul")].join(" "));
    const first = s.kernels[4]!;
    expect(first.prologue!.map((id) => g.nodes[id]!.op)).toEqual(["mean", "sub", "mul", "mean", "add", "rsqrt", "mul", "mul", "add"]);
    expect(first.epilogue!.map((id) => g.nodes[id]!.op)).toEqual(["add"]);
    const fc = s.kernels[8]!;
    expect(fc.epilogue!.map((id) => g.nodes[id]!.op).filter((op) => op === "tanh")).toHaveLength(1);
  });

  it("bert: the q, k, v biases join the merged projection's epilogue; 7 kernels per block", () => {
    const g = graphOf("models/bert.tfm");
    const s = schedule(g);
    const perBlock = s.kernels.filter((k) => k.kind !== "op").length;
    // qkv, attention, out proj + residual, LayerNorm, fc + gelu, proj + residual, LayerNorm; + the
    // embeddings' two sums (the three gathers read in them as indexed loads), their LayerNorm and the pooler.
    expect(perBlock).toBe(12 * 7 + 4);
  });

  it("attention kernels never write their score matrix", () => {
    for (const m of ["gpt2", "bert", "transformer"]) {
      const g = graphOf(`models/${m}.tfm`);
      for (const k of schedule(g).kernels.filter((k) => k.kind === "attention")) {
        expect(k.outputs).toEqual([k.anchor]);
        expect(k.nodes).toContain(k.scores);
      }
    }
  });

  const small: Record<string, Record<string, string>> = {
    gpt2: { n_layer: "1", n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "16" },
    bert: { num_hidden_layers: "1", hidden_size: "8", num_attention_heads: "2", intermediate_size: "16", vocab_size: "11", max_position_embeddings: "16" },
    llama: { num_hidden_layers: "1", hidden_size: "8", num_attention_heads: "2", num_key_value_heads: "1", intermediate_size: "16", vocab_size: "11" },
    transformer: { num_encoder_layers: "1", num_decoder_layers: "1", d_model: "8", nhead: "2", dim_feedforward: "16", src_vocab_size: "11", tgt_vocab_size: "13" },
  };
  for (const [m, settings] of Object.entries(small)) {
    it(`golden schedule of ${m}`, async () => {
      await expect(printSchedule(schedule(graphOf(`models/${m}.tfm`, settings)))).toMatchFileSnapshot(`../../golden/ir/${m}.kernels`);
    });
  }
});

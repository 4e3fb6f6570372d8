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
    // 3 before the blocks: the attention mask appended to its state, the cumsum of HF's position
    // ids (reading the mask as 0/1 itself), the token and position embeddings' sum (the two gathers
    // read in it as indexed loads, the position ids — the last seq of the cumsum, less one, 1 at
    // padding — computed in it). The position ids, the mask as 0/1 and the causal && padding mask
    // are masks: integer and boolean arithmetic each kernel reading them recomputes (6 kernels
    // before the blocks and one for the causal && padding mask, before).
    expect(s.kernels.length).toBe(3 + 12 * 5 + 1);
    const kindsOf = (a: number, b: number) => s.kernels.slice(a, b).map((k) => (k.kind === "op" ? g.nodes[k.anchor!]!.op : k.kind)).join(" ");
    expect(kindsOf(0, 3)).toBe("append cumsum elementwise");
    const opsOf = (ids: readonly number[]) => ids.map((i) => g.nodes[i]!.op);
    expect(opsOf(s.kernels[1]!.absorbed)).toEqual(["ne", "cast"]);
    expect(opsOf(s.kernels[2]!.absorbed).filter((op) => op === "gather" || op === "where" || op === "cumsum")).toEqual(["where", "gather", "gather"]);
    expect(kindsOf(3, 8)).toBe("matmul attention matmul matmul matmul");
    expect(kindsOf(8, 13)).toBe("matmul attention matmul matmul matmul");
    for (const k of s.kernels.filter((k) => k.kind === "attention")) {
      // The padding mask is all it reads of the mask; the causal part is index arithmetic.
      expect(k.inputs.filter((i) => g.nodes[i]!.dtype === "i32" && g.nodes[i]!.op !== "const").map((i) => g.nodes[i]!.op)).toEqual(["append"]);
      expect(opsOf(k.absorbed)).toEqual(expect.arrayContaining(["ne", "reshape", "add", "arange", "arange", "const", "ge", "and"]));
    }
    // Each qkv kernel writes the two appends, reading the states (inputs) and its own result
    // through the slices, reshapes and permutes; its result is still written (attention reads q).
    for (const k of [s.kernels[3]!, s.kernels[8]!]) {
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
    // 2 kernels for the embeddings (HF's position ids from the attention mask: its cumsum; the sum of
    // the token and position gathers, the position ids computed in it), 5 per block, the LM head with
    // ln_f. The causal && padding mask is recomputed by each attention kernel.
    expect(s.kernels.length).toBe(2 + 12 * 5 + 1);
    expect(kinds).toContain(["op elementwise", ...Array(12).fill("matmul attention matmul matmul matmul")].join(" "));
    const first = s.kernels[2]!;
    expect(first.prologue!.map((id) => g.nodes[id]!.op)).toEqual(["mean", "sub", "mul", "mean", "add", "rsqrt", "mul", "mul", "add"]);
    expect(first.epilogue!.map((id) => g.nodes[id]!.op)).toEqual(["add"]);
    const fc = s.kernels[5]!;
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

  it("masks: integer and boolean arithmetic on per-run values is recomputed by its readers, op kernels too, and never splits a chain", () => {
    const src = [
      "model M {",
      "  input x: f32[n, d]",
      "  input m: i32[n, d]",
      "  keep = m != 0",
      "  output y = cast(cumsum(cast(keep, i32), 1), f32) + x",
      "  output z = where(x * 2.0 > 0.0, x * 2.0, 0.0) + 1.0",
      "  output w = where(keep, x, 0.0)",
      "  output k = keep",
      "}",
    ].join("\n");
    const r = check(src, "m.tfm");
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const g = optimize(buildGraph(r)!).graph;
    const s = schedule(g);
    expect(verifySchedule(s)).toEqual([]);
    const op = (id: number) => g.nodes[id]!.op;
    // The cumsum's op kernel reads m and computes `!= 0` and the cast itself.
    const scan = s.kernels.find((k) => k.kind === "op" && op(k.anchor!) === "cumsum")!;
    expect(scan.inputs.map(op).filter((o) => o !== "const")).toEqual(["input"]);
    expect(scan.absorbed.map(op)).toEqual(["ne", "cast"]);
    // `x * 2 > 0` reads the chain's own value: a compute node of that chain, not a mask.
    const chain = s.kernels.find((k) => k.outputs.some((o) => g.outputs.find((p) => p.name === "z")!.node === o))!;
    expect(chain.nodes.map(op)).toEqual(expect.arrayContaining(["mul", "gt", "where", "add"]));
    expect(chain.absorbed.map(op)).not.toContain("gt");
    // The output `k` is a mask: an elementwise kernel of its own, writing it.
    const keep = g.outputs.find((p) => p.name === "k")!.node;
    const own = s.kernels.filter((k) => k.outputs.includes(keep));
    expect(own.map((k) => k.kind)).toEqual(["elementwise"]);
    // Every other reader computes it for itself.
    for (const k of s.kernels) if (!own.includes(k) && k.nodes.includes(keep)) expect(k.absorbed).toContain(keep);
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

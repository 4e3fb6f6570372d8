// The IR: every model lowers to a graph that verifies; small models' IR, as built and optimized, is
// kept as golden files.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { constDim } from "../../../src/core/dim.js";
import { GraphBuilder } from "../../../src/ir/graph.js";
import { printGraph, printNode } from "../../../src/ir/print.js";
import { optimize } from "../../../src/optimize.js";
import { verify } from "../../../src/ir/verify.js";

const graphOf = (file: string, settings: Record<string, string> = {}) => {
  const r = check(readFileSync(file, "utf8"), file, { settings: new Map(Object.entries(settings)) });
  expect(r.diagnostics).toEqual([]);
  return buildGraph(r)!;
};

describe("IR", () => {
  for (const f of readdirSync("models").filter((x) => x.endsWith(".tfm"))) {
    it(`${f} lowers to a graph that verifies`, () => {
      const g = graphOf(`models/${f}`);
      expect(verify(g)).toEqual([]);
      expect(g.outputs.length).toBeGreaterThan(0);
      expect(Object.isFrozen(g.nodes[0])).toBe(true);
    });
  }

  it("names weights by checkpoint name, one node each, as the instantiation does", () => {
    const r = check(readFileSync("models/gpt2.tfm", "utf8"), "models/gpt2.tfm", { settings: new Map([["n_layer", "2"]]) });
    const g = buildGraph(r)!;
    const weights = g.nodes.filter((n) => n.op === "weight").map((n) => n.attrs.name).sort();
    expect(weights).toEqual(r.instance!.weights.map((w) => w.name).sort());
  });

  // Golden IR for small settings of the models, as built (.ir) and after the optimizer's pipeline
  // (.opt.ir), reviewed as diffs (`vitest -u` regenerates).
  const small: Record<string, Record<string, string>> = {
    "gpt2.tfm": { n_layer: "1", n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "16" },
    "additive_attention.tfm": {},
    "bert.tfm": { num_hidden_layers: "1", hidden_size: "8", num_attention_heads: "2", intermediate_size: "16", vocab_size: "11", max_position_embeddings: "16" },
    "transformer.tfm": { num_encoder_layers: "1", num_decoder_layers: "1", d_model: "8", nhead: "2", dim_feedforward: "16", src_vocab_size: "11", tgt_vocab_size: "13" },
    "llama.tfm": { num_hidden_layers: "1", hidden_size: "8", num_attention_heads: "2", num_key_value_heads: "1", intermediate_size: "16", vocab_size: "11" },
    "figures.tfm": { max_len: "6", d_model: "4", mask_size: "3" },
    "cosine_attention.tfm": { num_layers: "1", d_model: "8", num_heads: "2", dim_feedforward: "16", vocab_size: "11" },
  };
  it("has small settings for every model", () => {
    expect(Object.keys(small).sort()).toEqual(readdirSync("models").filter((x) => x.endsWith(".tfm")).sort());
  });
  for (const [f, settings] of Object.entries(small)) {
    it(`golden IR of ${f}, as built and optimized`, async () => {
      const g = graphOf(`models/${f}`, settings);
      await expect(printGraph(g)).toMatchFileSnapshot(`../../golden/ir/${f.replace(".tfm", ".ir")}`);
      const opt = optimize(g);
      for (const s of opt.stages) expect(verify(s.graph), `after ${s.pass}`).toEqual([]);
      await expect(printGraph(opt.graph)).toMatchFileSnapshot(`../../golden/ir/${f.replace(".tfm", ".opt.ir")}`);
    });
  }

  // An encoder–decoder's phases (src/ir/phases.ts), optimized: what the first call of a sequence
  // writes once (the encoder and the cross-attention keys/values), and the step every call runs.
  it("golden IR of transformer.tfm's encode and step phases", async () => {
    const r = check(readFileSync("models/transformer.tfm", "utf8"), "models/transformer.tfm", { settings: new Map(Object.entries(small["transformer.tfm"]!)) });
    for (const phase of ["encode", "step"] as const) {
      const opt = optimize(buildGraph(r, undefined, phase)!);
      for (const s of opt.stages) expect(verify(s.graph), `${phase} after ${s.pass}`).toEqual([]);
      await expect(printGraph(opt.graph)).toMatchFileSnapshot(`../../golden/ir/transformer.${phase}.opt.ir`);
    }
  });

  it("lowers a negative index on a symbolic dim to size - k", () => {
    const r = check("model M {\n  input x: f32[n, 4]\n  output y = x[-2:]\n  output z = x[-1]\n}\n", "t.tfm");
    expect(r.diagnostics).toEqual([]);
    const g = buildGraph(r)!;
    expect(verify(g)).toEqual([]);
    expect(g.nodes.filter((n) => n.op === "slice").map((n) => printNode(n).replace(/^%\d+: /, ""))).toEqual([
      "f32[2, 4] = slice %0 {axis=0, start=-2 + n, end=n}",
      "f32[1, 4] = slice %0 {axis=0, start=-1 + n, end=n}",
    ]);
  });

  it("verify checks matmul's transB: b is [..., n, k]", () => {
    const b = new GraphBuilder("T");
    const x = b.add("input", [], { name: "x" }, "f32", [constDim(2), constDim(3)]);
    const w = b.add("weight", [], { name: "w" }, "f32", [constDim(5), constDim(3)]);
    const v = b.add("weight", [], { name: "v" }, "f32", [constDim(3)]);
    b.add("matmul", [x, w], { transB: true }, "f32", [constDim(2), constDim(5)]); // fine
    b.add("matmul", [x, w], {}, "f32", [constDim(2), constDim(5)]); // [2, 3] @ [5, 3]
    b.add("matmul", [x, v], { transB: true }, "f32", [constDim(2)]); // transB of a vector
    expect(verify(b.finish())).toEqual(["%4 matmul: matmul inner dims differ", "%5 matmul: matmul with transB needs a right operand of at least 2 dims"]);
  });

  it("verify catches a malformed graph", () => {
    const g = graphOf("models/additive_attention.tfm");
    const broken = { ...g, nodes: g.nodes.map((n) => (n.op === "matmul" ? { ...n, shape: n.shape.slice(1) } : n)) };
    expect(verify(broken).some((p) => p.includes("matmul"))).toBe(true);
  });
});

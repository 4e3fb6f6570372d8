// The passes other than simplify (simplify.test.ts), the rewriter they share, and the pipeline:
// its order, `until`, its reports, and every model verifying after every pass.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromValues } from "../../../src/core/tensor.js";
import { constDim, type Dim } from "../../../src/core/dim.js";
import { GraphBuilder } from "../../../src/ir/graph.js";
import { printGraph } from "../../../src/ir/print.js";
import { verify } from "../../../src/ir/verify.js";
import { cse } from "../../../src/passes/cse.js";
import { dce } from "../../../src/passes/dce.js";
import { foldConstants } from "../../../src/passes/fold-constants.js";
import { evaluateScalar } from "../../../src/backends/cpu/evaluate.js";
import { foldTranspose } from "../../../src/passes/fold-transpose.js";
import { mergeQkv } from "../../../src/passes/merge-qkv.js";
import { formatReport, passes, UnknownPass } from "../../../src/passes/pipeline.js";
import { optimize } from "../../../src/optimize.js";
import { rewrite } from "../../../src/passes/rewrite.js";
import { count, dims, graphOf, model, runValues, specialInputs } from "./helpers.js";

const gpt2 = (layers: number) => graphOf(readFileSync("models/gpt2.tfm", "utf8"), { n_layer: String(layers), n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "16" });

/** A graph of scalar constants: out = op(consts...) for each [op, dtype, values]. */
function scalars(...rows: [op: "add" | "mul" | "div" | "sqrt" | "cast" | "lt", dtype: "f32" | "i32" | "bool", args: [number | boolean | Dim, "f32" | "i32"][]][]) {
  const b = new GraphBuilder("S");
  rows.forEach(([op, dtype, args], i) => {
    const ins = args.map(([v, t]) => b.add("const", [], { value: v }, t, []));
    b.outputs.push({ name: `o${i}`, node: b.add(op, ins, {}, dtype, []) });
  });
  return b.finish();
}

describe("dce", () => {
  it("drops what no output uses and keeps every input", () => {
    const g = model("_unused = exp(x)", "output y = x + 1.0");
    const d = dce(g);
    expect(count(g, "exp")).toBe(1);
    expect(count(d, "exp")).toBe(0);
    expect(d.inputs.map((p) => d.nodes[p.node]!.attrs.name)).toEqual(["x", "m"]); // m is unused
    expect(verify(d)).toEqual([]);
  });
});

describe("cse", () => {
  it("shares GPT-2's causal mask and position arange between blocks", () => {
    const g = gpt2(2);
    const c = dce(cse(g));
    // Each block's causal mask: an arange(seq) and an arange(past + seq), one pair after CSE (HF's
    // position ids, mask_positions, are a cumsum of the attention mask, with no causal mask).
    expect([count(g, "arange"), count(c, "arange")]).toEqual([4, 2]);
    expect([count(g, "ge"), count(c, "ge")]).toEqual([2, 1]);
    expect(verify(c)).toEqual([]);
  });

  it("merges commutative operands and structurally equal dims, but not -0 with 0", () => {
    const b = new GraphBuilder("C");
    const x = b.add("input", [], { name: "x" }, "f32", dims(2, 4));
    b.inputs.push({ name: "x", node: x });
    const [zero, negZero, two] = [b.add("const", [], { value: 0 }, "f32", []), b.add("const", [], { value: -0 }, "f32", []), b.add("const", [], { value: 2 }, "f32", [])];
    const outs = [
      b.add("add", [x, two], {}, "f32", dims(2, 4)),
      b.add("add", [two, x], {}, "f32", dims(2, 4)), // = the one before
      b.add("sub", [two, x], {}, "f32", dims(2, 4)),
      b.add("sub", [x, two], {}, "f32", dims(2, 4)), // not commutative
      b.add("add", [x, zero], {}, "f32", dims(2, 4)),
      b.add("add", [x, negZero], {}, "f32", dims(2, 4)), // -0 is another constant
      // Two slices whose bounds are the same polynomial with its terms in different orders.
      b.add("slice", [x], { axis: 1, start: constDim(0), end: { terms: new Map([["", 2]]) } }, "f32", dims(2, 2)),
      b.add("slice", [x], { axis: 1, start: { terms: new Map() }, end: constDim(2) }, "f32", dims(2, 2)),
    ];
    outs.forEach((n, i) => b.outputs.push({ name: `o${i}`, node: n }));
    const c = dce(cse(b.finish()));
    expect(c.outputs.map((p) => p.node)).toEqual([c.outputs[0]!.node, c.outputs[0]!.node, ...c.outputs.slice(2, 6).map((p) => p.node), c.outputs[6]!.node, c.outputs[6]!.node]);
    expect(new Set(c.outputs.map((p) => p.node)).size).toBe(6);
    expect(verify(c)).toEqual([]);
  });
});

describe("fold-constants", () => {
  it("computes scalars of constants with the interpreter's f32 and i32 arithmetic", () => {
    const g = foldConstants(scalars(["add", "f32", [[0.1, "f32"], [0.2, "f32"]]], ["add", "i32", [[2147483647, "i32"], [1, "i32"]]], ["sqrt", "f32", [[-1, "f32"]]], ["cast", "i32", [[-2.7, "f32"]]], ["lt", "bool", [[1, "f32"], [2, "f32"]]], ["div", "f32", [[1, "f32"], [-0, "f32"]]]), evaluateScalar);
    const values = g.outputs.map((p) => g.nodes[p.node]!).map((n) => (n.op === "const" ? n.attrs.value : n.op));
    expect(values).toEqual([Math.fround(Math.fround(0.1) + Math.fround(0.2)), -2147483648, NaN, -2, true, -Infinity]);
    expect(verify(dce(g))).toEqual([]);
  });

  it("leaves symbolic sizes, weights and tensors alone", () => {
    const b = new GraphBuilder("W");
    const seq: Dim = { terms: new Map([["seq", 1]]) };
    const n = b.add("const", [], { value: seq }, "i32", []);
    const one = b.add("const", [], { value: 1 }, "i32", []);
    const w = b.add("weight", [], { name: "w" }, "f32", []);
    const half = b.add("const", [], { value: 0.5 }, "f32", []);
    b.outputs.push({ name: "a", node: b.add("add", [n, one], {}, "i32", []) });
    b.outputs.push({ name: "b", node: b.add("mul", [w, half], {}, "f32", []) });
    b.outputs.push({ name: "c", node: b.add("expand", [half], {}, "f32", dims(3)) });
    const g = b.finish();
    expect(printGraph(foldConstants(g, evaluateScalar))).toBe(printGraph(g));
  });
});

describe("fold-transpose", () => {
  it("reads a Linear's weight as stored: matmul(x, permute(w)) → matmul(x, w) {transB}", () => {
    const g = graphOf("model M {\n  input x: f32[b, 3]\n  layer fc = Linear(3, 5)\n  output y = fc(x)\n}\n");
    const f = dce(foldTranspose(g));
    const mm = f.nodes.find((n) => n.op === "matmul")!;
    expect(mm.attrs.transB).toBe(true);
    expect(f.nodes[mm.inputs[1]!]!.op).toBe("weight");
    expect(count(f, "permute")).toBe(0);
    expect(verify(f)).toEqual([]);
    const w = fromValues("f32", [5, 3], Array.from({ length: 15 }, (_, i) => i / 7 - 1));
    const bias = fromValues("f32", [5], [1, 2, 3, 4, 5]);
    const weights = new Map([["fc.weight", w], ["fc.bias", bias]]);
    const x = { x: fromValues("f32", [2, 3], [1, -2, 0.5, -0, 3, NaN]) };
    expect(runValues(f, x, weights)).toEqual(runValues(g, x, weights));
  });

  it("turns attention's permute-then-transpose of k into one permute that keeps rows", () => {
    const g = gpt2(1);
    const f = dce(foldTranspose(g));
    const mms = f.nodes.filter((n) => n.op === "matmul" && n.attrs.transB);
    expect(mms.length).toBe(2); // q·kᵀ and the tied LM head
    expect(count(g, "permute") - count(f, "permute")).toBe(1 + 1); // kᵀ's transpose and the head's
    expect(verify(f)).toEqual([]);
  });

  it("keeps a shared permute, a permute that moves the innermost dim elsewhere, and a transposed left operand", () => {
    const g = model("a = reshape(x, [2, 2, b])", "output y = transpose(x) @ x", "output z = transpose(a) @ permute(a, [1, 0, 2])");
    expect(printGraph(foldTranspose(g))).toBe(printGraph(g));
    const shared = model("t = transpose(x)", "output y = x @ t", "output z = t");
    const f = dce(foldTranspose(shared));
    expect(count(f, "permute")).toBe(1);
    expect(runValues(f, specialInputs())).toEqual(runValues(shared, specialInputs()));
  });
});

describe("merge-qkv", () => {
  /** x: f32[m, k] times `parts` weights [k, n] (or [n, k] with transB), each its own output. */
  function products(m: number, k: number, n: number, parts: number, transB: boolean) {
    const b = new GraphBuilder("Q");
    const x = b.add("input", [], { name: "x" }, "f32", dims(m, k));
    b.inputs.push({ name: "x", node: x });
    const weights = new Map<string, ReturnType<typeof fromValues>>();
    for (let i = 0; i < parts; i++) {
      // Each weight comes right before its product, so merging moves the later ones up.
      const w = b.add("weight", [], { name: `w${i}` }, "f32", transB ? dims(n, k) : dims(k, n));
      weights.set(`w${i}`, fromValues("f32", transB ? [n, k] : [k, n], Array.from({ length: n * k }, (_, j) => Math.sin(j * (i + 1)) / 3)));
      b.outputs.push({ name: `y${i}`, node: b.add("matmul", [x, w], transB ? { transB } : {}, "f32", dims(m, n)) });
    }
    return { g: b.finish(), weights, x: { x: fromValues("f32", [m, k], Array.from({ length: m * k }, (_, j) => Math.cos(j) * 2)) } };
  }

  it("merges products of one operand by same-shape weights into one, with the same bits", () => {
    // k = 300 crosses the kernel's k blocking; m = 2 and m = 5 take its two paths for small and larger m.
    for (const [m, transB] of [[2, false], [5, false], [2, true], [5, true]] as const) {
      const { g, weights, x } = products(m, 300, 7, 3, transB);
      const q = dce(mergeQkv(g));
      expect(verify(q)).toEqual([]);
      expect([count(q, "matmul"), count(q, "concat"), count(q, "slice")]).toEqual([1, 1, 3]);
      expect(runValues(q, x, weights)).toEqual(runValues(g, x, weights));
    }
  });

  it("uses torch's in_proj_weight whole instead of its three slices", () => {
    const g = graphOf("model M {\n  input x: f32[b, t, 8]\n  layer mha = MultiheadAttention(8, 2)\n  output y = mha(x, x, x)\n}\n");
    const q = dce(mergeQkv(foldTranspose(g)));
    expect(verify(q)).toEqual([]);
    const merged = q.nodes.find((n) => n.op === "matmul" && q.nodes[n.inputs[1]!]!.attrs.name === "mha.in_proj_weight");
    expect(merged?.attrs.transB).toBe(true);
    expect(count(q, "concat")).toBe(0);
    expect(count(q, "matmul")).toBe(count(g, "matmul") - 2);
  });

  it("leaves products by activations and by one weight alone", () => {
    const g = model("output y = x @ transpose(x)", "output z = x @ transpose(x * 2.0)");
    expect(printGraph(mergeQkv(g))).toBe(printGraph(g));
    const one = products(3, 4, 5, 1, false).g;
    expect(printGraph(mergeQkv(one))).toBe(printGraph(one));
  });
});

describe("rewrite", () => {
  it("refuses a replacement of another type", () => {
    const g = model("output y = x[0]");
    expect(() => rewrite(g, (n) => (n.op === "reshape" || n.op === "slice" ? n.inputs[0] : undefined))).toThrow(/replaced by a node of another type/);
  });
});

describe("pipeline", () => {
  it("lists the passes in order and runs them up to `until`", () => {
    expect(passes.map((p) => p.name)).toEqual(["fold-constants", "simplify", "fold-transpose", "cse", "merge-qkv", "dce"]);
    const g = gpt2(1);
    expect(optimize(g, { until: "none" }).graph).toBe(g);
    expect(optimize(g, { until: "simplify" }).stages.map((s) => s.pass)).toEqual(["fold-constants", "simplify"]);
    expect(optimize(g).stages.length).toBe(passes.length);
    expect(() => optimize(g, { until: "fusion" })).toThrow(UnknownPass);
  });

  it("reports nodes before and after each pass and the ops removed and added", () => {
    const o = optimize(gpt2(1));
    const simplify = o.stages.find((s) => s.pass === "simplify")!.report;
    // The dropouts, and mask_positions' two slices [:, past:] (past is 0 without a cache).
    expect(simplify.removed).toEqual({ dropout: 4, slice: 2 });
    expect(simplify.nodesBefore - simplify.nodesAfter).toBe(6);
    expect(o.stages.find((s) => s.pass === "fold-transpose")!.report.added).toMatchObject({ "matmul(transB)": 2 });
    expect(o.total.nodesAfter).toBe(o.graph.nodes.length);
    const text = formatReport(o);
    expect(text).toMatch(/^pass +nodes +kernels\n/);
    expect(text).toMatch(/\nsimplify +\d+ → \d+ +\d+ → \d+ +-4 dropout, -2 slice\n/);
    expect(text).toMatch(/\ntotal +\d+ → \d+ +\d+ → \d+ /);
    expect(text).toMatch(/\nfuse: \d+ nodes → \d+ kernels \(.*matmul.*\); \d+ unfused\n/);
  });

  for (const f of readdirSync("models").filter((x) => x.endsWith(".tfm"))) {
    it(`${f}: verifies after every pass, and the pipeline's result is a fixed point`, () => {
      const o = optimize(graphOf(readFileSync(`models/${f}`, "utf8")));
      for (const s of o.stages) expect(verify(s.graph), `after ${s.pass}`).toEqual([]);
      expect(o.graph.nodes.length).toBeLessThan(o.stages[0]!.report.nodesBefore);
      expect(printGraph(optimize(o.graph).graph)).toBe(printGraph(o.graph));
    });
  }
});

// The simplify pass: each identity is removed, the look-alikes that are not exact are kept, and the
// results are the same bits (−0, NaN and ±∞ included; toEqual tells −0 from 0).
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../src/ir/graph.js";
import { verify } from "../../../src/ir/verify.js";
import { dce } from "../../../src/passes/dce.js";
import { simplify } from "../../../src/passes/simplify.js";
import { count, dims, model, runValues, specialInputs } from "./helpers.js";

/** simplify then dce; checks the result verifies and gives the same bits; returns it. */
function simplified(g: ReturnType<typeof model>) {
  const s = dce(simplify(g));
  expect(verify(s)).toEqual([]);
  expect(runValues(s, specialInputs())).toEqual(runValues(g, specialInputs()));
  return s;
}

/** Whether the output `y` is the input x itself after simplification. */
const isX = (g: ReturnType<typeof model>) => g.nodes[g.outputs[0]!.node]!.op === "input";

describe("simplify", () => {
  it("removes dropout, x·1, 1·x, x/1, x − 0 and x + (−0)", () => {
    for (const e of ["dropout(x, 0.1)", "x * 1.0", "1.0 * x", "x / 1.0", "x - 0.0", "x + -0.0", "-0.0 + x", "x * ones([b, 4])", "x * ones([4])"]) {
      expect(isX(simplified(model(`output y = ${e}`))), e).toBe(true);
    }
  });

  it("keeps x + 0 for f32 (−0 + 0 is +0), x − (−0), x·0 and x·2", () => {
    for (const e of ["x + 0.0", "0.0 + x", "x - -0.0", "x * 0.0", "x * 2.0"]) {
      const s = simplified(model(`output y = ${e}`));
      expect(isX(s), e).toBe(false);
      expect(s.nodes.length, e).toBe(model(`output y = ${e}`).nodes.length);
    }
    // The kept x + 0 matters: −0 + 0 is +0.
    expect(runValues(model("output y = x + 0.0"), specialInputs()).y![0]).toEqual(0);
  });

  it("removes i32 x + 0 (integers have no −0)", () => {
    const g = model("i = cast(x, i32)", "output y = i + 0");
    const s = simplified(g);
    expect(count(s, "add")).toBe(0);
  });

  it("never drops an operand that a broadcast would have widened", () => {
    // x·ones([3, b, 4]) is [3, b, 4]: the ones are not the identity here.
    const s = simplified(model("output y = x * ones([3, b, 4])"));
    expect(count(s, "mul")).toBe(1);
    const w = simplified(model("output y = where(m, x[0], x[0])"));
    expect(count(w, "where")).toBe(1); // [4] widened to [b, 4] by the mask
  });

  it("removes same-type cast, reshape and expand, a slice of a whole axis, and where(c, x, x)", () => {
    for (const e of ["cast(x, f32)", "reshape(x, [b, 4])", "where(m, x, x)", "squeeze(unsqueeze(x, 0), 0)", "x[:]", "x[:, :]", "x[0:, 0:4]"]) {
      expect(isX(simplified(model(`output y = ${e}`))), e).toBe(true);
    }
    for (const e of ["x[1:]", "x[:, 0:3]", "x[:, 1:]"]) expect(count(simplified(model(`output y = ${e}`)), "slice"), e).toBe(1);
    const b = new GraphBuilder("E");
    const x = b.add("input", [], { name: "x" }, "f32", dims(2, 4));
    b.inputs.push({ name: "x", node: x });
    b.outputs.push({ name: "y", node: b.add("expand", [x], {}, "f32", dims(2, 4)) });
    const g = b.finish();
    expect(simplified(g).nodes.length).toBe(1);
  });

  it("merges reshape∘reshape and permute∘permute, and removes the identity", () => {
    const r = simplified(model("output y = reshape(reshape(x, [b, 2, 2]), [4, b])"));
    expect(count(r, "reshape")).toBe(1);
    expect(isX(simplified(model("output y = transpose(transpose(x))")))).toBe(true);
    const p = simplified(graphOfPermutes());
    expect(count(p, "permute")).toBe(1);
    expect(p.nodes.find((n) => n.op === "permute")!.attrs.perm).toEqual([2, 0, 1]);
  });

  it("keeps the sites of the nodes it keeps and never changes its input graph", () => {
    const g = model("output y = exp(dropout(x, 0.1))");
    const before = JSON.stringify(g.nodes);
    const s = simplify(g);
    expect(JSON.stringify(g.nodes)).toBe(before);
    expect(Object.isFrozen(s.nodes[0])).toBe(true);
    expect(s.nodes.find((n) => n.op === "exp")!.site).toEqual(g.nodes.find((n) => n.op === "exp")!.site);
  });
});

/** permute(permute(x, [1, 2, 0]), [1, 2, 0]) = permute(x, [2, 0, 1]) on x: f32[2, 3, 4]. */
function graphOfPermutes() {
  const b = new GraphBuilder("P");
  const x = b.add("input", [], { name: "x" }, "f32", dims(2, 4));
  b.inputs.push({ name: "x", node: x });
  const r = b.add("reshape", [x], {}, "f32", dims(2, 2, 2));
  const p1 = b.add("permute", [r], { perm: [1, 2, 0] }, "f32", dims(2, 2, 2));
  b.outputs.push({ name: "y", node: b.add("permute", [p1], { perm: [1, 2, 0] }, "f32", dims(2, 2, 2)) });
  return b.finish();
}

// reshape's `-1`, as in PyTorch: the shape rule infers the dim exactly from the element count, the
// IR gets the inferred dim, and the interpreter runs it; more than one -1, or one that does not
// divide exactly, is TFM4015.
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { showDim } from "../../../src/core/dim.js";
import { fromValues } from "../../../src/core/tensor.js";
import { renderDiagnostics } from "../../../src/diag/render.js";
import { runValues } from "../passes/helpers.js";

const program = (shape: string) => `model M(h: int = 3) {\n  input x: f32[b, t, 12]\n  output y = reshape(x, ${shape})\n}\n`;

function outputShape(shape: string): string {
  const r = check(program(shape), "t.tfm");
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  const g = buildGraph(r)!;
  const out = g.nodes[g.outputs[0]!.node]!;
  return `[${out.shape.map(showDim).join(", ")}]`;
}

describe("reshape infers one -1", () => {
  it("from the other dims, symbolic or not, in the IR too", () => {
    expect(outputShape("[b, t, h, -1]")).toBe("[b, t, 3, 4]");
    expect(outputShape("[-1, 12]")).toBe("[b * t, 12]");
    expect(outputShape("[-1]")).toBe("[12 * b * t]");
    expect(outputShape("[b, -1, 2]")).toBe("[b, 6 * t, 2]");
  });

  it("and the interpreter runs it", () => {
    const r = check(program("[b, -1, 4]"), "t.tfm");
    const x = fromValues("f32", [1, 2, 12], Array.from({ length: 24 }, (_, i) => i));
    expect(runValues(buildGraph(r)!, { x })["y"]).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  const errors: [string, string][] = [
    ["[-1, -1]", "reshape to [-1, -1] has 2 dims of -1; at most one can be inferred"],
    ["[b, 5, -1]", "cannot infer the -1 in reshape of [b, t, 12] to [b, 5, -1]: its 12 * b * t elements are not provably a multiple of 5 * b"],
    ["[b, t, 5, -1]", "cannot infer the -1 in reshape of [b, t, 12] to [b, t, 5, -1]: its 12 * b * t elements are not provably a multiple of 5 * b * t"],
  ];
  for (const [shape, message] of errors) {
    it(`reports TFM4015 for ${shape} at the shape`, () => {
      const r = check(program(shape), "t.tfm");
      expect(r.diagnostics.map((d) => [d.code, program(shape).slice(d.span.start, d.span.end), d.message])).toEqual([["TFM4015", shape, message]]);
    });
  }

  it("leaves out `provably` when it provably does not divide", () => {
    const r = check("model M {\n  input x: f32[6]\n  output y = reshape(x, [4, -1])\n}\n", "t.tfm");
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([["TFM4015", "cannot infer the -1 in reshape of [6] to [4, -1]: its 6 elements are not a multiple of 4"]]);
  });
});

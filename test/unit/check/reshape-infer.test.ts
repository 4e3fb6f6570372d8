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

  it("reports two -1s as TFM4015, at the shape", () => {
    const text = program("[-1, -1]");
    const r = check(text, "t.tfm");
    expect(r.diagnostics.map((d) => [d.code, text.slice(d.span.start, d.span.end), d.message])).toEqual([
      ["TFM4015", "[-1, -1]", "reshape of [b, t, 12] to [-1, -1] has 2 dims of -1; at most one can be inferred"],
    ]);
  });

  it("reports a -1 that provably does not divide as TFM4015", () => {
    const r = check("model M {\n  input x: f32[6]\n  output y = reshape(x, [4, -1])\n}\n", "t.tfm");
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([["TFM4015", "cannot infer the -1 in reshape of [6] to [4, -1]: 6 elements are not a multiple of 4"]]);
  });

  it("warns (TFM4009, as `/` on dims does) when it divides only for some values of the symbols", () => {
    const r = check(program("[b, 5, -1]"), "t.tfm");
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["TFM4009", "cannot prove that 5 * b divides 12 * b * t, the element count the -1 in reshape of [b, t, 12] to [b, 5, -1] is inferred from"],
    ]);
    const out = buildGraph({ ...r, diagnostics: [] })!;
    expect(showDim(out.nodes[out.outputs[0]!.node]!.shape[2]!)).toBe("((12 * b * t) / (5 * b))");
  });

  it("is not reported in a block the model never instantiates (its parameters are symbols)", () => {
    const text = "block Heads(h: int) {\n  input x: f32[B, T, D]\n  output y = reshape(x, [B, T, h, -1])\n}\nmodel M {\n  input x: f32[n]\n  output y = x\n}\n";
    const r = check(text, "t.tfm");
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  });
});

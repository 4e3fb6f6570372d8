// Shape-checker bugs found by the shape property tests, each as the smallest program that shows
// it, with what PyTorch (or plain arithmetic) says: regression tests now that they are fixed. The
// properties steer clear of these constructs by default; TFM_SHAPES_GAPS=1 makes them generate
// the constructs too.
import { describe, expect, it } from "vitest";
import { evalDim } from "../../src/core/dim.js";
import { typeKey } from "../../src/check/shapes/check.js";
import { FILE, evalDimText, garbledDim, parseType, runCheck, showDiags } from "./shapes-oracle.js";

/** The checker's shape string for binding `name` (an assignment target in the model). */
function typeOf(text: string, name: string): string | undefined {
  const r = runCheck(text);
  for (const item of r.program.items)
    for (const m of item.body)
      if (m.kind === "Assign") for (const t of m.targets) if (t.name === name) return r.shapes?.types.get(typeKey(FILE, t.span))?.[0];
  throw new Error(`no binding ${name}`);
}

/** The binding's shape at the given symbol values, evaluated from the checker's shape string. */
function shapeAt(text: string, name: string, values: Record<string, number>): number[] | undefined {
  const t = typeOf(text, name);
  const p = t ? parseType(t) : undefined;
  return p?.dims.map((d) => evalDimText(d, values));
}

const warnsOrErrs = (text: string) => runCheck(text).diagnostics.some((d) => d.code.startsWith("TFM4"));

describe("shape-checker bugs found by the properties (fixed)", () => {
  // PyTorch clamps slice bounds (torch.zeros(3, 4)[-10:] has shape [3, 4]); the checker used to
  // compute a length of 10. tfm does not clamp: a slice must lie within its dim (docs/LANGUAGE.md),
  // so a provably out-of-bounds slice is an error, and bounds that depend on run-time dims are
  // checked when the model runs.
  it("bug 1: x[-10:] of f32[3, 4] is an out-of-bounds error, never a [10, 4] tensor", () => {
    const codes = (text: string) => runCheck(text).diagnostics.map((d) => d.code);
    expect(codes("model M {\n  input x: f32[3, 4]\n  y = x[-10:]\n  output o = y\n}\n")).toEqual(["TFM4012"]);
    expect(codes("model M {\n  input x: f32[3]\n  y = x[-10:-1]\n  output o = y\n}\n")).toEqual(["TFM4012"]);
    expect(typeOf("model M {\n  input x: f32[3, 4]\n  y = x[-2:]\n  output o = y\n}\n", "y")).toBe("f32[2, 4]");
  });

  // On a symbolic dim the bounds cannot be checked until the model runs: x[:5] of f32[t] is f32[5]
  // (for t ≥ 5; the interpreter rejects t < 5), and a provably empty-or-negative slice is an error.
  it("bug 2a: x[:5] of f32[t] is f32[5], and running it with t = 3 is a run-time error", async () => {
    const text = "model M {\n  input x: f32[t]\n  y = x[:5]\n  output o = y\n}\n";
    expect(typeOf(text, "y")).toBe("f32[5]");
    const { buildGraph } = await import("../../src/api.js");
    const { CpuProgram } = await import("../../src/backends/cpu/interpret.js");
    const { RunError } = await import("../../src/backends/shared/errors.js");
    const program = new CpuProgram(buildGraph(runCheck(text))!, new Map());
    const x = (n: number) => new Map([["x", { dtype: "f32" as const, shape: [n], data: new Float32Array(n) }]]);
    expect(program.run(x(7)).outputs.get("o")!.shape).toEqual([5]);
    expect(() => program.run(x(3))).toThrow(RunError);
  });
  it("bug 2b: x[2:1] is an error; x[-2:1] of f32[t] (empty or negative for t ≥ 3) is checked at run time", () => {
    expect(runCheck("model M {\n  input x: f32[t]\n  y = x[2:1]\n  output o = y\n}\n").diagnostics.map((d) => d.code)).toEqual(["TFM4012"]);
    const text = "model M {\n  input x: f32[t]\n  y = x[-2:1]\n  output o = y\n}\n";
    expect(typeOf(text, "y")).toBe("f32[3 - t]");
  });

  // dim.ts keys a monomial by its factors joined with "*" and splits keys on "*" to multiply. A
  // quotient atom such as `(b * t / 2)` contains "*", so multiplying it splits it into the bogus
  // factors "(b " and " t / 2)": the shape prints as `3 *  t / 2) * (b ` and no longer evaluates.
  it("bug 3a: a quotient atom with a product inside is split when multiplied: arange(b * t / 2 * 3)", () => {
    const text = "model M {\n  input x: f32[b, t]\n  n = b * t / 2\n  y = arange(n * 3)\n  output o = y\n}\n";
    const t = typeOf(text, "y")!; // actual: i32[3 *  t / 2) * (b ]
    expect(parseType(t)!.dims.some(garbledDim), t).toBe(false);
    expect(shapeAt(text, "y", { b: 2, t: 4 }), t).toEqual([12]);
  });
  // The atom for (s + t) / 2 prints as `(s + t / 2)`, which reads as s + t/2: the hover and every
  // message that shows this shape say something else than the checker means.
  it("bug 3b: the quotient atom (s + t) / 2 prints as `(s + t / 2)`", () => {
    const text = "model M {\n  input x: f32[t, 4]\n  input m: f32[s, 4]\n  c = concat([x, m])\n  y, z = chunk(c, 2)\n  output o = y\n  output p = z\n}\n";
    const t = typeOf(text, "y")!; // actual: f32[(s + t / 2), 4]
    expect(t).toMatch(/^f32\[/);
    expect(t).not.toBe("f32[(s + t / 2), 4]");
  });

  // rules.ts skips the element-count check of a reshape whose target contains a quotient atom
  // ("already reported as TFM4009"), but the TFM4009 is only about divisibility: the correct
  // reshape(x, [2, t / 2]) and the wrong reshape(x, [3, t / 2]) (3t/2 ≠ t for every t ≥ 1) get the
  // same single warning. A provably wrong count must be TFM4007; an unprovable one at least TFM4002.
  it("bug 4: reshape(x: f32[t], [3, t / 2]) has 3t/2 elements, never t, yet gets only TFM4009", () => {
    const right = "model M {\n  input x: f32[t]\n  y = reshape(x, [2, t / 2])\n  output o = y\n}\n";
    const wrong = right.replace("[2, t / 2]", "[3, t / 2]");
    const codes = (text: string) => runCheck(text).diagnostics.map((d) => `${d.severity} ${d.code} ${d.message}`);
    expect(codes(wrong), "the wrong reshape must get more than the right one").not.toEqual(codes(right));
    expect(runCheck(wrong).diagnostics.some((d) => d.code === "TFM4007" || d.code === "TFM4002"), showDiags(wrong, runCheck(wrong))).toBe(true);
  });
  it("bug 4b: reshape(x: f32[t], [t, t / 2]) (t²/2 elements, t only when t = 2) gets only TFM4009", () => {
    const text = "model M {\n  input x: f32[t]\n  y = reshape(x, [t, t / 2])\n  output o = y\n}\n";
    expect(runCheck(text).diagnostics.some((d) => d.code === "TFM4002" || d.code === "TFM4007"), showDiags(text, runCheck(text))).toBe(true);
  });

  // torch.mean(torch.zeros(2, 3, dtype=torch.int32), -1) raises "mean(): could not infer output
  // dtype. Input dtype must be either a floating point or complex dtype"; NumPy would give float64.
  // The checker accepts it and types the result i32.
  it("bug 5: mean of an i32 tensor is accepted and typed i32", () => {
    const text = "model M {\n  input ids: i32[b, t]\n  y = mean(ids)\n  output o = y\n}\n";
    const r = runCheck(text);
    expect(r.diagnostics.some((d) => d.code === "TFM4004") || typeOf(text, "y") !== "i32[b]", `${typeOf(text, "y")}; ${showDiags(text, r)}`).toBe(true);
  });

  // Not a bug, pinned so a change is noticed: evalDim cannot evaluate a quotient atom (it is an
  // opaque symbol), which is why the properties read shapes from shapes.types as well.
  it("evalDim evaluates quotient atoms (exactly, or not at all)", () => {
    const r = runCheck("model M {\n  input x: f32[t]\n  a, b = chunk(x, 2)\n  output o = a\n  output p = b\n}\n");
    const out = r.shapes!.outputs[0]!.value;
    expect(out.kind).toBe("tensor");
    if (out.kind === "tensor") {
      expect(evalDim(out.shape[0]!, new Map([["t", 4]]))).toBe(2);
      expect(evalDim(out.shape[0]!, new Map([["t", 5]]))).toBeUndefined();
    }
  });
});

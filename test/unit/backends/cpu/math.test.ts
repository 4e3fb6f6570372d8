// exp and tanh (src/backends/cpu/kernels/math.ts) against Python's math.exp and math.tanh (the C
// library's, through /usr/bin/python3 or TFM_PYTHON) and against the engine's Math.exp and
// Math.tanh: errors in units in the last place of double over grids, the branch boundaries, tiny
// and huge inputs, overflow and underflow; and the f32 kernels (what every model sees) measured in
// f32 ulps. Python is a dependency of the suite (the conformance tests need it as well).
import { describe, expect, it } from "vitest";
import { exp, tanh } from "../../../../src/core/math.js";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { fromValues } from "../../../../src/core/tensor.js";
import { f32, rng, runPython, seedFor } from "./helpers.js";

const seed = seedFor("math.test.ts");

/** math.<fn> of each input (JSON; repr round-trips doubles; overflow is inf). */
function python(fn: "exp" | "tanh", xs: readonly number[]): number[] {
  const script = `import json, math, sys\nxs = json.load(sys.stdin)\ndef f(x):\n    try:\n        return math.${fn}(x)\n    except OverflowError:\n        return float("inf")\nprint(json.dumps([f(x) for x in xs]).replace("Infinity", "1e999"))`;
  return (JSON.parse(runPython(script, [], JSON.stringify(xs))) as number[]).map((v) => (v === null ? Infinity : v));
}

/** The spacing of doubles at v (its ulp); subnormals' at 0. */
function ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -1022) return 2 ** -1074;
  return 2 ** (Math.floor(Math.log2(a)) - 52);
}

/** |a − b| in ulps of b (0 when both are the same infinity). */
const ulps = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / ulp(b));

function inputs(limit: number, boundaries: readonly number[]): number[] {
  const xs: number[] = [];
  for (let i = -20000; i <= 20000; i++) xs.push((i / 20000) * limit);
  for (const b of boundaries) for (let k = 1; k <= 40; k++) xs.push(b - k * 1e-12, b + k * 1e-12, -b - k * 1e-12, -b + k * 1e-12);
  for (let e = -300; e <= 2; e += 0.5) xs.push(10 ** e, -(10 ** e));
  const r = rng(seed);
  for (let i = 0; i < 20000; i++) xs.push(f32((r() * 2 - 1) * 12));
  return xs;
}

function measure(name: string, fn: (x: number) => number, ref: readonly number[], engine: (x: number) => number, xs: readonly number[]): { python: number; engine: number } {
  let worst = 0, at = 0, worstEngine = 0;
  for (let i = 0; i < xs.length; i++) {
    const y = fn(xs[i]!);
    const e = ulps(y, ref[i]!);
    if (e > worst) [worst, at] = [e, xs[i]!];
    worstEngine = Math.max(worstEngine, ulps(y, engine(xs[i]!)));
  }
  console.log(`[kernels] ${name} over ${xs.length} points: max ${worst.toFixed(2)} ulp from Python's math.${name} (at x=${at}), ${worstEngine.toFixed(2)} ulp from the engine's Math.${name}`);
  return { python: worst, engine: worstEngine };
}

/** The f32 kernel on f32 inputs, in f32 ulps from the reference of those inputs rounded to f32. */
function measureKernel(name: "exp" | "tanh", xs: readonly number[]): number {
  const x32 = fromValues("f32", [xs.length], xs);
  const ref = python(name, Array.from(x32.data));
  const y = K.unary(name, x32).data;
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const want = f32(ref[i]!);
    if (want === y[i]) continue;
    const spacing = Math.abs(f32(want * (1 + 2 ** -23)) - want) || 2 ** -149;
    worst = Math.max(worst, Math.abs(y[i]! - want) / spacing);
  }
  console.log(`[kernels] ${name} f32 kernel over ${xs.length} points: max ${worst} f32 ulp from math.${name} rounded to f32`);
  return worst;
}

describe("exp and tanh vs Python's math (and the engine's Math)", () => {
  it("exp is within 2 ulp of math.exp over [-746, 710], overflow, underflow and subnormals", () => {
    const xs = [...inputs(745, [0.5 * Math.LN2, 709.782712893384, -708.3964185322641, -745.1332191019412]), 709.78, 709.79, -745.13, -745.14, -744, -740, 0, -0];
    const ref = python("exp", xs);
    const e = measure("exp", exp, ref, Math.exp, xs);
    expect(e.python).toBeLessThanOrEqual(2);
    expect(measureKernel("exp", xs.filter((x) => Math.abs(x) < 100))).toBeLessThanOrEqual(1);
  });

  it("tanh is within 16 ulp of math.tanh (the cancellation of 1 − 2/(e^2x + 1) just above |x| = 1/8), and within 1 f32 ulp as a kernel", () => {
    const xs = inputs(20, [0.125, 19.1]);
    const ref = python("tanh", xs);
    const e = measure("tanh", tanh, ref, Math.tanh, xs);
    expect(e.python).toBeLessThanOrEqual(16);
    expect(measureKernel("tanh", xs)).toBeLessThanOrEqual(1);
  });

  it("keeps the special values: ±0, ±∞, NaN, oddness of tanh, exp(1) = e", () => {
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    expect(exp(1)).toBe(Math.E);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(710)).toBe(Infinity);
    expect(exp(-746)).toBe(0);
    expect(exp(-745)).toBe(5e-324);
    expect(Number.isNaN(exp(NaN))).toBe(true);
    expect(Object.is(tanh(-0), -0)).toBe(true);
    expect(Object.is(tanh(0), 0)).toBe(true);
    expect(tanh(Infinity)).toBe(1);
    expect(tanh(-Infinity)).toBe(-1);
    expect(tanh(30)).toBe(1);
    expect(Number.isNaN(tanh(NaN))).toBe(true);
    const r = rng(seed + 1);
    for (let i = 0; i < 2000; i++) {
      const x = (r() * 2 - 1) * 25;
      expect(tanh(-x)).toBe(-tanh(x));
      expect(Math.abs(tanh(x))).toBeLessThanOrEqual(1);
      expect(exp(x)).toBeGreaterThan(0);
    }
  });
});

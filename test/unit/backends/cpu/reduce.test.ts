// Reductions against naive loops over random shapes, axes (negative too) and keepdim, with NaN
// placed at random; NaN handling and empty axes as NumPy.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ReduceOp } from "../../../../src/ir/ops.js";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { allocate, type DType, fromValues, numel, type Tensor } from "../../../../src/core/tensor.js";
import { expectTensor, f32, fcParams, kernelError, randomTensor, ravel, seedFor, shapeArb, unravel } from "./helpers.js";

const seed = seedFor("reduce.test.ts");

function naiveReduce(op: ReduceOp, x: Tensor, axis: number, keepdim: boolean): { shape: number[]; values: number[] } {
  const shape = x.shape.filter((_, i) => i !== axis);
  const r = x.shape[axis]!;
  const values: number[] = [];
  for (let o = 0; o < numel(shape); o++) {
    const idx = unravel(o, shape);
    const items: number[] = [];
    for (let p = 0; p < r; p++) items.push(x.data[ravel([...idx.slice(0, axis), p, ...idx.slice(axis)], x.shape)]!);
    let v: number;
    switch (op) {
      case "sum": v = items.reduce((s, t) => s + t, 0); break;
      case "mean": v = items.reduce((s, t) => s + t, 0) / r; break;
      case "max": v = items.some(Number.isNaN) ? NaN : Math.max(...items); break;
      case "min": v = items.some(Number.isNaN) ? NaN : Math.min(...items); break;
      case "argmax": {
        const nan = items.findIndex(Number.isNaN);
        v = nan >= 0 ? nan : items.indexOf(Math.max(...items));
        break;
      }
    }
    values.push(x.dtype === "f32" && op !== "argmax" ? f32(v) : x.dtype === "i32" && op === "mean" ? Math.trunc(v) || 0 : v);
  }
  return { shape: keepdim ? x.shape.map((d, i) => (i === axis ? 1 : d)) : shape, values };
}

const resultDType = (op: ReduceOp, dt: DType): DType => (op === "argmax" ? "i32" : dt);

describe("reduce", () => {
  it("matches the naive reference on random shapes, axes and keepdim", () => {
    const cases: [ReduceOp, DType][] = [
      ["sum", "f32"], ["sum", "i32"], ["mean", "f32"], ["mean", "i32"],
      ["max", "f32"], ["max", "i32"], ["max", "bool"], ["min", "f32"], ["min", "i32"], ["min", "bool"],
      ["argmax", "f32"], ["argmax", "i32"], ["argmax", "bool"],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...cases), shapeArb(4, 6).filter((s) => s.length > 0), fc.nat(), fc.nat(), fc.boolean(), fc.boolean(), ([op, dt], shape, axisSeed, s, keepdim, negative) => {
        const axis = axisSeed % shape.length;
        if (shape[axis] === 0 && (op === "max" || op === "min" || op === "argmax") && numel(shape.filter((_, i) => i !== axis)) > 0) return;
        const x = randomTensor(dt, shape, s, { special: 0.05, range: 3 });
        const ref = naiveReduce(op, x, axis, keepdim);
        const y = K.reduce(op, x, negative ? axis - shape.length : axis, keepdim);
        // Sums: double accumulation in the kernel vs left-to-right double here, then f32 rounding.
        expectTensor(y, resultDType(op, dt), ref.shape, ref.values, op === "sum" || op === "mean" ? 1e-5 : 0);
      }),
      fcParams(seed, 1000),
    );
  });

  it("propagates NaN in max and min, and argmax returns the first NaN", () => {
    const x = fromValues("f32", [2, 4], [1, NaN, 5, NaN, 2, 7, 7, -1]);
    expectTensor(K.reduce("max", x, 1), "f32", [2], [NaN, 7]);
    expectTensor(K.reduce("min", x, 1), "f32", [2], [NaN, -1]);
    expectTensor(K.reduce("argmax", x, 1), "i32", [2], [1, 1]);
    expectTensor(K.reduce("argmax", x, 0, true), "i32", [1, 4], [1, 0, 1, 0]);
    expectTensor(K.reduce("max", x, 0), "f32", [4], [2, NaN, 7, NaN]);
  });

  it("handles empty axes as NumPy: sum 0, mean NaN, max/min/argmax an error", () => {
    const x = allocate("f32", [3, 0]);
    expectTensor(K.reduce("sum", x, 1), "f32", [3], [0, 0, 0]);
    expectTensor(K.reduce("mean", x, 1), "f32", [3], [NaN, NaN, NaN]);
    expect(kernelError(() => K.reduce("max", x, 1))).toMatch(/max: cannot reduce an empty axis: axis 1 of shape \[3, 0\] has size 0/);
    expect(kernelError(() => K.reduce("argmax", x, -1))).toMatch(/argmax: cannot reduce an empty axis/);
    expectTensor(K.reduce("max", x, 0), "f32", [0], []);
  });

  it("rejects bad axes and dtypes", () => {
    const x = randomTensor("f32", [2, 3], 1);
    expect(kernelError(() => K.reduce("sum", x, 2))).toMatch(/sum: axis 2 is out of range for rank 2 \(valid: -2..1\)/);
    expect(kernelError(() => K.reduce("sum", fromValues("f32", [], [1]), 0))).toMatch(/0-d tensor/);
    expect(kernelError(() => K.reduce("sum", fromValues("bool", [2], [1, 1]), 0))).toMatch(/sum: input must be f32 or i32, got bool/);
  });

  it("reduces a long row accurately (double accumulation)", () => {
    const n = 1 << 20;
    const x = allocate("f32", [n]);
    x.data.fill(0.1);
    const s = K.reduce("sum", x, 0).data[0]!;
    expect(Math.abs(s - f32(0.1) * n)).toBeLessThan(1e-2);
    expect(K.reduce("mean", x, 0).data[0]).toBe(f32(0.1));
  });
});

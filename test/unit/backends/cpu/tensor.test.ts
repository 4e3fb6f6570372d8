// The runtime tensor helpers: element counts, strides, allocation and validation.
import { describe, expect, it } from "vitest";
import { KernelError } from "../../../../src/core/errors.js";
import { allocate, checkTensor, clone, fromValues, numel, scalar, stridesOf, tensor, type Tensor, toArray } from "../../../../src/core/tensor.js";
import { kernelError } from "./helpers.js";

describe("tensor helpers", () => {
  it("counts elements and computes row-major strides", () => {
    expect(numel([])).toBe(1);
    expect(numel([2, 0, 3])).toBe(0);
    expect(numel([2, 3, 4])).toBe(24);
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(stridesOf([])).toEqual([]);
    expect(stridesOf([5, 0, 2])).toEqual([0, 2, 1]);
  });

  it("allocates zero-filled tensors of each dtype", () => {
    const f = allocate("f32", [2, 3]);
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(f.data.length).toBe(6);
    expect(allocate("i32", []).data).toBeInstanceOf(Int32Array);
    expect(allocate("bool", [0]).data).toBeInstanceOf(Uint8Array);
    expect(kernelError(() => allocate("f32", [2, -1]))).toMatch(/invalid dim -1 at 1/);
    expect(kernelError(() => allocate("f32", [1.5]))).toMatch(/invalid dim 1.5/);
  });

  it("wraps and validates data", () => {
    const t = tensor("f32", [2], new Float32Array([1, 2]));
    expect(t.shape).toEqual([2]);
    expect(kernelError(() => tensor("f32", [3], new Float32Array(2)))).toMatch(/needs 3 elements but the data has 2/);
    expect(kernelError(() => tensor("i32", [2], new Float32Array(2) as unknown as Int32Array))).toMatch(/must hold a Int32Array, got Float32Array/);
    expect(kernelError(() => checkTensor({ dtype: "f16", shape: [], data: new Uint16Array(1) } as unknown as Tensor, "x"))).toMatch(/unknown dtype "f16"/);
    expect(() => checkTensor(t, "x")).not.toThrow();
  });

  it("builds tensors from values and scalars, and copies them", () => {
    expect(toArray(fromValues("bool", [3], [2, 0, -1]))).toEqual([1, 0, 1]);
    expect(toArray(scalar("i32", 7))).toEqual([7]);
    expect(scalar("bool", true).data[0]).toBe(1);
    const a = fromValues("f32", [2], [1, 2]);
    const b = clone(a);
    b.data[0] = 9;
    expect(a.data[0]).toBe(1);
    expect(() => fromValues("f32", [2], [1])).toThrow(KernelError);
  });
});

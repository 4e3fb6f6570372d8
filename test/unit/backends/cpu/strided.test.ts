// Views as strides (src/backends/cpu/strided.ts), against the kernels that evaluate them: random
// chains of slice, reshape and permute over a random tensor, written into a larger buffer along
// an axis by writeStridedAt, equal the chain evaluated by plainKernels and written by writeAt; a
// reshape that strides cannot express gives undefined. Property-tested (the seed is printed on failure).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeAt } from "../../../../src/backends/cpu/cache.js";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { contiguous, stridedView, writeStridedAt, type Strided } from "../../../../src/backends/cpu/strided.js";
import { constDim, evalDim } from "../../../../src/core/dim.js";
import { numel, type Tensor } from "../../../../src/core/tensor.js";
import type { Node } from "../../../../src/ir/graph.js";

const node = (op: Node["op"], attrs: Node["attrs"], shape: readonly number[]): Node => ({ id: 0, op, inputs: [0], attrs, dtype: "f32", shape: shape.map(constDim) });
const dim = (d: Node["shape"][number]) => evalDim(d, new Map())!;

/** A random view step on a value of `shape`: the node and its result's shape. */
const step = (shape: readonly number[]) =>
  fc.oneof(
    fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }).map((perm) => node("permute", { perm }, perm.map((p) => shape[p]!))),
    fc.nat({ max: shape.length - 1 }).chain((axis) =>
      fc.tuple(fc.nat({ max: shape[axis]! }), fc.nat({ max: shape[axis]! })).map(([a, b]) => {
        const [start, end] = [Math.min(a, b), Math.max(a, b)];
        return node("slice", { axis, start: constDim(start), end: constDim(end) }, shape.map((d, i) => (i === axis ? end - start : d)));
      }),
    ),
    // Merge two neighbours, or split one into two factors.
    fc.nat({ max: Math.max(0, shape.length - 2) }).map((i) => node("reshape", {}, shape.length < 2 ? [...shape] : [...shape.slice(0, i), shape[i]! * shape[i + 1]!, ...shape.slice(i + 2)])),
    fc.nat({ max: shape.length - 1 }).map((i) => {
      const d = shape[i]!;
      const f = [2, 3].find((q) => d % q === 0) ?? 1;
      return node("reshape", {}, [...shape.slice(0, i), f, d / f, ...shape.slice(i + 1)]);
    }),
  );

const evaluate = (n: Node, x: Tensor): Tensor => {
  const shape = n.shape.map(dim);
  if (n.op === "permute") return K.permute(x, n.attrs.perm!);
  if (n.op === "slice") return K.slice(x, n.attrs.axis!, dim(n.attrs.start!), dim(n.attrs.end!));
  return K.reshape(x, shape);
};

describe("views as strides", () => {
  it("a chain of views written along an axis equals the chain evaluated", () => {
    const input = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });
    const chain = (shape: readonly number[], left: number): fc.Arbitrary<Node[]> =>
      left === 0 ? fc.constant([]) : step(shape).chain((n) => chain(n.shape.map(dim), left - 1).map((rest) => [n, ...rest]));
    let expressed = 0, refused = 0;
    fc.assert(
      fc.property(input.chain((shape) => fc.tuple(fc.constant(shape), chain(shape, 4), fc.nat({ max: 3 }), fc.nat({ max: 3 }))), ([shape, nodes, axisPick, at]) => {
        const x: Tensor = { dtype: "f32", shape, data: Float32Array.from({ length: numel(shape) }, (_, i) => i + 1) };
        let want: Tensor = x;
        let got: Strided | undefined = contiguous(x);
        for (const n of nodes) {
          want = evaluate(n, want);
          got = got && stridedView(n, got, n.shape.map(dim), dim);
        }
        if (!got) {
          refused++;
          return;
        }
        expressed++;
        expect(got.shape).toEqual(want.shape);
        // Into a buffer larger along one axis, at an offset: the same as writeAt of the evaluated value.
        const axis = want.shape.length ? axisPick % want.shape.length : 0;
        if (!want.shape.length) return;
        const baseShape = want.shape.map((d, i) => (i === axis ? d + at + 2 : d));
        const a: Tensor = { dtype: "f32", shape: baseShape, data: new Float32Array(numel(baseShape)).fill(-1) };
        const b: Tensor = { dtype: "f32", shape: baseShape, data: new Float32Array(numel(baseShape)).fill(-1) };
        writeStridedAt(a, axis, at, got);
        writeAt(b, axis, at, want);
        expect(a.data).toEqual(b.data);
      }),
      { numRuns: 400 },
    );
    // Both kinds occur: the property is not vacuous.
    expect(expressed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(0);
  });

  it("GPT-2's keys: a slice of the q/k/v projection, split into heads and permuted, is strides of it", () => {
    const [T, H, D] = [3, 2, 4];
    const qkv: Tensor = { dtype: "f32", shape: [1, T, 3 * H * D], data: Float32Array.from({ length: T * 3 * H * D }, (_, i) => i) };
    const k1 = node("slice", { axis: 2, start: constDim(H * D), end: constDim(2 * H * D) }, [1, T, H * D]);
    const k2 = node("reshape", {}, [1, T, H, D]);
    const k3 = node("permute", { perm: [0, 2, 1, 3] }, [1, H, T, D]);
    let v: Strided | undefined = contiguous(qkv);
    for (const n of [k1, k2, k3]) v = v && stridedView(n, v, n.shape.map(dim), dim);
    // (The batch dim's size is 1: its stride is never used.)
    expect(v).toMatchObject({ offset: H * D, shape: [1, H, T, D] });
    expect(v!.strides.slice(1)).toEqual([D, 3 * H * D, 1]);
  });
});

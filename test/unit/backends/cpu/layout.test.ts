// Layout kernels against naive index arithmetic on random shapes: reshape, permute (every
// permutation, including the last-two-dims fast path), slice, concat, gather (numpy.take, with
// negative indices and the out-of-range error), expand and arange.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { allocate, type DType, fromValues, numel, type Tensor } from "../../../../src/core/tensor.js";
import { broadcastIndex, broadcastPartner, expectTensor, fcParams, kernelError, randomTensor, ravel, seedFor, shapeArb, unravel } from "./helpers.js";

const seed = seedFor("layout.test.ts");
const dtypeArb = fc.constantFrom<DType>("f32", "i32", "bool");

function naivePermute(x: Tensor, perm: readonly number[]): { shape: number[]; values: number[] } {
  const shape = perm.map((p) => x.shape[p]!);
  const values: number[] = [];
  for (let i = 0; i < numel(shape); i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(x.shape.length);
    perm.forEach((p, k) => (src[p] = idx[k]!));
    values.push(x.data[ravel(src, x.shape)]!);
  }
  return { shape, values };
}

describe("reshape", () => {
  it("is a view without out and a copy with it; infers one -1", () => {
    const x = fromValues("f32", [2, 3], [1, 2, 3, 4, 5, 6]);
    const v = K.reshape(x, [3, -1]);
    expect(v.data).toBe(x.data);
    expect([...v.shape]).toEqual([3, 2]);
    const out = allocate("f32", [6]);
    expect(K.reshape(x, [6], out)).toBe(out);
    expectTensor(out, "f32", [6], [1, 2, 3, 4, 5, 6]);
    expectTensor(K.reshape(fromValues("i32", [1], [7]), []), "i32", [], [7]);
    expect(kernelError(() => K.reshape(x, [4, 2]))).toMatch(/cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\] \(8 elements\)/);
    expect(kernelError(() => K.reshape(x, [-1, -1]))).toMatch(/at most one dim may be -1/);
    expect(kernelError(() => K.reshape(x, [4, -1]))).toMatch(/cannot infer the -1/);
  });
});

describe("permute", () => {
  it("matches naive index arithmetic for random permutations", () => {
    const arb = shapeArb(5, 5).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length })),
    );
    fc.assert(
      fc.property(arb, dtypeArb, fc.nat(), ([shape, perm], dt, s) => {
        const x = randomTensor(dt, shape, s);
        const ref = naivePermute(x, perm);
        expectTensor(K.permute(x, perm), dt, ref.shape, ref.values);
      }),
      fcParams(seed, 500),
    );
  });

  it("transposes the last two dims (the fast path), over batches and across 32-blocks", () => {
    for (const shape of [[70, 45], [3, 33, 65], [2, 1, 40, 3], [2, 3, 1, 5], [5, 1], [1, 1]]) {
      const r = shape.length;
      const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      const x = randomTensor("f32", shape, 7);
      const ref = naivePermute(x, perm);
      expectTensor(K.permute(x, perm), "f32", ref.shape, ref.values);
    }
    // split_heads: [B, T, H, Dh] → [B, H, T, Dh] walks rows of Dh.
    const x = randomTensor("f32", [2, 5, 4, 8], 8);
    const ref = naivePermute(x, [0, 2, 1, 3]);
    expectTensor(K.permute(x, [0, 2, 1, 3]), "f32", ref.shape, ref.values);
  });

  it("rejects a non-permutation", () => {
    const x = randomTensor("f32", [2, 3], 1);
    expect(kernelError(() => K.permute(x, [0, 0]))).toMatch(/\[0, 0\] is not a permutation of 0..1/);
    expect(kernelError(() => K.permute(x, [0]))).toMatch(/has 1 entries for a rank-2 tensor/);
  });
});

describe("slice", () => {
  it("matches naive indexing on random shapes and ranges", () => {
    const arb = shapeArb(4, 6).filter((s) => s.length > 0).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.tuple(fc.constant(shape), fc.constant(axis), fc.integer({ min: 0, max: shape[axis]! }), fc.integer({ min: 0, max: shape[axis]! })),
      ),
    );
    fc.assert(
      fc.property(arb, dtypeArb, fc.nat(), ([shape, axis, p, q], dt, s) => {
        const [start, end] = p <= q ? [p, q] : [q, p];
        const x = randomTensor(dt, shape, s);
        const outShape = shape.map((d, i) => (i === axis ? end - start : d));
        const values: number[] = [];
        for (let i = 0; i < numel(outShape); i++) {
          const idx = unravel(i, outShape);
          idx[axis]! += start;
          values.push(x.data[ravel(idx, shape)]!);
        }
        expectTensor(K.slice(x, axis, start, end), dt, outShape, values);
      }),
      fcParams(seed, 500),
    );
  });

  it("rejects ranges outside the axis", () => {
    const x = randomTensor("f32", [2, 3], 1);
    expect(kernelError(() => K.slice(x, 1, 2, 4))).toMatch(/range \[2, 4\) is not within axis 1 of shape \[2, 3\] \(size 3\)/);
    expect(kernelError(() => K.slice(x, 1, 2, 1))).toMatch(/not within/);
  });
});

describe("concat", () => {
  it("matches naive indexing on random shapes", () => {
    const arb = shapeArb(4, 5).filter((s) => s.length > 0).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 })),
    );
    fc.assert(
      fc.property(arb, dtypeArb, fc.nat(), ([shape, axis, sizes], dt, s) => {
        const xs = sizes.map((d, i) => randomTensor(dt, shape.map((e, j) => (j === axis ? d : e)), s + i));
        const total = sizes.reduce((a, b) => a + b, 0);
        const outShape = shape.map((d, i) => (i === axis ? total : d));
        const values: number[] = [];
        for (let i = 0; i < numel(outShape); i++) {
          const idx = unravel(i, outShape);
          let p = idx[axis]!, t = 0;
          while (p >= sizes[t]!) p -= sizes[t++]!;
          idx[axis] = p;
          values.push(xs[t]!.data[ravel(idx, xs[t]!.shape)]!);
        }
        expectTensor(K.concat(xs, axis), dt, outShape, values);
      }),
      fcParams(seed, 500),
    );
  });

  it("rejects mismatched shapes and dtypes", () => {
    const a = randomTensor("f32", [2, 3], 1);
    expect(kernelError(() => K.concat([a, randomTensor("f32", [3, 3], 2)], 1))).toMatch(/shapes \[2, 3\], \[3, 3\] differ outside axis 1/);
    expect(kernelError(() => K.concat([a, randomTensor("i32", [2, 3], 2)], 0))).toMatch(/different dtypes/);
    expect(kernelError(() => K.concat([], 0))).toMatch(/at least one tensor/);
  });
});

describe("gather", () => {
  it("matches numpy.take semantics on random shapes, indices in [0, size)", () => {
    const arb = shapeArb(3, 5).filter((s) => s.length > 0).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }), shapeArb(2, 4)),
    );
    fc.assert(
      fc.property(arb, dtypeArb, fc.nat(), ([shape, axis, ishape], dt, s) => {
        const size = shape[axis]!;
        if (size === 0 && numel(ishape) > 0) return; // every index is out of range; tested below
        const x = randomTensor(dt, shape, s);
        const ix = randomTensor("i32", ishape, s + 1, { range: 1000 });
        for (let i = 0; i < ix.data.length; i++) ix.data[i] = ((ix.data[i]! % size) + size) % size; // in [0, size)
        const outShape = [...shape.slice(0, axis), ...ishape, ...shape.slice(axis + 1)];
        const values: number[] = [];
        for (let i = 0; i < numel(outShape); i++) {
          const idx = unravel(i, outShape);
          const k = ix.data[ravel(idx.slice(axis, axis + ishape.length), ishape)]!;
          values.push(x.data[ravel([...idx.slice(0, axis), k, ...idx.slice(axis + ishape.length)], shape)]!);
        }
        expectTensor(K.gather(x, ix, axis), dt, outShape, values);
      }),
      fcParams(seed, 500),
    );
  });

  it("looks up embeddings ([vocab, d] by [B, T] ids)", () => {
    const wte = randomTensor("f32", [10, 4], 3);
    const ids = fromValues("i32", [2, 2], [3, 9, 0, 3]);
    const y = K.gather(wte, ids, 0);
    expect([...y.shape]).toEqual([2, 2, 4]);
    for (const [i, id] of [3, 9, 0, 3].entries()) expect(Array.from(y.data.subarray(i * 4, i * 4 + 4))).toEqual(Array.from(wte.data.subarray(id * 4, id * 4 + 4)));
  });

  it("throws a KernelError naming an out-of-range index and its position", () => {
    const x = randomTensor("f32", [5, 3], 1);
    expect(kernelError(() => K.gather(x, fromValues("i32", [2, 2], [0, 1, 5, 2]), 0))).toBe(
      "gather: index 5 at position [1, 0] is out of range for axis 0 of size 5 (valid: 0..4)",
    );
    expect(kernelError(() => K.gather(x, fromValues("i32", [], [-4]), 1))).toBe("gather: index -4 is out of range for axis 1 of size 3 (valid: 0..2)");
    // Unlike numpy.take (and like torch.nn.Embedding), -1 is an error, not the last row.
    expect(kernelError(() => K.gather(x, fromValues("i32", [1], [-1]), 0))).toBe("gather: index -1 at position [0] is out of range for axis 0 of size 5 (valid: 0..4)");
    expect(kernelError(() => K.gather(allocate("f32", [0, 2]), fromValues("i32", [1], [0]), 0))).toMatch(/the axis is empty/);
    expect(kernelError(() => K.gather(x, fromValues("f32", [1], [0]), 0))).toMatch(/indices must be i32, got f32/);
  });
});

describe("expand", () => {
  it("matches naive broadcasting on random shapes", () => {
    fc.assert(
      fc.property(shapeArb(4, 4), fc.nat(4), fc.nat(15), dtypeArb, fc.nat(), (target, drop, mask, dt, s) => {
        const from = broadcastPartner(target, drop, mask);
        const x = randomTensor(dt, from, s);
        const values: number[] = [];
        for (let i = 0; i < numel(target); i++) values.push(x.data[broadcastIndex(unravel(i, target), from)]!);
        expectTensor(K.expand(x, target), dt, target, values);
      }),
      fcParams(seed, 500),
    );
  });

  it("fills long rows from a scalar and rejects shapes it cannot broadcast to", () => {
    expectTensor(K.expand(fromValues("f32", [], [2.5]), [2, 200]), "f32", [2, 200], new Array(400).fill(2.5));
    expect(kernelError(() => K.expand(randomTensor("f32", [3], 1), [2, 4]))).toMatch(/does not broadcast to \[2, 4\]/);
    expect(kernelError(() => K.expand(randomTensor("f32", [2, 3], 1), [3]))).toMatch(/more dims/);
  });
});

describe("arange", () => {
  it("counts from 0 in i32", () => {
    expectTensor(K.arange(5), "i32", [5], [0, 1, 2, 3, 4]);
    expectTensor(K.arange(0), "i32", [0], []);
    const out = allocate("i32", [3]);
    expect(K.arange(3, out)).toBe(out);
    expect(kernelError(() => K.arange(-1))).toMatch(/integer ≥ 0/);
  });
});

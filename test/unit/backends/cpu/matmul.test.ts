// matmul and matmulTransB against a naive triple loop in double precision, on random shapes:
// 1-D operands (numpy.matmul rules), broadcast batch dims, m/n/k off the 4×4 tile and across the
// kernel's k block (256) and n panel (64), k = 0 and other 0-size dims. The error bound is relative
// to Σ|a·b| per output (f32 inputs, double accumulation, f32 rounding between k blocks).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { allocate, fromValues, numel, type Tensor } from "../../../../src/core/tensor.js";
import { broadcastIndex, expectTensor, fcParams, kernelError, naiveBroadcast, randomTensor, seedFor, unravel } from "./helpers.js";

const seed = seedFor("matmul.test.ts");

interface Ref {
  shape: number[];
  values: number[];
  /** Σ|a||b| per output element, for a rounding-aware tolerance. */
  mags: number[];
}

/** numpy.matmul by its definition: promote 1-D operands, broadcast batches, triple loop in double. */
function naiveMatmul(a: Tensor, b: Tensor): Ref {
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [m, k] = as.slice(-2) as [number, number];
  const n = bs[bs.length - 1]!;
  const aBatch = as.slice(0, -2), bBatch = bs.slice(0, -2);
  const batch = naiveBroadcast(aBatch, bBatch);
  const values: number[] = [], mags: number[] = [];
  for (let bi = 0; bi < numel(batch); bi++) {
    const idx = unravel(bi, batch);
    const ao = broadcastIndex(idx, aBatch) * m * k, bo = broadcastIndex(idx, bBatch) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, g = 0;
        for (let p = 0; p < k; p++) {
          const t = a.data[ao + i * k + p]! * b.data[bo + p * n + j]!;
          s += t;
          g += Math.abs(t);
        }
        values.push(s);
        mags.push(g);
      }
    }
  }
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  return { shape, values, mags };
}

/** Swaps the last two dims (the transposed layout matmulTransB takes). */
function transposeLast(b: Tensor): Tensor {
  if (b.shape.length === 1) return b;
  const r = b.shape.length;
  return K.permute(b, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

function check(result: Tensor, ref: Ref): number {
  expect(result.dtype).toBe("f32");
  expect([...result.shape]).toEqual(ref.shape);
  let worst = 0;
  for (let i = 0; i < ref.values.length; i++) {
    const err = Math.abs(result.data[i]! - ref.values[i]!);
    const tol = 2e-6 * ref.mags[i]! + 1e-30;
    if (!(err <= tol)) throw new Error(`element ${i}: got ${result.data[i]}, expected ${ref.values[i]} (error ${err}, tolerance ${tol})`);
    if (ref.mags[i]! > 0) worst = Math.max(worst, err / ref.mags[i]!);
  }
  return worst;
}

const dim = (max: number) => fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) }, { weight: 10, arbitrary: fc.integer({ min: 2, max }) });

/** Random matmul operand shapes: batch dims (with 1s to broadcast), or 1-D operands. */
const operands = fc
  .record({
    m: dim(11), k: dim(13), n: dim(11),
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    dropA: fc.nat(2), dropB: fc.nat(2), onesA: fc.nat(3), onesB: fc.nat(3),
    aVec: fc.boolean(), bVec: fc.boolean(), vecP: fc.integer({ min: 0, max: 9 }),
  })
  .map(({ m, k, n, batch, dropA, dropB, onesA, onesB, aVec, bVec, vecP }) => {
    const part = (drop: number, ones: number) => batch.slice(Math.min(drop, batch.length)).map((d, i) => ((ones >> i) & 1 ? 1 : d));
    const a = aVec && vecP < 3 ? [k] : [...part(dropA, onesA), m, k];
    const b = bVec && vecP < 3 ? [k] : [...part(dropB, onesB), k, n];
    return { a, b };
  });

describe("matmul", () => {
  it("matches the naive reference on random shapes (1-D operands, broadcast batches, 0-size dims)", () => {
    let worst = 0;
    fc.assert(
      fc.property(operands, fc.nat(), ({ a: sa, b: sb }, s) => {
        const a = randomTensor("f32", sa, s), b = randomTensor("f32", sb, s + 1);
        const ref = naiveMatmul(a, b);
        worst = Math.max(worst, check(K.matmul(a, b), ref));
        worst = Math.max(worst, check(K.matmulTransB(a, transposeLast(b)), ref));
      }),
      fcParams(seed, 400),
    );
    console.log(`[kernels] matmul random shapes: max error / Σ|a·b| = ${worst.toExponential(2)}`);
  });

  // Sizes around the 4×4 tile, the 64-wide n panel and the 256-long k block.
  const sizes: [number, number, number][] = [
    [1, 1, 1], [1, 7, 1], [3, 5, 2], [4, 4, 4], [5, 9, 7], [7, 3, 13], [8, 1, 8], [13, 17, 6],
    [4, 256, 64], [5, 257, 65], [9, 300, 70], [2, 600, 130], [66, 513, 67], [130, 40, 3], [1, 300, 200],
  ];
  for (const [m, k, n] of sizes) {
    it(`m=${m} k=${k} n=${n}`, () => {
      const a = randomTensor("f32", [m, k], m * 1000 + k), b = randomTensor("f32", [k, n], n);
      const ref = naiveMatmul(a, b);
      check(K.matmul(a, b), ref);
      check(K.matmulTransB(a, transposeLast(b)), ref);
      // Batched, with B broadcast (packed once) and with B per batch.
      const a3 = randomTensor("f32", [3, m, k], 5), b3 = randomTensor("f32", [3, k, n], 6);
      check(K.matmul(a3, b), naiveMatmul(a3, b));
      check(K.matmul(a3, b3), naiveMatmul(a3, b3));
      check(K.matmul(a, b3), naiveMatmul(a, b3));
      check(K.matmulTransB(a3, transposeLast(b3)), naiveMatmul(a3, b3));
    });
  }

  it("follows numpy.matmul for 1-D operands", () => {
    const v = fromValues("f32", [3], [1, 2, 3]);
    const m = fromValues("f32", [3, 2], [1, 2, 3, 4, 5, 6]);
    expectTensor(K.matmul(v, v), "f32", [], [14]);
    expectTensor(K.matmul(v, m), "f32", [2], [22, 28]);
    expectTensor(K.matmul(fromValues("f32", [2, 3], [1, 2, 3, 4, 5, 6]), v), "f32", [2], [14, 32]);
    const batch = randomTensor("f32", [2, 3, 4], 3);
    check(K.matmul(v, batch), naiveMatmul(v, batch));
    check(K.matmul(randomTensor("f32", [2, 4, 3], 4), v), naiveMatmul(randomTensor("f32", [2, 4, 3], 4), v));
  });

  it("gives zeros for k = 0 and empty results for 0-size m, n or batch", () => {
    const out = allocate("f32", [2, 3]);
    out.data.fill(NaN);
    expectTensor(K.matmul(allocate("f32", [2, 0]), allocate("f32", [0, 3]), out), "f32", [2, 3], [0, 0, 0, 0, 0, 0]);
    expectTensor(K.matmulTransB(allocate("f32", [2, 0]), allocate("f32", [3, 0])), "f32", [2, 3], [0, 0, 0, 0, 0, 0]);
    expect([...K.matmul(allocate("f32", [0, 4]), allocate("f32", [4, 3])).shape]).toEqual([0, 3]);
    expect([...K.matmul(allocate("f32", [0, 2, 4]), allocate("f32", [4, 3])).shape]).toEqual([0, 2, 3]);
  });

  it("writes every element of a reused out buffer", () => {
    for (const [m, k, n] of [[6, 300, 70], [2, 5, 3], [9, 9, 9]] as const) {
      const a = randomTensor("f32", [2, m, k], 1), b = randomTensor("f32", [k, n], 2);
      const out = allocate("f32", [2, m, n]);
      out.data.fill(NaN);
      expect(K.matmul(a, b, out)).toBe(out);
      check(out, naiveMatmul(a, b));
      out.data.fill(NaN);
      check(K.matmulTransB(a, transposeLast(b), out), naiveMatmul(a, b));
    }
  });

  it("rejects bad operands with clear messages", () => {
    const a = randomTensor("f32", [2, 3], 1);
    expect(kernelError(() => K.matmul(a, randomTensor("f32", [4, 2], 2)))).toMatch(/matmul: inner dims differ: \[2, 3\] @ \[4, 2\]: 3 vs 4/);
    expect(kernelError(() => K.matmulTransB(a, randomTensor("f32", [2, 4], 2)))).toMatch(/matmulTransB: inner dims differ/);
    expect(kernelError(() => K.matmul(a, fromValues("f32", [], [1])))).toMatch(/at least 1 dim/);
    expect(kernelError(() => K.matmul(a, randomTensor("i32", [3, 2], 2)))).toMatch(/right operand must be f32, got i32/);
    expect(kernelError(() => K.matmul(randomTensor("f32", [2, 2, 3], 1), randomTensor("f32", [3, 3, 2], 2)))).toMatch(/do not broadcast/);
    expect(kernelError(() => K.matmul(a, randomTensor("f32", [3, 2], 2), allocate("f32", [2, 3])))).toMatch(/out has shape \[2, 3\] but the result has shape \[2, 2\]/);
    expect(kernelError(() => K.matmul(a, randomTensor("f32", [3, 3], 2), a))).toMatch(/out shares memory with an input/);
  });
});

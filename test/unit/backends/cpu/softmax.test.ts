// The fused softmaxLastAxis against a naive double-precision softmax, and against the library's
// formulation (src/std/nn.tfm's softmax / masked_softmax) composed from the primitive kernels:
// masks broadcast, masked positions are 0, fully masked rows are all zeros, NaN propagates.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { allocate, fromValues, numel, scalar, type Tensor } from "../../../../src/core/tensor.js";
import { broadcastIndex, broadcastPartner, expectTensor, fcParams, kernelError, maxAbsErr, randomTensor, seedFor, shapeArb, unravel } from "./helpers.js";

const seed = seedFor("softmax.test.ts");
const softmax = K.softmaxLastAxis!;

function naiveSoftmax(x: Tensor, mask?: Tensor): number[] {
  const n = x.shape[x.shape.length - 1]!;
  const out: number[] = [];
  for (let b = 0; b < numel(x.shape); b += n) {
    const allowed = (j: number) => !mask || mask.data[broadcastIndex(unravel(b + j, x.shape), mask.shape)] === 1;
    let m = -Infinity;
    for (let j = 0; j < n; j++) if (allowed(j)) m = Number.isNaN(x.data[b + j]!) || Number.isNaN(m) ? NaN : Math.max(m, x.data[b + j]!);
    const e: number[] = [];
    for (let j = 0; j < n; j++) e.push(allowed(j) ? Math.exp(x.data[b + j]! - m) : 0);
    const s = e.reduce((a, c) => a + c, 0);
    for (const v of e) out.push(v / (Number.isNaN(s) ? NaN : Math.max(s, 1)));
  }
  return out;
}

/** masked_softmax from src/std/nn.tfm, composed from primitive kernels. */
function libraryMaskedSoftmax(x: Tensor, mask: Tensor): Tensor {
  const last = x.shape.length - 1;
  const m = K.reduce("max", K.where(mask, x, scalar("f32", -Infinity)), last, true);
  const e = K.where(mask, K.unary("exp", K.binary("sub", x, m)), scalar("f32", 0));
  return K.binary("div", e, K.binary("maximum", K.reduce("sum", e, last, true), scalar("f32", 1)));
}

describe("softmaxLastAxis", () => {
  it("matches a naive softmax, with and without a broadcast mask, on random shapes", () => {
    let worst = 0;
    fc.assert(
      fc.property(shapeArb(4, 6).filter((s) => s.length > 0), fc.boolean(), fc.nat(4), fc.nat(15), fc.nat(), (shape, masked, drop, bits, s) => {
        const x = randomTensor("f32", shape, s, { scale: 10, special: 0.02 });
        const mask = masked ? randomTensor("bool", broadcastPartner(shape, drop, bits), s + 1) : undefined;
        const y = softmax(x, mask);
        const ref = naiveSoftmax(x, mask);
        worst = Math.max(worst, maxAbsErr(y.data, ref));
        expectTensor(y, "f32", shape, ref, 1e-6);
        // (The library form reduces with max, an error over an empty last axis, as in NumPy.)
        if (mask && shape[shape.length - 1]! > 0) expectTensor(y, "f32", shape, Array.from(libraryMaskedSoftmax(x, mask).data), 1e-6);
      }),
      fcParams(seed, 500),
    );
    console.log(`[kernels] softmax random shapes: max abs error ${worst.toExponential(2)} vs double reference`);
  });

  it("applies a causal mask: masked positions are 0, rows sum to 1", () => {
    const T = 4;
    const scores = randomTensor("f32", [2, 3, T, T], 5);
    const i = K.reshape(K.arange(T), [T, 1]), j = K.arange(T);
    const causal = K.binary("le", j, i); // [T, T], true where j ≤ i
    const y = softmax(scores, causal);
    for (let r = 0; r < 2 * 3 * T; r++) {
      const row = Array.from(y.data.subarray(r * T, r * T + T));
      const t = r % T;
      row.forEach((v, k) => (k > t ? expect(v).toBe(0) : expect(v).toBeGreaterThan(0)));
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
    }
  });

  it("gives all zeros for a fully masked row and is stable for large inputs", () => {
    const x = fromValues("f32", [2, 3], [1000, 1001, 1002, 5, 6, 7]);
    const mask = fromValues("bool", [2, 3], [1, 1, 1, 0, 0, 0]);
    const y = softmax(x, mask);
    expectTensor(y, "f32", [2, 3], [...naiveSoftmax(fromValues("f32", [1, 3], [0, 1, 2])), 0, 0, 0], 1e-7);
    expectTensor(softmax(fromValues("f32", [3], [-Infinity, 0, NaN])), "f32", [3], [NaN, NaN, NaN]);
  });

  it("works in place and rejects a mask that would grow the result", () => {
    const x = randomTensor("f32", [3, 5], 9);
    const ref = naiveSoftmax(x);
    expect(softmax(x, undefined, x)).toBe(x);
    expectTensor(x, "f32", [3, 5], ref, 1e-7);
    expect(kernelError(() => softmax(x, randomTensor("bool", [2, 3, 5], 1)))).toMatch(/mask \[2, 3, 5\] does not broadcast to the scores' shape \[3, 5\]/);
    expect(kernelError(() => softmax(fromValues("f32", [], [1])))).toMatch(/0-d/);
    expect(kernelError(() => softmax(x, randomTensor("f32", [5], 1)))).toMatch(/mask must be bool/);
    expectTensor(softmax(allocate("f32", [2, 0])), "f32", [2, 0], []);
  });
});

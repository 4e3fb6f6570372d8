// A fused softmax over the last axis, for the optimizer to substitute for the library's
// `softmax` / `masked_softmax` (src/std/nn.tfm), which it computes the same way:
//
//   m = max over allowed positions of x            (NaN propagates; -inf if none is allowed)
//   e = allowed ? exp(x - m) : 0                    (masking selects; it never adds -inf)
//   y = e / maximum(sum(e), 1)
//
// A row with at least one allowed position sums to at least exp(0) = 1, so it divides by its sum;
// a fully masked row stays all zeros rather than NaN. `mask` is bool, true where attention is
// allowed, and broadcasts to x's shape (e.g. a causal [T, T] mask against [B, H, T, T] scores).
import { KernelError } from "../../../core/errors.js";
import { numel, sameShape, showShape, type Tensor } from "../../../core/tensor.js";
import { broadcastStrides } from "./broadcast.js";
import { exp } from "../../../core/math.js";
import { checkInputs, output, requireDType } from "./util.js";

export function softmaxLastAxis(x: Tensor, mask?: Tensor, out?: Tensor): Tensor<"f32"> {
  checkInputs("softmax", x);
  requireDType("softmax", x, ["f32"]);
  const rank = x.shape.length;
  if (rank === 0) throw new KernelError("softmax", "needs at least one dim, got a 0-d tensor");
  if (mask !== undefined) {
    checkInputs("softmax", mask);
    requireDType("softmax", mask, ["bool"], "mask");
  }
  const o = output("softmax", "f32", x.shape, out, mask ? [x, mask] : [x], true);
  const n = x.shape[rank - 1]!;
  const rows = n === 0 ? 0 : numel(x.shape) / n;
  if (rows === 0) return o;
  const X = x.data as Float32Array, Y = o.data;

  if (mask === undefined) {
    for (let r = 0, b = 0; r < rows; r++, b += n) {
      let m = -Infinity;
      for (let j = 0; j < n && m === m; j++) {
        const v = X[b + j]!;
        if (v > m || v !== v) m = v;
      }
      let s = 0;
      for (let j = 0; j < n; j++) {
        Y[b + j] = exp(X[b + j]! - m);
        s += Y[b + j]!;
      }
      const d = Math.max(s, 1);
      for (let j = 0; j < n; j++) Y[b + j] = Y[b + j]! / d;
    }
    return o;
  }

  // The mask's strides in x's dims (0 where it broadcasts); walked with an odometer over rows.
  let ms: number[];
  try {
    ms = broadcastStrides("softmax", mask.shape, x.shape);
  } catch {
    throw new KernelError("softmax", `mask ${showShape(mask.shape)} does not broadcast to the scores' shape ${showShape(x.shape)}`);
  }
  const M = mask.data as Uint8Array;
  const step = ms[rank - 1]!;
  const outerDims = x.shape.slice(0, rank - 1);
  const idx = new Array<number>(outerDims.length).fill(0);
  const full = sameShape(mask.shape, x.shape);
  let mo = 0;
  for (let r = 0, b = 0; r < rows; r++, b += n) {
    if (full) mo = b;
    let m = -Infinity;
    for (let j = 0, q = mo; j < n; j++, q += step) {
      if (M[q] === 0) continue;
      const v = X[b + j]!;
      if (v > m || v !== v) m = v;
      if (m !== m) break;
    }
    let s = 0;
    for (let j = 0, q = mo; j < n; j++, q += step) {
      if (M[q] === 0) Y[b + j] = 0;
      else {
        Y[b + j] = exp(X[b + j]! - m);
        s += Y[b + j]!;
      }
    }
    const d = Math.max(s, 1);
    for (let j = 0; j < n; j++) Y[b + j] = Y[b + j]! / d;
    // Next row: advance the mask offset over the outer dims.
    if (!full) {
      for (let k = outerDims.length - 1; k >= 0; k--) {
        if (++idx[k] < outerDims[k]!) {
          mo += ms[k]!;
          break;
        }
        idx[k] = 0;
        mo -= ms[k]! * (outerDims[k]! - 1);
      }
    }
  }
  return o;
}

// Scans along one axis: cumsum, the inclusive running sum (torch.cumsum).
//
// The input is viewed as [outer, r, inner] (r the scanned dim), as the reductions view it. As
// torch's CPU kernel does (`cpu_cum_base_kernel`, accumulating in `acc_type<T, false>`): f32
// accumulates in double, in order, and each prefix is rounded to f32 when stored (so [1e8, 1 × 16]
// ends at 100000016, not at the f32 running sum's 1e8); i32 wraps modulo 2³², as torch's int64
// accumulator stored to int32 does (torch.cumsum(x, dim, dtype=torch.int32)). With inner = 1 each
// row is scanned in a local; otherwise a row of `inner` double accumulators is carried from one
// slice to the next, so memory is read in order.
import { type Tensor, type TensorData } from "../../../core/tensor.js";
import { checkInputs, normAxis, output, prod, requireDType } from "./util.js";

let accScratch = new Float64Array(0);
function acc64(n: number): Float64Array {
  if (n > accScratch.length) accScratch = new Float64Array(n);
  return accScratch;
}

function cumsumF32(x: TensorData, o: TensorData, outer: number, r: number, inner: number): void {
  if (inner === 1) {
    for (let i = 0, q = 0; i < outer; i++) {
      let s = 0;
      for (let p = 0; p < r; p++, q++) o[q] = s += x[q]!;
    }
    return;
  }
  const acc = acc64(inner);
  for (let i = 0, q = 0; i < outer; i++) {
    acc.fill(0, 0, inner);
    for (let p = 0; p < r; p++) for (let j = 0; j < inner; j++, q++) o[q] = acc[j] += x[q]!;
  }
}

function cumsumI32(x: TensorData, o: TensorData, outer: number, r: number, inner: number): void {
  if (inner === 1) {
    for (let i = 0, q = 0; i < outer; i++) {
      let s = 0;
      for (let p = 0; p < r; p++, q++) o[q] = s = (s + x[q]!) | 0;
    }
    return;
  }
  // Each slice is the previous one's sums plus its own elements (exact in i32, so no accumulators).
  for (let i = 0, q = 0; i < outer; i++) {
    for (let j = 0; j < inner; j++, q++) o[q] = x[q]!;
    for (let p = 1; p < r; p++) for (let j = 0; j < inner; j++, q++) o[q] = (o[q - inner]! + x[q]!) | 0;
  }
}

/** torch.cumsum(x, axis) for f32 or i32 (negative axes count from the end); the result has x's dtype and shape. */
export function cumsum(x: Tensor, axis: number, out?: Tensor): Tensor {
  checkInputs("cumsum", x);
  requireDType("cumsum", x, ["f32", "i32"]);
  const rank = x.shape.length;
  const ax = normAxis("cumsum", axis, rank);
  const r = x.shape[ax]!;
  const outer = prod(x.shape, 0, ax), inner = prod(x.shape, ax + 1, rank);
  const o = output("cumsum", x.dtype, x.shape, out, [x]);
  if (outer * r * inner === 0) return o;
  (x.dtype === "f32" ? cumsumF32 : cumsumI32)(x.data, o.data, outer, r, inner);
  return o;
}

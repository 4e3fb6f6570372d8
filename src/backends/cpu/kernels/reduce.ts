// Reductions over one axis: sum, mean, max, min, argmax, with or without keepdim.
//
// The input is viewed as [outer, r, inner] (r the reduced dim). With inner = 1 each output is a
// contiguous run reduced in a local; otherwise the r slices of `inner` elements are combined into
// a row of accumulators, so memory is always read in order. Sums accumulate in double.
//
// dtypes: sum and mean keep f32 or i32 (i32 sums wrap modulo 2³²; an i32 mean truncates toward
// zero); max and min keep f32, i32 or bool; argmax gives i32. NaN as NumPy: max and min propagate
// it, argmax returns the first NaN's index. The mean of an empty axis is NaN (0 for i32); max, min
// and argmax of an empty axis are errors.
import type { ReduceOp } from "../../../ir/ops.js";
import { KernelError } from "../../../core/errors.js";
import { type DType, showShape, type Tensor, type TensorData } from "../../../core/tensor.js";
import { checkInputs, normAxis, output, prod, requireDType } from "./util.js";

/** The result shape of reducing `shape` over `axis`. */
export function reducedShape(shape: readonly number[], axis: number, keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

let accScratch = new Float64Array(0);
function acc64(n: number): Float64Array {
  if (n > accScratch.length) accScratch = new Float64Array(n);
  return accScratch;
}

function sumInto(x: TensorData, o: TensorData, outer: number, r: number, inner: number, mean: boolean): void {
  const scale = mean ? 1 / r : 1;
  if (inner === 1) {
    for (let i = 0; i < outer; i++) {
      let s = 0;
      const base = i * r;
      for (let p = 0; p < r; p++) s += x[base + p]!;
      o[i] = mean ? s / r : s;
    }
    return;
  }
  const acc = acc64(inner);
  for (let i = 0; i < outer; i++) {
    acc.fill(0, 0, inner);
    let q = i * r * inner;
    for (let p = 0; p < r; p++, q += inner) for (let j = 0; j < inner; j++) acc[j] += x[q + j]!;
    const ob = i * inner;
    if (mean) for (let j = 0; j < inner; j++) o[ob + j] = r === 0 ? NaN : acc[j]! * scale;
    else for (let j = 0; j < inner; j++) o[ob + j] = acc[j]!;
  }
}

function maxInto(x: TensorData, o: TensorData, outer: number, r: number, inner: number): void {
  if (inner === 1) {
    for (let i = 0; i < outer; i++) {
      const base = i * r;
      let m = x[base]!;
      for (let p = 1; p < r && m === m; p++) {
        const v = x[base + p]!;
        if (v > m || v !== v) m = v;
      }
      o[i] = m;
    }
    return;
  }
  for (let i = 0; i < outer; i++) {
    const ob = i * inner;
    let q = i * r * inner;
    for (let j = 0; j < inner; j++) o[ob + j] = x[q + j]!;
    q += inner;
    for (let p = 1; p < r; p++, q += inner) {
      for (let j = 0; j < inner; j++) {
        const v = x[q + j]!;
        if (v > o[ob + j]! || v !== v) o[ob + j] = v;
      }
    }
  }
}

function minInto(x: TensorData, o: TensorData, outer: number, r: number, inner: number): void {
  if (inner === 1) {
    for (let i = 0; i < outer; i++) {
      const base = i * r;
      let m = x[base]!;
      for (let p = 1; p < r && m === m; p++) {
        const v = x[base + p]!;
        if (v < m || v !== v) m = v;
      }
      o[i] = m;
    }
    return;
  }
  for (let i = 0; i < outer; i++) {
    const ob = i * inner;
    let q = i * r * inner;
    for (let j = 0; j < inner; j++) o[ob + j] = x[q + j]!;
    q += inner;
    for (let p = 1; p < r; p++, q += inner) {
      for (let j = 0; j < inner; j++) {
        const v = x[q + j]!;
        if (v < o[ob + j]! || v !== v) o[ob + j] = v;
      }
    }
  }
}

function argmaxInto(x: TensorData, o: Int32Array, outer: number, r: number, inner: number): void {
  if (inner === 1) {
    for (let i = 0; i < outer; i++) {
      const base = i * r;
      let m = x[base]!;
      let at = 0;
      for (let p = 1; p < r && m === m; p++) {
        const v = x[base + p]!;
        if (v > m || v !== v) {
          m = v;
          at = p;
        }
      }
      o[i] = at;
    }
    return;
  }
  const best = acc64(inner);
  for (let i = 0; i < outer; i++) {
    const ob = i * inner;
    let q = i * r * inner;
    for (let j = 0; j < inner; j++) {
      best[j] = x[q + j]!;
      o[ob + j] = 0;
    }
    q += inner;
    for (let p = 1; p < r; p++, q += inner) {
      for (let j = 0; j < inner; j++) {
        const v = x[q + j]!;
        const b = best[j]!;
        // Strictly greater keeps the first maximum; a NaN wins once and is never replaced.
        if (v > b || (v !== v && b === b)) {
          best[j] = v;
          o[ob + j] = p;
        }
      }
    }
  }
}

/** Each op: the result dtype (throwing for an input it does not take), whether an empty axis is an error, and its loop. */
interface ReduceKernel {
  readonly dtype: (x: Tensor) => DType;
  readonly needsElements: boolean;
  readonly into: (x: TensorData, o: TensorData, outer: number, r: number, inner: number) => void;
}

const numeric = (op: ReduceOp) => (x: Tensor): DType => {
  requireDType(op, x, ["f32", "i32"]);
  return x.dtype;
};

const kernels: Record<ReduceOp, ReduceKernel> = {
  sum: { dtype: numeric("sum"), needsElements: false, into: (x, o, outer, r, inner) => sumInto(x, o, outer, r, inner, false) },
  mean: { dtype: numeric("mean"), needsElements: false, into: (x, o, outer, r, inner) => sumInto(x, o, outer, r, inner, true) },
  max: { dtype: (x) => x.dtype, needsElements: true, into: maxInto },
  min: { dtype: (x) => x.dtype, needsElements: true, into: minInto },
  argmax: { dtype: () => "i32", needsElements: true, into: (x, o, outer, r, inner) => argmaxInto(x, o as Int32Array, outer, r, inner) },
};

export function reduce(op: ReduceOp, x: Tensor, axis: number, keepdim = false, out?: Tensor): Tensor {
  checkInputs(op, x);
  const rank = x.shape.length;
  const ax = normAxis(op, axis, rank);
  if (!Object.hasOwn(kernels, op)) throw new KernelError("reduce", `unknown op ${JSON.stringify(op)}`);
  const kernel = kernels[op];
  const dtype = kernel.dtype(x);
  const r = x.shape[ax]!;
  const shape = reducedShape(x.shape, ax, keepdim);
  const outer = prod(x.shape, 0, ax), inner = prod(x.shape, ax + 1, rank);
  if (r === 0 && kernel.needsElements && outer * inner > 0) {
    throw new KernelError(op, `cannot reduce an empty axis: axis ${ax} of shape ${showShape(x.shape)} has size 0`);
  }
  const o = output(op, dtype, shape, out, [x]);
  if (outer * inner === 0) return o;
  kernel.into(x.data, o.data, outer, r, inner);
  return o;
}

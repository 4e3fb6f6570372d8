// Views as strides: a chain of slice, reshape and permute over a contiguous tensor, read in place.
// A resident call's `append` (interpret.ts) writes its new positions into a state's buffer from
// such a chain — GPT-2's keys and values are a slice of the q/k/v projection, split into heads
// and permuted — without evaluating the chain into a temporary first: element [i0, ..., in] of the
// view is `data[offset + Σ i_d · strides[d]]`. A reshape that cannot be expressed over the strides
// it is given (one that merges dims which are not laid out one after the other) gives undefined,
// and the caller evaluates the chain as before.
import type { Node } from "../../ir/graph.js";
import { numel, type Tensor, type TensorData } from "../../core/tensor.js";

export interface Strided {
  readonly data: TensorData;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

/** A contiguous tensor as strides. */
export function contiguous(t: Tensor): Strided {
  const strides = new Array<number>(t.shape.length);
  for (let d = t.shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= t.shape[d]!;
  }
  return { data: t.data, offset: 0, shape: t.shape, strides };
}

/**
 * The view `n` (slice, reshape or permute, its shape `shape` at this call) of `x`, as strides over
 * x's data; undefined for another op, or a reshape these strides cannot express.
 */
export function stridedView(n: Node, x: Strided, shape: readonly number[], dim: (d: Node["shape"][number]) => number): Strided | undefined {
  if (n.op === "permute") {
    const perm = n.attrs.perm!;
    return { ...x, shape: perm.map((p) => x.shape[p]!), strides: perm.map((p) => x.strides[p]!) };
  }
  if (n.op === "slice") {
    const axis = n.attrs.axis! < 0 ? n.attrs.axis! + x.shape.length : n.attrs.axis!;
    const start = dim(n.attrs.start!);
    return { ...x, offset: x.offset + start * x.strides[axis]!, shape: x.shape.map((d, i) => (i === axis ? shape[i]! : d)) };
  }
  if (n.op === "reshape") {
    const strides = reshapeStrides(x.shape, x.strides, shape);
    return strides && { ...x, shape, strides };
  }
  return undefined;
}

/**
 * Strides for `to` over elements laid out as `from` with `strides` (numpy's no-copy reshape): the
 * dims are matched in groups of equal product; within a group the old dims must follow one
 * another in memory (stride[i] = stride[i + 1] · size[i + 1]), and the new dims then split it.
 */
function reshapeStrides(from: readonly number[], strides: readonly number[], to: readonly number[]): number[] | undefined {
  if (numel(from) !== numel(to)) return undefined;
  // Size-1 dims carry no layout: drop them on the old side, give them any stride on the new.
  const old = from.map((d, i) => [d, strides[i]!] as const).filter(([d]) => d !== 1);
  const out = new Array<number>(to.length).fill(0);
  let i = 0, j = 0;
  while (j < to.length || i < old.length) {
    if (j < to.length && to[j] === 1) {
      out[j++] = 0;
      continue;
    }
    if (i >= old.length || j >= to.length) return undefined;
    // One group: old dims i0..i, new dims j0..j with equal products.
    const i0 = i, j0 = j;
    let a = old[i++]![0], b = to[j++]!;
    while (a !== b) {
      if (a < b) {
        if (i >= old.length) return undefined;
        a *= old[i++]![0];
      } else {
        if (j >= to.length) return undefined;
        b *= to[j++]!;
      }
    }
    for (let q = i0; q < i - 1; q++) if (old[q]![1] !== old[q + 1]![1] * old[q + 1]![0]) return undefined;
    // The group's new dims, from its innermost old stride outwards.
    let s = old[i - 1]![1];
    for (let q = j - 1; q >= j0; q--) {
      out[q] = s;
      s *= to[q]!;
    }
  }
  return out;
}

/**
 * Writes `x` (a view of base's shape but `axis`) into `base` along `axis` at position `at`: each
 * run of x's last dim at once where its stride is 1, element by element otherwise.
 */
export function writeStridedAt(base: Tensor, axis: number, at: number, x: Strided): void {
  const r = x.shape.length;
  if (numel(x.shape) === 0) return;
  // base's row-major strides; x's positions along axis go `at` further.
  const bs = contiguous(base).strides;
  const last = x.shape[r - 1]!;
  const rows = numel(x.shape.slice(0, r - 1));
  const idx = new Array<number>(r - 1).fill(0);
  const src = x.data, dst = base.data;
  const unit = x.strides[r - 1] === 1;
  for (let row = 0; row < rows; row++) {
    let so = x.offset, dOff = 0;
    for (let d = 0; d < r - 1; d++) {
      so += idx[d]! * x.strides[d]!;
      dOff += (d === axis ? idx[d]! + at : idx[d]!) * bs[d]!;
    }
    if (axis === r - 1) dOff += at;
    if (unit) dst.set(src.subarray(so, so + last) as never, dOff);
    else for (let c = 0, s = so; c < last; c++, s += x.strides[r - 1]!) dst[dOff + c] = src[s]!;
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d]! < x.shape[d]!) break;
      idx[d] = 0;
    }
  }
}

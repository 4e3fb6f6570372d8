// Layout kernels: reshape, permute, slice, concat, gather (numpy.take), expand, arange. They move
// elements without computing on them, so every dtype is accepted and kept. Contiguous runs are
// copied whole; permute and expand walk the coalesced strided plan of broadcast.ts.
import { KernelError } from "../../../core/errors.js";
import { numel, showShape, stridesOf, unravel, type Tensor } from "../../../core/tensor.js";
import { broadcastStrides, plan, Rows } from "./broadcast.js";
import { transpose2d } from "./transpose.js";
import { checkInputs, copy, normAxis, output, prod, requireDType } from "./util.js";

/**
 * The same elements in row-major order with a new shape (one dim may be -1, inferred). Without
 * `out` the result is a view sharing `x`'s data; with `out` the elements are copied into it.
 */
export function reshape(x: Tensor, shape: readonly number[], out?: Tensor): Tensor {
  checkInputs("reshape", x);
  const n = numel(x.shape);
  const target = shape.slice();
  const free = target.indexOf(-1);
  if (free !== target.lastIndexOf(-1)) throw new KernelError("reshape", `at most one dim may be -1, got ${showShape(shape)}`);
  for (const d of target) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new KernelError("reshape", `invalid dim ${d} in ${showShape(shape)}`);
  }
  if (free >= 0) {
    const rest = target.reduce((acc, d, i) => (i === free ? acc : acc * d), 1);
    if (rest === 0 || n % rest !== 0) throw new KernelError("reshape", `cannot infer the -1 in ${showShape(shape)} for ${n} elements (from ${showShape(x.shape)})`);
    target[free] = n / rest;
  }
  if (numel(target) !== n) throw new KernelError("reshape", `cannot reshape ${showShape(x.shape)} (${n} elements) to ${showShape(target)} (${numel(target)} elements)`);
  if (out === undefined) return { dtype: x.dtype, shape: target, data: x.data } as Tensor;
  if (out.data === x.data && out.dtype === x.dtype) {
    output("reshape", x.dtype, target, out, []); // checks out's shape; the data is already there
    return out;
  }
  const o = output("reshape", x.dtype, target, out, [x]);
  copy(x.data, 0, o.data, 0, n);
  return o;
}

/** Output dim i is input dim perm[i]. */
export function permute(x: Tensor, perm: readonly number[], out?: Tensor): Tensor {
  checkInputs("permute", x);
  const rank = x.shape.length;
  const seen = new Array<boolean>(rank).fill(false);
  if (perm.length !== rank) throw new KernelError("permute", `perm [${perm.join(", ")}] has ${perm.length} entries for a rank-${rank} tensor`);
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen[p]) throw new KernelError("permute", `[${perm.join(", ")}] is not a permutation of 0..${rank - 1}`);
    seen[p] = true;
  }
  const shape = perm.map((p) => x.shape[p]!);
  const o = output("permute", x.dtype, shape, out, [x]);
  const total = numel(shape);
  if (total === 0) return o;
  const st = stridesOf(x.shape);
  const p = plan(shape, [perm.map((q) => st[q]!)]);
  const r = p.shape.length;
  const s = p.strides[0]!;
  const src = x.data, dst = o.data;
  if (r <= 1 && (r === 0 || s[0] === 1)) {
    copy(src, 0, dst, 0, total); // the identity up to size-1 dims
    return o;
  }
  if (r >= 2 && s[r - 2] === 1 && s[r - 1] === p.shape[r - 2]) {
    // The last two (coalesced) dims swapped, e.g. [..., k, n] → [..., n, k]: blocked transposes.
    const rows = p.shape[r - 1]!, cols = p.shape[r - 2]!; // the source matrix is [rows, cols]
    const mat = rows * cols;
    let batchContiguous = true;
    for (let i = r - 3, expect = mat; i >= 0; expect *= p.shape[i]!, i--) if (s[i] !== expect) batchContiguous = false;
    if (batchContiguous) {
      for (let b = 0; b < total; b += mat) transpose2d(src, b, rows, cols, dst, b);
      return o;
    }
  }
  const w = new Rows(p);
  const n = w.n, step = w.step[0]!, off = w.off;
  for (let i = 0, oi = 0; i < w.count; i++, oi += n) {
    const xi = off[0]!;
    if (step === 1) copy(src, xi, dst, oi, n);
    else for (let j = 0, q = xi; j < n; j++, q += step) dst[oi + j] = src[q]!;
    w.next();
  }
  return o;
}

/** Elements start ≤ i < end along `axis` (0 ≤ start ≤ end ≤ size). */
export function slice(x: Tensor, axis: number, start: number, end: number, out?: Tensor): Tensor {
  checkInputs("slice", x);
  const rank = x.shape.length;
  const ax = normAxis("slice", axis, rank);
  const size = x.shape[ax]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > size) {
    throw new KernelError("slice", `range [${start}, ${end}) is not within axis ${ax} of shape ${showShape(x.shape)} (size ${size})`);
  }
  const shape = x.shape.map((d, i) => (i === ax ? end - start : d));
  const o = output("slice", x.dtype, shape, out, [x]);
  const outer = prod(x.shape, 0, ax), inner = prod(x.shape, ax + 1, rank);
  const len = (end - start) * inner;
  if (len === 0) return o;
  for (let i = 0; i < outer; i++) copy(x.data, (i * size + start) * inner, o.data, i * len, len);
  return o;
}

/** Joins tensors of one dtype along `axis`; all other dims must agree. */
export function concat(xs: readonly Tensor[], axis: number, out?: Tensor): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new KernelError("concat", "needs at least one tensor");
  checkInputs("concat", ...xs);
  const first = xs[0]!;
  const rank = first.shape.length;
  const ax = normAxis("concat", axis, rank);
  let total = 0;
  for (const t of xs) {
    if (t.dtype !== first.dtype) throw new KernelError("concat", `tensors have different dtypes (${first.dtype} and ${t.dtype})`);
    const ok = t.shape.length === rank && t.shape.every((d: number, i: number) => i === ax || d === first.shape[i]);
    if (!ok) throw new KernelError("concat", `shapes ${xs.map((u) => showShape(u.shape)).join(", ")} differ outside axis ${ax}`);
    total += t.shape[ax]!;
  }
  const shape = first.shape.map((d: number, i: number) => (i === ax ? total : d));
  const o = output("concat", first.dtype, shape, out, xs);
  const outer = prod(shape, 0, ax), inner = prod(shape, ax + 1, rank);
  const row = total * inner;
  let at = 0;
  for (const t of xs) {
    const len = t.shape[ax]! * inner;
    if (len > 0) for (let i = 0; i < outer; i++) copy(t.data, i * len, o.data, i * row + at, len);
    at += len;
  }
  return o;
}

/**
 * numpy.take(x, indices, axis): the result's shape is x.shape[:axis] + indices.shape +
 * x.shape[axis+1:]. Indices are i32 in [0, size), as torch.index_select and nn.Embedding take
 * them: a negative index is an error, not counted from the end as NumPy would (an id of -1 is a
 * bug upstream, not the last row). Anything out of range is a KernelError naming the index and
 * its position.
 */
export function gather(x: Tensor, indices: Tensor, axis: number, out?: Tensor): Tensor {
  checkInputs("gather", x, indices);
  requireDType("gather", indices, ["i32"], "indices");
  const rank = x.shape.length;
  const ax = normAxis("gather", axis, rank);
  const size = x.shape[ax]!;
  const idx = indices.data as Int32Array;
  const ni = numel(indices.shape);
  for (let i = 0; i < ni; i++) {
    const v = idx[i]!;
    if (v >= size || v < 0) {
      const pos = indices.shape.length === 0 ? "" : ` at position [${unravel(i, indices.shape).join(", ")}]`;
      const valid = size === 0 ? "the axis is empty" : `valid: 0..${size - 1}`;
      throw new KernelError("gather", `index ${v}${pos} is out of range for axis ${ax} of size ${size} (${valid})`);
    }
  }
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const o = output("gather", x.dtype, shape, out, [x, indices]);
  const outer = prod(x.shape, 0, ax), inner = prod(x.shape, ax + 1, rank);
  if (inner === 0 || outer === 0) return o;
  const src = x.data, dst = o.data;
  let q = 0;
  for (let i = 0; i < outer; i++) {
    const base = i * size;
    for (let t = 0; t < ni; t++, q += inner) {
      const v = idx[t]!;
      copy(src, (base + idx[t]!) * inner, dst, q, inner);
    }
  }
  return o;
}

/** numpy.broadcast_to(x, shape), materialised. */
export function expand(x: Tensor, shape: readonly number[], out?: Tensor): Tensor {
  checkInputs("expand", x);
  const target = shape.slice();
  const st = broadcastStrides("expand", x.shape, target); // throws unless x broadcasts to shape
  const o = output("expand", x.dtype, target, out, [x]);
  const total = numel(target);
  if (total === 0) return o;
  const w = new Rows(plan(target, [st]));
  const n = w.n, step = w.step[0]!, off = w.off;
  const src = x.data, dst = o.data;
  for (let i = 0, oi = 0; i < w.count; i++, oi += n) {
    if (step === 1) copy(src, off[0]!, dst, oi, n);
    else if (n >= 128) dst.fill(src[off[0]!]!, oi, oi + n);
    else {
      const v = src[off[0]!]!;
      for (let j = 0; j < n; j++) dst[oi + j] = v;
    }
    w.next();
  }
  return o;
}

/** i32 [n]: 0, 1, ..., n - 1. */
export function arange(n: number, out?: Tensor): Tensor<"i32"> {
  if (!Number.isInteger(n) || n < 0) throw new KernelError("arange", `length must be an integer ≥ 0, got ${n}`);
  const o = output("arange", "i32", [n], out, []);
  const d = o.data;
  for (let i = 0; i < n; i++) d[i] = i;
  return o;
}


// The state a model keeps between calls (a KV cache, src/ir/graph.ts `states`), held in place by
// `CpuProgram.runResident`: one buffer per state at capacity along the axis it grows on
// ([B, H, capacity, D] for `state k_cache: f32[B, H, past, D]`), of which the first `length`
// positions hold the value. The IR's `append` then writes only the new positions, at offset
// `length`, and its value — the state's next value, [B, H, past + T, D] — is a strided view of the
// same buffer (each outer index `capacity × inner` elements apart): nothing is copied per step. A
// fused kernel reads such a view in place (fused.ts: the part a block needs is one contiguous run
// of the buffer when the axis is not the last); any other reader gets it materialised, counted in
// `CacheCounters`, so a test can see that a decode step copies nothing.
import { numel, type Tensor } from "../../core/tensor.js";

/** A value laid out in a buffer larger along one axis: `shape` is the value's, `base.shape` the buffer's. */
export interface CacheView {
  readonly base: Tensor;
  readonly axis: number;
  /** The value's shape: the base's, but `length` positions along `axis`. */
  readonly shape: readonly number[];
}

/** What the resident runs did to the state, since the program was made (for tests and profiles). */
export interface CacheCounters {
  /** Bytes of the new positions written into the state buffers (the appends). */
  written: number;
  /** Bytes copied to materialise a state's value for a reader that cannot take a view, or to grow a buffer. */
  copied: number;
  /** Bytes of state buffers allocated (at capacity: once per sequence batch shape, not per step). */
  allocated: number;
}

/** Outer count (dims before `axis`) and inner count (dims after it) of a shape. */
function split(shape: readonly number[], axis: number): [number, number] {
  return [numel(shape.slice(0, axis)), numel(shape.slice(axis + 1))];
}

/** The first `length` positions of `base` along `axis`, as a view. */
export function cacheView(base: Tensor, axis: number, length: number): CacheView {
  return { base, axis, shape: base.shape.map((d, i) => (i === axis ? length : d)) };
}

/** Writes `x` into `base` along `axis` at position `at` (x's other dims are base's). */
export function writeAt(base: Tensor, axis: number, at: number, x: Tensor): void {
  const [outer, inner] = split(base.shape, axis);
  const cap = base.shape[axis]!;
  const n = x.shape[axis]!;
  const run = n * inner;
  for (let o = 0; o < outer; o++) base.data.set(x.data.subarray(o * run, (o + 1) * run) as never, (o * cap + at) * inner);
}

/** The view as a contiguous tensor of its shape (into `out` when given). */
export function materialise(v: CacheView, out?: Tensor): Tensor {
  const [outer, inner] = split(v.base.shape, v.axis);
  const cap = v.base.shape[v.axis]!;
  const run = v.shape[v.axis]! * inner;
  const data = out?.data ?? new (v.base.data.constructor as Float32ArrayConstructor)(numel(v.shape));
  for (let o = 0; o < outer; o++) data.set(v.base.data.subarray(o * cap * inner, o * cap * inner + run) as never, o * run);
  return { dtype: v.base.dtype, shape: [...v.shape], data } as Tensor;
}

/** `v` in a new buffer of `capacity` positions along its axis (growing a state's buffer), made by `allocate`. */
export function regrow(v: CacheView, capacity: number, allocate: (dtype: Tensor["dtype"], shape: readonly number[]) => Tensor): Tensor {
  const shape = v.base.shape.map((d, i) => (i === v.axis ? capacity : d));
  const base = allocate(v.base.dtype, shape);
  const [outer, inner] = split(shape, v.axis);
  const [from, run] = [v.base.shape[v.axis]! * inner, v.shape[v.axis]! * inner];
  for (let o = 0; o < outer; o++) base.data.set(v.base.data.subarray(o * from, o * from + run) as never, o * capacity * inner);
  return base;
}

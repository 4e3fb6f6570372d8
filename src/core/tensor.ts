// The runtime tensor (every backend and the runtime share it): a dtype, a shape and a contiguous row-major typed array. Checkpoint
// dtypes the kernels do not compute in (f16, bf16, i64, ...) are converted when weights are loaded,
// so at run time there are only three element types: f32 (Float32Array), i32 (Int32Array) and bool
// (Uint8Array holding 0 or 1). A 0-d tensor (shape []) holds one element.
import { KernelError } from "./errors.js";
import { dtypeNames, type DType } from "./dtype.js";

export { dtypeNames, runtimeDType, type DType } from "./dtype.js";

/** The typed array each dtype's elements live in. */
export interface DataOf {
  f32: Float32Array;
  i32: Int32Array;
  bool: Uint8Array;
}

export type TensorData = DataOf[DType];

/**
 * A tensor of dtype `D`. `Tensor` (no argument) is the union of the three, so checking `dtype`
 * narrows `data`. `data` may be longer than the shape needs only if it is a view the caller made
 * with `subarray`; kernels read and write exactly `numel(shape)` elements from its start.
 */
export type Tensor<D extends DType = DType> = D extends DType
  ? { readonly dtype: D; readonly shape: readonly number[]; readonly data: DataOf[D] }
  : never;

/** Number of elements of a shape (1 for a 0-d shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Row-major strides in elements: the last dim has stride 1. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export const showShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The typed array type each dtype's elements live in. */
export const arrayTypes: { readonly [D in DType]: { new (n: number): DataOf[D]; new (buffer: ArrayBuffer, offset: number, n: number): DataOf[D] } } = {
  f32: Float32Array,
  i32: Int32Array,
  bool: Uint8Array,
};

/** A fresh zero-filled typed array for `n` elements of `dtype`. */
export function arrayFor<D extends DType>(dtype: D, n: number): DataOf[D] {
  if (!Object.hasOwn(arrayTypes, dtype)) throw new KernelError("tensor", `unknown dtype ${JSON.stringify(dtype)}`);
  return new arrayTypes[dtype](n);
}

/** The first `n` elements of `buffer` as `dtype`'s typed array (a view, not a copy). */
export function viewOf<D extends DType>(dtype: D, buffer: ArrayBuffer, n: number): DataOf[D] {
  return new arrayTypes[dtype](buffer, 0, n);
}

/** Whether `data` is the typed array type of `dtype`. */
export function isDataOf(dtype: DType, data: unknown): boolean {
  return Object.hasOwn(arrayTypes, dtype) && data instanceof arrayTypes[dtype];
}

/** Throws unless every dim is an integer ≥ 0 and the element count is a safe typed-array length. */
export function checkShape(shape: readonly number[], what = "tensor"): number {
  if (!Array.isArray(shape)) throw new KernelError(what, `shape must be an array of dims, got ${String(shape)}`);
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isInteger(d) || d < 0) throw new KernelError(what, `shape ${showShape(shape)} has an invalid dim ${String(d)} at ${i}; dims are integers ≥ 0`);
    n *= d;
  }
  if (n > 2 ** 32 - 1) throw new KernelError(what, `shape ${showShape(shape)} has ${n} elements, more than a typed array can hold`);
  return n;
}

/** A new zero-filled tensor. */
export function allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
  const n = checkShape(shape, "allocate");
  return { dtype, shape: shape.slice(), data: arrayFor(dtype, n) } as unknown as Tensor<D>;
}

/** Wraps existing data (not copied) as a tensor, checking its array type and length. */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: DataOf[D]): Tensor<D> {
  const t = { dtype, shape: shape.slice(), data } as unknown as Tensor<D>;
  checkTensor(t, "tensor");
  return t;
}

/** A tensor from plain numbers (booleans as 0/1), copied into a fresh array. */
export function fromValues<D extends DType>(dtype: D, shape: readonly number[], values: ArrayLike<number>): Tensor<D> {
  const t = allocate(dtype, shape);
  if (values.length !== t.data.length) {
    throw new KernelError("fromValues", `${values.length} values for shape ${showShape(shape)} (${t.data.length} elements)`);
  }
  if (dtype === "bool") for (let i = 0; i < values.length; i++) t.data[i] = values[i] !== 0 ? 1 : 0; // as cast: NaN is true
  else t.data.set(values);
  return t;
}

/** A 0-d tensor holding `value` (a boolean as 0/1). */
export function scalar<D extends DType>(dtype: D, value: number | boolean): Tensor<D> {
  return fromValues(dtype, [], [Number(value)]);
}

/** Throws a KernelError unless `t` is a well-formed tensor (known dtype, valid shape, matching data). */
export function checkTensor(t: Tensor, what: string): void {
  if (t === null || typeof t !== "object") throw new KernelError(what, `expected a tensor, got ${String(t)}`);
  if (!dtypeNames.includes(t.dtype)) throw new KernelError(what, `unknown dtype ${JSON.stringify(t.dtype)} (the CPU kernels compute in f32, i32 and bool)`);
  const n = checkShape(t.shape, what);
  if (!isDataOf(t.dtype, t.data)) throw new KernelError(what, `a ${t.dtype} tensor must hold a ${arrayFor(t.dtype, 0).constructor.name}, got ${describeData(t.data)}`);
  if (t.data.length < n) throw new KernelError(what, `shape ${showShape(t.shape)} needs ${n} elements but the data has ${t.data.length}`);
}

function describeData(d: unknown): string {
  return d !== null && typeof d === "object" ? (d.constructor?.name ?? "an object") : String(d);
}

/** A copy of `t` with its own data. */
export function clone<D extends DType>(t: Tensor<D>): Tensor<D> {
  const n = numel(t.shape);
  const data = arrayFor(t.dtype, n) as DataOf[D];
  (data as TensorData).set((t.data as TensorData).subarray(0, n));
  return { dtype: t.dtype, shape: t.shape.slice(), data } as unknown as Tensor<D>;
}

/** The elements as a plain array of numbers (for tests and printing). */
export function toArray(t: Tensor): number[] {
  return Array.from(t.data.subarray(0, numel(t.shape)));
}

/** The multi-index of flat (row-major) position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const pos = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    pos[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return pos;
}

// Helpers every kernel family uses: checking inputs, taking or allocating the output, axes, and a
// contiguous copy that allocates nothing for short runs.
import { KernelError } from "../../../core/errors.js";
import { allocate, checkTensor, type DType, isDataOf, numel, sameShape, showShape, type Tensor, type TensorData } from "../../../core/tensor.js";

/** Checks that every argument is a well-formed tensor. */
export function checkInputs(kernel: string, ...ts: Tensor[]): void {
  for (const t of ts) checkTensor(t, kernel);
}

export function requireDType(kernel: string, t: Tensor, allowed: readonly DType[], role = "input"): void {
  if (!allowed.includes(t.dtype)) {
    throw new KernelError(kernel, `${role} must be ${allowed.join(" or ")}, got ${t.dtype}${t.dtype === "bool" ? " (cast it first)" : ""}`);
  }
}

/** Whether two typed arrays share any bytes. */
function overlaps(a: TensorData, an: number, b: TensorData, bn: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const a0 = a.byteOffset, a1 = a0 + an * a.BYTES_PER_ELEMENT;
  const b0 = b.byteOffset, b1 = b0 + bn * b.BYTES_PER_ELEMENT;
  return a0 < b1 && b0 < a1 && an > 0 && bn > 0;
}

/**
 * The output of a kernel: `out` after checking it has exactly `dtype` and `shape`, or a new
 * zero-filled tensor. `out` must not share memory with an input, except that an elementwise
 * kernel (`elementwise` true) may write over an input of the output's own shape and element size
 * (every element is read before it is written).
 */
export function output<D extends DType>(kernel: string, dtype: D, shape: readonly number[], out: Tensor | undefined, inputs: readonly Tensor[], elementwise = false): Tensor<D> {
  if (out === undefined) return allocate(dtype, shape);
  if (out === null || typeof out !== "object") throw new KernelError(kernel, `out must be a tensor, got ${String(out)}`);
  if (out.dtype !== dtype) throw new KernelError(kernel, `out is ${out.dtype} but the result is ${dtype}`);
  if (!sameShape(out.shape, shape)) throw new KernelError(kernel, `out has shape ${showShape(out.shape)} but the result has shape ${showShape(shape)}`);
  checkTensor(out, kernel);
  if (!isDataOf(dtype, out.data)) throw new KernelError(kernel, `out's data does not match its dtype ${dtype}`);
  const n = numel(shape);
  for (const t of inputs) {
    const tn = numel(t.shape);
    if (!overlaps(out.data, n, t.data, tn)) continue;
    const exact = out.data.byteOffset === t.data.byteOffset && out.data.BYTES_PER_ELEMENT === t.data.BYTES_PER_ELEMENT && sameShape(t.shape, shape);
    if (!(elementwise && exact)) {
      throw new KernelError(kernel, elementwise
        ? "out overlaps an input it does not exactly replace (in-place is allowed only over an input of the result's shape and element size)"
        : "out shares memory with an input; this kernel cannot work in place");
    }
  }
  return out as Tensor<D>;
}

/** An axis in [-rank, rank) as an index in [0, rank). */
export function normAxis(kernel: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new KernelError(kernel, rank === 0 ? `axis ${axis} is out of range for a 0-d tensor` : `axis ${axis} is out of range for rank ${rank} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Product of shape[from..to). */
export function prod(shape: readonly number[], from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/** Copies src[s, s+len) to dst[d, d+len) (same array type); a plain loop for short runs, `set` for long ones. */
export function copy(src: TensorData, s: number, dst: TensorData, d: number, len: number): void {
  if (len < 128) {
    for (let j = 0; j < len; j++) dst[d + j] = src[s + j]!;
  } else {
    dst.set(src.subarray(s, s + len), d);
  }
}

// Element types between the three worlds: the model's declared dtypes (f32, f16, bf16, i32, i64,
// bool), file dtypes (safetensors/NumPy: F32, BF16, I64, ...), and the CPU runtime's f32/i32/bool.
// Plus the one layout change weights need at load time: the transpose of a 2-D tensor.
import type { DType as RtDType, Tensor } from "../core/tensor.js";
import type { DTypeName } from "../core/dtype.js";
import { bf16ArrayToF32, type DType as FileDType, f16ArrayToF32, floatArrayToBf16, floatArrayToF16 } from "../weights/dtypes.js";

export { runtimeDType } from "../core/dtype.js";

/** The file dtype a declared dtype is stored as in a checkpoint tfm writes. */
export const fileDType: Readonly<Record<DTypeName, FileDType>> = {
  f32: "F32", f16: "F16", bf16: "BF16",
  i32: "I32", i64: "I64",
  bool: "BOOL",
};

/** The file dtype a runtime tensor is written as (.npy outputs). */
export const fileDTypeOfRuntime: Readonly<Record<RtDType, FileDType>> = { f32: "F32", i32: "I32", bool: "BOOL" };

/**
 * Rounds f32 values to what a declared f16/bf16 weight can hold (in place), so that a weight
 * behaves the same whether it came from an F32 file or was stored at its declared precision.
 */
export function roundToDeclared(data: Float32Array, dtype: DTypeName): Float32Array {
  if (dtype === "f16") data.set(f16ArrayToF32(floatArrayToF16(data)));
  else if (dtype === "bf16") data.set(bf16ArrayToF32(floatArrayToBf16(data)));
  return data;
}

type Elements = Float32Array | Int32Array | Uint8Array | Uint16Array | Float64Array | BigInt64Array;

/** The transpose of a row-major [rows, cols] array, as a fresh array of the same type. */
export function transpose2d<T extends Elements>(src: T, rows: number, cols: number): T {
  const out = new (src.constructor as new (n: number) => T)(rows * cols);
  // Blocked, so both sides stay in cache for large matrices.
  const B = 64;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * rows + i] = src[i * cols + j]!;
    }
  }
  return out;
}

/** A runtime tensor from data of the right array type (no copy). */
export function makeTensor(dtype: RtDType, shape: readonly number[], data: Float32Array | Int32Array | Uint8Array): Tensor {
  return { dtype, shape: [...shape], data } as Tensor;
}

export const showDims = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

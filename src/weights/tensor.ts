// Checks shared by the readers and writers: shapes, element counts, names and the data handed to
// a writer. Sizes are computed in BigInt so a hostile shape such as [2^40, 2^40] cannot overflow.
import { type DType, dtypes, floatArrayToBf16, floatArrayToF16, isDType, isNativeArray, type TypedArray } from "./dtypes.js";
import { quote, WeightFileError, type WeightErrorDetails } from "./errors.js";

export const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The element count of a shape given as BigInts, or undefined when it exceeds 2^53 - 1. Stops
 * multiplying once past the limit, so a long shape of huge dimensions stays cheap.
 */
export function elementCount(dims: readonly bigint[]): bigint | undefined {
  if (dims.some((d) => d === 0n)) return 0n;
  let n = 1n;
  for (const d of dims) {
    n *= d;
    if (n > maxSafe) return undefined;
  }
  return n;
}

/** Validates a shape given as numbers (by a caller, or a reader after its own parsing) and returns its element count. */
export function checkShape(shape: readonly unknown[], what: string, details: WeightErrorDetails): number {
  const dims: bigint[] = [];
  for (const [i, d] of shape.entries()) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new WeightFileError(
        "TFM5008",
        `${what} has an invalid shape: dimension ${i} is ${String(d)}, but dimensions must be integers from 0 to 2^53 - 1`,
        details,
      );
    }
    dims.push(BigInt(d));
  }
  const n = elementCount(dims);
  if (n === undefined) {
    throw new WeightFileError("TFM5008", `${what} has shape [${shape.join(", ")}], which has more than 2^53 - 1 elements`, details);
  }
  return Number(n);
}

/** Whether a string is well-formed UTF-16 (no lone surrogates), i.e. encodable as UTF-8 and JSON. */
export const isWellFormed = (s: string): boolean => !/\p{Surrogate}/u.test(s);

/** A tensor handed to a writer. */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /**
   * The elements in row-major order, in the array type of `dtype` (see `arrayFor`). F16 and BF16
   * also take a Float32Array or Float64Array, rounded to nearest even.
   */
  readonly data: TypedArray;
}

/** Checks a tensor for writing and returns its data in the dtype's own array type. */
export function prepareTensor(t: TensorData, what: string, details: WeightErrorDetails): TypedArray {
  if (typeof t.dtype !== "string" || !isDType(t.dtype)) {
    throw new WeightFileError("TFM5004", `${what} has unknown dtype ${quote(String(t.dtype))}`, details);
  }
  if (!Array.isArray(t.shape)) throw new WeightFileError("TFM5008", `${what} has no shape array`, details);
  const n = checkShape(t.shape, what, details);
  let data = t.data;
  if ((t.dtype === "F16" || t.dtype === "BF16") && (data instanceof Float32Array || data instanceof Float64Array)) {
    data = t.dtype === "F16" ? floatArrayToF16(data) : floatArrayToBf16(data);
  }
  if (!ArrayBuffer.isView(data) || !isNativeArray(t.dtype, data)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
    throw new WeightFileError("TFM5020", `${what} has dtype ${t.dtype} but its data is a ${got}`, details);
  }
  if (data.length !== n) {
    throw new WeightFileError(
      "TFM5007",
      `${what} has shape [${t.shape.join(", ")}] (${n} elements of ${dtypes[t.dtype].size} bytes) but ${data.length} elements of data`,
      details,
    );
  }
  return data;
}

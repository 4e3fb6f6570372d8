// The element types tfm reads and writes, with their sizes, and the half-precision conversions.
// Names follow safetensors ("F32", "BF16", ...). F16 and BF16 have no JS typed array, so their
// values travel as raw bits in a Uint16Array and are converted with the functions below.

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL";

export type DTypeKind = "float" | "int" | "uint" | "bool";

export interface DTypeInfo {
  /** Bytes per element. */
  readonly size: number;
  readonly kind: DTypeKind;
}

export const dtypes: Readonly<Record<DType, DTypeInfo>> = {
  F64: { size: 8, kind: "float" },
  F32: { size: 4, kind: "float" },
  F16: { size: 2, kind: "float" },
  BF16: { size: 2, kind: "float" },
  I64: { size: 8, kind: "int" },
  I32: { size: 4, kind: "int" },
  I16: { size: 2, kind: "int" },
  I8: { size: 1, kind: "int" },
  U64: { size: 8, kind: "uint" },
  U32: { size: 4, kind: "uint" },
  U16: { size: 2, kind: "uint" },
  U8: { size: 1, kind: "uint" },
  BOOL: { size: 1, kind: "bool" },
};

/** Own-property check, so names such as "constructor" or "__proto__" are never taken for a dtype. */
export const isDType = (s: string): s is DType => Object.prototype.hasOwnProperty.call(dtypes, s);

export type TypedArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** The typed array that holds a dtype's elements (bits for F16/BF16, 0/1 bytes for BOOL). */
export function arrayFor(dtype: DType, buffer: ArrayBuffer, byteOffset: number, length: number): TypedArray {
  switch (dtype) {
    case "F64": return new Float64Array(buffer, byteOffset, length);
    case "F32": return new Float32Array(buffer, byteOffset, length);
    case "F16":
    case "BF16":
    case "U16": return new Uint16Array(buffer, byteOffset, length);
    case "I64": return new BigInt64Array(buffer, byteOffset, length);
    case "U64": return new BigUint64Array(buffer, byteOffset, length);
    case "I32": return new Int32Array(buffer, byteOffset, length);
    case "U32": return new Uint32Array(buffer, byteOffset, length);
    case "I16": return new Int16Array(buffer, byteOffset, length);
    case "I8": return new Int8Array(buffer, byteOffset, length);
    case "U8":
    case "BOOL": return new Uint8Array(buffer, byteOffset, length);
  }
}

/** Whether `data` is exactly the array type `arrayFor` gives for `dtype`. */
export function isNativeArray(dtype: DType, data: TypedArray): boolean {
  switch (dtype) {
    case "F64": return data instanceof Float64Array;
    case "F32": return data instanceof Float32Array;
    case "F16":
    case "BF16":
    case "U16": return data instanceof Uint16Array;
    case "I64": return data instanceof BigInt64Array;
    case "U64": return data instanceof BigUint64Array;
    case "I32": return data instanceof Int32Array;
    case "U32": return data instanceof Uint32Array;
    case "I16": return data instanceof Int16Array;
    case "I8": return data instanceof Int8Array;
    case "U8":
    case "BOOL": return data instanceof Uint8Array;
  }
}

// ---- half precision: single values ------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** The value of an IEEE binary16 bit pattern. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** The value of a bfloat16 bit pattern: the top half of an f32. */
export function bf16ToNumber(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** Rounds half to even; exact for the values used here (products of a double and a power of two). */
function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/**
 * Rounds a number straight to a small binary float format (one rounding, to nearest even, so a
 * Float64Array is not rounded twice through f32). NaN becomes the canonical quiet NaN.
 */
function numberToSmallFloat(x: number, expBits: number, mantBits: number): number {
  const bias = (1 << (expBits - 1)) - 1;
  const signBit = 1 << (expBits + mantBits);
  const infBits = ((1 << expBits) - 1) << mantBits;
  if (Number.isNaN(x)) return infBits | (1 << (mantBits - 1));
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | infBits;
  const emin = 1 - bias;
  if (a < 2 ** emin) {
    // Subnormal: a multiple of 2^(emin - mantBits); rounding up to 2^mantBits gives the smallest normal.
    return sign | roundHalfEven(a * 2 ** (mantBits - emin));
  }
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one next to a power of two; fix it so that 1 <= a / 2^e < 2.
  if (a / 2 ** e >= 2) e++;
  else if (a / 2 ** e < 1) e--;
  let m = roundHalfEven((a / 2 ** e) * 2 ** mantBits);
  if (m === 2 ** (mantBits + 1)) {
    m = 2 ** mantBits;
    e++;
  }
  if (e > bias) return sign | infBits;
  return sign | ((e + bias) << mantBits) | (m - 2 ** mantBits);
}

/** A number as IEEE binary16 bits, rounded to nearest even; overflow gives ±Infinity. */
export const numberToF16 = (x: number): number => numberToSmallFloat(x, 5, 10);

/** A number as bfloat16 bits, rounded to nearest even; overflow gives ±Infinity. */
export const numberToBf16 = (x: number): number => numberToSmallFloat(x, 8, 7);

// ---- half precision: bulk, on bit patterns ----------------------------------------------------
// Bulk conversions work on the f32 bits through Uint32Array views, never through JS numbers, so
// NaN payloads survive and no value is rounded twice.

/** binary32 bits → binary16 bits, rounded to nearest even. NaNs stay NaN (quiet bit set). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below 2^-25 everything rounds to zero (2^-25 itself is a tie that rounds to even, zero).
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && (r & 1) !== 0)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and from the top exponent gives 0x7c00 (inf).
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) !== 0)) r++;
  return sign | r;
}

/** binary32 bits → bfloat16 bits, rounded to nearest even. NaNs stay NaN (quiet bit set). */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

let f16Table: Uint32Array | undefined;

/** f32 bits of every binary16 pattern: 256 KiB, built on first use. */
function f16ToF32Table(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) t[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) t[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant === 0) t[h] = sign;
    else {
      // Subnormal f16 is a normal f32: shift the mantissa up until its leading one is implicit.
      let e = 113;
      let m = mant;
      while ((m & 0x400) === 0) {
        m <<= 1;
        e--;
      }
      t[h] = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
    t[h] = t[h]! >>> 0;
  }
  f16Table = t;
  return t;
}

/** binary16 bits → Float32Array (exact). */
export function f16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  const t = f16ToF32Table();
  for (let i = 0; i < src.length; i++) bits[i] = t[src[i]!]!;
  return out;
}

/** bfloat16 bits → Float32Array (exact). */
export function bf16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Float32Array or Float64Array → binary16 bits, each value rounded once to nearest even. */
export function floatArrayToF16(src: Float32Array | Float64Array): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16(bits[i]!);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = numberToF16(src[i]!);
  }
  return out;
}

/** Float32Array or Float64Array → bfloat16 bits, each value rounded once to nearest even. */
export function floatArrayToBf16(src: Float32Array | Float64Array): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16(bits[i]!);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = numberToBf16(src[i]!);
  }
  return out;
}

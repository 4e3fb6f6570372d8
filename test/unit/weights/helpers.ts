// Shared test data and helpers for the weight-file tests: one sample array per dtype, a stable
// string form of array contents (bit patterns for floats, so NaN and -0 compare exactly), and a
// builder for hand-crafted safetensors bytes.
import { expect } from "vitest";
import type { DType, TypedArray } from "../../../src/weights/dtypes.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { pickSeed } from "../../helpers/seed.js";

/** Sample values for each dtype, chosen to include the extremes, zero, NaN and -0 where they exist. */
export function sample(dtype: DType): TypedArray {
  switch (dtype) {
    case "F64": return new Float64Array([0, -0, 1.5, -2.25, 1e300, Infinity, -Infinity, NaN, 5e-324, Math.PI]);
    case "F32": return new Float32Array([0, -0, 1.5, -2.25, 3.4028234663852886e38, Infinity, -Infinity, NaN, 1e-45, Math.PI]);
    case "F16": return new Uint16Array([0x0000, 0x8000, 0x3c00, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x4248]);
    case "BF16": return new Uint16Array([0x0000, 0x8000, 0x3f80, 0x7f7f, 0x0001, 0x007f, 0x7f80, 0xff80, 0x7fc0, 0x4049]);
    case "I64": return new BigInt64Array([0n, -1n, 1n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n]);
    case "I32": return new Int32Array([0, -1, 1, 2147483647, -2147483648, 12345]);
    case "I16": return new Int16Array([0, -1, 1, 32767, -32768, 123]);
    case "I8": return new Int8Array([0, -1, 1, 127, -128, 7]);
    case "U64": return new BigUint64Array([0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n]);
    case "U32": return new Uint32Array([0, 1, 4294967295, 2147483648]);
    case "U16": return new Uint16Array([0, 1, 65535, 32768]);
    case "U8": return new Uint8Array([0, 1, 255]);
    case "BOOL": return new Uint8Array([0, 1, 1, 0, 1]);
  }
}

export const allDTypes: readonly DType[] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"];

/** Contents as strings: float bits (so NaN and -0 compare exactly), integers in full precision. */
export function contents(a: TypedArray): string[] {
  if (a instanceof Float32Array) return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), String);
  if (a instanceof Float64Array) return Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length), String);
  return Array.from(a as ArrayLike<number | bigint>, String);
}

/** The code of the WeightFileError `f` throws; anything else thrown fails the test. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof WeightFileError) {
      expect(typeof e.message).toBe("string");
      expect(e.message.length).toBeGreaterThan(0);
      return e.code;
    }
    throw e;
  }
  return "no error";
}

const le64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};

/** A safetensors file from raw header bytes/text and `data` bytes; `length` overrides the length field. */
export function craft(header: string | Uint8Array, data: number | Uint8Array = 0, length?: bigint): Uint8Array {
  const h = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  out.set(le64(length ?? BigInt(h.length)), 0);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** A .npy file from a header dict text (padded like np.save) and data bytes. */
export function craftNpy(dict: string, data: number | Uint8Array = 0, version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const body = new TextEncoder().encode(dict);
  const hlen = Math.ceil((prefix + body.length + 1) / 64) * 64 - prefix;
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(prefix + hlen + d.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0], 0);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, hlen, true);
  else v.setUint32(8, hlen, true);
  out.set(body, prefix);
  out.fill(0x20, prefix + body.length, prefix + hlen - 1);
  out[prefix + hlen - 1] = 0x0a;
  out.set(d, prefix + hlen);
  return out;
}

/** Seed for the property tests: FC_SEED if set, so a failure can be replayed. Printed either way. */
export function propertySeed(name: string): number {
  const seed = pickSeed("FC_SEED");
  console.log(`[weights] ${name}: fast-check seed ${seed} (replay with FC_SEED=${seed})`);
  return seed;
}

/** Elements as plain numbers (BigInts converted), for compact expectations. */
export const nums = (a: TypedArray): number[] => Array.from(a as ArrayLike<number | bigint>, Number);

// Byte-level helpers: little-endian copies between file bytes and typed arrays, and file loading.
// Weight formats are little-endian; typed arrays use the host's order, so every crossing goes
// through here and is byte-swapped on (rare) big-endian hosts.
import { open } from "node:fs/promises";
import { arrayFor, type DType, dtypes, type TypedArray } from "./dtypes.js";
import { WeightFileError } from "./errors.js";

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `size`-byte group in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Copies file bytes into a fresh, aligned typed array of `dtype`. A copy, not a view: the source
 * may sit at any offset (safetensors does not align tensors), and the caller then owns the result.
 * `bigEndian` says the source is big-endian (.npy '>' descriptors).
 */
export function decodeArray(dtype: DType, src: Uint8Array, bigEndian = false): TypedArray {
  const size = dtypes[dtype].size;
  const copy = new Uint8Array(src.length);
  copy.set(src);
  if (bigEndian === hostIsLittleEndian) swapBytes(copy, size);
  return arrayFor(dtype, copy.buffer, 0, src.length / size);
}

/** Writes a typed array's elements into `dst` little-endian; `data` must already be `dtype`'s array. */
export function encodeArrayInto(dst: Uint8Array, offset: number, dtype: DType, data: TypedArray): void {
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const target = dst.subarray(offset, offset + src.length);
  if (dtype === "BOOL") {
    // Any non-zero byte is true; files store exactly 0 or 1.
    for (let i = 0; i < src.length; i++) target[i] = src[i] === 0 ? 0 : 1;
    return;
  }
  target.set(src);
  if (!hostIsLittleEndian) swapBytes(target, dtypes[dtype].size);
}

/**
 * Node's fs reads at most 2 GiB - 1 bytes into one buffer (kIoMaxLength), so that is the largest
 * weight file tfm loads whole. Larger checkpoints must be sharded.
 */
export const maxFileBytes = 2 ** 31 - 1;

/** Reads a whole file into one Buffer (allocated once, filled in place, never copied). */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw new WeightFileError("TFM5018", `cannot open ${path}: ${(e as Error).message}`, { file: path });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new WeightFileError("TFM5018", `${path} is not a regular file`, { file: path });
    if (st.size > maxFileBytes) {
      throw new WeightFileError(
        "TFM5017",
        `${path} is ${st.size} bytes; tfm loads a weight file whole and supports at most ${maxFileBytes} bytes (2 GiB) per file: split the checkpoint into shards`,
        { file: path },
      );
    }
    const buf = Buffer.allocUnsafe(st.size);
    let filled = 0;
    while (filled < st.size) {
      const { bytesRead } = await handle.read(buf, filled, st.size - filled, filled);
      if (bytesRead === 0) {
        throw new WeightFileError("TFM5018", `${path} shrank while being read (${filled} of ${st.size} bytes)`, { file: path });
      }
      filled += bytesRead;
    }
    return buf;
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError("TFM5018", `cannot read ${path}: ${(e as Error).message}`, { file: path });
  } finally {
    await handle.close();
  }
}

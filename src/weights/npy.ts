// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", a
// version, a little-endian header length, a Python dict literal header, then the raw data.
import { Buffer } from "node:buffer";
import { decodeArray, encodeArrayInto, readWholeFile } from "./bytes.js";
import { type DType, dtypes, type TypedArray } from "./dtypes.js";
import { quote, WeightFileError, type WeightErrorDetails } from "./errors.js";
import { type PyValue, parsePyLiteral, PySyntaxError } from "./pydict.js";
import { elementCount, maxSafe, prepareTensor } from "./tensor.js";

export interface NpyArray {
  readonly dtype: DType;
  /** `[]` for a 0-d (scalar) array. */
  readonly shape: number[];
  /** Row-major elements in the dtype's own array type (bits in a Uint16Array for F16). */
  readonly data: TypedArray;
}

const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Far above any real header (np.save writes ~128 bytes) but bounds the work on a hostile file. */
export const maxNpyHeaderBytes = 1 << 20;

/** numpy type letter and size → dtype. numpy has no bfloat16. */
const fromDescr: Record<string, DType> = {
  f8: "F64", f4: "F32", f2: "F16",
  i8: "I64", i4: "I32", i2: "I16", i1: "I8",
  u8: "U64", u4: "U32", u2: "U16", u1: "U8",
  b1: "BOOL",
};

const toDescr: Partial<Record<DType, string>> = {
  F64: "<f8", F32: "<f4", F16: "<f2",
  I64: "<i8", I32: "<i4", I16: "<i2", I8: "|i1",
  U64: "<u8", U32: "<u4", U16: "<u2", U8: "|u1",
  BOOL: "|b1",
};

function describe(v: PyValue): string {
  switch (v.kind) {
    case "str": return quote(v.value);
    case "int": return String(v.value);
    case "bool": return v.value ? "True" : "False";
    case "none": return "None";
    default: return `a ${v.kind}`;
  }
}

/** What a .npy header says: the dtype, the shape, where the data starts and how many bytes it has. */
export interface NpyHeader {
  readonly dtype: DType;
  readonly shape: number[];
  /** The numpy dtype string, as written (`<f4`). */
  readonly descr: string;
  readonly bigEndian: boolean;
  readonly dataStart: number;
  readonly dataBytes: number;
}

/** The bytes a .npy file's header can take: the magic, version, length and at most `maxNpyHeaderBytes`. */
export const maxNpyPrefixBytes = 12 + maxNpyHeaderBytes;

/**
 * Parses a .npy header from the file's first bytes (`prefix`: at least the header, or the whole
 * file if shorter; `maxNpyPrefixBytes` always suffice) and checks the data length against the
 * file's length, so that nothing of the data need be read or allocated to know its shape and size.
 */
export function readNpyHeader(prefix: Uint8Array, fileLength: number, file?: string): NpyHeader {
  const bytes = prefix;
  const at = (offset: number): WeightErrorDetails => (file === undefined ? { offset } : { file, offset });
  const short = () => new WeightFileError("TFM5001", `file is ${fileLength} bytes, too short for a .npy header`, at(0));

  for (let i = 0; i < magic.length; i++) {
    if (i >= bytes.length) throw short();
    if (bytes[i] !== magic[i]) throw new WeightFileError("TFM5010", "not a .npy file: it does not start with \\x93NUMPY", at(0));
  }
  if (bytes.length < 8) throw short();
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) {
    throw new WeightFileError("TFM5010", `unsupported .npy format version ${major}.${minor} (tfm reads 1.0, 2.0 and 3.0)`, at(6));
  }
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw short();
  const view = new DataView(bytes.buffer, bytes.byteOffset, start);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > maxNpyHeaderBytes) {
    throw new WeightFileError("TFM5002", `.npy header length is ${headerLen} bytes, over the limit of ${maxNpyHeaderBytes}`, at(8));
  }
  if (start + headerLen > fileLength) {
    throw new WeightFileError("TFM5001", `.npy header length is ${headerLen} bytes but only ${fileLength - start} bytes follow`, at(8));
  }

  const raw = bytes.subarray(start, start + headerLen);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw);
    } catch {
      throw new WeightFileError("TFM5016", ".npy header is not valid UTF-8", at(start));
    }
  } else text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString("latin1");
  const posToOffset = (pos: number): number => start + (major === 3 ? Buffer.byteLength(text.slice(0, pos)) : pos);

  let header: PyValue;
  try {
    header = parsePyLiteral(text);
  } catch (e) {
    if (!(e instanceof PySyntaxError)) throw e;
    throw new WeightFileError("TFM5016", `.npy header is not a valid dict literal: ${e.message}`, at(posToOffset(e.pos)));
  }
  if (header.kind !== "dict") throw new WeightFileError("TFM5016", ".npy header is not a dict", at(start));
  const keys = [...header.entries.keys()].sort().join(", ");
  if (keys !== "descr, fortran_order, shape") {
    throw new WeightFileError("TFM5016", `.npy header must have exactly the keys descr, fortran_order and shape, not ${keys || "none"}`, at(start));
  }
  const descr = header.entries.get("descr")!;
  const fortran = header.entries.get("fortran_order")!;
  const shapeV = header.entries.get("shape")!;

  if (descr.kind !== "str") {
    const why = descr.kind === "list" ? "structured (record) dtypes are not supported" : `descr is ${describe(descr)}`;
    throw new WeightFileError("TFM5011", `unsupported .npy dtype: ${why}`, at(start));
  }
  const m = /^([<>|=]?)([a-zA-Z])([0-9]+)$/.exec(descr.value);
  const dtype = m ? fromDescr[`${m[2]}${m[3]}`] : undefined;
  if (!m || dtype === undefined || !Object.prototype.hasOwnProperty.call(fromDescr, `${m[2]}${m[3]}`)) {
    throw new WeightFileError(
      "TFM5011",
      `unsupported .npy dtype ${quote(descr.value)}: tfm reads bool, int8-64, uint8-64 and float16/32/64`,
      at(start),
    );
  }
  // '>' is big-endian; '<', '|' (no order, 1-byte types) and '=' (native: every host tfm runs on) read as little-endian.
  const bigEndian = m[1] === ">" && dtypes[dtype].size > 1;

  if (shapeV.kind !== "tuple") throw new WeightFileError("TFM5016", `.npy shape must be a tuple, not ${describe(shapeV)}`, at(start));
  const dims: bigint[] = [];
  for (const [i, d] of shapeV.items.entries()) {
    if (d.kind !== "int" || d.value < 0n || d.value > maxSafe) {
      throw new WeightFileError("TFM5008", `.npy shape dimension ${i} is ${describe(d)}, but dimensions must be integers from 0 to 2^53 - 1`, at(start));
    }
    dims.push(d.value);
  }
  const count = elementCount(dims);
  if (count === undefined) throw new WeightFileError("TFM5008", `.npy shape (${dims.join(", ")}) has more than 2^53 - 1 elements`, at(start));

  if (fortran.kind !== "bool") throw new WeightFileError("TFM5016", `.npy fortran_order must be True or False, not ${describe(fortran)}`, at(start));
  // Column-major order only differs from row-major when two or more dimensions exceed 1.
  if (fortran.value && dims.filter((d) => d > 1n).length > 1) {
    throw new WeightFileError(
      "TFM5011",
      ".npy array is stored in Fortran (column-major) order, which tfm does not read: save it with np.save(f, np.ascontiguousarray(a))",
      at(start),
    );
  }

  const dataStart = start + headerLen;
  const expected = count * BigInt(dtypes[dtype].size);
  const actual = BigInt(fileLength - dataStart);
  if (actual !== expected) {
    throw new WeightFileError(
      "TFM5012",
      `.npy shape (${dims.join(", ")}) of ${descr.value} needs ${expected} data bytes but the file has ${actual}${actual < expected ? " (truncated?)" : " (trailing bytes?)"}`,
      at(dataStart),
    );
  }
  return { dtype, shape: dims.map(Number), descr: descr.value, bigEndian, dataStart, dataBytes: Number(expected) };
}

/** Parses a whole .npy file held in memory. The data is copied into a fresh, aligned array. */
export function readNpy(bytes: Uint8Array, file?: string): NpyArray {
  const h = readNpyHeader(bytes, bytes.length, file);
  return { dtype: h.dtype, shape: h.shape, data: decodeArray(h.dtype, bytes.subarray(h.dataStart), h.bigEndian) };
}

/** Reads and parses a .npy file (read once into one buffer, at most 2 GiB). */
export async function readNpyFile(path: string): Promise<NpyArray> {
  return readNpy(await readWholeFile(path), path);
}

/** Python's repr of a shape tuple: (), (3,), (2, 3). */
const pyTuple = (shape: readonly number[]): string => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`);

/**
 * Serializes an array as .npy version 1.0 (2.0 if the header outgrows 64 KiB), as np.save does:
 * the header is padded with spaces and a final newline so the data starts 64-byte aligned.
 */
export function writeNpy(dtype: DType, shape: readonly number[], data: TypedArray): Uint8Array {
  const descr = toDescr[dtype];
  if (dtype === "BF16") throw new WeightFileError("TFM5011", "numpy has no bfloat16 dtype: convert to float32 before writing .npy");
  const arr = prepareTensor({ dtype, shape, data }, "the array", {});
  const dict = `{'descr': '${descr!}', 'fortran_order': False, 'shape': ${pyTuple(shape)}, }`;
  let prefix = 10;
  let padded = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  if (padded > 0xffff) {
    prefix = 12;
    padded = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  }
  const out = new Uint8Array(prefix + padded + arr.byteLength);
  out.set(magic, 0);
  out[6] = prefix === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (prefix === 10) view.setUint16(8, padded, true);
  else view.setUint32(8, padded, true);
  out.set(Buffer.from(dict, "latin1"), prefix);
  out.fill(0x20, prefix + dict.length, prefix + padded - 1);
  out[prefix + padded - 1] = 0x0a;
  encodeArrayInto(out, prefix + padded, dtype, arr);
  return out;
}

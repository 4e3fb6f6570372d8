// Reads and writes .safetensors: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian tensor data. The reader checks
// everything the reference implementation (huggingface/safetensors) checks, before touching data.
import { Buffer, constants as bufferConstants } from "node:buffer";
import { decodeArray, encodeArrayInto, hostIsLittleEndian } from "./bytes.js";
import { arrayFor, bf16ArrayToF32, type DType, dtypes, f16ArrayToF32, isDType, type TypedArray } from "./dtypes.js";
import { quote, WeightFileError, type WeightErrorDetails } from "./errors.js";
import { JsonObject, JsonSyntaxError, type JsonValue, nonNegativeInteger, parseJson, showJson } from "./json.js";
import { elementCount, isWellFormed, maxSafe, prepareTensor, type TensorData } from "./tensor.js";

/** The reference implementation's cap on the header (MAX_HEADER_SIZE): 100,000,000 bytes. */
export const maxHeaderBytes = 100_000_000;

/** safetensors dtypes that are valid in the format but that tfm does not read (yet). */
const knownUnsupported = new Set(["F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "E8M0", "C64"]);

/** One tensor of a parsed file. Data is decoded only on request. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Number of elements (the product of the shape). */
  readonly numel: number;
  /** Where the tensor's data lies in the file, in bytes. */
  readonly byteOffset: number;
  readonly byteLength: number;
  /** The raw little-endian bytes: a zero-copy view into the file's buffer, or (a file read by range) a fresh copy. */
  bytes(): Uint8Array;
  /** A fresh array in the dtype's own array type (bits in a Uint16Array for F16/BF16). */
  decode(): TypedArray;
  /** The values as a fresh Float32Array (F64 is rounded to f32); for float dtypes only (TFM5019). */
  toFloat32(): Float32Array;
  /** The values as a fresh Int32Array; for integer and BOOL dtypes, each checked to fit (TFM5013). */
  toInt32(): Int32Array;
}

export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  readonly tensors: Map<string, TensorEntry>;
  /** The optional `__metadata__` map (a null-prototype object: any key is safe). */
  readonly metadata: Record<string, string>;
}

class Entry implements TensorEntry {
  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly numel: number,
    readonly byteOffset: number,
    readonly byteLength: number,
    private readonly source: ByteSource,
    private readonly fileName: string | undefined,
  ) {}

  bytes(): Uint8Array {
    return this.source.read(this.byteOffset, this.byteLength);
  }

  decode(): TypedArray {
    const b = this.bytes();
    // A source that reads into a fresh, aligned buffer hands it over: no second copy.
    if (this.source.fresh && hostIsLittleEndian && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return arrayFor(this.dtype, b.buffer as ArrayBuffer, 0, this.numel);
    return decodeArray(this.dtype, b);
  }

  private details(offset = this.byteOffset): WeightErrorDetails {
    return this.fileName === undefined ? { offset, tensor: this.name } : { file: this.fileName, offset, tensor: this.name };
  }

  toFloat32(): Float32Array {
    switch (this.dtype) {
      case "F32": return this.decode() as Float32Array;
      case "F64": return new Float32Array(this.decode() as Float64Array);
      case "F16": return f16ArrayToF32(this.decode() as Uint16Array);
      case "BF16": return bf16ArrayToF32(this.decode() as Uint16Array);
      default:
        throw new WeightFileError("TFM5019", `tensor ${quote(this.name)} has dtype ${this.dtype}, not a floating-point type`, this.details());
    }
  }

  toInt32(): Int32Array {
    const d = this.decode();
    switch (this.dtype) {
      case "I32": return d as Int32Array;
      case "I16":
      case "I8":
      case "U16":
      case "U8": return new Int32Array(d as Int16Array);
      case "BOOL": return Int32Array.from(d as Uint8Array, (v) => (v === 0 ? 0 : 1));
      case "U32": {
        const u = d as Uint32Array;
        for (let i = 0; i < u.length; i++) if (u[i]! > 0x7fffffff) this.outOfRange(i, String(u[i]));
        return new Int32Array(u.buffer, u.byteOffset, u.length);
      }
      case "I64":
      case "U64": {
        const b = d as BigInt64Array | BigUint64Array;
        const out = new Int32Array(b.length);
        for (let i = 0; i < b.length; i++) {
          const v = b[i]!;
          if (v < -0x80000000n || v > 0x7fffffffn) this.outOfRange(i, String(v));
          out[i] = Number(v);
        }
        return out;
      }
      default:
        throw new WeightFileError("TFM5019", `tensor ${quote(this.name)} has dtype ${this.dtype}, not an integer type`, this.details());
    }
  }

  private outOfRange(index: number, value: string): never {
    throw new WeightFileError(
      "TFM5013",
      `tensor ${quote(this.name)} (${this.dtype}) holds ${value} at element ${index}, outside the int32 range`,
      this.details(this.byteOffset + index * dtypes[this.dtype].size),
    );
  }
}

/** A tensor entry over a source (for other formats' readers: src/weights/torch.ts). */
export function tensorEntry(name: string, dtype: DType, shape: readonly number[], byteOffset: number, byteLength: number, source: ByteSource, file?: string): TensorEntry {
  return new Entry(name, dtype, shape, byteLength / dtypes[dtype].size, byteOffset, byteLength, source, file);
}

interface RawEntry {
  name: string;
  dtype: DType;
  shape: number[];
  numel: number;
  begin: bigint;
  end: bigint;
  keyPos: number;
}

/**
 * Where a safetensors file's bytes come from: memory (a view), or a file read by range
 * (src/runtime/files.ts fileSource), so that only the header and the tensor asked for are read.
 */
export interface ByteSource {
  /** The file's size in bytes. */
  readonly size: number;
  /** `length` bytes at `offset` (within `size`). */
  read(offset: number, length: number): Uint8Array;
  /** `read` returns a fresh buffer of exactly the bytes, which the caller may keep. */
  readonly fresh?: boolean;
}

/** Bytes held in memory as a source: reads are zero-copy views. */
export const memorySource = (bytes: Uint8Array): ByteSource => ({ size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) });

/** Parses a whole safetensors file held in memory. Tensor data stays in `bytes`, viewed lazily. */
export function readSafetensors(bytes: Uint8Array, file?: string): SafetensorsFile {
  return parseSafetensors(memorySource(bytes), file);
}

/**
 * Parses a safetensors file from a source: the 8-byte length and the header are read and checked
 * first (the length against the source's size, before anything else is read); tensor data is read
 * only when a tensor is decoded.
 */
export function parseSafetensors(source: ByteSource, file?: string): SafetensorsFile {
  const at = (offset: number, tensor?: string): WeightErrorDetails => {
    const d: WeightErrorDetails = { offset };
    if (file !== undefined) d.file = file;
    if (tensor !== undefined) d.tensor = tensor;
    return d;
  };

  const size = source.size;
  if (size < 8) {
    throw new WeightFileError("TFM5001", `file is ${size} bytes, too short for a safetensors header (at least 8)`, at(0));
  }
  const lead = source.read(0, 8);
  const n = new DataView(lead.buffer, lead.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) {
    throw new WeightFileError("TFM5002", `header length is ${n} bytes, over the limit of ${maxHeaderBytes} (is this a safetensors file?)`, at(0));
  }
  const headerLen = Number(n);
  if (headerLen > size - 8) {
    throw new WeightFileError(
      "TFM5001",
      `header length is ${headerLen} bytes but only ${size - 8} bytes follow; the file is truncated or not a safetensors file`,
      at(0),
    );
  }

  let text: string;
  try {
    // ignoreBOM keeps a leading BOM in the text, where the JSON parser rejects it, as the reference does.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(source.read(8, headerLen));
  } catch {
    throw new WeightFileError("TFM5003", "header is not valid UTF-8", at(8));
  }
  // Byte offset of a header position; computed only for error messages, as it is linear in the header.
  const headerOffset = (pos: number): number => 8 + Buffer.byteLength(text.slice(0, pos));

  let root: JsonValue;
  try {
    root = parseJson(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    if (e.duplicateKey !== undefined && e.depth === 0) {
      throw new WeightFileError("TFM5009", `tensor name ${quote(e.duplicateKey)} appears twice in the header`, at(headerOffset(e.pos), e.duplicateKey));
    }
    throw new WeightFileError("TFM5003", `header is not valid JSON: ${e.message}`, at(headerOffset(e.pos)));
  }
  if (!(root instanceof JsonObject)) {
    throw new WeightFileError("TFM5003", "header is JSON but not an object", at(8));
  }

  const dataStart = 8 + headerLen;
  const dataSize = BigInt(size - dataStart);
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw: RawEntry[] = [];

  for (const [name, v] of root.values) {
    const keyPos = root.positions.get(name)!;
    const here = (): WeightErrorDetails => at(headerOffset(keyPos), name);
    if (name === "__metadata__") {
      if (!(v instanceof JsonObject)) throw new WeightFileError("TFM5015", "__metadata__ must be an object of strings", here());
      for (const [k, s] of v.values) {
        if (typeof s !== "string") {
          throw new WeightFileError("TFM5015", `__metadata__ value for ${quote(k)} is not a string`, at(headerOffset(v.positions.get(k)!)));
        }
        metadata[k] = s;
      }
      continue;
    }
    const what = `tensor ${quote(name)}`;
    if (name === "") throw new WeightFileError("TFM5009", "a tensor has an empty name", here());
    if (!(v instanceof JsonObject)) {
      throw new WeightFileError("TFM5014", `${what}: entry must be an object with dtype, shape and data_offsets`, here());
    }
    const dt = v.values.get("dtype");
    if (typeof dt !== "string") throw new WeightFileError("TFM5014", `${what}: "dtype" is missing or not a string`, here());
    if (!isDType(dt)) {
      const why = knownUnsupported.has(dt) ? "a safetensors dtype that tfm does not support" : "not a safetensors dtype";
      throw new WeightFileError("TFM5004", `${what} has dtype ${quote(dt)}, ${why}`, here());
    }
    const sh = v.values.get("shape");
    if (!Array.isArray(sh)) throw new WeightFileError("TFM5014", `${what}: "shape" is missing or not an array`, here());
    const dims: bigint[] = [];
    for (const [i, d] of sh.entries()) {
      const k = nonNegativeInteger(d);
      if (k === undefined || k > maxSafe) {
        throw new WeightFileError(
          "TFM5008",
          `${what} has an invalid shape: dimension ${i} is ${showJson(d)}, but dimensions must be integers from 0 to 2^53 - 1`,
          here(),
        );
      }
      dims.push(k);
    }
    const count = elementCount(dims);
    if (count === undefined) throw new WeightFileError("TFM5008", `${what} has shape [${dims.join(", ")}], which has more than 2^53 - 1 elements`, here());
    const off = v.values.get("data_offsets");
    const begin = Array.isArray(off) && off.length === 2 ? nonNegativeInteger(off[0]) : undefined;
    const end = Array.isArray(off) && off.length === 2 ? nonNegativeInteger(off[1]) : undefined;
    if (begin === undefined || end === undefined) {
      throw new WeightFileError("TFM5014", `${what}: "data_offsets" must be two non-negative integers [begin, end]`, here());
    }
    if (begin > end) throw new WeightFileError("TFM5005", `${what}: data_offsets [${begin}, ${end}] end before they begin`, here());
    if (end > dataSize) {
      throw new WeightFileError("TFM5005", `${what}: data_offsets [${begin}, ${end}] go past the end of the ${dataSize}-byte data section`, here());
    }
    const size = count * BigInt(dtypes[dt].size);
    if (size !== end - begin) {
      throw new WeightFileError(
        "TFM5007",
        `${what}: shape [${dims.join(", ")}] of ${dt} needs ${size} bytes but data_offsets [${begin}, ${end}] give ${end - begin}`,
        here(),
      );
    }
    raw.push({ name, dtype: dt, shape: dims.map(Number), numel: Number(count), begin, end, keyPos });
  }

  // The reference requires the tensors, in offset order, to tile the data section exactly.
  const sorted = [...raw].sort((a, b) => (a.begin !== b.begin ? (a.begin < b.begin ? -1 : 1) : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
  let expected = 0n;
  let prev: RawEntry | undefined;
  for (const e of sorted) {
    if (e.begin < expected) {
      throw new WeightFileError(
        "TFM5006",
        `tensor ${quote(e.name)} (bytes ${e.begin}..${e.end}) overlaps tensor ${quote(prev!.name)} (bytes ${prev!.begin}..${prev!.end})`,
        at(headerOffset(e.keyPos), e.name),
      );
    }
    if (e.begin > expected) {
      throw new WeightFileError(
        "TFM5006",
        `data bytes ${expected}..${e.begin} belong to no tensor (a gap before tensor ${quote(e.name)})`,
        at(dataStart + Number(expected), e.name),
      );
    }
    expected = e.end;
    prev = e;
  }
  if (expected !== dataSize) {
    throw new WeightFileError(
      "TFM5006",
      `the data section is ${dataSize} bytes but the tensors cover only the first ${expected}: the file has trailing bytes or a missing tensor`,
      at(dataStart + Number(expected)),
    );
  }

  const tensors = new Map<string, TensorEntry>();
  for (const e of raw) {
    tensors.set(e.name, new Entry(e.name, e.dtype, e.shape, e.numel, dataStart + Number(e.begin), Number(e.end - e.begin), source, file));
  }
  return { tensors, metadata };
}

export interface NamedTensor extends TensorData {
  readonly name: string;
}

/**
 * Serializes tensors in the given order, each right after the previous one (the format allows
 * no gaps). The header is padded with spaces to a multiple of 8 bytes so the data section starts
 * 8-aligned, as the reference writer does.
 */
export function writeSafetensors(tensors: readonly NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (typeof metadata !== "object" || metadata === null) throw new WeightFileError("TFM5015", "metadata must be an object of strings");
    const fields: string[] = [];
    for (const k of Object.keys(metadata)) {
      const v: unknown = metadata[k];
      if (typeof v !== "string") throw new WeightFileError("TFM5015", `metadata value for ${quote(k)} is not a string`);
      if (!isWellFormed(k) || !isWellFormed(v)) throw new WeightFileError("TFM5015", `metadata entry ${quote(k)} contains an unpaired surrogate`);
      fields.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  const prepared: TypedArray[] = [];
  let offset = 0;
  for (const t of tensors) {
    const name: unknown = t.name;
    if (typeof name !== "string" || name === "" || name === "__metadata__" || !isWellFormed(name)) {
      throw new WeightFileError("TFM5009", `invalid tensor name ${quote(String(name))}`, { tensor: String(name) });
    }
    if (seen.has(name)) throw new WeightFileError("TFM5009", `tensor name ${quote(name)} is given twice`, { tensor: name });
    seen.add(name);
    const data = prepareTensor(t, `tensor ${quote(name)}`, { tensor: name });
    prepared.push(data);
    const begin = offset;
    offset += data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const headerLen = Math.ceil(json.length / 8) * 8;
  const total = 8 + headerLen + offset;
  if (total > bufferConstants.MAX_LENGTH) {
    throw new WeightFileError("TFM5017", `the file would be ${total} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`);
  }
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [i, t] of tensors.entries()) {
    const data = prepared[i]!;
    encodeArrayInto(out, pos, t.dtype, data);
    pos += data.byteLength;
  }
  return out;
}

// PyTorch checkpoints as torch.save (≥ 1.6) writes them: a zip archive (src/weights/zip.ts) of
// `PREFIX/data.pkl` (the state_dict, pickled: src/weights/pickle.ts), `PREFIX/data/KEY` (each
// storage's raw little-endian bytes) and `PREFIX/version`. Read by range: the central directory
// and data.pkl now, each tensor's bytes when it is decoded. The result is the same
// `SafetensorsFile` the safetensors reader gives, so binding (src/runtime/) is one path for both.
// A tensor that is a view (a storage offset, strides such as a saved transpose) is gathered into
// row-major order exactly; tensors sharing a storage (tied weights) each read their own view.
import { type DType, dtypes } from "./dtypes.js";
import { quote, WeightFileError } from "./errors.js";
import { limits, type PyVal, unpickle } from "./pickle.js";
import { type ByteSource, type SafetensorsFile, type TensorEntry, tensorEntry } from "./safetensors.js";
import { isZip, readZipDirectory, type ZipEntry } from "./zip.js";

/** A pre-1.6 torch.save file starts with PROTO 2 and LONG1 of its magic number 0x1950a86a20f9469cfc6c. */
const legacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46];
const isPickle = (head: Uint8Array) => head.length >= 8 && legacyMagic.every((b, i) => head[i] === b);

/** Whether a file's first bytes say it is a PyTorch checkpoint (a zip archive, or a legacy pickle). */
export const looksLikeTorch = (head: Uint8Array): boolean => isZip(head) || isPickle(head);

/** Parses a torch.save state_dict from a source: the archive's directory and data.pkl are read now. */
export function parseTorch(source: ByteSource, file?: string): SafetensorsFile {
  const where = (offset?: number) => ({ ...(file !== undefined ? { file } : {}), ...(offset !== undefined ? { offset } : {}) });
  const head = source.read(0, Math.min(source.size, 8));
  if (!isZip(head)) {
    if (isPickle(head)) {
      throw new WeightFileError(
        "TFM5111",
        "this is a legacy (PyTorch < 1.6) torch.save file, which tfm does not read: re-save it with a current torch (torch.save(torch.load(f), f)) or as safetensors",
        where(0),
      );
    }
    throw new WeightFileError("TFM5110", "not a PyTorch checkpoint: a torch.save file is a zip archive (it starts with PK)", where(0));
  }
  const entries = readZipDirectory(source, file);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    if ([...entries.keys()].some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n))) {
      throw new WeightFileError("TFM5111", "this is a TorchScript archive (torch.jit.save), not a torch.save state_dict: save model.state_dict() with torch.save", where());
    }
    throw new WeightFileError("TFM5110", pkls.length ? `the archive has ${pkls.length} data.pkl records (${pkls.map(quote).join(", ")})` : "the archive has no PREFIX/data.pkl record: it is a zip file but not a torch.save checkpoint", where());
  }
  const prefix = pkls[0]!.slice(0, -"data.pkl".length);
  const order = entries.get(`${prefix}byteorder`);
  if (order) {
    const text = new TextDecoder().decode(source.read(order.dataOffset, Math.min(order.size, 16)));
    if (text !== "little") throw new WeightFileError("TFM5117", `the checkpoint's byte order is ${quote(text)}: tfm reads little-endian storages only`, where(order.dataOffset));
  }
  const pkl = entries.get(pkls[0]!)!;
  if (pkl.size > limits.maxBytes) throw new WeightFileError("TFM5114", `data.pkl is ${pkl.size} bytes, over the limit of ${limits.maxBytes}`, where(pkl.dataOffset));
  const root = unpickle(source.read(pkl.dataOffset, pkl.size), file);

  if (root.k !== "dict") throw new WeightFileError("TFM5115", `data.pkl holds a ${root.k}, not a state_dict (a dict of tensors)`, where());
  const tensors = new Map<string, TensorEntry>();
  for (const { key, value } of root.map.values()) {
    if (key.k !== "str") throw new WeightFileError("TFM5115", `the state_dict has a key that is a ${key.k}, not a tensor name`, where());
    if (value.k !== "tensor") {
      const nested = value.k === "dict" ? `: its tensors are under ${quote(key.v)} (e.g. a training checkpoint's "model"); save that dict alone` : "";
      throw new WeightFileError("TFM5115", `the checkpoint's entry ${quote(key.v)} is a ${value.k === "dict" ? "dict" : value.k}, not a tensor${nested}`, { ...where(), tensor: key.v });
    }
    tensors.set(key.v, entryOf(key.v, value, entries, prefix, source, file));
  }
  return { tensors, metadata: Object.create(null) as Record<string, string> };
}

function entryOf(name: string, t: PyVal & { k: "tensor" }, entries: ReadonlyMap<string, ZipEntry>, prefix: string, source: ByteSource, file?: string): TensorEntry {
  const fail = (message: string, offset?: number): never => {
    throw new WeightFileError("TFM5116", `tensor ${quote(name)}: ${message}`, { ...(file !== undefined ? { file } : {}), ...(offset !== undefined ? { offset } : {}), tensor: name });
  };
  const s = t.storage;
  const dtype = s.dtype as DType;
  const size = dtypes[dtype].size;
  const record = entries.get(`${prefix}data/${s.key}`);
  if (!record) return fail(`its storage ${quote(s.key)} has no record ${quote(`${prefix}data/${s.key}`)} in the archive`);
  if (BigInt(record.size) !== BigInt(s.numel) * BigInt(size)) {
    fail(`its storage ${quote(s.key)} is declared as ${s.numel} elements of ${s.typeName} (${BigInt(s.numel) * BigInt(size)} bytes) but its record holds ${record.size} bytes`, record.dataOffset);
  }
  let numel = 1n;
  let last = BigInt(t.offset);
  for (const [i, d] of t.shape.entries()) {
    numel *= BigInt(d);
    if (d > 0) last += BigInt(d - 1) * BigInt(t.stride[i]!);
  }
  const shape = [...t.shape];
  if (numel === 0n) return tensorEntry(name, dtype, shape, record.dataOffset, 0, source, file);
  if (last >= BigInt(s.numel)) {
    fail(`its view (offset ${t.offset}, size [${shape.join(", ")}], stride [${t.stride.join(", ")}]) reaches element ${last} of a storage of ${s.numel}`, record.dataOffset);
  }
  const n = Number(numel);
  const begin = record.dataOffset + t.offset * size;
  // Row-major strides (dims of size 1 may have any stride): the bytes are one range.
  let expect = 1;
  let contiguous = true;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= shape[i]!;
  }
  if (contiguous) return tensorEntry(name, dtype, shape, begin, n * size, source, file);
  const spanBytes = (Number(last) - t.offset + 1) * size;
  const gather: ByteSource = {
    size: n * size,
    fresh: true,
    read: () => {
      const src = source.read(begin, spanBytes);
      const out = new Uint8Array(n * size);
      const idx = new Array<number>(shape.length).fill(0);
      let at = 0;
      for (let k = 0; k < n; k++) {
        out.set(src.subarray(at * size, at * size + size), k * size);
        // The odometer: the next index in row-major order, and its element offset in the storage.
        for (let d = shape.length - 1; d >= 0; d--) {
          if (++idx[d]! < shape[d]!) {
            at += t.stride[d]!;
            break;
          }
          at -= (shape[d]! - 1) * t.stride[d]!;
          idx[d] = 0;
        }
      }
      return out;
    },
  };
  return { ...wrap(tensorEntry(name, dtype, shape, 0, n * size, gather, file)), byteOffset: begin };
}

/** The entry's methods bound, so its byteOffset may name the view's place in the file. */
function wrap(e: TensorEntry): TensorEntry {
  return {
    name: e.name, dtype: e.dtype, shape: e.shape, numel: e.numel, byteOffset: e.byteOffset, byteLength: e.byteLength,
    bytes: () => e.bytes(), decode: () => e.decode(), toFloat32: () => e.toFloat32(), toInt32: () => e.toInt32(),
  };
}

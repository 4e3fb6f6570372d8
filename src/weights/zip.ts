// The zip archives torch.save writes (PyTorchStreamWriter, miniz): the central directory read by
// range from a ByteSource, so that only it and the entries asked for are read. Only what those
// archives use is accepted: stored (uncompressed), unencrypted entries, zip64 for big files.
// Every offset and size is checked against the file before it is used: an entry whose data lies
// outside the file, overlaps another entry or the central directory is TFM5110.
import { quote, WeightFileError } from "./errors.js";
import type { ByteSource } from "./safetensors.js";

export interface ZipEntry {
  readonly name: string;
  /** Where the entry's (stored) bytes begin in the file. */
  readonly dataOffset: number;
  readonly size: number;
}

/** Central directories larger than this are refused (a state_dict's has a few hundred entries). */
const maxDirectoryBytes = 64 << 20;
const maxEntries = 1_000_000;

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
/** A little-endian u64 as a number, or undefined when over 2^53 - 1. */
function u64(b: Uint8Array, at: number): number | undefined {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  return hi >= 0x200000 ? undefined : hi * 0x100000000 + lo;
}

/** Whether a file starts as a zip archive does. */
export const isZip = (head: Uint8Array): boolean => head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;

/** Reads the central directory (and each entry's local header) of a stored-only zip archive. */
export function readZipDirectory(source: ByteSource, file?: string): Map<string, ZipEntry> {
  const size = source.size;
  const fail = (message: string, offset?: number): never => {
    throw new WeightFileError("TFM5110", message, { ...(file !== undefined ? { file } : {}), ...(offset !== undefined ? { offset } : {}) });
  };
  if (size < 22) fail(`file is ${size} bytes, too short for a zip archive`);
  // The end-of-central-directory record: 22 bytes plus a comment of at most 65,535 bytes.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = source.read(tailStart, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06 && i + 22 + u16(tail, i + 20) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("no zip end-of-central-directory record: the file is truncated or not a zip archive");
  if (u16(tail, eocd + 4) !== 0 || u16(tail, eocd + 6) !== 0) fail("multi-disk zip archives are not supported", tailStart + eocd);
  let count: number = u16(tail, eocd + 10);
  let dirSize: number = u32(tail, eocd + 12);
  let dirOffset: number = u32(tail, eocd + 16);
  let dirLimit = tailStart + eocd;
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    // Zip64: a 20-byte locator right before the record names the zip64 end-of-central-directory record.
    const locAt = tailStart + eocd - 20;
    if (locAt < 0) fail("zip64 archive without its locator", tailStart + eocd);
    const loc = source.read(locAt, 20);
    if (u32(loc, 0) !== 0x07064b50) fail("zip64 archive without its locator", locAt);
    const recAt = u64(loc, 8);
    if (recAt === undefined || recAt + 56 > locAt) fail("the zip64 locator points outside the file", locAt);
    const rec = source.read(recAt!, 56);
    if (u32(rec, 0) !== 0x06064b50) fail("the zip64 locator does not point at a zip64 end-of-central-directory record", recAt);
    const c = u64(rec, 32);
    const s = u64(rec, 40);
    const o = u64(rec, 48);
    if (c === undefined || s === undefined || o === undefined) fail("the zip64 record's sizes are over 2^53", recAt);
    count = c!;
    dirSize = s!;
    dirOffset = o!;
    dirLimit = recAt!;
  }
  if (dirOffset + dirSize > dirLimit) fail(`the central directory (${dirSize} bytes at ${dirOffset}) goes past its end record`, dirOffset);
  if (dirSize > maxDirectoryBytes) fail(`the central directory is ${dirSize} bytes, over the limit of ${maxDirectoryBytes}`, dirOffset);
  if (count > maxEntries || count * 46 > dirSize) fail(`the central directory declares ${count} entries in ${dirSize} bytes`, dirOffset);

  const dir = source.read(dirOffset, dirSize);
  const entries = new Map<string, ZipEntry>();
  const spans: { begin: number; end: number; name: string }[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    const at = dirOffset + p;
    if (p + 46 > dirSize || u32(dir, p) !== 0x02014b50) fail(`central directory entry ${i} is malformed`, at);
    const flags = u16(dir, p + 8);
    const method = u16(dir, p + 10);
    let csize: number = u32(dir, p + 20);
    let usize: number = u32(dir, p + 24);
    const nameLen = u16(dir, p + 28);
    const extraLen = u16(dir, p + 30);
    const commentLen = u16(dir, p + 32);
    let local: number = u32(dir, p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > dirSize) fail(`central directory entry ${i} runs past the directory`, at);
    let name: string;
    try {
      name = new TextDecoder("utf-8", { fatal: true }).decode(dir.subarray(p + 46, p + 46 + nameLen));
    } catch {
      name = fail(`central directory entry ${i}'s name is not UTF-8`, at);
    }
    // Zip64 extended information: the fields whose 32-bit value is 0xFFFFFFFF, in this order.
    const extra = dir.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = u16(extra, e);
      const len = u16(extra, e + 2);
      if (e + 4 + len > extra.length) fail(`entry ${quote(name)}: its extra field runs past its end`, at);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (): number => {
          const v = q + 8 <= e + 4 + len ? u64(extra, q) : undefined;
          if (v === undefined) return fail(`entry ${quote(name)}: malformed zip64 extra field`, at);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = next();
        if (csize === 0xffffffff) csize = next();
        if (local === 0xffffffff) local = next();
      }
      e += 4 + len;
    }
    if (flags & 1) fail(`entry ${quote(name)} is encrypted`, at);
    if (method !== 0) fail(`entry ${quote(name)} is compressed (method ${method}); torch.save stores entries uncompressed`, at);
    if (csize !== usize) fail(`entry ${quote(name)} is stored but its sizes differ (${csize} and ${usize})`, at);
    if (entries.has(name)) fail(`entry ${quote(name)} appears twice in the central directory`, at);
    // The local header: 30 bytes, then its own name and extra field, then the data.
    if (local + 30 > dirOffset) fail(`entry ${quote(name)}'s local header lies outside the file's data`, at);
    const lh = source.read(local, 30);
    if (u32(lh, 0) !== 0x04034b50) fail(`entry ${quote(name)} has no local header where the directory says`, local);
    const dataOffset = local + 30 + u16(lh, 26) + u16(lh, 28);
    if (dataOffset + csize > dirOffset) fail(`entry ${quote(name)} (${csize} bytes at ${dataOffset}) runs past the data into the central directory or the end of the file`, local);
    entries.set(name, { name, dataOffset, size: csize });
    spans.push({ begin: local, end: dataOffset + csize, name });
    p += 46 + nameLen + extraLen + commentLen;
  }
  spans.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.begin < spans[i - 1]!.end) fail(`entries ${quote(spans[i - 1]!.name)} and ${quote(spans[i]!.name)} overlap`, spans[i]!.begin);
  }
  return entries;
}

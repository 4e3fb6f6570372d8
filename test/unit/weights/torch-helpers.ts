// Builders for hand-made torch.save archives: a stored zip writer (optionally zip64, as miniz
// writes for big files) and a pickle assembler, so tests and the fuzz test can make both the
// archives torch writes and hostile ones.

import { closeSync, openSync, writeSync } from "node:fs";

const le = (n: number, bytes: number): number[] => {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
};
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

/** A zip of stored entries; with zip64, every size and offset goes through the zip64 fields. */
export function storedZip(entries: readonly (readonly [string, Uint8Array])[], opts: { zip64?: boolean } = {}): Uint8Array {
  const z64 = opts.zip64 === true;
  const body: number[] = [];
  const dir: number[] = [];
  for (const [name, data] of entries) {
    const offset = body.length;
    const n = utf8(name);
    const localExtra = z64 ? [0x01, 0x00, 16, 0, ...le(data.length, 8), ...le(data.length, 8)] : [];
    const size32 = z64 ? 0xffffffff : data.length;
    body.push(0x50, 0x4b, 0x03, 0x04, ...le(z64 ? 45 : 20, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(size32, 4), ...le(size32, 4), ...le(n.length, 2), ...le(localExtra.length, 2), ...n, ...localExtra);
    for (const b of data) body.push(b);
    const extra = z64 ? [0x01, 0x00, 24, 0, ...le(data.length, 8), ...le(data.length, 8), ...le(offset, 8)] : [];
    dir.push(0x50, 0x4b, 0x01, 0x02, ...le(z64 ? 45 : 20, 2), ...le(z64 ? 45 : 20, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(size32, 4), ...le(size32, 4), ...le(n.length, 2), ...le(extra.length, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...le(z64 ? 0xffffffff : offset, 4), ...n, ...extra);
  }
  const dirOffset = body.length;
  const out = body;
  for (const b of dir) out.push(b);
  if (z64) {
    const recAt = out.length;
    out.push(0x50, 0x4b, 0x06, 0x06, ...le(44, 8), ...le(45, 2), ...le(45, 2), 0, 0, 0, 0, 0, 0, 0, 0, ...le(entries.length, 8), ...le(entries.length, 8), ...le(dir.length, 8), ...le(dirOffset, 8));
    out.push(0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0, ...le(recAt, 8), 1, 0, 0, 0);
    out.push(0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0);
  } else {
    out.push(0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, ...le(entries.length, 2), ...le(entries.length, 2), ...le(dir.length, 4), ...le(dirOffset, 4), 0, 0);
  }
  return new Uint8Array(out);
}

/** Pickle assembly: each helper gives an opcode's bytes. */
export const P = {
  proto: (n = 2) => [0x80, n],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  emptyTuple: [0x29],
  emptyDict: [0x7d],
  emptyList: [0x5d],
  reduce: [0x52],
  build: [0x62],
  setitem: [0x73],
  setitems: [0x75],
  append: [0x61],
  persid: [0x51],
  none: [0x4e],
  false: [0x89],
  true: [0x88],
  str: (s: string) => {
    const b = utf8(s);
    return [0x58, ...le(b.length, 4), ...b];
  },
  int: (n: number) => [0x4a, ...le(n < 0 ? n + 2 ** 32 : n, 4)],
  global: (mod: string, name: string) => [0x63, ...utf8(`${mod}\n${name}\n`)],
  binput: (i: number) => [0x71, i],
  longBinput: (i: number) => [0x72, ...le(i, 4)],
  binget: (i: number) => [0x68, i],
  longBinget: (i: number) => [0x6a, ...le(i, 4)],
};

export function pickle(...parts: (number[] | readonly number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The pickle of one tensor: _rebuild_tensor_v2(storage(key, type, numel), offset, shape, stride, False, OrderedDict()). */
export function tensorPickle(key: string, type: string, numel: number, offset: number, shape: readonly number[], stride: readonly number[]): number[] {
  const ints = (xs: readonly number[]) => [...P.mark, ...xs.flatMap(P.int), ...P.tuple];
  return [
    ...P.global("torch._utils", "_rebuild_tensor_v2"),
    ...P.mark,
    ...P.mark, ...P.str("storage"), ...P.global("torch", type), ...P.str(key), ...P.str("cpu"), ...P.int(numel), ...P.tuple, ...P.persid,
    ...P.int(offset), ...ints(shape), ...ints(stride), ...P.false, ...P.global("collections", "OrderedDict"), ...P.emptyTuple, ...P.reduce,
    ...P.tuple, ...P.reduce,
  ];
}

/** A state_dict pickle of named tensors (each given as tensorPickle's bytes). */
export const stateDictPickle = (tensors: readonly (readonly [string, number[]])[]): Uint8Array =>
  pickle(P.proto(2), P.global("collections", "OrderedDict"), P.emptyTuple, P.reduce, P.mark, ...tensors.flatMap(([n, t]) => [P.str(n), t]), P.setitems, P.stop);

/** A torch.save-shaped archive: archive/data.pkl, archive/data/KEY..., archive/version. */
export const torchArchive = (pkl: Uint8Array, storages: readonly (readonly [string, Uint8Array])[], opts: { zip64?: boolean } = {}): Uint8Array =>
  storedZip([["archive/data.pkl", pkl], ...storages.map(([k, b]) => [`archive/data/${k}`, b] as const), ["archive/version", new TextEncoder().encode("3\n")]], opts);

/**
 * Writes a zip64 archive of stored entries to `path` without holding it: each entry is `size`
 * bytes of which only `parts` (offset within the entry, bytes) are written; the rest stays a
 * hole in a sparse file, so a test can make a checkpoint of several GiB that costs no disk.
 */
export function writeSparseZip64(path: string, entries: readonly { name: string; size: number; parts: readonly (readonly [number, Uint8Array])[] }[]): void {
  const fd = openSync(path, "w");
  try {
    let at = 0;
    const dir: number[] = [];
    for (const e of entries) {
      const n = utf8(e.name);
      const localExtra = [0x01, 0x00, 16, 0, ...le(e.size, 8), ...le(e.size, 8)];
      const header = [0x50, 0x4b, 0x03, 0x04, ...le(45, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...le(n.length, 2), ...le(localExtra.length, 2), ...n, ...localExtra];
      writeSync(fd, new Uint8Array(header), 0, header.length, at);
      const data = at + header.length;
      for (const [o, b] of e.parts) writeSync(fd, b, 0, b.length, data + o);
      const extra = [0x01, 0x00, 24, 0, ...le(e.size, 8), ...le(e.size, 8), ...le(at, 8)];
      dir.push(0x50, 0x4b, 0x01, 0x02, ...le(45, 2), ...le(45, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...le(n.length, 2), ...le(extra.length, 2), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, ...n, ...extra);
      at = data + e.size;
    }
    const recAt = at + dir.length;
    const tail = [
      ...dir,
      0x50, 0x4b, 0x06, 0x06, ...le(44, 8), ...le(45, 2), ...le(45, 2), 0, 0, 0, 0, 0, 0, 0, 0, ...le(entries.length, 8), ...le(entries.length, 8), ...le(dir.length, 8), ...le(at, 8),
      0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0, ...le(recAt, 8), 1, 0, 0, 0,
      0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
    ];
    writeSync(fd, new Uint8Array(tail), 0, tail.length, at);
  } finally {
    closeSync(fd);
  }
}

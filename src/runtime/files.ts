// File handling shared by the runtime's loaders and writers: whole-file reads with the weight
// readers' limits, writes that go to a temp file and are renamed into place (never clobbering a
// file without `force`), and WeightFileErrors turned into diagnostics.
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readlinkSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { diag, type Diagnostic } from "../diag/diagnostic.js";
import { maxFileBytes } from "../weights/bytes.js";
import { quote, WeightFileError } from "../weights/errors.js";

/**
 * Reads a whole file into one buffer, synchronously (the CLI is synchronous), in chunks of 16 MiB;
 * `onProgress(bytesRead, total)` is told as they arrive. The same limits and codes as the async
 * readers in src/weights: TFM5018 (cannot read), TFM5017 (over 2 GiB).
 */
export function readFileBytes(path: string, onProgress?: (done: number, total: number) => void): Uint8Array {
  return withFile(path, (fd) => {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WeightFileError("TFM5018", `${path} is not a regular file`, { file: path });
    if (st.size > maxFileBytes) {
      throw new WeightFileError("TFM5017", `${path} is ${st.size} bytes; tfm loads a file whole and supports at most ${maxFileBytes} bytes (2 GiB)`, { file: path });
    }
    const buf = Buffer.allocUnsafe(st.size);
    let filled = 0;
    while (filled < st.size) {
      const n = readSync(fd, buf, filled, Math.min(st.size - filled, 16 << 20), filled);
      if (n === 0) throw new WeightFileError("TFM5018", `${path} shrank while being read (${filled} of ${st.size} bytes)`, { file: path });
      filled += n;
      onProgress?.(filled, st.size);
    }
    return buf;
  });
}

/**
 * A regular file's size and its first `max` bytes (fewer if it is shorter), read without the rest:
 * a header can be checked before any of the data is read or allocated. TFM5018 as readFileBytes.
 */
export function readFilePrefix(path: string, max: number): { size: number; bytes: Uint8Array } {
  return withFile(path, (fd) => {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WeightFileError("TFM5018", `${path} is not a regular file`, { file: path });
    const want = Math.min(st.size, max);
    const buf = Buffer.alloc(want);
    let filled = 0;
    while (filled < want) {
      const n = readSync(fd, buf, filled, want - filled, filled);
      if (n === 0) throw new WeightFileError("TFM5018", `${path} shrank while being read (${filled} of ${st.size} bytes)`, { file: path });
      filled += n;
    }
    return { size: st.size, bytes: buf };
  });
}

/**
 * `length` bytes of a regular file from `offset`, into a fresh ArrayBuffer of their own (aligned,
 * at offset 0, so a typed array can view them in place), in chunks of 16 MiB. The file must still
 * be `size` bytes long (it was checked by its header): TFM5018 if it changed.
 */
export function readFileRange(path: string, offset: number, length: number, size: number): Uint8Array {
  return withFile(path, (fd) => {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== size) throw new WeightFileError("TFM5018", `${path} changed while being read (${size} bytes, now ${st.size})`, { file: path });
    const buf = new Uint8Array(new ArrayBuffer(length));
    let filled = 0;
    while (filled < length) {
      const n = readSync(fd, buf, filled, Math.min(length - filled, 16 << 20), offset + filled);
      if (n === 0) throw new WeightFileError("TFM5018", `${path} shrank while being read (${offset + filled} of ${size} bytes)`, { file: path });
      filled += n;
    }
    return buf;
  });
}

/**
 * Runs `read` on `path` opened for reading without blocking, then closes it. Failures become
 * WeightFileError TFM5018 (cannot open, cannot read); a WeightFileError `read` throws passes as is.
 */
function withFile<T>(path: string, read: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openNonBlocking(path);
  } catch (e) {
    throw new WeightFileError("TFM5018", `cannot open ${path}: ${reason(e)}`, { file: path });
  }
  try {
    return read(fd);
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError("TFM5018", `cannot read ${path}: ${reason(e)}`, { file: path });
  } finally {
    closeSync(fd);
  }
}

/** Whether anything (a file, a directory, a dangling symlink) is at `path`. */
export function pathTaken(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens for reading without blocking: opening a FIFO that has no writer would otherwise wait
 * forever. Regular files are unaffected by the flag.
 */
export function openNonBlocking(path: string): number {
  return openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
}

/**
 * The file a write to `path` should replace: symlinks are followed (a chain of at most 40), so
 * writing through a link updates the file it names and the link stays a link.
 */
export function writeTarget(path: string): string {
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return p; // nothing there (or a dangling link's target): a new file
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new WeightFileError("TFM5211", `cannot write ${path}: too many levels of symbolic links`, { file: path });
}

const refuse = (path: string) => new WeightFileError("TFM5210", `${path} already exists: not overwriting it (use --force to replace it)`, { file: path });

/**
 * Writes `bytes` to `path` through a temp file in the same directory, renamed into place, so a
 * reader never sees a half-written file and a failed write leaves the old file intact. The temp
 * name is random and created exclusively (a file, link or directory planted at a guessable name
 * is never written through or removed). A replaced file keeps its permission bits, and a symlink
 * at `path` is followed: the file it names is replaced, the link stays. Without `force` an
 * existing file is never replaced: the temp file is hard-linked to `path`, which fails atomically
 * if the name is taken (where hard links are not supported, the name is checked first).
 * Throws WeightFileError TFM5210 (exists) or TFM5211 (cannot write).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, force: boolean): void {
  if (!force && pathTaken(path)) throw refuse(path);
  const target = force ? writeTarget(path) : path;
  let mode: number | undefined;
  try {
    const st = statSync(target);
    if (st.isDirectory()) throw new WeightFileError("TFM5211", `cannot write ${path}: it is a directory`, { file: path });
    if (!st.isFile()) throw new WeightFileError("TFM5211", `cannot write ${path}: it is not a regular file`, { file: path });
    mode = st.mode & 0o7777;
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    // nothing there yet: a new file with the default mode
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", 0o644);
  } catch (e) {
    throw new WeightFileError("TFM5211", `cannot write ${path}: ${reason(e)}`, { file: path });
  }
  try {
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
      if (mode !== undefined) fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (force) {
      renameSync(tmp, target);
      return;
    }
    try {
      linkSync(tmp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" || pathTaken(target)) throw refuse(path);
      // No hard links here (some network and FAT file systems): the name was free just now.
      renameSync(tmp, target);
    }
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError("TFM5211", `cannot write ${path}: ${reason(e)}`, { file: path });
  } finally {
    // Gone after a rename; after a link, `target` keeps the data and the temp name goes.
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed
    }
  }
}

/**
 * Reads at most `limit` bytes of a text file without ever blocking on a FIFO or reading a device
 * forever: a regular file's size is checked from `stat` before anything is read; anything else
 * (a pipe, `/dev/zero`) is read until end of file or until `limit + 1` bytes have arrived.
 * Returns the bytes, or `{ tooLarge }` with the size known so far.
 */
export function readBounded(path: string, limit: number): { bytes: Uint8Array } | { tooLarge: number; exact: boolean } {
  return withFile(path, (fd): { bytes: Uint8Array } | { tooLarge: number; exact: boolean } => {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new WeightFileError("TFM5018", `cannot read ${path}: it is a directory`, { file: path });
    if (st.isFile() && st.size > limit) return { tooLarge: st.size, exact: true };
    const buf = Buffer.allocUnsafe(st.isFile() ? st.size : limit + 1);
    let filled = 0;
    let waited = 0;
    while (filled < buf.length) {
      let n: number;
      try {
        n = readSync(fd, buf, filled, buf.length - filled, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || waited >= maxWaitMs) throw e;
        Atomics.wait(sleeper, 0, 0, 10); // a pipe whose writer has not written yet
        waited += 10;
        continue;
      }
      if (n === 0) break;
      filled += n;
    }
    if (filled > limit) return { tooLarge: filled, exact: false };
    return { bytes: buf.subarray(0, filled) };
  });
}

/** How long a read waits for a silent pipe's writer before giving up. */
const maxWaitMs = 30_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * A WeightFileError as a diagnostic on the file it concerns (which has no source text, so it
 * renders as `w.safetensors: error[TFM5003]: ...`), with the byte offset in the message.
 */
export function fileErrorDiagnostic(e: WeightFileError, file = "<file>"): Diagnostic {
  const where = e.offset !== undefined && e.offset > 0 ? ` (at byte ${e.offset})` : "";
  const notes = e.tensor !== undefined && !e.message.includes(quote(e.tensor)) ? [`in tensor ${quote(e.tensor)}`] : [];
  return diag(e.file ?? file, e.code, { start: 0, end: 0 }, `${e.message}${where}`, { notes });
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case "ENOENT": return "no such file or directory";
    case "EISDIR": return "is a directory";
    case "EACCES":
    case "EPERM": return "permission denied";
    case "ENOSPC": return "no space left on the device";
    case "EAGAIN": return "no data arrived (a pipe whose writer never wrote?)";
    default: return err.message ?? String(e);
  }
}

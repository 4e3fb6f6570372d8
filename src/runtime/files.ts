// File handling shared by the runtime's loaders and writers: whole-file reads with the weight
// readers' limits, writes that go to a temp file and are renamed into place (never clobbering a
// file without `force`), and WeightFileErrors turned into diagnostics.
import { closeSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { diag, type Diagnostic } from "../diag/diagnostic.js";
import { maxFileBytes } from "../weights/bytes.js";
import { quote, WeightFileError } from "../weights/errors.js";

/**
 * Reads a whole file into one buffer, synchronously (the CLI is synchronous), in chunks of 16 MiB;
 * `onProgress(bytesRead, total)` is told as they arrive. The same limits and codes as the async
 * readers in src/weights: TFM5018 (cannot read), TFM5017 (over 2 GiB).
 */
export function readFileBytes(path: string, onProgress?: (done: number, total: number) => void): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new WeightFileError("TFM5018", `cannot open ${path}: ${reason(e)}`, { file: path });
  }
  try {
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

const refuse = (path: string) => new WeightFileError("TFM5210", `${path} already exists: not overwriting it (use --force to replace it)`, { file: path });

/**
 * Writes `bytes` to `path` through a temp file in the same directory, renamed into place, so a
 * reader never sees a half-written file and a failed write leaves the old file intact. Without
 * `force` an existing file is never replaced: the temp file is hard-linked to `path`, which fails
 * atomically if the name is taken (where hard links are not supported, the name is checked first).
 * Throws WeightFileError TFM5210 (exists) or TFM5211 (cannot write).
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, force: boolean): void {
  if (!force && pathTaken(path)) throw refuse(path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
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
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (force) {
      renameSync(tmp, path);
      return;
    }
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" || pathTaken(path)) throw refuse(path);
      // No hard links here (some network and FAT file systems): the name was free just now.
      renameSync(tmp, path);
    }
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError("TFM5211", `cannot write ${path}: ${reason(e)}`, { file: path });
  } finally {
    // Gone after a rename; after a link, `path` keeps the data and the temp name goes.
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed
    }
  }
}

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
    default: return err.message ?? String(e);
  }
}

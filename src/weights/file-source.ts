// Safetensors files read by range (Node): the header first, checked against the file's size, then
// each tensor's bytes straight into a fresh buffer when it is decoded, so that no file is ever
// held whole in memory and files of any size load. Each read opens the file (without blocking on
// a FIFO), checks that its size has not changed since the header was read, reads, and closes.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { WeightFileError } from "./errors.js";
import { type ByteSource, parseSafetensors, type SafetensorsFile } from "./safetensors.js";
import { looksLikeTorch, parseTorch } from "./torch.js";

/** Node reads at most 2 GiB - 1 bytes per call; larger ranges are read in pieces. */
const chunk = 1 << 30;

/** A file on disk as a byte source. Throws WeightFileError TFM5018 when it cannot be opened or is not a regular file. */
export function fileSource(path: string): ByteSource {
  const size = withFd(path, (fd) => {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WeightFileError("TFM5018", `${path} is not a regular file`, { file: path });
    return st.size;
  });
  return {
    size,
    fresh: true,
    read(offset: number, length: number): Uint8Array {
      return withFd(path, (fd) => {
        if (fstatSync(fd).size !== size) throw new WeightFileError("TFM5018", `${path} changed size while being read`, { file: path });
        const out = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const n = readSync(fd, out, filled, Math.min(length - filled, chunk), offset + filled);
          if (n === 0) throw new WeightFileError("TFM5018", `${path} shrank while being read (${offset + filled} of ${size} bytes)`, { file: path });
          filled += n;
        }
        return out;
      });
    },
  };
}

/** Parses a safetensors file on disk: the header now, tensor data by range on decoding. */
export function openSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(fileSource(path), path);
}

/** Parses a PyTorch torch.save checkpoint on disk (src/weights/torch.ts): the directory and pickle now, tensors by range. */
export function openTorch(path: string): SafetensorsFile {
  return parseTorch(fileSource(path), path);
}

/** A weight file of either format, told apart by its first bytes: torch.save's zip (or legacy pickle), else safetensors. */
export function openWeights(path: string): SafetensorsFile {
  const source = fileSource(path);
  const head = source.size >= 2 ? source.read(0, Math.min(source.size, 8)) : new Uint8Array(0);
  return looksLikeTorch(head) ? parseTorch(source, path) : parseSafetensors(source, path);
}

/** As openSafetensors (the async form the library has always had). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return openSafetensors(path);
}

function withFd<T>(path: string, f: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new WeightFileError("TFM5018", `cannot open ${path}: ${reason(e)}`, { file: path });
  }
  try {
    return f(fd);
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError("TFM5018", `cannot read ${path}: ${reason(e)}`, { file: path });
  } finally {
    closeSync(fd);
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case "ENOENT": return "no such file or directory";
    case "EISDIR": return "is a directory";
    case "EACCES":
    case "EPERM": return "permission denied";
    default: return err.message ?? String(e);
  }
}

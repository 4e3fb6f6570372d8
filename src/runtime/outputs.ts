// Writes a run's outputs as NumPy files, `DIR/<name>.npy` (numpy.load reads them), creating DIR
// if needed. Existing files are never replaced without `force`: every target is checked before
// anything is written, and each file goes to a temp name first and is renamed into place.
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { numel, type Tensor } from "../core/tensor.js";
import { quote, WeightFileError } from "../weights/errors.js";
import { writeNpy } from "../weights/npy.js";
import { fileDTypeOfRuntime } from "./convert.js";
import { pathTaken, writeFileAtomic } from "./files.js";

/** An output name that is safe as a file name: no separators, no `.`/`..`, no control characters. */
const safeName = (n: string): boolean => n.length > 0 && n.length <= 200 && n !== "." && n !== ".." && !/[/\\\u0000-\u001f\u007f]/.test(n);

/**
 * Writes each output to `dir/<name>.npy` and returns the paths written, in order. Throws a
 * WeightFileError: TFM5210 if a file exists and `force` is not set (before writing any), TFM5211
 * if the directory or a file cannot be written, TFM5009 for a name that is not a safe file name.
 */
export function writeOutputs(dir: string, outputs: ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>, force = false): string[] {
  const entries = [...outputs];
  const seen = new Set<string>();
  const targets = entries.map(([name]) => {
    if (seen.has(name)) throw new WeightFileError("TFM5009", `output name ${quote(name)} is given twice`, { tensor: name });
    seen.add(name);
    if (!safeName(name)) throw new WeightFileError("TFM5009", `output name ${quote(name)} cannot be used as a file name`, { tensor: name });
    return join(dir, `${name}.npy`);
  });
  // Encode everything first: a bad tensor must not leave some files written and others not.
  const files = entries.map(([, t]) => {
    const n = numel(t.shape);
    return writeNpy(fileDTypeOfRuntime[t.dtype], t.shape, t.data.subarray(0, n));
  });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new WeightFileError("TFM5211", `cannot create the output directory ${dir}: ${(e as Error).message}`, { file: dir });
  }
  if (!statSync(dir).isDirectory()) throw new WeightFileError("TFM5211", `${dir} is not a directory`, { file: dir });
  if (!force) {
    const taken = targets.filter(pathTaken);
    if (taken.length) {
      throw new WeightFileError("TFM5210", `${taken.length === 1 ? `${taken[0]} already exists` : `${taken.length} output files already exist (${taken.join(", ")})`}: not overwriting (use --force to replace them)`, { file: taken[0]! });
    }
  }
  targets.forEach((path, i) => writeFileAtomic(path, files[i]!, force));
  return targets;
}

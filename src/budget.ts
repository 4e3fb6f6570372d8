// The default memory budget of a run (src/backends/shared/budget.ts checks against it): half of the
// machine's memory — the smaller of `os.totalmem()` and the process's cgroup limit
// (`process.constrainedMemory()`, where there is one) — and never more than the memory available
// now (`os.freemem()`, MemAvailable on Linux), leaving the rest to the system, other processes,
// Node's own heap and the kernels' caches. `--max-memory` and the `maxMemory` option replace it.
import { freemem, totalmem } from "node:os";
import { checkBudget, parseSize, showBytes, weightBytes } from "./backends/shared/budget.js";
import type { DTypeName } from "./core/dtype.js";
import { TfmError } from "./bundle/errors.js";

/** The fraction of the machine's memory a run may use by default. */
export const defaultBudgetFraction = 0.5;

/** The machine's memory: the smaller of its RAM and the process's cgroup limit. */
export function machineMemory(): number {
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const total = totalmem();
  return limit && limit > 0 && limit < total ? limit : total;
}

/** The budget in bytes: `maxMemory` (bytes, or a size such as "4G"), else the default fraction of the machine's memory, at most what is available. */
export function memoryBudget(maxMemory?: number | string): number {
  if (maxMemory === undefined) return Math.floor(Math.min(defaultBudgetFraction * machineMemory(), freemem()));
  if (typeof maxMemory === "number") {
    if (Number.isSafeInteger(maxMemory) && maxMemory > 0) return maxMemory;
    throw new TfmError("TFM6003", `maxMemory must be a positive whole number of bytes or a size such as "4G", got ${maxMemory}`);
  }
  const bytes = parseSize(maxMemory);
  if (typeof bytes !== "number") throw new TfmError("TFM6003", `maxMemory: ${bytes.error}`);
  return bytes;
}

/** TFM6003 when the weights, at their declared shapes in the runtime dtypes, need more than `budget`: checked before any is read or generated. */
export function checkWeightsBudget(weights: readonly { readonly name: string; readonly dtype: DTypeName; readonly shape: readonly number[] }[], budget: number): void {
  const need = weightBytes(weights);
  if (need <= budget) return;
  const largest = weights.reduce((a, w) => (weightBytes([w]) > weightBytes([a]) ? w : a));
  checkBudget(need, budget, "loading the weights", `${weights.length} weight${weights.length === 1 ? "" : "s"}; the largest, \`${largest.name}\` ${largest.dtype}[${largest.shape.join(", ")}], ${showBytes(weightBytes([largest]))}`);
}

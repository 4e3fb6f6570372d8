// The memory budget of a run (TFM6003): what a run needs is computed before anything is allocated
// — the weights from their declared shapes (before a checkpoint is read or random values are
// generated), then at each call the planned buffers at the call's dims plus the largest transient
// a kernel makes (src/backends/cpu/transients.ts) — and a run that needs more than the budget is
// refused, naming both byte counts. The default budget is a fraction of the machine's memory
// (src/budget.ts, which may use Node's `os`; this file is also bundled for browsers).
import { runtimeBytes, runtimeDType, type DTypeName } from "../../core/dtype.js";
import type { Site } from "../../ir/graph.js";
import { RunError } from "./errors.js";

/** `512M`, `4G`, `1.5GiB`, `100000`: bytes (K, M, G, T are powers of 1024, with or without `iB`/`B`). */
export function parseSize(text: string): number | { error: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  const bad = { error: `a memory size is a number of bytes, optionally with K, M, G or T (powers of 1024): 512M, 4G, 1000000; got \`${text}\`` };
  if (!m) return bad;
  const scale = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? "").toLowerCase() as "k"] ?? 1;
  const bytes = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : bad;
}

/** A byte count as people read it: `17,179,738,112 bytes (16.0 GiB)`. */
export function showBytes(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const exact = Number.isSafeInteger(n) ? n.toLocaleString("en-US") : n.toExponential(3);
  return u < 0 ? `${exact} bytes` : `${exact} bytes (${v.toFixed(1)} ${units[u]})`;
}

/** Bytes of weights in the runtime dtypes (f16/bf16 widen to f32, i64 narrows to i32), as the CPU holds them. */
export function weightBytes(weights: readonly { readonly dtype: DTypeName; readonly shape: readonly number[] }[]): number {
  return weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * runtimeBytes[runtimeDType[w.dtype]], 0);
}

/**
 * Throws TFM6003 when `need` bytes exceed `budget` (no budget: no check). `what` says what needs
 * them ("the weights", "the run at seq=50000") and `parts` how the count is made up.
 */
export function checkBudget(need: number, budget: number | undefined, what: string, parts: string, site?: Site): void {
  if (budget === undefined || need <= budget) return;
  throw new RunError("TFM6003", `${what} needs ${showBytes(need)} of memory (${parts}), over the memory budget of ${showBytes(budget)}; refused before allocating it (raise the budget with --max-memory or the maxMemory option)`, site);
}

/** An allocation the engine refused (V8's RangeError: "Array buffer allocation failed", "Invalid typed array length") as TFM6003. */
export function allocationFailed(bytes: number | undefined, e: unknown, site?: Site): RunError {
  const why = e instanceof Error ? e.message : String(e);
  return new RunError("TFM6003", `the run needs ${bytes === undefined ? "a buffer" : `up to ${showBytes(bytes)}`} that could not be allocated (${why}); give the run a budget it fits with --max-memory or the maxMemory option`, site);
}

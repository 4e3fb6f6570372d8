// `--dims batch=1,seq=128`: the dim values a report evaluates its symbolic sizes at (the memory
// section of `tfm ir --report`; `tfm build --report` may use it too). Dims not given take
// batch=1 and 128 for any other.
import { symbolsOf } from "../core/dim.js";
import type { Graph } from "../ir/graph.js";
import { UsageError } from "./io.js";

export const defaultDims = "batch=1 and 128 for any other dim, e.g. seq=128";

/** Commander's parser for `--dims name=n,name=n` (repeatable; later values win). */
export function collectDims(value: string, previous: Map<string, number> | undefined): Map<string, number> {
  const out = new Map(previous ?? []);
  for (const item of value.split(",")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)\s*$/.exec(item);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--dims expects name=n with n ≥ 1, separated by commas (batch=1,seq=128), got \`${item.trim()}\``);
    out.set(m[1]!, n);
  }
  return out;
}

/** Every dim the graph's shapes use, bound: the given values, else the defaults. A given name the graph does not use is a usage error. */
export function dimBindings(g: Graph, given: ReadonlyMap<string, number> = new Map()): Map<string, number> {
  const names = [...new Set(g.nodes.flatMap((n) => n.shape.flatMap(symbolsOf)))].sort((a, b) => (a === "batch" ? -1 : b === "batch" ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const k of given.keys()) if (!names.includes(k)) throw new UsageError(`--dims: the model has no dim \`${k}\`${names.length ? `; its dims are ${names.join(", ")}` : " (its sizes are all constant)"}`);
  return new Map(names.map((n) => [n, given.get(n) ?? (n === "batch" ? 1 : 128)]));
}

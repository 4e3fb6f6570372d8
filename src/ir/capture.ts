// `--capture PATTERN`: which of the model's bound names (`h.0.attn.weights`: a layer path and a
// local name, src/check/elaborated.ts) a pattern selects. A pattern is a glob over the dotted path:
// `*` stands for one part (`h.*.attn.weights`: every layer of the stack), `**` for any number of
// parts (`**.weights`), and `?`/`*` inside a part for characters of that part (`h.1?.attn.weights`).
import { suggest } from "../diag/suggest.js";

const partRegex = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);

/** Whether the dotted `name` matches the dotted glob `pattern`. */
export function matchesCapture(pattern: string, name: string): boolean {
  const ps = pattern.split(".");
  const ns = name.split(".");
  const res = ps.map((p) => (p === "**" ? undefined : partRegex(p)));
  // Memoized over (pattern part, name part): many `**` parts stay O(parts²), never exponential.
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    if (i === ps.length) return j === ns.length;
    const key = i * (ns.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r = false;
    if (ps[i] === "**") {
      for (let k = j; k <= ns.length && !r; k++) r = go(i + 1, k);
    } else r = j < ns.length && res[i]!.test(ns[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

export interface CaptureSelection {
  /** The selected names, in the model's order. */
  readonly names: readonly string[];
  /** Each pattern that matched nothing, with the nearest names. */
  readonly unmatched: readonly { readonly pattern: string; readonly nearest: readonly string[] }[];
}

/** The names `patterns` select from `names` (the model's bound names, in order). */
export function selectCaptures(patterns: readonly string[], names: readonly string[]): CaptureSelection {
  const unmatched = patterns.filter((p) => !names.some((n) => matchesCapture(p, n))).map((pattern) => ({ pattern, nearest: nearestNames(pattern, names) }));
  return { names: names.filter((n) => patterns.some((p) => matchesCapture(p, n))), unmatched };
}

/** Up to five names nearest a pattern: by edit distance, and those ending in its last part. */
function nearestNames(pattern: string, names: readonly string[]): string[] {
  const out = new Set<string>();
  const concrete = pattern.replace(/\*\*?/g, "0").replace(/\?/g, "0");
  const near = suggest(concrete, names);
  if (near) out.add(near);
  const last = pattern.split(".").pop() ?? "";
  const lastRe = partRegex(last);
  for (const n of names) if (out.size < 5 && lastRe.test(n.split(".").pop() ?? "")) out.add(n);
  if (out.size === 0) for (const n of names.slice(0, 5)) out.add(n);
  return [...out].slice(0, 5);
}

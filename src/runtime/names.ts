// Checkpoint and tensor names in messages: shown bare when they are plain dotted names (so a long
// name is never shortened), quoted when they hold anything else; and long lists of names folded
// into patterns (`h.*.attn.bias ×12`) so a diagnostic about 148 tensors stays readable.
import { quote } from "../weights/errors.js";

/** A name as shown in a message: bare if it is made of word characters, dots, dashes, colons, slashes and `*`. */
export const showName = (n: string): string => (n.length <= 200 && /^[\p{L}\p{N}_.\-:/*]+$/u.test(n) ? n : quote(n));

/** The pattern of a name: numeric segments become `*` (the layer index of a `repeat` stack). */
export const patternOf = (n: string): string => n.split(".").map((s) => (/^\d+$/.test(s) ? "*" : s)).join(".");

/**
 * Names folded by pattern, in first-seen order: `h.*.attn.bias ×12` for twelve names that differ only
 * in their numeric segments, the name itself when it stands alone. At most `max` lines, then a count.
 */
export function foldNames(names: readonly string[], max = 30, describe: (n: string) => string = () => ""): string[] {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const p = patternOf(n);
    const g = groups.get(p);
    if (g) g.push(n);
    else groups.set(p, [n]);
  }
  const lines: string[] = [];
  let shown = 0;
  for (const [p, g] of groups) {
    if (lines.length === max) break;
    lines.push(g.length === 1 ? `${showName(g[0]!)}${describe(g[0]!)}` : `${showName(p)} ×${g.length}${describe(g[0]!)}`);
    shown += g.length;
  }
  if (shown < names.length) lines.push(`… and ${names.length - shown} more`);
  return lines;
}

/**
 * A prefix that explains a set of missing names: the checkpoint holds `prefix + name` (a wrapper
 * module's name, e.g. `transformer.`), or the model expects `prefix + name` where the checkpoint
 * has `name`. Returned when it accounts for at least half of the missing names (two or more, or the only one).
 */
export function commonPrefix(missing: readonly string[], unmatched: readonly string[]): { prefix: string; where: "checkpoint" | "model"; count: number } | undefined {
  const missingSet = new Set(missing);
  const unmatchedSet = new Set(unmatched);
  const counts = new Map<string, number>();
  const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  // The checkpoint has extra leading segments: `transformer.h.0.ln_1.weight` for `h.0.ln_1.weight`.
  for (const u of unmatched) for (let i = u.indexOf("."); i > 0; i = u.indexOf(".", i + 1)) if (missingSet.has(u.slice(i + 1))) bump(`checkpoint\0${u.slice(0, i + 1)}`);
  // The model has extra leading segments: `bert.embeddings...` where the checkpoint has `embeddings...`.
  for (const m of missing) for (let i = m.indexOf("."); i > 0; i = m.indexOf(".", i + 1)) if (unmatchedSet.has(m.slice(i + 1))) bump(`model\0${m.slice(0, i + 1)}`);
  let best: { prefix: string; where: "checkpoint" | "model"; count: number } | undefined;
  for (const [key, count] of counts) {
    const [where, prefix] = key.split("\0") as ["checkpoint" | "model", string];
    if (!best || count > best.count) best = { prefix, where, count };
  }
  return best && (best.count >= 2 || missing.length === 1) && best.count * 2 >= missing.length ? best : undefined;
}

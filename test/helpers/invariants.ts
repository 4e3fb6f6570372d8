// Invariants every call of `check` must keep, whatever the input: used by the fuzz test, its
// regression replays, and the hostile-input unit tests. A violation is a bug in src/, never in
// the input.
import { isDeepStrictEqual } from "node:util";
import { check, type CheckOptions, type CheckResult } from "../../src/api.js";
import { codes } from "../../src/diag/codes.js";
import { diagnosticToJson, renderDiagnostics } from "../../src/diag/render.js";
import type { Span } from "../../src/diag/span.js";

const severities = new Set(["error", "warning", "info"]);

/** Every way `result` breaks the invariants, as readable lines (empty when it keeps them all). */
export function violations(text: string, result: CheckResult): string[] {
  const out: string[] = [];
  const spanOk = (sp: Span, len: number) =>
    Number.isInteger(sp.start) && Number.isInteger(sp.end) && 0 <= sp.start && sp.start <= sp.end && sp.end <= len;
  const lengthOf = (file: string) => (file === result.file ? text.length : result.sources.get(file)?.length);
  result.diagnostics.forEach((d, i) => {
    const at = `diagnostic #${i} ${d.code} "${d.message.slice(0, 120)}"`;
    if (!Object.hasOwn(codes, d.code)) out.push(`${at}: code is not in the catalogue (src/diag/codes.ts)`);
    if (d.code === "TFM9001") out.push(`${at}: internal compiler error; notes: ${d.notes.join(" | ")}`);
    if (!severities.has(d.severity)) out.push(`${at}: invalid severity ${JSON.stringify(d.severity)}`);
    const len = lengthOf(d.file);
    if (len === undefined) out.push(`${at}: file ${JSON.stringify(d.file)} is not among the result's sources`);
    else if (!spanOk(d.span, len)) out.push(`${at}: span ${JSON.stringify(d.span)} is outside ${d.file} (length ${len})`);
    d.related.forEach((r, j) => {
      const file = r.file ?? d.file;
      const rlen = lengthOf(file);
      if (rlen === undefined) out.push(`${at}: related #${j} is in ${JSON.stringify(file)}, which is not among the result's sources`);
      else if (!spanOk(r.span, rlen)) out.push(`${at}: related #${j} span ${JSON.stringify(r.span)} is outside ${file} (length ${rlen})`);
    });
  });
  return out;
}

export interface Checked {
  readonly result: CheckResult;
  /** Wall time of `check`, in milliseconds: the faster of the two runs (less noise from GC and load). */
  readonly ms: number;
  readonly problems: string[];
}

/**
 * Checks `text`, then something else (`interleave`, to catch state leaking between calls, e.g.
 * through the shared chevrotain parser), then `text` again; renders the diagnostics both ways.
 * Returns the first result and every invariant violated. Throws only if `check` itself throws.
 */
export function checkKeepingInvariants(text: string, options: CheckOptions = {}, interleave?: string): Checked {
  const file = "input.tfm";
  const t0 = performance.now();
  const result = check(text, file, options);
  const ms = performance.now() - t0;
  const problems = violations(text, result);
  try {
    renderDiagnostics(result.diagnostics, result.sources);
    for (const d of result.diagnostics) diagnosticToJson(d, result.sources);
  } catch (e) {
    problems.push(`rendering the diagnostics threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }
  if (interleave !== undefined) check(interleave, "other.tfm");
  const t1 = performance.now();
  const again = check(text, file, options);
  const ms2 = performance.now() - t1;
  if (!isDeepStrictEqual(again.diagnostics, result.diagnostics)) {
    const show = (r: CheckResult) => r.diagnostics.map((d) => `${d.code}@${d.span.start}-${d.span.end} ${d.message}`).join("\n    ");
    problems.push(`checking the same input twice gave different diagnostics:\n  first:\n    ${show(result)}\n  second:\n    ${show(again)}`);
  }
  return { result, ms: Math.min(ms, ms2), problems };
}

/** Short, printable form of a diagnostic list, for assertion messages. */
export const summary = (r: CheckResult): string =>
  r.diagnostics.map((d) => `${d.code}@${d.span.start}-${d.span.end}`).join(" ") || "(no diagnostics)";

// Shared test helpers: check a program and list its diagnostics as `CODE@line:col`.
import { check, type CheckResult } from "../src/api.js";
import { LineMap } from "../src/diag/span.js";

export function run(src: string, settings: Record<string, string> = {}): CheckResult {
  return check(src, "test.tfm", { settings: new Map(Object.entries(settings)) });
}

/** Diagnostics of the test file as `TFM2001@3:5`, in order. */
export function codes(src: string, settings: Record<string, string> = {}): string[] {
  const r = run(src, settings);
  const map = new LineMap(src);
  return r.diagnostics.map((d) => {
    if (d.file !== "test.tfm") return `${d.code}@${d.file}`;
    const p = map.position(d.span.start);
    return `${d.code}@${p.line}:${p.column}`;
  });
}

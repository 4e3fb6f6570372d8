// Renders diagnostics for people (`file:line:col: error[CODE]: message` with the source line and
// carets, like rustc and tsc) and for tools (JSON with 1-based lines and columns).
import type { Diagnostic } from "./diagnostic.js";
import { LineMap, type Span } from "./span.js";

/** Source texts by file name, so related spans in other files (the stdlib) render too. */
export type Sources = ReadonlyMap<string, string>;

const lineMaps = new WeakMap<object, Map<string, LineMap>>();
function mapFor(sources: Sources, file: string): LineMap | undefined {
  let cache = lineMaps.get(sources);
  if (!cache) lineMaps.set(sources, (cache = new Map()));
  let m = cache.get(file);
  if (!m) {
    const text = sources.get(file);
    if (text === undefined) return undefined;
    cache.set(file, (m = new LineMap(text)));
  }
  return m;
}

/**
 * Bidirectional controls (U+202A–202E, U+2066–2069, the marks U+200E, U+200F, U+061C) reorder how
 * a terminal shows the text around them ("Trojan Source"): a name holding one could make a
 * message read as something else. They are never printed raw.
 */
const bidi = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Echoed source, one code unit for one (so carets stay aligned): controls and bidi become U+FFFD. */
const visibleSource = (s: string) => s.replace(/\t/g, " ").replace(/[\u0000-\u001f\u007f]/g, "\uFFFD").replace(bidi, "\uFFFD");

/** A message: control characters become U+FFFD, so output stays one line; bidi controls are named. */
const visible = (s: string) =>
  s.replace(/\t/g, " ").replace(/[\u0000-\u001f\u007f]/g, "\uFFFD").replace(bidi, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);

function excerpt(map: LineMap, sp: Span): string[] {
  const a = map.position(sp.start);
  const b = map.position(Math.max(sp.start, sp.end));
  const text = visibleSource(map.lineText(a.line));
  const shown = text.length > 160 ? text.slice(0, 160) + "…" : text;
  const width = b.line === a.line ? Math.max(1, b.column - a.column) : Math.max(1, text.length - a.column + 1);
  const gutter = String(a.line).length;
  const pad = " ".repeat(gutter);
  const caretStart = Math.min(a.column - 1, shown.length);
  const carets = "^".repeat(Math.max(1, Math.min(width, shown.length - caretStart + 1)));
  return [`${pad} |`, `${a.line} | ${shown}`, `${pad} | ${" ".repeat(caretStart)}${carets}`];
}

function where(sources: Sources, file: string, sp: Span): string {
  const m = mapFor(sources, file);
  if (!m) return visible(file);
  const p = m.position(sp.start);
  return `${visible(file)}:${p.line}:${p.column}`;
}

export function renderDiagnostic(d: Diagnostic, sources: Sources): string {
  const out = [`${where(sources, d.file, d.span)}: ${d.severity}[${d.code}]: ${visible(d.message)}`];
  const map = mapFor(sources, d.file);
  if (map) out.push(...excerpt(map, d.span));
  for (const r of d.related) {
    const file = r.file ?? d.file;
    out.push(`  note: ${where(sources, file, r.span)}: ${visible(r.message)}`);
  }
  for (const n of d.notes) out.push(`  help: ${visible(n)}`);
  return out.join("\n");
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: Sources): string {
  return ds.map((d) => renderDiagnostic(d, sources)).join("\n\n");
}

export interface JsonPosition {
  offset: number;
  line: number;
  column: number;
}
export interface JsonSpan {
  file: string;
  start: JsonPosition;
  end: JsonPosition;
}

function jsonSpan(sources: Sources, file: string, sp: Span): JsonSpan {
  const m = mapFor(sources, file);
  const pos = (o: number): JsonPosition => ({ offset: o, ...(m ? m.position(o) : { line: 0, column: 0 }) });
  return { file, start: pos(sp.start), end: pos(sp.end) };
}

/** The `--json` form: stable field names, 1-based lines and columns, offsets in UTF-16 units. */
export function diagnosticToJson(d: Diagnostic, sources: Sources) {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    span: jsonSpan(sources, d.file, d.span),
    related: d.related.map((r) => ({ message: r.message, span: jsonSpan(sources, r.file ?? d.file, r.span) })),
    notes: [...d.notes],
  };
}

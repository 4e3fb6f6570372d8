// A diagnostic: a stable code from the catalogue, a message, a primary span and related spans.
// Phases return diagnostics; they never throw for a user's mistake.
import { codes, type Code } from "./codes.js";
import type { Span } from "./span.js";

export type Severity = "error" | "warning" | "info";

export interface Related {
  readonly span: Span;
  readonly message: string;
  /** The file the related span is in, when it is not the diagnostic's own file (e.g. the stdlib). */
  readonly file?: string;
}

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly file: string;
  readonly related: readonly Related[];
  /** Free-form help lines: "did you mean ...", the likely fix. */
  readonly notes: readonly string[];
}

export interface DiagOptions {
  related?: readonly Related[];
  /** Help lines, or a function giving them: a costly one (did-you-mean) runs only for a diagnostic that is kept. */
  notes?: readonly string[] | (() => readonly string[]);
  severity?: Severity;
}

/**
 * The most errors one sink keeps (one file's check): past it, one TFM1016 says the rest are not
 * reported, and each further error costs nothing — so a file of thousands of mistakes is checked
 * in linear time, and a person reads the first ones anyway.
 */
export const maxErrorsPerFile = 200;

/**
 * Messages quote user text (names, literals, values); a quote longer than 48 characters is cut to
 * 40 and an ellipsis, so a 10,000-character identifier gives a readable one-line message.
 */
export function shorten(message: string): string {
  let out = "";
  for (let i = 0; i < message.length; ) {
    const q = message[i]!;
    const close = q === "`" || q === '"' ? message.indexOf(q, i + 1) : -1;
    if (close < 0) {
      out += q;
      i++;
      continue;
    }
    const body = message.slice(i + 1, close);
    out += q + (body.length > 48 ? [...body].slice(0, 40).join("") + "…" : body) + q;
    i = close + 1;
  }
  return out.length > 1000 ? out.slice(0, 1000) + "…" : out;
}

export function diag(file: string, code: Code, span: Span, message: string, opts: DiagOptions = {}): Diagnostic {
  return {
    code,
    severity: opts.severity ?? codes[code].severity,
    message: shorten(message),
    span,
    file,
    related: (opts.related ?? []).map((r) => ({ ...r, message: shorten(r.message) })),
    notes: (typeof opts.notes === "function" ? opts.notes() : opts.notes ?? []).map(shorten),
  };
}

/** Collects diagnostics for one file; phases take a sink instead of throwing. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  private errors = 0;
  constructor(readonly file: string) {}
  report(code: Code, span: Span, message: string, opts?: DiagOptions): void {
    if (this.refuses(opts?.severity ?? codes[code].severity, span, this.file)) return;
    this.items.push(diag(this.file, code, span, message, opts));
  }
  /** Adds a diagnostic made elsewhere, within the same limit. */
  add(d: Diagnostic): void {
    if (!this.refuses(d.severity, d.span, d.file)) this.items.push(d);
  }
  /** Whether an error of this severity is one too many (reporting TFM1016 the first time). */
  private refuses(severity: Severity, span: Span, file: string): boolean {
    if (severity !== "error") return false;
    if (++this.errors <= maxErrorsPerFile) return false;
    if (this.errors === maxErrorsPerFile + 1) this.items.push(diag(file, "TFM1016", span, `more than ${maxErrorsPerFile} errors: the rest are not reported`, { notes: ["fix these first; the check stops reporting here"] }));
    return true;
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === "error");

/** Diagnostics in a stable order: by file, position, then code. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.span.start - b.span.start || a.span.end - b.span.end || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}

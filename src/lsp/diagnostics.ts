// Diagnostics as the editor shows them: the compiler's diagnostics for the document's own file,
// with severity, code, range and related locations (which may point into the standard library).
import { DiagnosticSeverity, type Diagnostic as LspDiagnostic } from "vscode-languageserver/node.js";
import type { Diagnostic, Severity } from "../diag/diagnostic.js";
import { locationOf, rangeOf, type Checked } from "./documents.js";

const severities: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

export function toLsp(c: Checked, d: Diagnostic): LspDiagnostic {
  return {
    range: rangeOf(c, d.span),
    severity: severities[d.severity],
    code: d.code,
    source: "tfm",
    message: [d.message, ...d.notes.map((n) => `help: ${n}`)].join("\n"),
    relatedInformation: d.related.map((r) => ({ location: locationOf(c, r.file ?? d.file, r.span), message: r.message })),
  };
}

/** The document's diagnostics; those in other files (a broken stdlib) are not the editor's business here. */
export function diagnostics(c: Checked): LspDiagnostic[] {
  return c.result.diagnostics.filter((d) => d.file === c.file).map((d) => toLsp(c, d));
}

/** A bug in the server, shown on the file (at its start) so it is seen and reported, not silently lost. */
export function internalError(feature: string, error: unknown): LspDiagnostic {
  const message = error instanceof Error ? error.message : String(error);
  return {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity: DiagnosticSeverity.Error,
    code: "TFM9001",
    source: "tfm",
    message: `internal error in the tfm language server (${feature}): ${message}\nhelp: this is a bug in tfm, not in your program; the server carries on (see its log for the stack)`,
  };
}

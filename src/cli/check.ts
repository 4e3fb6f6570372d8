// `tfm check FILE...`: diagnostics for every file, in one process, and each model's summary.
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { compile, diagnosticToJson, renderDiagnostics } from "../index.js";
import { readSource } from "./io.js";
import { summaryLines } from "./summary.js";

export interface CheckCliOptions {
  set: Map<string, string>;
  json?: boolean;
  quiet?: boolean;
}

/** Returns the exit code: 0 clean (warnings allowed), 1 if any file has errors. */
export function runCheck(files: string[], opts: CheckCliOptions, out: (s: string) => void, err: (s: string) => void): number {
  let failed = false;
  const json: unknown[] = [];
  for (const file of files) {
    const { text, decodeErrors } = readSource(file);
    const r = compile(text, { file, settings: opts.set }).checked;
    const diagnostics = sortDiagnostics([...decodeErrors, ...r.diagnostics]);
    const bad = hasErrors(diagnostics);
    failed ||= bad;
    if (opts.json) {
      json.push({ file, ok: !bad, diagnostics: diagnostics.map((d) => diagnosticToJson(d, r.sources)), summary: bad ? undefined : summaryLines(r) });
      continue;
    }
    if (diagnostics.length) err(renderDiagnostics(diagnostics, r.sources) + "\n");
    if (bad) err(`${file}: ${diagnostics.filter((d) => d.severity === "error").length} error(s)\n`);
    else if (!opts.quiet) out(`${file}: ok\n${summaryLines(r).map((l) => `  ${l}`).join("\n")}\n`);
  }
  if (opts.json) out(JSON.stringify(json, null, 2) + "\n");
  return failed ? 1 : 0;
}

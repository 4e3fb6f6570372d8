// `tfm ir FILE`: the model as IR, one node per line with its type.
import { buildGraph, check } from "../api.js";
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { printGraph } from "../ir/print.js";
import { readSource } from "./io.js";

export function runIr(file: string, opts: { set: Map<string, string> }, out: (s: string) => void, err: (s: string) => void): number {
  const { text, decodeErrors } = readSource(file);
  const r = check(text, file, { settings: opts.set });
  const diagnostics = sortDiagnostics([...decodeErrors, ...r.diagnostics]);
  if (diagnostics.length) err(renderDiagnostics(diagnostics, r.sources) + "\n");
  if (hasErrors(diagnostics)) return 1;
  const g = buildGraph(r);
  if (!g) {
    err(`${file}: no model to lower\n`);
    return 1;
  }
  out(printGraph(g));
  return 0;
}

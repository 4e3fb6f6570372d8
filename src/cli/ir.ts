// `tfm ir FILE [--after PASS] [--report]`: the model as IR, one node per line with its type, as
// built (`--after none`, the default), after a pass of the optimizer or after all of them
// (`--after all`); `--report` prints what each pass changed instead.
import { buildGraph, check } from "../api.js";
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { printGraph } from "../ir/print.js";
import { formatReport, optimize, passes, UnknownPass } from "../passes/pipeline.js";
import { readSource, UsageError } from "./io.js";

export interface IrOptions {
  readonly set: Map<string, string>;
  /** A pass name, "none" or "all". */
  readonly after?: string;
  readonly report?: boolean;
}

export function runIr(file: string, opts: IrOptions, out: (s: string) => void, err: (s: string) => void): number {
  if (opts.after !== undefined && opts.after !== "none" && opts.after !== "all" && !passes.some((p) => p.name === opts.after)) throw new UsageError(`--after: ${new UnknownPass(opts.after).message}`);
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
  const optimized = optimize(g, { until: opts.after ?? (opts.report ? "all" : "none") });
  out(opts.report ? formatReport(optimized) : printGraph(optimized.graph));
  return 0;
}

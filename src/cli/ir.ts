// `tfm ir FILE [--after PASS] [--report]`: the model as IR, one node per line with its type, as
// built (`--after none`, the default), after a pass of the optimizer or after all of them
// (`--after all`); `--report` prints what each pass changed instead, then the memory plan of the
// fused schedule `tfm run` runs, at `--dims` values (src/schedule/memory.ts).
import { buildGraph, check } from "../api.js";
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { printSchedule } from "../schedule/kernel.js";
import { printGraph } from "../ir/print.js";
import { formatReport, passes, UnknownPass } from "../passes/pipeline.js";
import { optimize } from "../optimize.js";
import { schedule } from "../schedule/fuse.js";
import { memoryReportText } from "../schedule/memory-report.js";
import { dimBindings } from "./dims.js";
import { readSource, UsageError } from "./io.js";

export interface IrOptions {
  readonly set: Map<string, string>;
  /** A pass name, "none" or "all". */
  readonly after?: string;
  readonly report?: boolean;
  /** Print the graph's fused schedule (its kernels) after the graph. */
  readonly kernels?: boolean;
  /** With `report`: the dim values the memory section is evaluated at (others default; see dims.ts). */
  readonly dims?: ReadonlyMap<string, number>;
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
  if (opts.kernels) out(`${printGraph(optimized.graph)}\n${printSchedule(schedule(optimized.graph))}`);
  else if (!opts.report) out(printGraph(optimized.graph));
  else out(`${formatReport(optimized)}\n${memoryReportText(schedule(optimized.graph), dimBindings(optimized.graph, opts.dims))}`);
  return 0;
}

// `tfm ir FILE [--after PASS] [--report]`: the model as IR, one node per line with its type, as
// built (`--after none`, the default), after a pass of the optimizer or after all of them
// (`--after all`); `--report` prints what each pass changed instead, then the memory plan of the
// fused schedule `tfm run` runs, at `--dims` values (src/schedule/memory.ts).
import { diag, hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { compile, formatReport, memoryReportText, passes, printGraph, printSchedule, renderDiagnostics, UnknownPass } from "../index.js";
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
  const model = compile(text, { file, settings: opts.set, until: opts.after ?? (opts.report ? "all" : "none") });
  const diagnostics = sortDiagnostics([...decodeErrors, ...model.diagnostics]);
  if (diagnostics.length) err(renderDiagnostics(diagnostics, model.sources) + "\n");
  if (hasErrors(diagnostics)) return 1;
  const optimized = model.optimized;
  if (!optimized) {
    err(model.render([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to lower")]) + "\n");
    return 1;
  }
  if (opts.kernels) out(`${printGraph(optimized.graph)}\n${printSchedule(model.schedule!)}`);
  else if (!opts.report) out(printGraph(optimized.graph));
  else out(`${formatReport(optimized)}\n${memoryReportText(model.schedule!, dimBindings(optimized.graph, opts.dims))}`);
  return 0;
}

// `tfm ir FILE [--after PASS] [--report]`: the model as IR, one node per line with its type, as
// built (`--after none`, the default), after a pass of the optimizer or after all of them
// (`--after all`); `--phase encode|step`: an encoder–decoder's generation phase instead of one call;
// `--report` prints what each pass changed instead, then the memory plan of the
// fused schedule `tfm run` runs, at `--dims` values (src/schedule/memory.ts).
import { diag, hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { compile, formatReport, memoryReportText, passes, printGraph, printSchedule, renderDiagnostics, UnknownPass } from "../index.js";
import { dimBindings } from "./dims.js";
import { dimValue } from "../backends/shared/inputs.js";
import { largestTransient, sharedAbsorbed } from "../backends/cpu/transients.js";
import type { Schedule } from "../schedule/kernel.js";
import { schedule } from "../schedule/fuse.js";
import { showBytes } from "../schedule/memory-report.js";
import { readSource, UsageError } from "./io.js";
import { capacityOf } from "../generate/decoder.js";

export interface IrOptions {
  readonly set: Map<string, string>;
  /** A pass name, "none" or "all". */
  readonly after?: string;
  readonly report?: boolean;
  /** Print the graph's fused schedule (its kernels) after the graph. */
  readonly kernels?: boolean;
  /** With `report`: the dim values the memory section is evaluated at (others default; see dims.ts). */
  readonly dims?: ReadonlyMap<string, number>;
  /** An encoder–decoder's generation phase to print instead of one call (src/ir/phases.ts). */
  readonly phase?: string;
}

export function runIr(file: string, opts: IrOptions, out: (s: string) => void, err: (s: string) => void): number {
  if (opts.after !== undefined && opts.after !== "none" && opts.after !== "all" && !passes.some((p) => p.name === opts.after)) throw new UsageError(`--after: ${new UnknownPass(opts.after).message}`);
  if (opts.phase !== undefined && opts.phase !== "encode" && opts.phase !== "step") throw new UsageError(`--phase takes encode or step, got ${JSON.stringify(opts.phase)}`);
  if (opts.phase !== undefined && opts.report) throw new UsageError("--phase prints a phase's graph (and --kernels); --report is for the call");
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
  if (opts.phase !== undefined) {
    const g = model.phases?.[opts.phase as "encode" | "step"];
    if (!g) throw new UsageError(`--phase: \`${model.name}\` writes no state once (\`once\`), so it runs as one graph: leave --phase out`);
    out(opts.kernels ? `${printGraph(g)}\n${printSchedule(schedule(g))}` : printGraph(g));
  } else if (opts.kernels) out(`${printGraph(optimized.graph)}\n${printSchedule(model.schedule!)}`);
  else if (!opts.report) out(printGraph(optimized.graph));
  else {
    const dims = dimBindings(optimized.graph, opts.dims);
    const capacity = capacityOf(model.checked.instance?.model.hparams as never);
    out(`${formatReport(optimized)}\n${memoryReportText(model.schedule!, dims, capacity !== undefined ? { capacity } : {})}${transientLine(model.schedule!, dims)}`);
  }
  return 0;
}

/** What the CPU's kernels allocate beyond the plan (src/backends/cpu/transients.ts), which `tfm run` adds to the arena for its memory budget. */
function transientLine(s: Schedule, dims: ReadonlyMap<string, number>): string {
  let t: ReturnType<typeof largestTransient>;
  try {
    t = largestTransient(s, (n) => n.shape.map((d) => dimValue(d, dims)));
  } catch {
    return ""; // a size not whole at these dims: the plan's report above says so
  }
  const k = t.kernel;
  const shared = sharedAbsorbed(s).size ? ", with the values kernels share" : "";
  return `  ${"CPU transients".padEnd(19)} ${showBytes(t.bytes).padEnd(30)} ${k ? `the largest kernel's, k${k.id} ${k.kind}${k.anchor !== undefined ? ` (%${k.anchor} ${s.graph.nodes[k.anchor]!.op})` : ""}${shared}; ` : ""}beyond the plan (tfm run's budget adds it)\n`;
}

// `tfm build FILE --target cpu|webgpu [--set k=v] [--capture PATTERN...] [--tokenizer gpt2] -o out.js [--force] [--report]`: the model as one
// standalone ES module (runtime + optimized graph as data, src/bundle/) and `out.d.ts` beside it,
// naming its inputs and outputs. Neither file replaces an existing one without --force.
// `--report` prints the sizes (runtime and data apart), the kernels per call, the weight bytes and
// what each optimizer pass did. `--capture` compiles the values it selects in as extra outputs,
// which the bundle's `run(inputs, { capture })` returns (without it, only the outputs).
import { diag, hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { compile, formatReport, memoryReportText, renderDiagnostics, TfmError } from "../index.js";
import { fileErrorDiagnostic, pathTaken, writeFileAtomic } from "../runtime/files.js";
import { dimBindings } from "./dims.js";
import { WeightFileError } from "../weights/errors.js";
import { bundle, modelData, sizes, TargetUnavailable, targets } from "../bundle/build.js";
import type { Target } from "../bundle/model-data.js";
import { builtinTokenizers, type BuiltinTokenizer } from "../bundle/builtin-tokenizers.js";
import { readSource, UsageError } from "./io.js";
import { bytesPer, humanBytes } from "./summary.js";

export interface BuildOptions {
  readonly set: Map<string, string>;
  readonly target: string;
  readonly output: string;
  readonly force?: boolean;
  readonly report?: boolean;
  /** Values compiled in to be captured at run time (`h.*.attn.weights`, src/ir/capture.ts). */
  readonly capture?: readonly string[];
  /** A tokenizer compiled into the bundle (`gpt2`), for `generate("text")` with no tokenizer given. */
  readonly tokenizer?: string;
  /** With `report`: the dim values the memory plan is evaluated at (others default; see dims.ts). */
  readonly dims?: ReadonlyMap<string, number>;
}

/** `out.js` → `out.d.ts` (`out.mjs` → `out.d.mts`): where TypeScript looks for the module's types. */
export function declarationPath(js: string): string {
  const m = /\.(m?)js$/.exec(js);
  return m ? `${js.slice(0, m.index)}.d.${m[1]}ts` : `${js}.d.ts`;
}

export function runBuild(file: string, opts: BuildOptions, out: (s: string) => void, err: (s: string) => void): number {
  if (!(targets as readonly string[]).includes(opts.target)) throw new UsageError(`--target must be one of ${targets.join(", ")}, got \`${opts.target}\``);
  const target = opts.target as Target;
  const t0 = performance.now();
  if (opts.output.trim() === "") throw new UsageError("-o/--output needs a file name (it was empty)");
  if (opts.tokenizer !== undefined && !(builtinTokenizers as readonly string[]).includes(opts.tokenizer)) throw new UsageError(`--tokenizer must be one of ${builtinTokenizers.join(", ")}, got \`${opts.tokenizer}\``);
  const { text, decodeErrors } = readSource(file);
  const model = compile(text, { file, settings: opts.set, ...(opts.capture?.length ? { capture: opts.capture } : {}) });
  const diagnostics = sortDiagnostics([...decodeErrors, ...model.diagnostics]);
  if (diagnostics.length) err(renderDiagnostics(diagnostics, model.sources) + "\n");
  if (hasErrors(diagnostics)) return 1;
  let optimized;
  try {
    optimized = model.optimized;
  } catch (e) {
    if (!(e instanceof TfmError) || e.code !== "TFM5214") throw e;
    err(model.render((e.problems ?? []).map((p) => diag(file, "TFM5214", { start: 0, end: 0 }, p.message, { notes: p.notes }))) + "\n");
    return 1;
  }
  if (!optimized || !model.name) {
    err(model.render([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to build")]) + "\n");
    return 1;
  }
  const dts = declarationPath(opts.output);
  const fail = (e: unknown): number => {
    if (!(e instanceof WeightFileError)) throw e;
    err(model.render([fileErrorDiagnostic(e, opts.output)]) + "\n");
    return 1;
  };
  // Both names are checked before either file is written; writeFileAtomic checks again, atomically.
  for (const path of [opts.output, dts]) {
    if (!opts.force && pathTaken(path)) return fail(new WeightFileError("TFM5210", `${path} already exists: not overwriting it (use --force to replace it)`, { file: path }));
  }
  const data = { ...modelData(model, target, opts.set), ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer as BuiltinTokenizer } : {}) };
  let b;
  try {
    b = bundle(data);
  } catch (e) {
    if (!(e instanceof TargetUnavailable)) throw e;
    err(`tfm build: --target ${target}: ${e.message}\n`);
    return 1;
  }
  try {
    writeFileAtomic(opts.output, new TextEncoder().encode(b.js), opts.force ?? false);
    writeFileAtomic(dts, new TextEncoder().encode(b.dts), opts.force ?? false);
  } catch (e) {
    return fail(e);
  }
  const ms = performance.now() - t0;
  out(`wrote ${opts.output} (${humanBytes(b.js.length)}) and ${dts}: model ${model.name}, target ${target}, ${data.inputs.length} inputs, ${data.outputs.length} outputs, ${data.captures ? `${data.captures.length} captured values, ` : ""}${data.weights.length} weights${data.tokenizer ? `, the ${data.tokenizer} tokenizer` : ""} (${ms.toFixed(0)} ms)\n`);
  if (opts.report) {
    const s = sizes(b, data);
    const row = (name: string, x: { raw: number; min: number; gzip: number }) => `  ${name.padEnd(12)} ${humanBytes(x.raw).padStart(10)}  ${humanBytes(x.min).padStart(10)}  ${humanBytes(x.gzip).padStart(10)}`;
    // Both targets run the fused schedule: the CPU interpreter, and WebGpuProgram given a graph
    // (which stores every element in 4 bytes, bool included).
    const fused = model.schedule!;
    const kernels = `${fused.kernels.length} per call (the fused schedule, src/schedule/fuse.ts; ${target === "cpu" ? "CPU routines" : "WGSL dispatches"})`;
    const memory = memoryReportText(fused, dimBindings(optimized.graph, opts.dims), { ...(target === "webgpu" ? { elementBytes: () => 4 } : {}), ...(data.capacity !== undefined ? { capacity: data.capacity } : {}) });
    const values = model.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    const bytes = model.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * bytesPer[w.dtype], 0);
    out(
      [
        `bundle: ${humanBytes(s.total)} (runtime and graph data apart; raw = unminified runtime, indented JSON data)`,
        `  ${"".padEnd(12)} ${"raw".padStart(10)}  ${"minified".padStart(10)}  ${"min+gzip".padStart(10)}`,
        row("runtime", s.runtime),
        row("graph data", s.data),
        `kernels: ${kernels}, from ${optimized.graph.nodes.length} IR nodes`,
        `weights: ${data.weights.length} tensors, ${values.toLocaleString("en-US")} values, ${humanBytes(bytes)} as declared (loaded from the checkpoint at run time, not in the bundle)`,
        `optimizer:`,
        formatReport(optimized).trimEnd().replace(/^/gm, "  "),
        memory.trimEnd(),
        "",
      ].join("\n"),
    );
  }
  return 0;
}

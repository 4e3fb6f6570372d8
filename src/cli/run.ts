// `tfm run FILE --weights W.safetensors | --random-weights [--seed N] --input NAME=... [--output DIR]`:
// checks the model, lowers it to IR, optimizes it (unless --no-optimize), loads the weights (with a
// progress bar for large files), runs it on the CPU interpreter (or, with --backend webgpu, as WGSL
// kernels on WebGPU) and writes every output as DIR/<name>.npy.
import { SingleBar } from "cli-progress";
import { buildGraph, check } from "../api.js";
import { CpuProgram } from "../backends/cpu/interpret.js";
import { loadTimeValues } from "../backends/cpu/evaluate.js";
import { RunError } from "../backends/shared/errors.js";
import type { Tensor } from "../core/tensor.js";
import { showValue } from "../check/shapes/value.js";
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { bindCheckpoint } from "../runtime/bind.js";
import { fileErrorDiagnostic, readFileBytes } from "../runtime/files.js";
import { parseSeed, randomWeights } from "../runtime/init.js";
import { loadInputs, parseInputArg, type InputSpec } from "../runtime/inputs.js";
import { writeOutputs } from "../runtime/outputs.js";
import { WeightFileError } from "../weights/errors.js";
import { optimize } from "../optimize.js";
import { WebGpuError } from "../backends/webgpu/errors.js";
import { WebGpuProgram } from "../backends/webgpu/program.js";
import type { Graph } from "../ir/graph.js";
import { schedule, unfused } from "../schedule/fuse.js";
import { readSource, UsageError } from "./io.js";
import { humanBytes } from "./summary.js";

export interface RunOptions {
  readonly set: Map<string, string>;
  readonly weights?: string;
  readonly randomWeights?: boolean;
  readonly seed?: string;
  readonly input: readonly string[];
  readonly output?: string;
  readonly force?: boolean;
  readonly profile?: boolean;
  /** Run the optimizer's passes first (the default; `--no-optimize` turns them off). */
  readonly optimize?: boolean;
  /** Run the fused kernels (the default; `--no-fuse` runs one kernel per node). */
  readonly fuse?: boolean;
  /** Where the kernels run: the CPU interpreter (the default) or WebGPU (WGSL kernels, on Dawn in Node). */
  readonly backend?: "cpu" | "webgpu";
}

/** Files at least this large show a progress bar while loading (on a terminal). */
const progressFrom = 64 << 20;

export function runRun(file: string, opts: RunOptions, out: (s: string) => void, err: (s: string) => void): number | Promise<number> {
  if (!opts.weights === !opts.randomWeights) throw new UsageError("give exactly one of --weights FILE and --random-weights");
  const specs: InputSpec[] = opts.input.map((a) => {
    const s = parseInputArg(a);
    if ("error" in s) throw new UsageError(s.error);
    return s;
  });
  const { text, decodeErrors } = readSource(file);
  const r = check(text, file, { settings: opts.set });
  const fail = (ds: readonly Diagnostic[]) => {
    err(renderDiagnostics(sortDiagnostics(ds), r.sources) + "\n");
    return 1;
  };
  const checked = [...decodeErrors, ...r.diagnostics];
  if (hasErrors(checked)) return fail(checked);
  const built = buildGraph(r);
  if (!built || !r.instance || !r.model) return fail([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to run")]);
  const graph = opts.optimize === false ? built : optimize(built).graph;

  const t0 = performance.now();
  let weights: Map<string, Tensor>;
  if (opts.randomWeights) {
    const seed = parseSeed(opts.seed ?? "0");
    if (typeof seed !== "number") throw new UsageError(seed.error);
    weights = randomWeights(r.instance.weights, seed);
  } else {
    let bytes: Uint8Array;
    try {
      bytes = readFileBytes(opts.weights!, progressBar(err));
    } catch (e) {
      if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, opts.weights)]);
      throw e;
    }
    const bound = bindCheckpoint(r.instance.weights, bytes, r.instance.ignored, { path: opts.weights!, at: { file, span: r.model.decl.name.span } });
    if (!bound.tensors) return fail(bound.diagnostics);
    weights = bound.tensors;
  }
  const inputs = loadInputs(r, specs);
  if (!inputs.tensors) return fail(inputs.diagnostics);
  const model = r.model;
  const runFailed = (e: unknown) => {
    if (e instanceof RunError || e instanceof WebGpuError) return fail([diag((e instanceof RunError && e.site?.file) || file, e.code, (e instanceof RunError && e.site) || model.decl.name.span, e.message)]);
    throw e;
  };
  if (opts.backend === "webgpu") {
    const tensors = inputs.tensors;
    return runOnWebGpu(graph, weights, tensors, opts.fuse !== false).then(
      ({ result, kernels, dispatches, t1, t2 }) => report(result, t1, t2, `${kernels} kernels on WebGPU${opts.fuse === false ? " (not fused)" : ""}, ${dispatches} dispatches`),
      runFailed,
    );
  }
  let program: CpuProgram;
  let result;
  let t1 = performance.now();
  try {
    // Loading computes what depends on weights alone, which can fail as a run can (a constant index out of range).
    program = new CpuProgram(graph, weights, undefined, { fuse: opts.fuse !== false });
    t1 = performance.now();
    result = program.run(inputs.tensors, { profile: opts.profile ?? false });
  } catch (e) {
    return runFailed(e);
  }
  return report(result, t1, performance.now(), `${program.schedule.kernels.length} kernels${opts.fuse === false ? " (not fused)" : ""}`);

  function report(result: { outputs: ReadonlyMap<string, Tensor>; symbols: ReadonlyMap<string, number>; profile?: ReadonlyMap<string, { ms: number; count: number }> }, t1: number, t2: number, kernels: string): number {
    let written: string[] = [];
    if (opts.output) {
      try {
        written = writeOutputs(opts.output, result.outputs, opts.force ?? false);
      } catch (e) {
        if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, opts.output)]);
        throw e;
      }
    }
    const dims = [...result.symbols].map(([k, v]) => `${k}=${v}`).join(" ");
    out(`${file}: model ${model.name}${dims ? ` (${dims})` : ""}\n`);
    for (const [name, t] of result.outputs) {
      const declared = r.shapes?.outputs.find((o) => o.name === name);
      out(`  output ${name}: ${t.dtype}[${t.shape.join(", ")}]${declared ? `  (${showValue(declared.value)})` : ""}\n`);
    }
    if (written.length) out(`  wrote ${written.join(", ")}\n`);
    out(`  load ${(t1 - t0).toFixed(0)} ms, run ${(t2 - t1).toFixed(1)} ms, ${graph.nodes.length} IR nodes${opts.optimize === false ? " (not optimized)" : ` (${built!.nodes.length} before optimizing)`}, ${kernels}, ${weights.size} weights\n`);
    if (result.profile) {
      const rows = [...result.profile].sort((a, b) => b[1].ms - a[1].ms);
      const total = rows.reduce((a, [, p]) => a + p.ms, 0);
      out(`  profile (${total.toFixed(1)} ms in kernels):\n`);
      const width = Math.max(10, ...rows.map(([k]) => k.length));
      for (const [op, p] of rows) out(`    ${op.padEnd(width)} ${p.ms.toFixed(1).padStart(9)} ms  ${((100 * p.ms) / total).toFixed(1).padStart(5)}%  ×${p.count}\n`);
    }
    return 0;
  }
}

/** Runs the graph's WGSL kernels (fused or op by op) on a Dawn device made for this run. */
async function runOnWebGpu(graph: Graph, weights: ReadonlyMap<string, Tensor>, inputs: ReadonlyMap<string, Tensor>, fuse: boolean) {
  // Loaded here, so that CPU runs never load Dawn.
  const { createNodeDevice } = await import("../backends/webgpu/node.js");
  const gpu = await createNodeDevice();
  try {
    const program = await WebGpuProgram.load(fuse ? schedule(graph) : unfused(graph), weights, gpu.device, { loadTime: loadTimeValues });
    const t1 = performance.now();
    const result = await program.runWithSymbols(inputs);
    const t2 = performance.now();
    program.destroy();
    return { result, kernels: program.compiled.kernels.length, dispatches: program.dispatches.lastRun, t1, t2 };
  } finally {
    gpu.close();
  }
}

/** A progress bar on stderr for large files, when stderr is a terminal. */
function progressBar(err: (s: string) => void): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (total < progressFrom) return;
    if (!bar) {
      bar = new SingleBar({ format: "loading weights [{bar}] {percentage}% {value}/{total} MiB", hideCursor: true, stream: process.stderr });
      bar.start(Math.ceil(total / 2 ** 20), 0);
    }
    bar.update(Math.floor(done / 2 ** 20));
    if (done >= total) {
      bar.stop();
      err(`loaded ${humanBytes(total)}\n`);
    }
  };
}

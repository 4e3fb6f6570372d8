// `tfm run FILE --weights W.safetensors | --random-weights [--seed N] --input NAME=... [--output DIR]`:
// checks the model, lowers it to IR, optimizes it (unless --no-optimize), loads the weights (with a
// progress bar for large files), runs it on the CPU interpreter (or, with --backend webgpu, as WGSL
// kernels on WebGPU) and writes every output as DIR/<name>.npy.
import { SingleBar } from "cli-progress";
import { showValue } from "../check/shapes/value.js";
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/diagnostic.js";
import { compile, renderDiagnostics, TfmError, type CompiledModel, type CompileOptions, type Session, type TensorOut } from "../index.js";
import { configSettings, type ConfigSettings } from "../runtime/config.js";
import { fileErrorDiagnostic } from "../runtime/files.js";
import { locateCheckpoint } from "../runtime/folder.js";
import { parseSeed } from "../runtime/init.js";
import { loadInputs, parseInputArg, type InputSpec } from "../runtime/inputs.js";
import { writeOutputs } from "../runtime/outputs.js";
import { WeightFileError } from "../weights/errors.js";
import { parseThreads, readSource, UsageError } from "./io.js";
import { humanBytes } from "./summary.js";
import { parseSize, weightBytes } from "../backends/shared/budget.js";
import { memoryBudget } from "../budget.js";

export interface RunOptions {
  readonly set: Map<string, string>;
  /** Paths: a file, a Hugging Face folder, an index json; several are shards. */
  readonly weights?: readonly string[];
  readonly stripPrefix?: readonly string[];
  readonly addPrefix?: string;
  readonly randomWeights?: boolean;
  readonly seed?: string;
  readonly input: readonly string[];
  readonly output?: string;
  /** Glob patterns over the model's bound names (`h.*.attn.weights`): each match is written beside the outputs. */
  readonly capture?: readonly string[];
  readonly force?: boolean;
  readonly profile?: boolean;
  /** Run the optimizer's passes first (the default; `--no-optimize` turns them off). */
  readonly optimize?: boolean;
  /** Run the fused kernels (the default; `--no-fuse` runs one kernel per node). */
  readonly fuse?: boolean;
  /** Where the kernels run: the CPU interpreter (the default) or WebGPU (WGSL kernels, on Dawn in Node). */
  readonly backend?: "cpu" | "webgpu";
  /** The memory budget (`--max-memory 4G`; default src/budget.ts). */
  readonly maxMemory?: string;
  /** cpu: threads for the matrix products (`--threads N`; default the cores). */
  readonly threads?: string;
  /** How the weights are kept (`--weights-dtype f32|int8|f16`: int8 on the CPU, f16 on WebGPU). */
  readonly weightsDtype?: "f32" | "int8" | "f16";
}

/**
 * The model compiled for a checkpoint: a folder's config.json sets the parameters it names (`--set`
 * wins), told on `err`, before the model is compiled for good. Shared by `tfm run` and `tfm export`.
 */
export function compileFor(text: string, file: string, set: Map<string, string>, weights: readonly string[], until: string, err: (s: string) => void, extra: Pick<CompileOptions, "capture"> = {}): { model: CompiledModel } | { model: CompiledModel; failed: Diagnostic[] } {
  let model = compile(text, { file, settings: set, until, ...extra });
  if (!weights.length || !model.checked.instance) return { model };
  let config: ConfigSettings | undefined;
  let path: string | undefined;
  try {
    path = locateCheckpoint(weights).config;
    config = path === undefined ? undefined : configSettings(path, new Map([...model.checked.instance.model.hparams].map(([k, v]) => [k, v.kind])), new Set(set.keys()));
  } catch (e) {
    if (e instanceof WeightFileError) return { model, failed: [fileErrorDiagnostic(e)] };
    throw e;
  }
  if (config && path) {
    if (config.ignored.length) err(`note: ${path}: ignored ${config.ignored.length} key(s) the model has no parameter for: ${config.ignored.join(", ")}\n`);
    if (config.overridden.length) err(`note: --set overrides ${path} for ${config.overridden.join(", ")}\n`);
    if (config.settings.size) model = compile(text, { file, settings: new Map([...config.settings, ...set]), until, ...extra });
  }
  return { model };
}

/** A load still going after this long shows a progress bar (on a terminal). */
const progressAfterMs = 1000;

export function runRun(file: string, opts: RunOptions, out: (s: string) => void, err: (s: string) => void): number | Promise<number> {
  const weights = opts.weights ?? [];
  if (!weights.length === !opts.randomWeights) throw new UsageError("give exactly one of --weights PATH and --random-weights");
  const specs: InputSpec[] = opts.input.map((a) => {
    const s = parseInputArg(a);
    if ("error" in s) throw new UsageError(s.error);
    return s;
  });
  if (opts.output !== undefined && opts.output.trim() === "") throw new UsageError("-o/--output needs a directory name (it was empty)");
  const maxMemory = opts.maxMemory === undefined ? undefined : parseSize(opts.maxMemory);
  if (typeof maxMemory === "object") throw new UsageError(`--max-memory: ${maxMemory.error}`);
  const threads = parseThreads(opts.threads);
  const seed = opts.randomWeights ? parseSeed(opts.seed ?? "0") : 0;
  if (typeof seed !== "number") throw new UsageError(seed.error);
  const { text, decodeErrors } = readSource(file);
  const until = opts.optimize === false ? "none" : "all";
  const capture = opts.capture?.length ? { capture: opts.capture } : {};
  const compiled = compileFor(text, file, opts.set, weights, until, err, capture);
  if ("failed" in compiled) {
    err(compiled.model.render(compiled.failed) + "\n");
    return 1;
  }
  const model = compiled.model;
  const fail = (ds: readonly Diagnostic[]) => {
    err(model.render(sortDiagnostics(ds)) + "\n");
    return 1;
  };
  const failed = (e: unknown) => {
    if (e instanceof TfmError && e.diagnostics) return fail(e.diagnostics);
    throw e;
  };
  const checked = [...decodeErrors, ...model.diagnostics];
  if (hasErrors(checked)) return fail(checked);
  try {
    void model.graph;
  } catch (e) {
    if (!(e instanceof TfmError) || e.code !== "TFM5214") throw e;
    return fail((e.problems ?? []).map((p) => diag(file, "TFM5214", { start: 0, end: 0 }, p.message, { notes: p.notes })));
  }
  if (!model.graph || !model.name) return fail([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to run")]);
  // The inputs are read under the memory budget beside the weights (.npy headers first), before any is allocated;
  // weights over the budget on their own are refused by load below, before any input is read.
  const budget = memoryBudget(maxMemory);
  const held = weightBytes(model.checked.instance?.weights ?? []);
  let records = {};
  if (held <= budget) {
    const inputs = loadInputs(model.checked, specs, { budget, held });
    if (!inputs.tensors) return fail(inputs.diagnostics);
    records = Object.fromEntries(inputs.tensors);
  }
  const name = model.name;
  const graph = model.graph;

  const t0 = performance.now();
  return model
    .load(opts.randomWeights ? { random: true, seed } : weights, {
      backend: opts.backend ?? "cpu",
      fuse: opts.fuse !== false,
      onProgress: progressBar(err),
      ...(opts.stripPrefix ? { stripPrefix: opts.stripPrefix } : {}),
      ...(opts.addPrefix !== undefined ? { addPrefix: opts.addPrefix } : {}),
      onNote: (n) => err(`note: ${n}\n`),
      checkConfig: false,
      ...(maxMemory ? { maxMemory } : {}),
      ...(threads !== undefined ? { threads } : {}), ...(opts.weightsDtype && opts.weightsDtype !== "f32" ? { weightsDtype: opts.weightsDtype } : {}),
    })
    .then(async (session) => {
      const t1 = performance.now();
      try {
        const r = await session.runDetailed(records, { profile: opts.profile ?? false });
        return report(session, r.outputs, r.symbols, r.profile, t1, t1 + r.ms, r.dispatches);
      } finally {
        session.dispose();
      }
    }, failed)
    .catch(failed);

  function report(session: Session, outputs: Record<string, TensorOut>, symbols: ReadonlyMap<string, number>, profile: ReadonlyMap<string, { ms: number; count: number }> | undefined, t1: number, t2: number, dispatches?: number): number {
    let written: string[] = [];
    if (opts.output) {
      try {
        written = writeOutputs(opts.output, new Map(Object.entries(outputs)), opts.force ?? false);
      } catch (e) {
        if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, opts.output)]);
        throw e;
      }
    }
    const dims = [...symbols].map(([k, v]) => `${k}=${v}`).join(" ");
    out(`${file}: model ${name}${dims ? ` (${dims})` : ""}\n`);
    for (const [name, t] of Object.entries(outputs)) {
      const declared = model.shapes?.outputs.find((o) => o.name === name);
      out(`  output ${name}: ${t.dtype}[${t.shape.join(", ")}]${declared ? `  (${showValue(declared.value)})` : ""}\n`);
    }
    if (written.length) out(`  wrote ${written.join(", ")}\n`);
    const unfused = opts.fuse === false ? " (not fused)" : "";
    const kernels = session.backend === "webgpu" ? `${session.kernels} kernels on WebGPU${unfused}, ${dispatches} dispatches` : `${session.kernels} kernels${unfused}`;
    out(`  load ${(t1 - t0).toFixed(0)} ms, run ${(t2 - t1).toFixed(1)} ms, ${graph.nodes.length} IR nodes${opts.optimize === false ? " (not optimized)" : ` (${model.built!.nodes.length} before optimizing)`}, ${kernels}, ${session.weights} weights\n`);
    if (profile) {
      const rows = [...profile].sort((a, b) => b[1].ms - a[1].ms);
      const total = rows.reduce((a, [, p]) => a + p.ms, 0);
      out(`  profile (${total.toFixed(1)} ms in kernels):\n`);
      const width = Math.max(10, ...rows.map(([k]) => k.length));
      for (const [op, p] of rows) out(`    ${op.padEnd(width)} ${p.ms.toFixed(1).padStart(9)} ms  ${((100 * p.ms) / total).toFixed(1).padStart(5)}%  ×${p.count}\n`);
    }
    return 0;
  }
}

/** A progress bar on stderr for loads that take over a second, when stderr is a terminal. */
export function progressBar(err: (s: string) => void): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let bar: SingleBar | undefined;
  let started: number | undefined;
  return (done, total) => {
    started ??= performance.now();
    if (!bar && (done >= total || performance.now() - started < progressAfterMs)) return;
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

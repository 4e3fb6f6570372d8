// `model.load(weights, { backend })`: a compiled model bound to its weights on a backend — the CPU
// interpreter (src/backends/cpu/) or WGSL kernels on WebGPU (src/backends/webgpu/, on Dawn in
// Node unless a GPUDevice is given) — and `session.run(inputs)`. Inputs and outputs are records
// `{ data, shape }` converted and checked as bundles check them (src/bundle/io.ts). Every failure a
// caller can act on rejects with a TfmError carrying diagnostics that point into the source.
import { loadTimeValues } from "./backends/cpu/evaluate.js";
import { CpuProgram } from "./backends/cpu/interpret.js";
import { f16Kernels, halfWeights, int8Kernels, threadedKernels } from "./backends/cpu/kernels/index.js";
import { acquireGemmThreads, defaultThreads } from "./backends/cpu/kernels/wasm/node-threads.js";
import { RunError } from "./backends/shared/errors.js";
import { WebGpuError } from "./backends/webgpu/errors.js";
import { TfmError } from "./bundle/errors.js";
import { toInputs } from "./bundle/io.js";
import { readWeights } from "./bundle/weights.js";
import { numel, type Tensor } from "./core/tensor.js";
import { diag, type Diagnostic } from "./diag/diagnostic.js";
import type { Span } from "./diag/span.js";
import type { Graph } from "./ir/graph.js";
import { bindCheckpoint } from "./runtime/bind.js";
import { configDifferences } from "./runtime/config.js";
import { fileErrorDiagnostic } from "./runtime/files.js";
import { locateCheckpoint, openCheckpoint } from "./runtime/folder.js";
import { adaptNames } from "./runtime/rename.js";
import { checkSeed, randomWeights } from "./runtime/init.js";
import { WeightFileError } from "./weights/errors.js";
import { checkWeightsBudget, memoryBudget } from "./budget.js";
import type { SafetensorsFile } from "./weights/safetensors.js";
import type { CompiledModel } from "./compile.js";
import type { OnnxExportOptions, OnnxModel } from "./export/onnx.js";
import { capacityOf, checkTokens, Decoder, decoderInfo, emptyStates, promptRows, type Encoder, type GenerateOptions as DecoderOptions, type ResidentRunner } from "./generate/decoder.js";

export interface GenerateOptions extends DecoderOptions {
  /**
   * An encoder–decoder's source, the inputs its encoder reads (`{ src: { data: [[5, 6, 7]] } }`,
   * and `src_mask`, which has a default), given once: the prompt is then the decoder's start.
   */
  readonly source?: Readonly<Record<string, TensorIn>>;
}

/**
 * A safetensors checkpoint (a path or file: URL in Node, an http(s) URL, or its bytes), or deterministic
 * random weights. A path may name a Hugging Face folder (`model.safetensors`, or
 * `model.safetensors.index.json` and its shards) or an index file; several paths are shards, merged.
 */
export type WeightsInput = string | readonly string[] | URL | ArrayBuffer | ArrayBufferView | { readonly random: true; readonly seed?: number };

export interface LoadOptions {
  /** Where the kernels run (default "cpu"). */
  readonly backend?: "cpu" | "webgpu";
  /**
   * cpu: threads for the matrix products (default: `TFM_THREADS`, else the cores, `os.availableParallelism()`); 1 runs
   * on the calling thread alone. Results are the same bit for bit for any count.
   */
  readonly threads?: number;
  /** Run the fused kernels (the default), or one kernel per IR node. */
  readonly fuse?: boolean;
  /**
   * How the weights are kept — "f32" (the default, exact); "f16", the weights' matrices stored as
   * f16, rounded to nearest at load, and computed in f32 (half the bytes; on the CPU in the GEMM's
   * memory, test/unit/backends/cpu/f16.test.ts; on WebGPU on the device, test/webgpu/f16.test.ts);
   * cpu only: "int8", matrix products read their weights quantized per output column at load (a
   * quarter of the bytes a decode step reads; the accuracy cost is measured in
   * test/unit/backends/cpu/int8.test.ts), refused on WebGPU (TFM6004).
   */
  readonly weightsDtype?: "f32" | "int8" | "f16";
  /** webgpu: the GPUDevice to run on (default: a Dawn device in Node, from the optional `webgpu` package). */
  readonly device?: unknown;
  /** Reading a checkpoint from a path: called as its bytes arrive. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * The memory budget: bytes, or a size such as "512M" or "4G" (default: half the machine's
   * memory, src/budget.ts). The weights (from their declared shapes, before any is read or
   * generated) and, on the CPU, each run (src/backends/cpu/transients.ts) that need more are refused with TFM6003.
   */
  readonly maxMemory?: number | string;
  /** Checkpoint names: prefixes removed from the names that carry them, then one put before every name. */
  readonly stripPrefix?: readonly string[];
  readonly addPrefix?: string;
  /** Told what loading adapted (a prefix stripped, a tied copy dropped, config.json values that differ), one line each. */
  readonly onNote?: (message: string) => void;
  /** A folder's config.json is compared with the compiled parameters, differences told to onNote (default true). */
  readonly checkConfig?: boolean;
}

/** Nested arrays of elements, row-major: `[[1, 2, 3]]`. */
export type NestedArray = readonly (number | bigint | boolean | NestedArray)[];

/** An input: its elements (a typed array, an array, or nested arrays) and its shape (implied by nested arrays). */
export interface TensorIn {
  readonly data: ArrayLike<number | bigint | boolean> | NestedArray;
  readonly shape?: readonly number[];
}

/** An output, a fresh copy: Float32Array for f32 (f16, bf16), Int32Array for i32 (i64), Uint8Array (0/1) for bool. */
export type TensorOut = Tensor;

export interface RunInfo {
  readonly outputs: Record<string, TensorOut>;
  /** The sizes the symbolic dims took (batch, seq, ...). */
  readonly symbols: ReadonlyMap<string, number>;
  /** Milliseconds per kernel kind (CPU, when asked for). */
  readonly profile?: ReadonlyMap<string, { ms: number; count: number }>;
  /** WebGPU: the dispatches of this run. */
  readonly dispatches?: number;
  /** The run's wall time in milliseconds. */
  readonly ms: number;
}

/** Token ids: one sequence, or a batch of sequences of one length. */
export type TokenIds = readonly number[] | readonly (readonly number[])[];

export interface Session {
  readonly backend: "cpu" | "webgpu";
  /** Whether the model keeps state between calls (a KV cache: `state` in the source). */
  readonly stateful: boolean;
  /** Positions the cache holds now (0 after `reset`). */
  readonly cacheLength: number;
  /** Kernels per run (the fused schedule's, or one per node). */
  readonly kernels: number;
  /** Weights bound. */
  readonly weights: number;
  /** Runs the model once; inputs with a default may be left out. */
  /**
   * Runs the model. `capture`: glob patterns over the model's bound names (`h.*.attn.weights`,
   * docs/PICTURES.md): each match is returned too, named by its path (the model is prepared again
   * for each new set of patterns, on the same weights; TFM5214 for a pattern matching nothing).
   */
  run(inputs: Readonly<Record<string, TensorIn>>, options?: { readonly capture?: readonly string[] }): Promise<Record<string, TensorOut>>;
  /** As `run`, with the dims' sizes, the time taken and (CPU, `profile`) the time per kernel kind. */
  runDetailed(inputs: Readonly<Record<string, TensorIn>>, options?: { readonly profile?: boolean }): Promise<RunInfo>;
  /**
   * Generates from token ids, streaming: for one sequence each new token, for a batch an array of
   * one token per sequence. Greedy unless `temperature` > 0; see GenerateOptions.
   */
  generate(prompt: readonly number[], options?: GenerateOptions): AsyncGenerator<number>;
  generate(prompt: readonly (readonly number[])[], options?: GenerateOptions): AsyncGenerator<number[]>;
  /** Starts a sequence: runs the inputs (the prompt) from empty state and keeps the state. */
  prefill(inputs: Readonly<Record<string, TensorIn>>): Promise<Record<string, TensorOut>>;
  /** Runs the next positions on the state kept so far, and appends them to it. */
  step(inputs: Readonly<Record<string, TensorIn>>): Promise<Record<string, TensorOut>>;
  /** Forgets the sequence: the next `step` starts from empty state. */
  reset(): void;
  /** Releases the weights (and the device's buffers); `run` rejects afterwards. */
  dispose(): void;
}

/** One backend's program over the bound weights. */
interface Engine {
  readonly kernels: number;
  run(inputs: ReadonlyMap<string, Tensor>, profile: boolean): Promise<Omit<RunInfo, "outputs" | "ms"> & { outputs: ReadonlyMap<string, Tensor> }>;
  /** A way to run that keeps the state on the engine's side (WebGPU: device buffers), for the Decoder. */
  readonly resident?: ResidentRunner;
  dispose(): void;
}

/** The graph and instance of a model that checked without errors; a TfmError otherwise (its errors, or TFM2008). */
function loadable(model: CompiledModel, verb: string): { at: { file: string; span: Span }; graph: Graph; instance: NonNullable<CompiledModel["checked"]["instance"]> } {
  const at = site(model);
  if (!model.ok) {
    const errors = model.diagnostics.filter((d) => d.severity === "error");
    throw new TfmError(errors[0]!.code, `${model.file} has ${errors.length} error(s); the first: ${errors[0]!.message}`, { diagnostics: model.diagnostics });
  }
  const { graph } = model;
  const instance = model.checked.instance;
  if (!graph || !instance) throw new TfmError("TFM2008", `${model.file} defines no \`model\` to ${verb}`, { diagnostics: [diag(model.file, "TFM2008", at.span, `the file defines no \`model\` to ${verb}`)] });
  return { at, graph, instance };
}

export async function load(model: CompiledModel, source: WeightsInput, options: LoadOptions): Promise<Session> {
  const { at, graph, instance } = loadable(model, "load");
  const coded = (e: unknown) => asTfmError(e, at);
  let engine: Engine;
  let weights: Map<string, Tensor>;
  try {
    checkLoadOptions(options);
    checkWeightsBudget(instance.weights, memoryBudget(options.maxMemory));
    weights = await bind(model, source, options, at, options.backend !== "webgpu");
    engine = await (options.backend === "webgpu" ? webgpuEngine : cpuEngine)(graph, weights, options);
  } catch (e) {
    throw coded(e);
  }
  let live: Engine | undefined = engine;
  const alive = (): Engine => {
    if (!live) throw new TfmError("TFM6002", "the session was disposed: load the model again to run it");
    return live;
  };
  const states = new Set(graph.states.map((s) => s.name));
  const userOutputs = (outputs: ReadonlyMap<string, Tensor>) => new Map([...outputs].filter(([k]) => !states.has(k)));
  // The engines of the models compiled again with captures (`run(inputs, { capture })`), by their patterns.
  const capturing = new Map<string, Engine>();
  const captureEngine = async (patterns: readonly string[]): Promise<Engine> => {
    alive();
    const key = JSON.stringify(patterns);
    let e = capturing.get(key);
    if (!e) {
      const g = model.capturing(patterns).graph!;
      e = await (options.backend === "webgpu" ? webgpuEngine : cpuEngine)(g, weights, options);
      capturing.set(key, e);
    }
    return e;
  };
  const runDetailed = async (records: Readonly<Record<string, TensorIn>>, opts: { readonly profile?: boolean; readonly capture?: readonly string[] } = {}): Promise<RunInfo> => {
    try {
      checkRunOptions(opts);
      const inputs = toInputs(model.inputs, records, { defaults: true });
      // One call on its own: the state starts empty, and what it would keep is not returned.
      for (const [k, t] of emptyStates(graph, inputs)) inputs.set(k, t);
      const t0 = performance.now();
      const r = await (opts.capture?.length ? await captureEngine(opts.capture) : alive()).run(inputs, opts.profile ?? false);
      const ms = performance.now() - t0;
      return { ...r, outputs: copies(userOutputs(r.outputs)), ms };
    } catch (e) {
      throw coded(e);
    }
  };
  let decoder: Decoder | undefined;
  // An encoder–decoder with states written once runs its phases' graphs (src/ir/phases.ts): an
  // engine for each, made when it first generates.
  const phases = model.phases;
  const phaseEngines: Engine[] = [];
  const residentOf = (e: Engine): ResidentRunner | undefined => e.resident && { ...(e.resident.keepsInputs ? { keepsInputs: true } : {}), run: (inputs, opts) => (alive(), e.resident!.run(inputs, opts)) };
  const runnerOf = (e: Engine) => async (inputs: ReadonlyMap<string, Tensor>) => (alive(), (await e.run(inputs, false)).outputs);
  const capacity = capacityOf(model.checked.instance?.model.hparams as never);
  let decoding: Promise<Decoder> | undefined;
  const decode = (): Promise<Decoder> =>
    (decoding ??= (async () => {
      if (!phases) return (decoder = new Decoder(graph, runnerOf(engine), decoderInfo(graph, capacity), residentOf(engine)));
      const make = options.backend === "webgpu" ? webgpuEngine : cpuEngine;
      const enc = await make(phases.encode, weights, options);
      phaseEngines.push(enc);
      const step = await make(phases.step, weights, options);
      phaseEngines.push(step);
      const encoder: Encoder = { graph: phases.encode, run: runnerOf(enc) };
      return (decoder = new Decoder(phases.step, runnerOf(step), decoderInfo(phases.step, capacity, phases.encode), residentOf(step), encoder));
    })().catch((e: unknown) => {
      decoding = undefined;
      throw e;
    }));
  const stepWith = (first: boolean) => async (records: Readonly<Record<string, TensorIn>>) => {
    try {
      const d = await decode();
      // A later call of an encoder–decoder takes the decoder's inputs alone: its source was given first.
      const source = d.info.source && phases && !first ? new Set(d.info.source) : undefined;
      const inputs = toInputs(source ? model.inputs.filter((p) => !source.has(p.name)) : model.inputs, records, { defaults: true });
      return copies(await (first ? d.prefill(inputs) : d.step(inputs)));
    } catch (e) {
      throw coded(e);
    }
  };
  async function* generate(prompt: TokenIds, opts: GenerateOptions = {}): AsyncGenerator<number & number[]> {
    let it: AsyncGenerator<number[]>;
    let batched = false;
    try {
      const p = promptRows(prompt);
      batched = p.batched;
      const rows = p.rows;
      const d = await decode();
      checkTokens(rows, graph!, d.info.logits);
      const { source: given, ...sampling } = opts;
      const names = new Set(d.info.source ?? []);
      if (given !== undefined && !names.size) throw new TfmError("TFM8002", `the model \`${graph.name}\` takes no source: \`source\` is for an encoder–decoder`);
      const source = names.size ? toInputs(model.inputs.filter((q) => names.has(q.name)), given ?? {}, { defaults: true }) : new Map<string, Tensor>();
      it = d.generate(rows, sampling, source);
    } catch (e) {
      throw coded(e);
    }
    while (true) {
      let r: IteratorResult<number[]>;
      try {
        r = await it.next();
      } catch (e) {
        throw coded(e);
      }
      if (r.done) return;
      yield (batched ? r.value : r.value[0]) as number & number[];
    }
  }
  return Object.freeze({
    backend: options.backend ?? "cpu",
    kernels: engine.kernels,
    weights: weights.size,
    stateful: graph.states.length > 0 || !!phases,
    get cacheLength() {
      return decoder?.length ?? 0;
    },
    runDetailed,
    run: async (records: Readonly<Record<string, TensorIn>>, opts: { readonly capture?: readonly string[] } = {}) => (await runDetailed(records, opts)).outputs,
    generate: generate as Session["generate"],
    prefill: stepWith(true),
    step: stepWith(false),
    reset: () => decoder?.reset(),
    dispose() {
      live?.dispose();
      live = undefined;
      for (const e of phaseEngines.splice(0)) e.dispose();
      for (const e of capturing.values()) e.dispose();
      capturing.clear();
    },
  });
}

/** What `exportOnnx` takes: the ONNX options, and how the weights are read (as `load` reads them). */
export type ExportOptions = OnnxExportOptions & Pick<LoadOptions, "onProgress" | "maxMemory" | "stripPrefix" | "addPrefix" | "onNote" | "checkConfig">;

/** The model's optimized graph as ONNX (src/export/onnx.ts), its weights bound as `load` binds them. */
export async function exportOnnxModel(model: CompiledModel, source: WeightsInput, options: ExportOptions = {}): Promise<OnnxModel> {
  const { at, graph, instance } = loadable(model, "export");
  try {
    checkLoadOptions(options);
    checkWeightsBudget(instance.weights, memoryBudget(options.maxMemory));
    const weights = await bind(model, source, options, at);
    const { exportOnnx, ExportError } = await import("./export/onnx.js");
    try {
      return exportOnnx(graph, weights, options);
    } catch (e) {
      if (e instanceof ExportError) throw failed([diag(at.file, e.code, at.span, e.message)]);
      throw e;
    }
  } catch (e) {
    throw asTfmError(e, at);
  }
}

/** TFM6004 for an option of the wrong type or out of range, before anything is read or started. */
function checkLoadOptions(options: LoadOptions | ExportOptions): void {
  const bad = (what: string, got: unknown) => new TfmError("TFM6004", `${what}, got ${show(got)}`);
  if (typeof options !== "object" || options === null) throw bad("load options must be an object", options);
  const o = options as Record<string, unknown>;
  if (o["backend"] !== undefined && o["backend"] !== "cpu" && o["backend"] !== "webgpu") throw bad('backend must be "cpu" or "webgpu"', o["backend"]);
  const threads = o["threads"];
  if (threads !== undefined && !(typeof threads === "number" && Number.isSafeInteger(threads) && threads >= 1 && threads <= 1024)) throw bad("threads must be a whole number from 1 to 1024", threads);
  const wd = o["weightsDtype"];
  if (wd !== undefined && wd !== "f32" && wd !== "int8" && wd !== "f16") throw bad('weightsDtype must be "f32", "f16" or "int8"', wd);
  for (const k of ["fuse", "checkConfig"] as const) if (o[k] !== undefined && typeof o[k] !== "boolean") throw bad(`${k} must be true or false`, o[k]);
  for (const k of ["onProgress", "onNote"] as const) if (o[k] !== undefined && typeof o[k] !== "function") throw bad(`${k} must be a function`, o[k]);
  if (o["addPrefix"] !== undefined && typeof o["addPrefix"] !== "string") throw bad("addPrefix must be a string", o["addPrefix"]);
  const strip = o["stripPrefix"];
  if (strip !== undefined && !(Array.isArray(strip) && strip.every((p) => typeof p === "string"))) throw bad("stripPrefix must be an array of strings", strip);
  const mm = o["maxMemory"];
  if (mm !== undefined && typeof mm !== "number" && typeof mm !== "string") throw bad('maxMemory must be a number of bytes or a size such as "4G"', mm);
}

/** TFM6004 for run options of the wrong type (`capture` a list of patterns, `profile` true or false). */
function checkRunOptions(opts: unknown): void {
  const bad = (what: string, got: unknown) => new TfmError("TFM6004", `${what}, got ${show(got)}`);
  if (typeof opts !== "object" || opts === null) throw bad("run options must be an object", opts);
  const o = opts as Record<string, unknown>;
  const capture = o["capture"];
  if (capture !== undefined && !(Array.isArray(capture) && capture.every((p) => typeof p === "string"))) throw bad("capture must be an array of patterns (strings)", capture);
  if (o["profile"] !== undefined && typeof o["profile"] !== "boolean") throw bad("profile must be true or false", o["profile"]);
}

/** A value as an option's message shows it: strings quoted, short. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v === undefined || v === null) return String(v);
  return Array.isArray(v) ? "an array" : typeof v === "function" ? "a function" : "an object";
}

/** The weights as runtime tensors: read and bound by checkpoint name (strict), or random. */
async function bind(model: CompiledModel, source: WeightsInput, options: Omit<LoadOptions, "backend">, at: { file: string; span: Span }, onCpu = false): Promise<Map<string, Tensor>> {
  const instance = model.checked.instance!;
  if (typeof source === "object" && source !== null && "random" in source) {
    if ((source as { random: unknown }).random !== true) throw new TfmError("TFM6004", `random weights are asked for with { random: true, seed }, got random: ${show((source as { random: unknown }).random)}`);
    const seed = source.seed ?? 0;
    checkSeed(seed);
    // For the CPU, drawn on as many threads as the GEMM gets (the same bytes on any count).
    const threads = options.threads ?? defaultThreads();
    if (onCpu && Number.isSafeInteger(threads) && threads > 1) return (await import("./runtime/init-threads.js")).randomWeightsThreaded(instance.weights, seed, Math.min(threads, 64));
    return randomWeights(instance.weights, seed);
  }
  let file: Uint8Array | SafetensorsFile;
  let name: string;
  if (Array.isArray(source) || (typeof source === "string" && !/^[a-z][a-z0-9+.-]+:/i.test(source))) {
    // Paths: by range, headers first (src/runtime/folder.ts), names adapted (src/runtime/rename.ts).
    const located = locateCheckpoint(typeof source === "string" ? [source] : (source as readonly string[]));
    name = located.name;
    if (located.config && options.checkConfig !== false) configDifferences(located.config, instance.model.hparams).forEach((n) => options.onNote?.(n));
    const adapted = adaptNames(new Set(instance.weights.map((w) => w.name)), openCheckpoint(located.files), { ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}), ...(options.addPrefix !== undefined ? { addPrefix: options.addPrefix } : {}) });
    adapted.notes.forEach((n) => options.onNote?.(n));
    file = adapted.file;
  } else ({ bytes: file, name } = await readWeights(source as Parameters<typeof readWeights>[0]));
  const bound = bindCheckpoint(instance.weights, file, instance.ignored, { path: name, at, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  if (!bound.tensors) throw failed(bound.diagnostics);
  return bound.tensors;
}

async function cpuEngine(graph: Graph, weights: ReadonlyMap<string, Tensor>, options: LoadOptions): Promise<Engine> {
  const threads = options.threads ?? defaultThreads();
  const pool = await acquireGemmThreads(threads);
  const wd = options.weightsDtype ?? "f32";
  const kernels = wd === "int8" ? int8Kernels(pool.threads) : wd === "f16" ? f16Kernels(pool.threads) : threadedKernels(pool.threads);
  if (!kernels) {
    pool.release();
    throw new TfmError("TFM6004", `weightsDtype "${wd}" needs WebAssembly SIMD on the CPU, which this engine does not validate`);
  }
  // Loading computes what depends on weights alone, which can fail as a run can (a constant index out of range).
  let program: CpuProgram;
  try {
    program = new CpuProgram(graph, wd === "f16" ? halfWeights(weights) : weights, kernels, { fuse: options.fuse !== false, maxMemory: memoryBudget(options.maxMemory) });
  } catch (e) {
    pool.release();
    throw e;
  }
  return {
    kernels: program.schedule.kernels.length,
    run: async (inputs, profile) => program.run(inputs, { profile }),
    // Generation keeps the state in the program, in place (src/backends/cpu/cache.ts).
    ...(graph.states.length ? { resident: { run: async (inputs, opts) => program.runResident(inputs, opts).outputs } satisfies ResidentRunner } : {}),
    dispose: () => {
      program.dispose();
      pool.release();
    },
  };
}

async function webgpuEngine(graph: Graph, weights: ReadonlyMap<string, Tensor>, options: LoadOptions): Promise<Engine> {
  // Loaded here, so that CPU sessions never load Dawn or the WGSL compiler.
  const [{ WebGpuProgram }, { schedule, unfused }] = await Promise.all([import("./backends/webgpu/program.js"), import("./schedule/fuse.js")]);
  const gpu = options.device ? undefined : await (await import("./backends/webgpu/node.js")).createNodeDevice();
  const device = (options.device ?? gpu!.device) as Parameters<typeof WebGpuProgram.load>[2];
  try {
    const program = await WebGpuProgram.load(options.fuse === false ? unfused(graph) : schedule(graph), weights, device, { loadTime: loadTimeValues, ...(options.weightsDtype && options.weightsDtype !== "f32" ? { weightsDtype: options.weightsDtype } : {}) });
    return {
      kernels: program.compiled.kernels.length,
      async run(inputs) {
        const r = await program.runWithSymbols(inputs);
        return { ...r, dispatches: program.dispatches.lastRun };
      },
      // The states written once (an encoder–decoder's, passed as `kept`) stay on the device for the sequence.
      ...(program.resident ? { resident: { keepsInputs: true, run: (inputs, opts) => program.runResident(inputs, opts) } satisfies ResidentRunner } : {}),
      dispose() {
        program.destroy();
        gpu?.close();
      },
    };
  } catch (e) {
    gpu?.close();
    throw e;
  }
}

/** Where problems about the model as a whole point: its name in the source. */
function site(model: CompiledModel): { file: string; span: Span } {
  return { file: model.file, span: model.checked.model?.decl.name.span ?? { start: 0, end: 0 } };
}

/** A TfmError for the first error of `diagnostics`, carrying them all. */
function failed(diagnostics: readonly Diagnostic[]): TfmError {
  const first = diagnostics.find((d) => d.severity === "error") ?? diagnostics[0]!;
  return new TfmError(first.code, first.message, { diagnostics });
}

/** The backends' coded errors, and TfmErrors without diagnostics, as TfmErrors with them; anything else is a bug and passes through. */
function asTfmError(e: unknown, at: { file: string; span: Span }): unknown {
  if (e instanceof TfmError) {
    if (e.diagnostics) return e;
    const message = e.message.slice(e.code.length + 2);
    const d = e.file ? diag(e.file, e.code, { start: 0, end: 0 }, message) : diag(at.file, e.code, at.span, message);
    return new TfmError(e.code, message, { ...details(e), diagnostics: [d] });
  }
  if (e instanceof RunError) return failed([diag(e.site?.file || at.file, e.code, e.site ?? at.span, e.message)]);
  if (e instanceof WebGpuError) return failed([diag(at.file, e.code, at.span, e.message)]);
  if (e instanceof WeightFileError) return failed([fileErrorDiagnostic(e)]);
  return e;
}

const details = (e: TfmError) => ({ ...(e.file !== undefined ? { file: e.file } : {}), ...(e.offset !== undefined ? { offset: e.offset } : {}), ...(e.tensor !== undefined ? { tensor: e.tensor } : {}), ...(e.problems ? { problems: e.problems } : {}) });

/** Each output as a fresh copy of exactly its elements, in the model's order. */
function copies(outputs: ReadonlyMap<string, Tensor>): Record<string, TensorOut> {
  return Object.fromEntries([...outputs].map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape], data: t.data.slice(0, numel(t.shape)) } as Tensor]));
}

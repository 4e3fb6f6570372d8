// What every bundle exports, whatever its target: `load(weights, options)` → `{ run, dispose }`,
// and `model` (the inputs and outputs with their dtypes and symbolic shapes). A target supplies an
// engine (the CPU interpreter, WebGPU) that runs the decoded graph on bound weights; this file
// does the rest the same way for all: reading and binding the checkpoint, checking and converting
// inputs, copying outputs out, and TfmErrors with catalogue codes.
import type { Tensor } from "../core/tensor.js";
import type { Graph } from "../ir/graph.js";
import { TfmError } from "./errors.js";
import { decodeGraph } from "./graph-json.js";
import { toInputs, toOutputs, type TensorOut } from "./io.js";
import type { ModelData, PortInfo, Target } from "./model-data.js";
import { bindWeights, readWeights, type WeightsSource } from "./weights.js";
import { selectCaptures } from "../ir/capture.js";
import { checkTokens, Decoder, decoderInfo, emptyStates, promptRows, type GenerateOptions as DecoderOptions, type ResidentRunner } from "../generate/decoder.js";
import { hfTokenizer, textStream, type TextTokenizer } from "../generate/tokenizer.js";
import { checkBudget, weightBytes } from "../backends/shared/budget.js";
import { RunError } from "../backends/shared/errors.js";
import { builtinTokenizer } from "./builtin-tokenizers.js";

export interface LoadOptions {
  /** webgpu: the device to run on (default: one from navigator.gpu). */
  readonly device?: unknown;
  /**
   * The memory budget in bytes (none by default: a bundle cannot ask the machine). Weights, and on
   * the CPU each run, needing more are refused with TFM6003 before they are allocated; without one,
   * an allocation the engine refuses is TFM6003 too.
   */
  readonly maxMemory?: number;
  /**
   * A Hugging Face tokenizer, for `generate("text")`: the parsed `tokenizer.json`, its bytes, or a
   * URL to fetch it from (through @huggingface/tokenizers, bundled). GPT-2's built-in BPE is in a
   * bundle built with `tfm build --tokenizer gpt2` only (its ranks add 500 kB, 204 kB gzipped): it is then the
   * default, and a tokenizer given here replaces it.
   */
  readonly tokenizer?: unknown;
  /**
   * "f16" keeps the weights' matrices as f16, rounded to nearest (half their bytes; the kernels
   * compute in f32 on them: on the device, src/backends/webgpu/halves.ts; on the CPU in the GEMM's
   * memory, src/backends/cpu/kernels/wasm/f16.ts); "int8" as int8 with a scale per output channel
   * (a quarter of their bytes: src/backends/webgpu/quarters.ts, weight-only; on the CPU
   * src/backends/cpu/kernels/wasm/int8.ts, which rounds the activations to int16 too); default "f32".
   */
  readonly weightsDtype?: "f32" | "f16" | "int8";
  /**
   * cpu: threads for the matrix products (default: navigator.hardwareConcurrency). More than one
   * runs on Web Workers, which a page has only when it is cross-origin isolated; elsewhere (and in
   * Node, which has no Web Workers) the bundle runs on one thread and says so once (console.info).
   * Results are the same bit for bit for any count.
   */
  readonly threads?: number;
}

/** A target's way of running the graph: built once per `load`. */
export interface Engine {
  run(inputs: ReadonlyMap<string, Tensor>): Promise<ReadonlyMap<string, Tensor>> | ReadonlyMap<string, Tensor>;
  /** A way to run that keeps the state on the engine's side (WebGPU: device buffers), for the Decoder. */
  readonly resident?: ResidentRunner;
  /** The threads its products run on (1 unless the CPU engine got workers). */
  readonly threads?: number;
  dispose(): void;
}
export type EngineFactory = (graph: Graph, weights: ReadonlyMap<string, Tensor>, options: LoadOptions) => Promise<Engine> | Engine;

/** `run`'s, `prefill`'s and `step`'s options: `capture`, the values compiled in to be captured that this call returns. */
export interface RunOptions {
  /**
   * Glob patterns over the captured values' paths (`h.*.attn.weights`, src/ir/capture.ts), or
   * `true` for all of them: each match is returned beside the outputs, by its path. The bundle must
   * have been built with them (`tfm build --capture`): a pattern matching none is TFM5215.
   */
  readonly capture?: readonly string[] | boolean;
}

export interface LoadedModel {
  run(inputs: unknown, options?: RunOptions): Promise<Record<string, TensorOut>>;
  /**
   * Token ids in, tokens out as they are made (see src/generate/decoder.ts); with a tokenizer
   * loaded, text in (a string), and the text each new token adds out. Stops at the tokenizer's
   * end-of-text token unless `stop` is given.
   */
  generate(prompt: unknown, options?: GenerateOptions): AsyncGenerator<number | number[] | string>;
  /** Starts a sequence from empty state; `capture` as in `run`. */
  prefill(inputs: unknown, options?: RunOptions): Promise<Record<string, TensorOut>>;
  /** The next positions on the state kept; `capture` as in `run`. */
  step(inputs: unknown, options?: RunOptions): Promise<Record<string, TensorOut>>;
  reset(): void;
  readonly cacheLength: number;
  /** The threads the matrix products run on (the cpu target with workers; else 1). */
  readonly threads: number;
  dispose(): void;
}

/** generate's options; `source`: an encoder–decoder's source inputs (`{ src: { data: [[5, 6, 7]] } }`), given once. */
export interface GenerateOptions extends DecoderOptions {
  readonly source?: unknown;
}

export interface ModelInfo {
  readonly name: string;
  readonly target: Target;
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
  /** The values compiled in to be captured (`tfm build --capture`), when there are any. */
  readonly captures?: readonly PortInfo[];
}

export function createBundle(data: ModelData, engine: EngineFactory): { load: (weights: WeightsSource, options?: LoadOptions) => Promise<LoadedModel>; model: ModelInfo } {
  let graph: Graph | undefined;
  const model: ModelInfo = Object.freeze({ name: data.name, target: data.target, inputs: data.inputs, outputs: data.outputs, ...(data.captures ? { captures: data.captures } : {}) });
  async function load(weights: WeightsSource, options: LoadOptions = {}): Promise<LoadedModel> {
    if (options.maxMemory !== undefined && !(Number.isSafeInteger(options.maxMemory) && options.maxMemory > 0)) throw new TfmError("TFM6003", `maxMemory must be a positive whole number of bytes, got ${String(options.maxMemory)}`);
    const wd: unknown = options.weightsDtype;
    if (wd !== undefined && wd !== "f32" && wd !== "f16" && wd !== "int8") throw new TfmError("TFM6004", `weightsDtype must be "f32", "f16" or "int8", got ${JSON.stringify(wd) ?? String(wd)}`);
    const threads: unknown = options.threads;
    if (threads !== undefined && !(typeof threads === "number" && Number.isSafeInteger(threads) && threads >= 1 && threads <= 1024)) throw new TfmError("TFM6004", `threads must be a whole number from 1 to 1024, got ${JSON.stringify(threads) ?? String(threads)}`);
    try {
      checkBudget(weightBytes(data.weights), options.maxMemory, "loading the weights", `${data.weights.length} weight${data.weights.length === 1 ? "" : "s"}`);
    } catch (e) {
      if (e instanceof RunError) throw new TfmError(e.code, e.message);
      throw e;
    }
    // A tokenizer given wins over the one built in (`tfm build --tokenizer gpt2`).
    const tokenizer = options.tokenizer !== undefined ? await loadTokenizer(options.tokenizer) : data.tokenizer !== undefined ? await builtinTokenizer(data.tokenizer) : undefined;
    const { bytes, name } = await readWeights(weights);
    const tensors = bindWeights(bytes, name, data.weights, data.ignored);
    graph ??= decodeGraph(data.graph);
    let e: Engine | undefined = await engine(graph, tensors, options ?? {});
    const g = graph;
    const alive = (): Engine => {
      if (!e) throw new TfmError("TFM6002", "the model was disposed: load it again to run it");
      return e;
    };
    let decoder: Decoder | undefined;
    const residentOf = (x: Engine): ResidentRunner | undefined => x.resident && { ...(x.resident.keepsInputs ? { keepsInputs: true } : {}), run: (inputs, opts) => (alive(), x.resident!.run(inputs, opts)) };
    // An encoder–decoder runs its phases' graphs (src/ir/phases.ts): an engine for each, made when it first generates.
    const phaseEngines: Engine[] = [];
    let decoding: Promise<Decoder> | undefined;
    const decode = (): Promise<Decoder> =>
      (decoding ??= (async () => {
        if (!data.phases) return (decoder = new Decoder(g, async (inputs) => alive().run(inputs), decoderInfo(g, data.capacity), residentOf(alive())));
        const [encode, step] = [decodeGraph(data.phases.encode), decodeGraph(data.phases.step)];
        const enc = await engine(encode, tensors, options ?? {});
        phaseEngines.push(enc);
        const st = await engine(step, tensors, options ?? {});
        phaseEngines.push(st);
        const run = (x: Engine) => async (inputs: ReadonlyMap<string, Tensor>) => (alive(), x.run(inputs));
        return (decoder = new Decoder(step, run(st), decoderInfo(step, data.capacity, encode), residentOf(st), { graph: encode, run: run(enc) }));
      })().catch((x: unknown) => {
        decoding = undefined;
        throw x;
      }));
    /** An encoder–decoder's source, as generate's `source` gives it: converted as run's inputs are (TFM8002 for a model without one). */
    const sourceOf = (d: Decoder, given: unknown): Map<string, Tensor> => {
      const names = new Set(d.info.source ?? []);
      if (given !== undefined && !names.size) throw new TfmError("TFM8002", `the model \`${data.name}\` takes no source: \`source\` is for an encoder–decoder`);
      return names.size ? toInputs(data.inputs.filter((p) => names.has(p.name)), given ?? {}) : new Map();
    };
    /** `prefill`/`step`: the captures asked for are checked before the call, so a bad pattern leaves the cache as it was. */
    const advance = async (call: "prefill" | "step", records: unknown, options: RunOptions | undefined): Promise<Record<string, TensorOut>> => {
      const captured = capturePorts(data, options, call);
      const d = await decode();
      // A later call of an encoder–decoder takes the decoder's inputs alone: its source was given first.
      const source = data.phases && call === "step" ? new Set(d.info.source ?? []) : undefined;
      const inputs = toInputs(source ? data.inputs.filter((p) => !source.has(p.name)) : data.inputs, records);
      const out = await d[call](inputs);
      return captured.length ? { ...toOutputs(data.outputs, out), ...toOutputs(captured, out) } : toOutputs(data.outputs, out);
    };
    return {
      async run(records: unknown, options?: RunOptions) {
        const captured = capturePorts(data, options);
        const inputs = toInputs(data.inputs, records);
        // One call on its own: the state (a KV cache) starts empty and is not returned.
        try {
          for (const [k, t] of emptyStates(g, inputs)) inputs.set(k, t);
        } catch (x) {
          if (x instanceof RunError) throw new TfmError(x.code, x.message);
          throw x;
        }
        const out = await alive().run(inputs);
        return captured.length ? { ...toOutputs(data.outputs, out), ...toOutputs(captured, out) } : toOutputs(data.outputs, out);
      },
      async *generate(prompt: unknown, opts: GenerateOptions = {}) {
        if (typeof prompt === "string") {
          if (!tokenizer) throw new TfmError("TFM8002", "the prompt is text, and no tokenizer was loaded: pass `tokenizer` (a tokenizer.json) to load(), or give token ids");
          const ids = tokenizer.encode(prompt);
          const d = await decode();
          checkTokens([ids], g, d.info.logits);
          const { source, ...sampling } = opts;
          const given = sourceOf(d, source);
          const text = textStream(tokenizer, ids);
          const stop = opts.stop ?? (tokenizer.eos !== undefined ? [tokenizer.eos] : []);
          for await (const tokens of d.generate([ids], { ...sampling, stop }, given)) yield text(tokens[0]!);
          return;
        }
        const { rows, batched } = promptRows(prompt);
        const d = await decode();
        checkTokens(rows, g, d.info.logits);
        const { source, ...sampling } = opts;
        for await (const tokens of d.generate(rows, sampling, sourceOf(d, source))) yield batched ? tokens : tokens[0]!;
      },
      prefill: (records: unknown, options?: RunOptions) => advance("prefill", records, options),
      step: (records: unknown, options?: RunOptions) => advance("step", records, options),
      reset: () => decoder?.reset(),
      get cacheLength() {
        return decoder?.length ?? 0;
      },
      threads: e.threads ?? 1,
      dispose() {
        e?.dispose();
        e = undefined;
        for (const x of phaseEngines.splice(0)) x.dispose();
      },
    };
  }
  return { load, model };
}

/**
 * The captured values `options.capture` asks for, in the model's order: matched by the compiler's
 * own pattern semantics against the names compiled in (the outputs' names match too, and are
 * returned anyway). TFM5215 for a pattern matching none of them, listing the nearest names.
 */
export function capturePorts(data: ModelData, options: RunOptions | undefined, call: "run" | "prefill" | "step" = "run"): readonly PortInfo[] {
  if (options === undefined || options === null) return [];
  if (typeof options !== "object") throw new TfmError("TFM5215", `${call}'s second argument is its options ({ capture }), got ${typeof options}`);
  const want: unknown = options.capture;
  if (want === undefined || want === false) return [];
  const built = data.captures ?? [];
  const patterns = want === true ? ["**"] : want;
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== "string")) throw new TfmError("TFM5215", "`capture` must be true or an array of patterns (strings, `h.*.attn.weights`)");
  if (patterns.length === 0) return [];
  if (!built.length) throw new TfmError("TFM5215", "this bundle was built without captures: build it with `tfm build --capture PATTERN` (or modelData of compile(text, { capture })) to capture values");
  const names = [...data.outputs.map((p) => p.name), ...built.map((p) => p.name)];
  const sel = selectCaptures(patterns as readonly string[], names);
  if (sel.unmatched.length) {
    const problems = sel.unmatched.map((u) => ({ code: "TFM5215" as const, message: `capture \`${u.pattern}\` matches none of the values this bundle was built to capture`, notes: [`the nearest names: ${u.nearest.join(", ")}`] }));
    throw new TfmError("TFM5215", `${problems[0]!.message} (${problems[0]!.notes[0]}; rebuild with \`tfm build --capture\` for others)`, { problems });
  }
  const chosen = new Set(sel.names);
  return built.filter((p) => chosen.has(p.name));
}

/** A tokenizer.json given to load(): parsed, as bytes, or by URL (TFM8005 when it is not one). */
async function loadTokenizer(source: unknown): Promise<TextTokenizer> {
  let json = source;
  let name = "tokenizer.json";
  if (typeof source === "string" || source instanceof URL) {
    name = String(source);
    const res = await fetch(source).catch((e: unknown) => {
      throw new TfmError("TFM8005", `${name}: the tokenizer could not be fetched: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!res.ok) throw new TfmError("TFM8005", `${name}: the tokenizer could not be fetched: HTTP ${res.status}`);
    source = new Uint8Array(await res.arrayBuffer());
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new TfmError("TFM8005", `${name} is not a Hugging Face tokenizer: it is not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return hfTokenizer(json, {}, name);
}

// `compile()`: the library's one entry to the compiler, which the CLI, the bundle builder and the
// language server use too. It checks the source at once (diagnostics are returned, never thrown)
// and computes the rest on first use: the IR graph, the optimizer's passes, the fused schedule and
// its memory plan. A compiled model is immutable; `load` binds weights to it for a backend
// (src/session.ts).
import { buildGraph, check, writesOnce, type CheckResult } from "./api.js";
import { showDim } from "./core/dim.js";
import { hasErrors, type Diagnostic } from "./diag/diagnostic.js";
import { renderDiagnostics, type Sources } from "./diag/render.js";
import type { Weight } from "./check/elaborated.js";
import type { ShapeResult } from "./check/shapes/check.js";
import type { Graph } from "./ir/graph.js";
import type { Expr } from "./syntax/ast.js";
import { optimize } from "./optimize.js";
import { selectCaptures } from "./ir/capture.js";
import { TfmError } from "./bundle/errors.js";
import { passes, UnknownPass, type Optimized } from "./passes/pipeline.js";
import type { Schedule } from "./schedule/kernel.js";
import { schedule, unfused } from "./schedule/fuse.js";
import { planMemory, type MemoryPlan } from "./schedule/memory.js";
import { modelInputs } from "./runtime/inputs.js";
import type { PortInfo } from "./bundle/model-data.js";
import type { ExportOptions, LoadOptions, Session, WeightsInput } from "./session.js";
import type { OnnxModel } from "./export/onnx.js";

export interface CompileOptions {
  /** The file name diagnostics and spans refer to (default `<input>`). */
  readonly file?: string;
  /** Model parameter overrides, as `--set name=value` gives them: `{ n_layer: 2 }`. */
  readonly settings?: Readonly<Record<string, string | number | boolean>> | ReadonlyMap<string, string>;
  /**
   * The last optimizer pass to run on the graph that `load` runs: a pass name (`passes`), `none`
   * (the graph as built: `tfm run --no-optimize`) or `all` (the default). Another name throws UnknownPass.
   */
  readonly until?: string;
  /**
   * Values to keep and return beside the outputs, by glob over their paths (`h.*.attn.weights`:
   * a layer path and a name bound in it; src/ir/capture.ts). Each match is an extra output of its
   * path; a pattern matching nothing makes `built`/`graph` throw TfmError TFM5214 with the nearest names.
   */
  readonly capture?: readonly string[];
}

/** What `compile` returns: the checked program, and (computed on first use) everything below it. */
export interface CompiledModel {
  readonly file: string;
  /** Every diagnostic, sorted by position: errors, warnings and notes together. */
  readonly diagnostics: readonly Diagnostic[];
  /** True when there is no error (warnings allowed). */
  readonly ok: boolean;
  /** The model's name (`GPT2`), if the file defines a `model`. */
  readonly name: string | undefined;
  /** The model's inputs and outputs, with their dtypes and symbolic shapes (`batch`, `seq`, `768`). */
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
  /** Every weight with its checkpoint name, dtype and shape (empty when there are errors). */
  readonly weights: readonly Weight[];
  /** Symbolic shapes: the model's inputs and outputs, and what each expression evaluated to. */
  readonly shapes: ShapeResult | undefined;
  /** Every source text a diagnostic may point into (the file and the standard library). */
  readonly sources: Sources;
  /** The checker's full result (the syntax tree, names, the instantiated model), for tools. */
  readonly checked: CheckResult;
  /** The IR as built from the source; undefined when there are errors or no model. */
  readonly built: Graph | undefined;
  /** The optimizer's passes over `built` (up to `until`): each stage's graph and what it changed. */
  readonly optimized: Optimized | undefined;
  /** The graph `load` runs: `optimized.graph`. */
  readonly graph: Graph | undefined;
  /**
   * For a model with states written once per sequence (`once`: an encoder–decoder's cross-attention
   * keys and values), the graphs generation runs, optimized as `graph` is (src/ir/phases.ts):
   * `encode` computes those states (the first call of a sequence), `step` runs every call on them
   * (without the encoder or its inputs). Undefined for other models, and when there are errors.
   */
  readonly phases: { readonly encode: Graph; readonly step: Graph } | undefined;
  /** The fused kernels of `graph`, as the backends run them. */
  readonly schedule: Schedule | undefined;
  /** The memory plan of `schedule`: which buffer holds each value, and the buffers' symbolic sizes. */
  readonly plan: MemoryPlan | undefined;
  /** One kernel per IR node instead of the fused kernels (`--no-fuse`). */
  unfusedSchedule(): Schedule | undefined;
  /**
   * What `capture` patterns select from: every name bound in the model, by its path
   * (`h.0.attn.weights`), in order (empty when there are errors or no model).
   */
  readonly captureNames: readonly string[];
  /** The same model compiled with these `capture` patterns instead (its graph throws TFM5214 for a pattern matching nothing). */
  capturing(capture: readonly string[]): CompiledModel;
  /** The diagnostics (these, or others about this model) as text: `file:line:col: error[CODE]` with carets. */
  render(diagnostics?: readonly Diagnostic[]): string;
  /**
   * Binds weights — a safetensors file path, its bytes, or `{ random: true, seed }` — and prepares
   * the model on a backend. Rejects with a TfmError carrying diagnostics: the model's errors, or
   * what does not fit in the checkpoint.
   */
  load(weights: WeightsInput, options?: LoadOptions): Promise<Session>;
  /**
   * The optimized graph as an ONNX model, with the weights (read as `load` reads them, or random)
   * as initializers or external data: `tfm export --onnx`. Symbolic dims stay symbolic
   * (`dim_param`); a state's start value is the input `past.NAME`, its next value the output `present.NAME`.
   */
  exportOnnx(weights: WeightsInput, options?: ExportOptions): Promise<OnnxModel>;
}

/** Checks `text` at once; the graph, schedule and plan are computed when first asked for. */
export function compile(text: string, options: CompileOptions = {}): CompiledModel {
  return new Compiled(text, options);
}

const settingsMap = (s: CompileOptions["settings"]): Map<string, string> =>
  s instanceof Map ? new Map(s) : new Map(Object.entries(s ?? {}).map(([k, v]) => [k, String(v)]));

/** The names `patterns` select; TFM5214 for a pattern that selects none. */
function captured(patterns: readonly string[], names: readonly string[]): readonly string[] {
  const sel = selectCaptures(patterns, names);
  const bad = sel.unmatched[0];
  if (bad) {
    const notes = bad.nearest.length ? [`the nearest names: ${bad.nearest.map((n) => `\`${n}\``).join(", ")}`] : ["the model binds no names"];
    throw new TfmError("TFM5214", `--capture \`${bad.pattern}\` matches no name in the model (${notes[0]})`, { problems: sel.unmatched.map((u) => ({ code: "TFM5214" as const, message: `--capture \`${u.pattern}\` matches no name in the model`, notes: [`the nearest names: ${u.nearest.join(", ")}`] })) });
  }
  return sel.names;
}

/** Computes `f()` once, on first use. */
function lazy<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) [value, done] = [f(), true];
    return value;
  };
}

class Compiled implements CompiledModel {
  readonly file: string;
  readonly checked: CheckResult;
  readonly ok: boolean;
  private readonly until: string;
  private readonly capture: readonly string[];

  constructor(private readonly text: string, private readonly options: CompileOptions) {
    this.file = options.file ?? "<input>";
    this.checked = check(text, this.file, { settings: settingsMap(options.settings) });
    this.ok = !hasErrors(this.checked.diagnostics);
    this.until = options.until ?? "all";
    this.capture = [...(options.capture ?? [])];
    if (this.until !== "none" && this.until !== "all" && !passes.some((p) => p.name === this.until)) throw new UnknownPass(this.until);
    Object.freeze(this);
  }

  get diagnostics() {
    return this.checked.diagnostics;
  }
  get name() {
    return this.checked.model?.name;
  }
  get weights() {
    return this.checked.instance?.weights ?? [];
  }
  get shapes() {
    return this.checked.shapes;
  }
  get sources() {
    return this.checked.sources;
  }
  get inputs() {
    return this.ports().inputs;
  }
  get outputs() {
    return this.ports().outputs;
  }
  get built() {
    return this.lowered();
  }
  get optimized() {
    return this.passes();
  }
  get graph() {
    return this.passes()?.graph;
  }
  get schedule() {
    return this.fused();
  }
  get phases() {
    return this.phased();
  }
  get plan() {
    return this.memory();
  }
  get captureNames() {
    return this.bound();
  }

  private readonly ports = lazy(() => {
    if (!this.ok) return { inputs: [], outputs: [] };
    const inputs = modelInputs(this.checked).map((i): PortInfo => {
      const d = literalDefault(i.decl.default);
      return { name: i.name, dtype: i.dtype, shape: i.shape.map(showDim), ...(i.optional ? { optional: true } : {}), ...(d !== undefined ? { default: d } : {}) };
    });
    const outputs = (this.checked.shapes?.outputs ?? []).flatMap(({ name, value }): PortInfo[] => (value.kind === "tensor" ? [{ name, dtype: value.dtype, shape: value.shape.map(showDim) }] : []));
    return { inputs, outputs };
  });
  private readonly lowered = lazy(() => buildGraph(this.checked, this.capture.length ? (names) => captured(this.capture, names) : undefined));
  private readonly passes = lazy(() => {
    const g = this.lowered();
    return g && optimize(g, { until: this.until });
  });
  private readonly phased = lazy(() => {
    if (!this.lowered() || !writesOnce(this.checked)) return undefined;
    const [encode, step] = (["encode", "step"] as const).map((phase) => optimize(buildGraph(this.checked, undefined, phase)!, { until: this.until }).graph);
    return { encode: encode!, step: step! };
  });
  private readonly fused = lazy(() => {
    const g = this.graph;
    return g && schedule(g);
  });
  private readonly memory = lazy(() => {
    const s = this.fused();
    return s && planMemory(s);
  });

  // A lowering of its own (no patterns, no passes): the names it would offer to `capture`.
  private readonly bound = lazy((): readonly string[] => {
    let names: readonly string[] = [];
    buildGraph(this.checked, (n) => ((names = [...n]), []));
    return names;
  });

  capturing(capture: readonly string[]): CompiledModel {
    return new Compiled(this.text, { ...this.options, capture });
  }

  unfusedSchedule(): Schedule | undefined {
    const g = this.graph;
    return g && unfused(g);
  }

  render(diagnostics: readonly Diagnostic[] = this.diagnostics): string {
    return renderDiagnostics(diagnostics, this.sources);
  }

  async load(weights: WeightsInput, options: LoadOptions = {}): Promise<Session> {
    // The runtime (weights, the interpreter, the WebGPU backend) loads only when a model does:
    // `tfm check`, the language server and `tfm ir` never pay for it.
    const { load } = await import("./session.js");
    return load(this, weights, options);
  }

  async exportOnnx(weights: WeightsInput, options: ExportOptions = {}): Promise<OnnxModel> {
    const { exportOnnxModel } = await import("./session.js");
    return exportOnnxModel(this, weights, options);
  }
}

/** An input's default when it is one literal (`= 1`, `= -1.5`, `= true`), which a run fills in for an input left out. */
function literalDefault(e: Expr | undefined): number | boolean | undefined {
  if (e?.kind === "Number" || e?.kind === "Bool") return e.value;
  if (e?.kind === "Unary" && e.op === "-" && e.operand.kind === "Number") return -e.operand.value;
  return undefined;
}

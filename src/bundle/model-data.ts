// What a bundle knows of its model, embedded as JSON data (never as code): the optimized graph,
// the weights the checkpoint must hold, the `ignore` patterns, and the inputs and outputs with
// their declared dtypes and symbolic shapes (for messages, `model` and the .d.ts), and the values
// compiled in to be captured (`tfm build --capture`); `modelData` makes it from a compiled model.
import type { CompiledModel } from "../compile.js";
import { showDim } from "../core/dim.js";
import type { DTypeName } from "../core/dtype.js";
import type { WeightSpec } from "../runtime/checkpoint.js";
import { encodeGraph, type GraphJson } from "./graph-json.js";
import { capacityOf } from "../generate/decoder.js";
import type { BuiltinTokenizer } from "./builtin-tokenizers.js";

export type Target = "cpu" | "webgpu";

export interface PortInfo {
  readonly name: string;
  /** The declared dtype (f16, bf16 compute in f32; i64 in i32). */
  readonly dtype: DTypeName;
  /** Each dim as the compiler shows it: `batch`, `seq`, `768`, `2 * n`. */
  readonly shape: readonly string[];
  /** Inputs only: the model gives the input a default (bundles apply it only when it is one literal, `default`; otherwise it must be given). */
  readonly optional?: boolean;
  /**
   * Inputs only: the default when it is one number or boolean (`input attention_mask: i32[batch, seq] = 1`):
   * an input left out is filled with it, at the dims the other inputs give.
   */
  readonly default?: number | boolean;
}

export interface ModelData {
  /** The layout of this object; bumped when it changes. */
  readonly format: 1;
  readonly target: Target;
  /** The model's name in the source (`GPT2`). */
  readonly name: string;
  /** The source file's name (no directory), and the `--set` values it was built with. */
  readonly source: string;
  readonly settings: readonly (readonly [string, string])[];
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
  /**
   * The values compiled in as extra outputs to be captured (`tfm build --capture`, or
   * `compile(text, { capture })`), by path (`h.0.attn.weights`), in the model's order: what
   * `run(inputs, { capture })` can return. Absent when the model was compiled without captures.
   */
  readonly captures?: readonly PortInfo[];
  /** Every weight the checkpoint must hold, by checkpoint name, as declared. */
  readonly weights: readonly WeightSpec[];
  /** The model's `ignore` patterns: checkpoint tensors it knowingly does not use. */
  readonly ignored: readonly string[];
  /** Positions the model holds (its `n_positions`, ...), for generation; absent when it names none. */
  readonly capacity?: number;
  /** The tokenizer compiled into the bundle's runtime (`tfm build --tokenizer gpt2`), for `generate("text")` with no tokenizer given; absent without one. */
  readonly tokenizer?: BuiltinTokenizer;
  readonly graph: GraphJson;
  /** An encoder–decoder with states written once (src/ir/phases.ts): the graphs generation runs. */
  readonly phases?: { readonly encode: GraphJson; readonly step: GraphJson };
}

/** The model as a bundle sees it: the optimized graph, its weights and its inputs and outputs. */
export function modelData(m: CompiledModel, target: Target, settings: ReadonlyMap<string, string> = new Map()): ModelData {
  const graph = m.graph;
  if (!graph || !m.name) throw new Error("modelData needs a compiled model without errors");
  const declared = new Map(m.inputs.map((i) => [i.name, i]));
  const states = new Set(graph.states.map((s) => s.name));
  const own = new Set(m.outputs.map((o) => o.name));
  const capacity = capacityOf(m.checked.instance?.model.hparams as never);
  const port = (p: { name: string; node: number }): PortInfo => {
    const n = graph.nodes[p.node]!;
    const d = declared.get(p.name);
    return { name: p.name, dtype: n.dtype, shape: n.shape.map(showDim), ...(d?.optional ? { optional: true } : {}), ...(d?.default !== undefined ? { default: d.default } : {}) };
  };
  // The graph's other outputs are the captured values (src/ir/build.ts adds them after the model's).
  const captures = graph.outputs.filter((p) => !states.has(p.name) && !own.has(p.name)).map(port);
  return {
    format: 1,
    target,
    name: m.name,
    source: m.file.split(/[\\/]/).pop()!,
    settings: [...settings],
    // The state's ports are the runtime's business: callers see the model's own inputs and outputs.
    inputs: graph.inputs.filter((p) => !states.has(p.name)).map(port),
    outputs: graph.outputs.filter((p) => !states.has(p.name) && own.has(p.name)).map(port),
    ...(captures.length ? { captures } : {}),
    weights: m.weights.map((w) => ({ name: w.name, dtype: w.dtype, shape: [...w.shape], transposed: w.transposed })),
    ignored: [...m.checked.instance!.ignored],
    ...(capacity !== undefined ? { capacity } : {}),
    graph: encodeGraph(graph),
    ...(m.phases ? { phases: { encode: encodeGraph(m.phases.encode), step: encodeGraph(m.phases.step) } } : {}),
  };
}

// What a bundle knows of its model, embedded as JSON data (never as code): the optimized graph,
// the weights the checkpoint must hold, the `ignore` patterns, and the inputs and outputs with
// their declared dtypes and symbolic shapes (for messages, `model` and the .d.ts).
import type { DTypeName } from "../core/dtype.js";
import type { WeightSpec } from "../runtime/checkpoint.js";
import type { GraphJson } from "./graph-json.js";

export type Target = "cpu" | "webgpu";

export interface PortInfo {
  readonly name: string;
  /** The declared dtype (f16, bf16 compute in f32; i64 in i32). */
  readonly dtype: DTypeName;
  /** Each dim as the compiler shows it: `batch`, `seq`, `768`, `2 * n`. */
  readonly shape: readonly string[];
  /** Inputs only: the model gives the input a default (which bundles do not apply yet: it must be given). */
  readonly optional?: boolean;
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
  /** Every weight the checkpoint must hold, by checkpoint name, as declared. */
  readonly weights: readonly WeightSpec[];
  /** The model's `ignore` patterns: checkpoint tensors it knowingly does not use. */
  readonly ignored: readonly string[];
  readonly graph: GraphJson;
}

// The elaborated program: what the one walk over the model (src/check/shapes/check.ts) found, as
// data for every later reader. Hovers, inlay hints and `tfm shapes` read `types`; the IR is
// lowered from `ops` (src/ir/build.ts), so it computes exactly what was checked, never by running
// the checker again.
import type { BuiltinName } from "./builtins.js";
import type * as A from "../syntax/ast.js";
import type { SVal } from "./shapes/value.js";
import type { Value } from "./evaluate.js";
import type { GlobalSym } from "./symbols.js";

/** The user's expression an operation comes from (for run-time errors); absent in the library. */
export interface Site {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

/** A resolved subscript: `...`, a slice (bounds as values), or an integer index. */
export type IndexSub = { readonly t: "rest" } | { readonly t: "slice"; readonly start?: SVal; readonly end?: SVal } | { readonly t: "at"; readonly v: SVal };

/**
 * One typed operation of the model, in evaluation order. Operands and results are checked values;
 * a value computed by an earlier operation carries that operation's `ref` (compile-time scalars
 * carry none: they are constants). Every layer application and function call is inlined.
 */
export type TypedOp = { readonly site: Site | undefined } & (
  | { readonly kind: "input"; readonly name: string; readonly out: SVal }
  | { readonly kind: "weight"; readonly name: string; readonly transposed: boolean; readonly out: SVal }
  /** A state's value at the start of the call (`name` is its path, as a checkpoint name: `h.0.attn.k_cache`); it grows along `axis`. */
  | { readonly kind: "state"; readonly name: string; readonly axis: number; readonly out: SVal }
  | { readonly kind: "unary"; readonly op: A.UnaryOp; readonly x: SVal; readonly out: SVal }
  | { readonly kind: "binary"; readonly op: A.BinaryOp; readonly a: SVal; readonly b: SVal; readonly out: SVal }
  | { readonly kind: "builtin"; readonly name: BuiltinName; readonly args: readonly SVal[]; readonly out: SVal }
  | { readonly kind: "index"; readonly x: SVal; readonly subs: readonly IndexSub[]; readonly out: SVal }
  | { readonly kind: "output"; readonly name: string; readonly value: SVal }
  /** A local name bound to a value, by its layer path (`h.0.attn.weights`): no computation, what `--capture` selects. */
  | { readonly kind: "name"; readonly name: string; readonly value: SVal }
);

export interface Elaborated {
  /** What each expression and declared name evaluated to, by `file:start:end` (for hovers). */
  readonly types: ReadonlyMap<string, readonly string[]>;
  /** The model's inputs and outputs with their shapes. */
  readonly inputs: readonly { name: string; value: SVal }[];
  readonly outputs: readonly { name: string; value: SVal }[];
  /** The model's state (KV caches), by path, with its type at the start of a call; empty when it was not elaborated. */
  readonly states: readonly { name: string; value: SVal; axis: number }[];
  /** The model's operations in evaluation order; empty when it was not elaborated for the IR. */
  readonly ops: readonly TypedOp[];
  /** The model instantiated by the same walk (layer tree, weights, states, ignored names); absent when it was not elaborated. */
  readonly instance?: Instantiation;
}

export interface Weight {
  /** The checkpoint name: `h.0.attn.c_attn.weight`. */
  readonly name: string;
  readonly dtype: A.DTypeName;
  readonly shape: readonly number[];
  /** The checkpoint holds the transpose of `shape`. */
  readonly transposed: boolean;
  readonly decl: A.TensorParamDecl;
  readonly file: string;
  /** The block that declares it (`Linear`, `LayerNorm`, ...): initialisation follows its kind. */
  readonly owner: string;
}

export interface Instance {
  /** Checkpoint prefix of this instance: "" for the model, `h.0.attn` below it. */
  readonly path: string;
  readonly block: GlobalSym & { kind: "block" };
  readonly hparams: ReadonlyMap<string, Value>;
  readonly children: readonly Instance[];
}

export interface Instantiation {
  readonly model: Instance;
  readonly weights: readonly Weight[];
  /** Checkpoint-name patterns (`*` matches one path segment) the model does not load. */
  readonly ignored: readonly string[];
  /** The state the model keeps between calls (KV caches), by path; their types come from the shape checker. */
  readonly states: readonly { readonly name: string; readonly decl: A.StateDecl; readonly file: string }[];
}

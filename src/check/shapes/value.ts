// What the shape checker knows about each value: tensors by dtype and symbolic shape; numbers,
// bools and strings (known at compile time, or only their type); lists; tuples of several results.
import type { Span } from "../../diag/span.js";
import type * as A from "../../syntax/ast.js";
import { constDim, constValue, showDim, showShape, type Dim } from "../../core/dim.js";

export type DType = A.DTypeName;

/** `ref`: the elaborated operation computing the value (src/check/elaborated.ts), when recorded. */
export type SVal =
  | { readonly kind: "tensor"; readonly dtype: DType; readonly shape: readonly Dim[]; readonly ref?: number }
  | { readonly kind: "int"; readonly dim: Dim; readonly ref?: number }
  /** `quotient`: an integer division that is not exact (`100 / 8`): a real number, but no dim. */
  | { readonly kind: "float"; readonly value?: number; readonly ref?: number; readonly quotient?: Quotient }
  | { readonly kind: "bool"; readonly value?: boolean; readonly ref?: number }
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "dtype"; readonly name: DType }
  | { readonly kind: "list"; readonly items: readonly SVal[] }
  | { readonly kind: "tuple"; readonly items: readonly SVal[] }
  /** After an error: every use is silent, so one mistake gives one diagnostic. */
  | { readonly kind: "unknown" };

/** Where an inexact integer division was written, and the TFM3001 message for using it as a dim. */
export interface Quotient {
  readonly file: string;
  readonly span: Span;
  readonly message: string;
}

/** The first inexact quotient in `v` (itself or an item of a list). */
export function quotientIn(v: SVal): Quotient | undefined {
  if (v.kind === "float") return v.quotient;
  if (v.kind === "list") for (const x of v.items) { const q = quotientIn(x); if (q) return q; }
  return undefined;
}

export const unknown: SVal = { kind: "unknown" };
export const tensor = (dtype: DType, shape: readonly Dim[]): SVal => ({ kind: "tensor", dtype, shape });
export const intVal = (n: number): SVal => ({ kind: "int", dim: constDim(n) });

/** A tensor, or a scalar seen as a 0-d tensor with its natural dtype. */
export function asTensor(v: SVal): { dtype: DType; shape: readonly Dim[]; weak: boolean } | undefined {
  switch (v.kind) {
    case "tensor": return { dtype: v.dtype, shape: v.shape, weak: false };
    case "int": return { dtype: "i32", shape: [], weak: true };
    case "float": return { dtype: "f32", shape: [], weak: true };
    case "bool": return { dtype: "bool", shape: [], weak: true };
    default: return undefined;
  }
}

export { isFloat } from "../../core/dtype.js";

/** `f32[batch, seq, 768]`, `int 12`, `float`, ... for messages and hovers. */
export function showValue(v: SVal): string {
  switch (v.kind) {
    case "tensor": return `${v.dtype}${showShape(v.shape)}`;
    case "int": return constValue(v.dim) !== undefined ? `int ${showDim(v.dim)}` : `int (${showDim(v.dim)})`;
    case "float": return v.value !== undefined ? `float ${v.value}` : "float";
    case "bool": return v.value !== undefined ? `bool ${v.value}` : "bool";
    case "str": return `str ${JSON.stringify(v.value)}`;
    case "dtype": return `dtype ${v.name}`;
    case "list": return `[${v.items.map(showValue).join(", ")}]`;
    case "tuple": return `(${v.items.map(showValue).join(", ")})`;
    case "unknown": return "?";
  }
}

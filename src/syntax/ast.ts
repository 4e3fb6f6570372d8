// The abstract syntax tree. Every node has a span; the tree is immutable once built.
// Recovered parses produce `Error` expressions and possibly-empty names rather than failing.
import type { DTypeName } from "../core/dtype.js";
import type { Span } from "../diag/span.js";

export interface Ident {
  readonly name: string;
  readonly span: Span;
}

export interface Comment {
  readonly text: string;
  readonly span: Span;
}

export interface Program {
  readonly kind: "Program";
  readonly items: readonly Item[];
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export type Item = BlockDecl | FnDecl;

/** `model` and `block` share one form; the model is the program's entry point. */
export interface BlockDecl {
  readonly kind: "Block";
  readonly isModel: boolean;
  readonly name: Ident;
  readonly params: readonly ParamDecl[];
  readonly body: readonly Member[];
  readonly span: Span;
}

export interface FnDecl {
  readonly kind: "Fn";
  readonly name: Ident;
  readonly params: readonly ParamDecl[];
  readonly body: readonly Member[];
  readonly span: Span;
}

/** A compile-time parameter of a block (`n_head: int = 8`) or a parameter of a function. */
export interface ParamDecl {
  readonly kind: "Param";
  readonly name: Ident;
  readonly type?: TypeAnn;
  readonly default?: Expr;
  readonly span: Span;
}

export type ScalarTypeName = "int" | "float" | "bool" | "str";
export type { DTypeName } from "../core/dtype.js";

export type TypeAnn = ScalarType | TensorType;
export interface ScalarType {
  readonly kind: "ScalarType";
  readonly name: ScalarTypeName;
  readonly span: Span;
}
export interface TensorType {
  readonly kind: "TensorType";
  readonly dtype: DTypeName;
  readonly dims: readonly Dim[];
  readonly span: Span;
}
/** A dimension: an expression, `...` (any number of dims), or `*name` (a named pack of dims). */
export type Dim = Expr | EllipsisNode | PackDim;
export interface PackDim {
  readonly kind: "Pack";
  readonly name: Ident;
  readonly span: Span;
}
export interface EllipsisNode {
  readonly kind: "Ellipsis";
  readonly span: Span;
}

export type Member = InputDecl | OutputDecl | TensorParamDecl | StateDecl | LayerDecl | IgnoreDecl | Assign | If | Return;

export interface InputDecl {
  readonly kind: "Input";
  readonly name: Ident;
  readonly type: TensorType;
  readonly default?: Expr;
  readonly span: Span;
}
export interface OutputDecl {
  readonly kind: "Output";
  readonly name: Ident;
  readonly type?: TensorType;
  readonly value?: Expr;
  readonly span: Span;
}
/** `param weight: f32[out, in] as "kernel" transposed` — a weight tensor. */
export interface TensorParamDecl {
  readonly kind: "TensorParam";
  readonly name: Ident;
  readonly type: TensorType;
  /** The tensor's name in checkpoints, when it differs from `name`. */
  readonly checkpointName?: StringLit;
  /** The checkpoint stores the transpose of the declared (2-D) tensor. */
  readonly transposed: boolean;
  readonly span: Span;
}
/**
 * `state k_cache: f32[B, n_head, past, head_dim]` — a tensor kept between calls (a KV cache). It
 * starts empty; `append(k_cache, k, dim)` extends it along the axis whose size is `past` (the
 * positions already cached) and is its value in the next call.
 */
export interface StateDecl {
  readonly kind: "State";
  readonly name: Ident;
  readonly type: TensorType;
  readonly span: Span;
}
/** `layer h = repeat(n) Block(args) as "h"` — a sub-layer, or a stack of `n` of them. */
export interface LayerDecl {
  readonly kind: "Layer";
  readonly name: Ident;
  readonly repeat?: Expr;
  /** `i` of `repeat(n, i)`: each copy's index (0 to n - 1), a compile-time int in the arguments. */
  readonly repeatIndex?: Ident;
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly checkpointName?: StringLit;
  readonly span: Span;
}
/** `ignore "attn.bias"` — checkpoint entries this block knowingly does not use. */
export interface IgnoreDecl {
  readonly kind: "Ignore";
  readonly patterns: readonly StringLit[];
  readonly span: Span;
}
export interface Assign {
  readonly kind: "Assign";
  readonly targets: readonly Ident[];
  readonly value: Expr;
  readonly span: Span;
}
export interface If {
  readonly kind: "If";
  readonly cond: Expr;
  readonly then: readonly Member[];
  /** `else if` is an `If` as the sole member of `else_`. */
  readonly else_?: readonly Member[];
  readonly span: Span;
}
export interface Return {
  readonly kind: "Return";
  readonly values: readonly Expr[];
  readonly span: Span;
}

export type Expr = NumberLit | BoolLit | StringLit | Name | Unary | Binary | Call | Index | MemberAccess | ListLit | ErrorExpr;

export interface NumberLit {
  readonly kind: "Number";
  /** The literal as written (formatter keeps it). */
  readonly text: string;
  readonly value: number;
  readonly isInt: boolean;
  readonly span: Span;
}
export interface BoolLit {
  readonly kind: "Bool";
  readonly value: boolean;
  readonly span: Span;
}
export interface StringLit {
  readonly kind: "String";
  readonly value: string;
  readonly span: Span;
}
export interface Name {
  readonly kind: "Name";
  readonly name: string;
  readonly span: Span;
}
export type UnaryOp = "-" | "!";
export interface Unary {
  readonly kind: "Unary";
  readonly op: UnaryOp;
  readonly operand: Expr;
  readonly span: Span;
}
export type BinaryOp = "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%" | "@";
export interface Binary {
  readonly kind: "Binary";
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}
export interface Arg {
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}
export interface Call {
  readonly kind: "Call";
  readonly callee: Expr;
  readonly args: readonly Arg[];
  readonly span: Span;
}
export type Subscript = Expr | EllipsisNode | SliceNode;
export interface SliceNode {
  readonly kind: "Slice";
  readonly start?: Expr;
  readonly end?: Expr;
  readonly span: Span;
}
export interface Index {
  readonly kind: "Index";
  readonly target: Expr;
  readonly subscripts: readonly Subscript[];
  readonly span: Span;
}
export interface MemberAccess {
  readonly kind: "Member";
  readonly target: Expr;
  readonly name: Ident;
  readonly span: Span;
}
export interface ListLit {
  readonly kind: "List";
  readonly elements: readonly Expr[];
  readonly span: Span;
}
/** Stands where the parser recovered from a syntax error; later phases stay silent about it. */
export interface ErrorExpr {
  readonly kind: "Error";
  readonly span: Span;
}

/** Binding strength of binary operators (higher binds tighter); the formatter uses it too. */
export const precedence: Record<BinaryOp, number> = {
  "||": 1, "&&": 2,
  "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
  "+": 4, "-": 4,
  "*": 5, "/": 5, "%": 5, "@": 5,
};

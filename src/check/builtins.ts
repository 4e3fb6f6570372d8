// The primitive tensor functions every .tfm program can call, with their signatures. Everything
// else (softmax, LayerNorm, attention, ...) is written in .tfm in src/std/. The shape rules of
// these functions live in a table keyed by the same names, so adding one here is checked there.

export type ArgKind =
  | "tensor" // a tensor or a scalar (scalars broadcast)
  | "tensors" // a list of tensors: [a, b, c]
  | "int" // a compile-time or symbolic integer (a dimension or an axis)
  | "ints" // a list of integers: [batch, seq, n_head, d_head]
  | "float" // a compile-time number
  | "bool"
  | "dtype"; // f32, f16, bf16, i32, i64, bool

export interface BuiltinParam {
  readonly name: string;
  readonly kind: ArgKind;
  /** The default, as .tfm source text; absent for required parameters. */
  readonly default?: string;
}

export interface BuiltinSig {
  readonly params: readonly BuiltinParam[];
  /** One line for hovers, completion and docs/LANGUAGE.md. */
  readonly doc: string;
}

const p = (name: string, kind: ArgKind, def?: string): BuiltinParam => (def === undefined ? { name, kind } : { name, kind, default: def });
const unary = (doc: string): BuiltinSig => ({ params: [p("x", "tensor")], doc });
const reduce = (doc: string): BuiltinSig => ({ params: [p("x", "tensor"), p("dim", "int", "-1"), p("keepdim", "bool", "false")], doc });
const fill = (doc: string): BuiltinSig => ({ params: [p("shape", "ints"), p("dtype", "dtype", "f32")], doc });

export const builtins = {
  // elementwise, unary
  exp: unary("eˣ, elementwise"),
  log: unary("natural logarithm, elementwise"),
  sqrt: unary("square root, elementwise"),
  rsqrt: unary("1 / √x, elementwise"),
  tanh: unary("hyperbolic tangent, elementwise"),
  erf: unary("Gauss error function, elementwise"),
  sigmoid: unary("1 / (1 + e⁻ˣ), elementwise"),
  abs: unary("absolute value, elementwise"),
  sin: unary("sine, elementwise"),
  cos: unary("cosine, elementwise"),
  // elementwise, binary and ternary (operands broadcast as in NumPy)
  pow: { params: [p("x", "tensor"), p("y", "tensor")], doc: "xʸ, elementwise" },
  maximum: { params: [p("x", "tensor"), p("y", "tensor")], doc: "larger of x and y, elementwise" },
  minimum: { params: [p("x", "tensor"), p("y", "tensor")], doc: "smaller of x and y, elementwise" },
  where: { params: [p("cond", "tensor"), p("x", "tensor"), p("y", "tensor")], doc: "x where cond is true, else y (a selection: masks never multiply by infinity)" },
  // linear algebra
  matmul: { params: [p("a", "tensor"), p("b", "tensor")], doc: "matrix product with batch dims broadcast (the `@` operator)" },
  // layout
  transpose: { params: [p("x", "tensor"), p("dim0", "int", "-2"), p("dim1", "int", "-1")], doc: "swap two dims (default: the last two)" },
  permute: { params: [p("x", "tensor"), p("dims", "ints")], doc: "reorder all dims" },
  reshape: { params: [p("x", "tensor"), p("shape", "ints")], doc: "same elements, new shape (element counts must be equal; one -1 is inferred from them, exactly, as in torch.reshape)" },
  unsqueeze: { params: [p("x", "tensor"), p("dim", "int")], doc: "insert a dim of size 1" },
  squeeze: { params: [p("x", "tensor"), p("dim", "int")], doc: "remove a dim of size 1" },
  expand: { params: [p("x", "tensor"), p("shape", "ints")], doc: "broadcast to `shape`, new dims in front and dims of size 1 repeated (torch.Tensor.expand; -1 keeps a dim)" },
  concat: { params: [p("tensors", "tensors"), p("dim", "int", "0")], doc: "join tensors along an existing dim (torch.cat)" },
  stack: { params: [p("tensors", "tensors"), p("dim", "int", "0")], doc: "join tensors along a new dim" },
  chunk: { params: [p("x", "tensor"), p("chunks", "int"), p("dim", "int", "0")], doc: "split into `chunks` equal parts along dim; unpack with `a, b, c = chunk(x, 3)`" },
  take: { params: [p("x", "tensor"), p("indices", "tensor"), p("dim", "int", "0")], doc: "gather slices of x at integer indices along dim (an embedding lookup is take(weight, ids))" },
  // state (KV caches)
  append: { params: [p("cache", "tensor"), p("x", "tensor")], doc: "a `state` extended by x along its `past` dim: the cached entries, then x; the result is the state's value in the next call" },
  once: { params: [p("state", "tensor"), p("value", "tensor")], doc: "a `state` written once per sequence (declared without `past`): value on the call from empty state, which the state keeps; on every later call the state, and value is not computed" },
  // reductions
  sum: reduce("sum over a dim"),
  mean: reduce("mean over a dim"),
  max: reduce("maximum over a dim"),
  min: reduce("minimum over a dim"),
  argmax: reduce("index of the maximum over a dim (i32)"),
  // scans
  cumsum: { params: [p("x", "tensor"), p("dim", "int")], doc: "inclusive running sum along a dim, same shape and element type (torch.cumsum; i32 wraps, f32 sums in double and rounds each prefix)" },
  // construction and conversion
  cast: { params: [p("x", "tensor"), p("dtype", "dtype")], doc: "convert to another element type" },
  arange: { params: [p("n", "int")], doc: "0, 1, ..., n-1 as i32[n]" },
  zeros: fill("a tensor of zeros"),
  ones: fill("a tensor of ones"),
  full: { params: [p("shape", "ints"), p("value", "tensor"), p("dtype", "dtype", "f32")], doc: "a tensor filled with one value" },
  // training-time behaviour, kept in the program
  dropout: { params: [p("x", "tensor"), p("p", "float")], doc: "dropout with probability p: the identity at inference, kept so models read like their PyTorch source" },
} as const satisfies Record<string, BuiltinSig>;

export type BuiltinName = keyof typeof builtins;
export const isBuiltin = (name: string): name is BuiltinName => Object.hasOwn(builtins, name);

/** The positions a model's state already holds: a run-time dim in a model with `state`, 0 in one without. */
export const pastDim = "past";

/** Named constants usable in expressions. */
export const constants: Readonly<Record<string, number>> = { inf: Infinity, pi: Math.PI };

/** Element type names, usable as values (`cast(mask, f32)`). */
export { dtypeNamesDeclared as dtypeNames, isDTypeName } from "../core/dtype.js";

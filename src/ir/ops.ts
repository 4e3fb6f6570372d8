// The IR's primitive ops: everything a .tfm program does lowers to these. One string-valued
// union of op names and tables keyed by it (`Record<Op, ...>`), so adding an op does not compile
// until every table (info here, shape rules in verify.ts, kernels in the CPU interpreter) has it.
// docs/IR.md describes each op; the CPU interpreter is their normative semantics.

export type UnaryOp = "neg" | "not" | "exp" | "log" | "sqrt" | "rsqrt" | "tanh" | "erf" | "sigmoid" | "abs" | "sin" | "cos";
export type BinaryOp = "add" | "sub" | "mul" | "div" | "mod" | "pow" | "maximum" | "minimum" | "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "and" | "or";
export type ReduceOp = "sum" | "mean" | "max" | "min" | "argmax";

export type Op =
  | "input" // a model input, by name
  | "weight" // a checkpoint tensor, by checkpoint name
  | "const" // a scalar constant (broadcasts)
  | "arange" // 0 .. n-1
  | UnaryOp
  | BinaryOp
  | "cast"
  | "where"
  | "matmul"
  | ReduceOp
  | "reshape"
  | "permute"
  | "slice" // one axis, [start, end)
  | "concat"
  | "append" // a state's next value: the state, then x, along attrs.axis (concat's values; written in place at run time)
  | "gather" // numpy.take along an axis
  | "cumsum" // inclusive prefix sum along one axis
  | "expand" // broadcast to a shape (materialised)
  | "dropout"; // the identity at inference; kept so the program reads like its source

export type OpClass = "source" | "unary" | "binary" | "where" | "matmul" | "reduce" | "scan" | "layout" | "identity";

export interface OpInfo {
  readonly class: OpClass;
  /** Number of tensor inputs; -1 for variadic (concat). */
  readonly arity: number;
  readonly doc: string;
}

const unary = (doc: string): OpInfo => ({ class: "unary", arity: 1, doc });
const binary = (doc: string): OpInfo => ({ class: "binary", arity: 2, doc });
const reduce = (doc: string): OpInfo => ({ class: "reduce", arity: 1, doc });

export const ops: Record<Op, OpInfo> = {
  input: { class: "source", arity: 0, doc: "a model input; attrs.name" },
  weight: { class: "source", arity: 0, doc: "a weight; attrs.name is its checkpoint name, attrs.transposed whether the checkpoint stores its transpose" },
  const: { class: "source", arity: 0, doc: "a scalar; attrs.value (broadcasts like a 0-d tensor)" },
  arange: { class: "source", arity: 0, doc: "i32[n]: 0, 1, ..., n-1; n is the node's only dim" },
  neg: unary("-x"),
  not: unary("logical not (bool)"),
  exp: unary("eˣ"),
  log: unary("natural logarithm"),
  sqrt: unary("√x"),
  rsqrt: unary("1/√x"),
  tanh: unary("hyperbolic tangent"),
  erf: unary("error function"),
  sigmoid: unary("1/(1+e⁻ˣ)"),
  abs: unary("|x|"),
  sin: unary("sine"),
  cos: unary("cosine"),
  add: binary("a + b"),
  sub: binary("a - b"),
  mul: binary("a * b"),
  div: binary("a / b (float division)"),
  mod: binary("a % b, truncated toward zero (as C and JavaScript)"),
  pow: binary("aᵇ"),
  maximum: binary("max(a, b)"),
  minimum: binary("min(a, b)"),
  eq: binary("a == b → bool"),
  ne: binary("a != b → bool"),
  lt: binary("a < b → bool"),
  le: binary("a <= b → bool"),
  gt: binary("a > b → bool"),
  ge: binary("a >= b → bool"),
  and: binary("a && b (bool)"),
  or: binary("a || b (bool)"),
  cast: { class: "unary", arity: 1, doc: "convert to the node's dtype (float → int truncates toward zero; → bool is x != 0)" },
  where: { class: "where", arity: 3, doc: "cond ? a : b, broadcasting all three" },
  matmul: { class: "matmul", arity: 2, doc: "batched matrix product [..., m, k] @ [..., k, n] with batch dims broadcast; 1-D operands as in numpy.matmul; attrs.transB: b is given as [..., n, k]" },
  sum: reduce("sum over attrs.axis (attrs.keepdim)"),
  mean: reduce("mean over attrs.axis"),
  max: reduce("maximum over attrs.axis"),
  min: reduce("minimum over attrs.axis"),
  argmax: reduce("index of the first maximum over attrs.axis (i32)"),
  reshape: { class: "layout", arity: 1, doc: "same elements in row-major order, the node's shape" },
  permute: { class: "layout", arity: 1, doc: "reorder dims: output dim i is input dim attrs.perm[i]" },
  slice: { class: "layout", arity: 1, doc: "elements attrs.start ≤ i < attrs.end along attrs.axis" },
  concat: { class: "layout", arity: -1, doc: "join along attrs.axis" },
  append: { class: "layout", arity: 2, doc: "a state's next value: input 0 (the state's value, an `input` of the graph's `states`), then input 1, along attrs.axis — concat's values; a runtime that keeps the state (generation) writes input 1 into the state's buffer at capacity and reads the result as a view of it" },
  gather: { class: "layout", arity: 2, doc: "numpy.take(x, indices, axis=attrs.axis); indices out of range are an error at run time" },
  cumsum: { class: "scan", arity: 1, doc: "inclusive prefix sum along attrs.axis (torch.cumsum): out[..., i, ...] = x[..., 0, ...] + ... + x[..., i, ...], in order; f32 accumulated in double, each prefix rounded to f32; i32 wraps" },
  expand: { class: "layout", arity: 1, doc: "broadcast to the node's shape" },
  dropout: { class: "identity", arity: 1, doc: "the identity (inference); attrs.p is kept for the record" },
};

export const opNames = Object.keys(ops) as Op[];

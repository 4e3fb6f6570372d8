// The semantics of every op, one entry per op: a `Record<Op, …>`, so an op added to src/ir/ops.ts
// does not compile until the interpreter — the normative semantics (docs/IR.md) — has its entry.
// Each entry computes a node's value from its inputs' values by the `Kernels`, into the planned
// buffer `out` when given (reshape and dropout are views and ignore it).
import type { Dim } from "../../core/dim.js";
import { arrayFor, type DType, type Tensor } from "../../core/tensor.js";
import type { Node } from "../../ir/graph.js";
import type { BinaryOp, Op, ReduceOp, UnaryOp } from "../../ir/ops.js";
import type { Kernels } from "./kernels/index.js";

/** What an op's semantics reads. */
export interface OpArgs {
  readonly node: Node;
  readonly k: Kernels;
  /** The inputs' values, in order. */
  readonly x: readonly Tensor[];
  /** The node's runtime dtype. */
  readonly dtype: DType;
  readonly out: Tensor | undefined;
  /** A dim's value at this run's symbols. */
  readonly dim: (d: Dim) => number;
  /** For a matmul whose right operand is fixed: that operand laid out at load as [n, k]. */
  readonly transB: Tensor | undefined;
}

export type Semantics = (e: OpArgs) => Tensor;

const unary = (op: UnaryOp): Semantics => ({ k, x, out }) => k.unary(op, x[0]!, out);
const binary = (op: BinaryOp): Semantics => ({ k, x, out }) => k.binary(op, x[0]!, x[1]!, out);
const reduce = (op: ReduceOp): Semantics => ({ k, x, node, out }) => k.reduce(op, x[0]!, node.attrs.axis!, node.attrs.keepdim, out);
/** Inputs and weights are bound by the interpreter before anything runs, never computed. */
const bound: Semantics = ({ node }) => {
  throw new Error(`interpreter: ${node.op} %${node.id} is bound, not computed`);
};

export const semantics: Record<Op, Semantics> = {
  input: bound,
  weight: bound,
  const: ({ node, dtype, dim }) => {
    const v = node.attrs.value!;
    const data = arrayFor(dtype, 1);
    data[0] = typeof v === "object" ? dim(v) : Number(v);
    return { dtype, shape: [], data } as Tensor;
  },
  arange: ({ k, node, dim, out }) => k.arange(dim(node.shape[0]!), out),
  neg: unary("neg"), not: unary("not"), exp: unary("exp"), log: unary("log"), sqrt: unary("sqrt"), rsqrt: unary("rsqrt"),
  tanh: unary("tanh"), erf: unary("erf"), sigmoid: unary("sigmoid"), abs: unary("abs"), sin: unary("sin"), cos: unary("cos"),
  add: binary("add"), sub: binary("sub"), mul: binary("mul"), div: binary("div"), mod: binary("mod"), pow: binary("pow"),
  maximum: binary("maximum"), minimum: binary("minimum"), eq: binary("eq"), ne: binary("ne"), lt: binary("lt"), le: binary("le"),
  gt: binary("gt"), ge: binary("ge"), and: binary("and"), or: binary("or"),
  cast: ({ k, x, dtype, out }) => k.cast(x[0]!, dtype, out),
  where: ({ k, x, out }) => k.where(x[0]!, x[1]!, x[2]!, out),
  matmul: ({ k, node, x, out, transB }) => {
    if (node.attrs.transB) return k.matmulTransB(x[0]!, x[1]!, out);
    return transB ? k.matmulTransB(x[0]!, transB, out) : k.matmul(x[0]!, x[1]!, out);
  },
  sum: reduce("sum"), mean: reduce("mean"), max: reduce("max"), min: reduce("min"), argmax: reduce("argmax"),
  cumsum: ({ k, node, x, out }) => k.cumsum(x[0]!, node.attrs.axis!, out),
  reshape: ({ k, node, x, dim }) => k.reshape(x[0]!, node.shape.map(dim)),
  permute: ({ k, node, x, out }) => k.permute(x[0]!, node.attrs.perm!, out),
  slice: ({ k, node, x, dim, out }) => k.slice(x[0]!, node.attrs.axis!, dim(node.attrs.start!), dim(node.attrs.end!), out),
  concat: ({ k, node, x, out }) => k.concat(x, node.attrs.axis!, out),
  // The normative value: the state, then x. A run that keeps the state (CpuProgram.runResident) writes x in place instead.
  append: ({ k, node, x, out }) => k.concat(x, node.attrs.axis!, out),
  gather: ({ k, node, x, out }) => k.gather(x[0]!, x[1]!, node.attrs.axis!, out),
  expand: ({ k, node, x, dim, out }) => k.expand(x[0]!, node.shape.map(dim), out),
  dropout: ({ x }) => x[0]!,
};

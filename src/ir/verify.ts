// The IR verifier, run between phases in tests: topological order, arity, and each node's dtype
// and shape re-derived from its inputs and attributes by its op's rule. Returns the problems found.
import { addDim, constDim, constValue, equalDims, mulDim, showShape, subDim, type Dim } from "../core/dim.js";
import { isFloat } from "../core/dtype.js";
import type { Graph, Node } from "./graph.js";
import { ops, type Op } from "./ops.js";

type Check = (n: Node, ins: readonly Node[]) => string | undefined;

const same = (a: readonly Dim[], b: readonly Dim[]) => a.length === b.length && a.every((d, i) => equalDims(d, b[i]!) === true);
const numel = (s: readonly Dim[]) => s.reduce((a, b) => mulDim(a, b), constDim(1));

/** NumPy broadcasting of input shapes, or undefined. */
function broadcast(shapes: readonly (readonly Dim[])[]): Dim[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let d: Dim | undefined;
    for (const s of shapes) {
      const x = s[s.length - rank + k];
      if (!x || constValue(x) === 1) continue;
      if (d && equalDims(d, x) === false) return undefined;
      d ??= x;
    }
    out.push(d ?? constDim(1));
  }
  return out;
}

const expectShape = (n: Node, want: readonly Dim[] | undefined, what: string) =>
  !want ? `${what}: inputs do not fit` : same(n.shape, want) ? undefined : `${what}: shape ${showShape(n.shape)}, expected ${showShape(want)}`;

const elementwise: Check = (n, ins) => expectShape(n, broadcast(ins.map((i) => i.shape)), "elementwise");

const checks: Record<Op, Check> = {
  input: (n) => (n.attrs.name ? undefined : "input without a name"),
  weight: (n) => (n.attrs.name ? undefined : "weight without a name"),
  const: (n) => (n.shape.length === 0 && n.attrs.value !== undefined ? undefined : "const must be a 0-d value"),
  arange: (n) => (n.shape.length === 1 && n.dtype === "i32" ? undefined : "arange must be i32[n]"),
  neg: elementwise, not: (n, ins) => (ins[0]!.dtype === "bool" ? elementwise(n, ins) : "not needs bool"),
  exp: elementwise, log: elementwise, sqrt: elementwise, rsqrt: elementwise, tanh: elementwise, erf: elementwise,
  sigmoid: elementwise, abs: elementwise, sin: elementwise, cos: elementwise, cast: elementwise,
  add: elementwise, sub: elementwise, mul: elementwise, div: elementwise, mod: elementwise, pow: elementwise,
  maximum: elementwise, minimum: elementwise,
  eq: cmp, ne: cmp, lt: cmp, le: cmp, gt: cmp, ge: cmp,
  and: (n, ins) => (n.dtype === "bool" && ins.every((i) => i.dtype === "bool") ? elementwise(n, ins) : "and needs bools"),
  or: (n, ins) => (n.dtype === "bool" && ins.every((i) => i.dtype === "bool") ? elementwise(n, ins) : "or needs bools"),
  where: (n, ins) => (ins[0]!.dtype !== "bool" ? "where's condition must be bool" : elementwise(n, ins)),
  matmul: (n, [a, b]) => {
    if (!isFloat(a!.dtype) || a!.dtype !== b!.dtype) return "matmul needs two tensors of one float dtype";
    if (n.attrs.transB && b!.shape.length < 2) return "matmul with transB needs a right operand of at least 2 dims";
    const as = a!.shape.length === 1 ? [constDim(1), a!.shape[0]!] : a!.shape;
    // transB: b is stored [..., n, k]; the product is with its last two dims swapped back.
    const bs = b!.shape.length === 1 ? [b!.shape[0]!, constDim(1)] : n.attrs.transB ? [...b!.shape.slice(0, -2), b!.shape[b!.shape.length - 1]!, b!.shape[b!.shape.length - 2]!] : b!.shape;
    if (equalDims(as[as.length - 1]!, bs[bs.length - 2]!) === false) return "matmul inner dims differ";
    const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)]);
    return expectShape(n, batch && [...batch, ...(a!.shape.length === 1 ? [] : [as[as.length - 2]!]), ...(b!.shape.length === 1 ? [] : [bs[bs.length - 1]!])], "matmul");
  },
  sum: reduce, mean: reduce, max: reduce, min: reduce, argmax: reduce,
  reshape: (n, [x]) => (equalDims(numel(n.shape), numel(x!.shape)) === false ? "reshape changes the element count" : undefined),
  permute: (n, [x]) => {
    const p = n.attrs.perm ?? [];
    if (p.length !== x!.shape.length || new Set(p).size !== p.length) return "permute needs a permutation of the input's dims";
    return expectShape(n, p.map((i) => x!.shape[i]!), "permute");
  },
  slice: (n, [x]) => {
    const { axis, start, end } = n.attrs;
    if (axis === undefined || !start || !end || axis >= x!.shape.length) return "slice needs axis, start and end";
    return expectShape(n, x!.shape.map((d, i) => (i === axis ? subDim(end, start) : d)), "slice");
  },
  concat: (n, ins) => {
    const axis = n.attrs.axis ?? -1;
    if (!ins.length || axis < 0 || ins.some((i) => i.shape.length !== n.shape.length)) return "concat needs inputs of the output's rank";
    return expectShape(n, ins[0]!.shape.map((d, i) => (i === axis ? ins.reduce((s, x) => addDim(s, x.shape[i]!), constDim(0)) : d)), "concat");
  },
  // A state's next value: concat's shape rule, of the state and what is appended.
  append: (n, ins) => (ins.length !== 2 || ins[0]!.op !== "input" ? "append needs a state's input and a value" : checks.concat(n, ins)),
  gather: (n, [x, ix]) => {
    const axis = n.attrs.axis ?? 0;
    if (ix!.dtype !== "i32") return "gather indices must be i32";
    return expectShape(n, [...x!.shape.slice(0, axis), ...ix!.shape, ...x!.shape.slice(axis + 1)], "gather");
  },
  cumsum: (n, [x]) => {
    const axis = n.attrs.axis;
    if (axis === undefined || axis < 0 || axis >= x!.shape.length) return "cumsum axis out of range";
    if (x!.dtype === "bool" || n.dtype !== x!.dtype) return "cumsum keeps its input's number dtype";
    return expectShape(n, x!.shape, "cumsum");
  },
  expand: (n, [x]) => expectShape(n, broadcast([x!.shape, n.shape]), "expand"),
  dropout: (n, [x]) => expectShape(n, x!.shape, "dropout"),
};

function cmp(n: Node, ins: readonly Node[]): string | undefined {
  if (n.dtype !== "bool") return "comparisons give bool";
  if (ins[0]!.dtype !== ins[1]!.dtype) return `comparison of ${ins[0]!.dtype} with ${ins[1]!.dtype}`;
  return elementwise(n, ins);
}

function reduce(n: Node, [x]: readonly Node[]): string | undefined {
  const axis = n.attrs.axis;
  if (axis === undefined || axis < 0 || axis >= x!.shape.length) return "reduction axis out of range";
  const want = n.attrs.keepdim ? x!.shape.map((d, i) => (i === axis ? constDim(1) : d)) : x!.shape.filter((_, i) => i !== axis);
  return expectShape(n, want, n.op);
}

export function verify(g: Graph): string[] {
  const problems: string[] = [];
  g.nodes.forEach((n, i) => {
    if (n.id !== i) problems.push(`%${i}: id ${n.id} out of place`);
    const info = ops[n.op];
    if (info.arity >= 0 && n.inputs.length !== info.arity) problems.push(`%${i} ${n.op}: ${n.inputs.length} inputs, expected ${info.arity}`);
    if (n.inputs.some((j) => j >= i || j < 0)) {
      problems.push(`%${i} ${n.op}: uses a node that does not come before it`);
      return;
    }
    const why = checks[n.op](n, n.inputs.map((j) => g.nodes[j]!));
    if (why) problems.push(`%${i} ${n.op}: ${why}`);
  });
  for (const p of [...g.inputs, ...g.outputs]) if (!g.nodes[p.node]) problems.push(`port ${p.name}: no node %${p.node}`);
  return problems;
}

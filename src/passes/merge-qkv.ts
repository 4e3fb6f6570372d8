// Pass `merge-qkv`: matmuls of one left operand by different load-time matrices of one shape
// (attention's q, k and v projections of x; k and v of the encoder's memory) become one matmul by
// their concatenation, then a slice per original product. Exact: every element of a product is the
// same sum in the same order whatever the number of columns (the kernel accumulates each element
// on its own, over k in one fixed blocking), and the concatenation, like the matrices, is computed
// once at load time, so the interpreter takes the same kernel path for it. Consecutive slices of
// one tensor are joined as one slice of it, or as the tensor itself when they cover it (torch's
// in_proj_weight and in_proj_bias, split in three for q, k and v).
import { constDim, constValue, type Dim } from "../core/dim.js";
import type { Graph, Node } from "../ir/graph.js";
import { loadTimeNodes } from "../ir/load-time.js";
import { rewrite, shapeKey, type Rewriter } from "./rewrite.js";

const size = (d: Dim) => constValue(d)!;

/**
 * `xs` joined along `axis`. Consecutive slices of one tensor along `axis` are that tensor when
 * they cover it, else one slice of it; anything else is a concat.
 */
function join(xs: readonly number[], axis: number, r: Rewriter, shape: readonly Dim[]): number {
  const ns = xs.map((x) => r.node(x));
  const src = ns[0]!.inputs[0];
  const start = ns[0]!.attrs.start && constValue(ns[0]!.attrs.start);
  let at = start;
  const consecutive = ns.every((n) => {
    const ok = n.op === "slice" && n.inputs[0] === src && n.attrs.axis === axis && at !== undefined && constValue(n.attrs.start!) === at;
    at = ok ? constValue(n.attrs.end!) : undefined;
    return ok;
  });
  if (!consecutive || src === undefined || start === undefined || at === undefined || r.node(src).shape.length <= axis) return r.add("concat", xs, { axis }, ns[0]!.dtype, shape);
  if (start === 0 && at === size(r.node(src).shape[axis]!)) return src;
  return r.add("slice", [src], { axis, start: constDim(start), end: constDim(at) }, ns[0]!.dtype, shape);
}

/** The addition of a load-time vector of `cols` values that is the only reader of matmul `m`, if it is. */
function biasOf(g: Graph, m: Node, fixed: readonly boolean[], cols: number): { add: number; bias: number } | undefined {
  const readers = g.nodes.filter((n) => n.inputs.includes(m.id));
  if (readers.length !== 1 || g.outputs.some((o) => o.node === m.id)) return undefined;
  const add = readers[0]!;
  if (add.op !== "add" || add.dtype !== m.dtype || add.shape.length !== m.shape.length || add.inputs[0] === add.inputs[1]) return undefined;
  const bias = g.nodes[add.inputs[0] === m.id ? add.inputs[1]! : add.inputs[0]!]!;
  if (!fixed[bias.id] || bias.dtype !== m.dtype || bias.shape.length !== 1 || constValue(bias.shape[0]!) !== cols) return undefined;
  return { add: add.id, bias: bias.id };
}

export function mergeQkv(g: Graph): Graph {
  const atLoad = loadTimeNodes(g);
  const fixed = g.nodes.map((n) => atLoad.has(n.id));
  // Matmuls by a load-time matrix, grouped by left operand, transB, dtype and the matrix's shape.
  const groups = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const b = g.nodes[n.inputs[1]!];
    if (n.op !== "matmul" || fixed[n.id] || !b || !fixed[b.id] || b.shape.length !== 2) continue;
    const key = `${n.inputs[0]}|${n.attrs.transB ?? false}|${n.dtype}|${shapeKey(b.shape)}`;
    const group = groups.get(key) ?? [];
    if (!group.some((m) => m.inputs[1] === b.id)) groups.set(key, [...group, n]);
  }
  const first = new Map<number, Node[]>();
  for (const group of groups.values()) if (group.length >= 2) first.set(group[0]!.id, group);
  const replaced = new Map<number, number>();
  return rewrite(g, (n, r) => {
    const done = replaced.get(n.id);
    if (done !== undefined) return done;
    const group = first.get(n.id);
    if (!group) return undefined;
    // The matrices of the later matmuls are load-time values: they move up to here.
    const bs = group.map((m) => r.hoist(m.inputs[1]!));
    const b0 = r.node(bs[0]!).shape;
    const axis = n.attrs.transB ? 0 : 1; // the n dim: [n, k] with transB, [k, n] without
    const cols = size(b0[axis]!);
    const total = cols * group.length;
    const w = join(bs, axis, r, b0.map((d, i) => (i === axis ? constDim(total) : d)));
    const last = n.shape.length - 1;
    const mm = r.add("matmul", [n.inputs[0]!, w], n.attrs, n.dtype, n.shape.map((d, i) => (i === last ? constDim(total) : d)));
    const slice = (x: number, k: number, shape: readonly Dim[]) => r.add("slice", [x], { axis: last, start: constDim(k * cols), end: constDim((k + 1) * cols) }, n.dtype, shape);
    group.forEach((m, k) => replaced.set(m.id, slice(mm, k, m.shape)));
    // When every product is read only by the addition of its own load-time bias (BERT's q, k, v),
    // the biases join too: one addition, then the slices. Exact: the same sums, element by element.
    const adds = group.map((m) => biasOf(g, m, fixed, cols));
    if (adds.every((a) => a !== undefined)) {
      const bias = join(adds.map((a) => r.hoist(a!.bias)), 0, r, [constDim(total)]);
      const sum = r.add("add", [mm, bias], {}, n.dtype, r.node(mm).shape);
      adds.forEach((a, k) => replaced.set(a!.add, slice(sum, k, g.nodes[a!.add]!.shape)));
    }
    return replaced.get(n.id);
  });
}

// The one way passes build graphs: copy a graph node by node into a new GraphBuilder, letting the
// pass replace, add or drop nodes on the way, and structural keys for shapes and attributes.
// Graphs are immutable; a pass never changes its input.
import { showShape, type Dim } from "../core/dim.js";
import { GraphBuilder, type Attrs, type Graph, type Node } from "../ir/graph.js";
import type { Op } from "../ir/ops.js";
import type { DType } from "../check/shapes/value.js";

export interface Rewriter {
  /** A node of the graph being built (ids are the new graph's). */
  node(id: number): Node;
  /** Adds a node to the new graph, with the site of the node being visited. */
  add(op: Op, inputs: readonly number[], attrs: Attrs, dtype: DType, shape: readonly Dim[]): number;
  /**
   * The new id of an old node, copied now, with whatever it needs, if it comes later in the old
   * graph (it is then not visited). For moving load-time values (weights) up to a first use.
   */
  hoist(old: number): number;
}

/**
 * What a visit decides for a node: `undefined` copies it; a number is the new graph's node that
 * stands for it from now on (one the visit added, or an earlier one: the node is replaced); `null`
 * drops it (nothing may use it then).
 */
export type Decision = number | null | undefined;

/**
 * Copies `g` in order. `visit` sees each node with its inputs already mapped into the new graph
 * (its `id` is still the old one; an input that was dropped shows as -1). A replacement must have
 * the node's dtype and shape, so the nodes that use it, and the graph's ports, keep their types.
 * Hoisted nodes are copied as they are, without a visit.
 */
export function rewrite(g: Graph, visit: (n: Node, r: Rewriter) => Decision): Graph {
  const b = new GraphBuilder(g.name);
  const map = new Array<number | null>(g.nodes.length).fill(null);
  const hoisted = new Set<number>();
  const hoist = (old: number): number => {
    const known = map[old];
    if (known !== null && known !== undefined) return known;
    const n = g.nodes[old]!;
    const inputs = n.inputs.map(hoist);
    const site = b.site;
    b.site = n.site;
    const id = b.add(n.op, inputs, n.attrs, n.dtype, n.shape);
    b.site = site;
    hoisted.add(old);
    return (map[old] = id);
  };
  const r: Rewriter = { node: (id) => b.node(id), add: (op, inputs, attrs, dtype, shape) => b.add(op, inputs, attrs, dtype, shape), hoist };
  const mapped = (old: number, user: string): number => {
    const id = map[old];
    if (id === null || id === undefined) throw new Error(`pass: ${user} uses %${old}, which was dropped`);
    return id;
  };
  for (const n of g.nodes) {
    if (hoisted.has(n.id)) continue;
    // A dropped input maps to -1: only a node that is dropped itself may have one.
    const here = { ...n, inputs: n.inputs.map((i) => map[i] ?? -1) };
    b.site = n.site;
    const d = visit(here, r);
    if (d === null) continue;
    if (d === undefined) {
      map[n.id] = b.add(n.op, n.inputs.map((i) => mapped(i, `%${n.id}`)), n.attrs, n.dtype, n.shape);
      continue;
    }
    const rep = b.node(d);
    if (rep.dtype !== n.dtype || !sameShape(rep.shape, n.shape)) throw new Error(`pass: %${n.id} (${n.dtype}${showShape(n.shape)}) replaced by a node of another type (${rep.dtype}${showShape(rep.shape)})`);
    map[n.id] = d;
  }
  b.site = undefined;
  for (const p of g.inputs) b.inputs.push({ name: p.name, node: mapped(p.node, `input ${p.name}`) });
  for (const p of g.outputs) b.outputs.push({ name: p.name, node: mapped(p.node, `output ${p.name}`) });
  b.states.push(...g.states);
  return b.finish();
}

// ---- structural keys ------------------------------------------------------------------------------

/** A dim as a canonical string: its non-zero terms, sorted (builders may leave them unsorted). */
export function dimKey(d: Dim): string {
  const terms = [...d.terms].filter(([, c]) => c !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(terms);
}

/** Structural equality of shapes: the same polynomials, term by term. */
export const sameShape = (a: readonly Dim[], b: readonly Dim[]): boolean => a.length === b.length && a.every((d, i) => dimKey(d) === dimKey(b[i]!));

export const shapeKey = (s: readonly Dim[]): string => `[${s.map(dimKey).join(",")}]`;

/** A number as a key that tells -0 from 0 (and NaN equals NaN). */
const numKey = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));

const isDim = (v: unknown): v is Dim => typeof v === "object" && v !== null && "terms" in v;

/** Attributes as a canonical string: keys sorted, dims structural, -0 kept apart from 0. */
export function attrsKey(a: Attrs): string {
  const parts: string[] = [];
  for (const k of Object.keys(a).sort()) {
    const v = (a as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const shown = isDim(v) ? `dim${dimKey(v)}` : typeof v === "number" ? `num:${numKey(v)}` : Array.isArray(v) ? `[${v.map((x: number) => numKey(x)).join(",")}]` : `${typeof v}:${JSON.stringify(v)}`;
    parts.push(`${k}=${shown}`);
  }
  return parts.join(";");
}

// The optimized IR graph as JSON data, for the bundles `tfm build` writes: nodes as arrays
// `[op, inputs, dtype, shape, attrs?]`, dims as exact polynomials (a number when constant, else
// terms `[coefficient, ...factors]`), quotient atoms (`(seq / 2)`) listed once with what they
// divide, inner ones first, and numbers JSON cannot hold (-0, ±Infinity, NaN) tagged. Decoding
// rebuilds the same `Graph` (equal dims, atoms registered again), so the CPU interpreter runs it
// exactly as it runs the graph in the compiler. Node sites (source positions) are not kept.
import { addDim, constDim, constValue, divDim, type Dim, mulDim, quotientOf, symDim, termsOf } from "../core/dim.js";
import type { DTypeName as DType } from "../core/dtype.js";
import type { Attrs, Graph, Node } from "../ir/graph.js";
import type { Op } from "../ir/ops.js";

/** A dim: its value when constant, else its terms, each `[coefficient, ...factors]` (the constant term has no factors). */
export type DimJson = number | (string | number)[][];
/** An attribute value: JSON as it is, except dims (`{ d }`) and numbers JSON cannot hold (`{ n: "-0" }`). */
export type AttrJson = string | number | boolean | readonly number[] | { readonly d: DimJson } | { readonly n: string };
export type NodeJson = [op: Op, inputs: number[], dtype: DType, shape: DimJson[], attrs?: Record<string, AttrJson>];

export interface GraphJson {
  readonly name: string;
  /** Quotient atoms: `[name, numerator, denominator]`, each after the atoms it mentions. */
  readonly atoms: [string, DimJson, DimJson][];
  readonly nodes: NodeJson[];
  readonly inputs: [string, number][];
  readonly outputs: [string, number][];
  /** State ports: `[name, axis]` (absent in bundles written before states). */
  readonly states?: [string, number][];
}

const isDim = (v: unknown): v is Dim => typeof v === "object" && v !== null && "terms" in v;

export function encodeGraph(g: Graph): GraphJson {
  const atoms: [string, DimJson, DimJson][] = [];
  const seen = new Set<string>();
  const dim = (d: Dim): DimJson => {
    const c = constValue(d);
    if (c !== undefined) return c;
    return termsOf(d).map(({ coef, factors }) => {
      for (const f of factors) atom(f);
      return [coef, ...factors];
    });
  };
  const atom = (f: string) => {
    const q = quotientOf(f);
    if (!q || seen.has(f)) return;
    seen.add(f);
    const [num, den] = [dim(q.num), dim(q.den)]; // inner atoms first
    atoms.push([f, num, den]);
  };
  const value = (v: unknown): AttrJson => {
    if (isDim(v)) return { d: dim(v) };
    if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return { n: Object.is(v, -0) ? "-0" : String(v) };
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    if (Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x))) return [...v] as number[];
    throw new Error(`bundle: cannot write the attribute value ${String(v)}`);
  };
  const nodes = g.nodes.map((n, i): NodeJson => {
    if (n.id !== i) throw new Error(`bundle: node %${n.id} is at index ${i}`);
    const entries = Object.entries(n.attrs).filter(([, v]) => v !== undefined);
    const node: NodeJson = [n.op, [...n.inputs], n.dtype, n.shape.map(dim)];
    if (entries.length) node.push(Object.fromEntries(entries.map(([k, v]) => [k, value(v)])));
    return node;
  });
  return { name: g.name, atoms, nodes, inputs: g.inputs.map((p) => [p.name, p.node]), outputs: g.outputs.map((p) => [p.name, p.node]), states: g.states.map((s) => [s.name, s.axis]) };
}

export function decodeGraph(j: GraphJson): Graph {
  const dim = (d: DimJson): Dim => {
    if (typeof d === "number") return constDim(d);
    let sum = constDim(0);
    for (const [coef, ...factors] of d) {
      let term = constDim(coef as number);
      for (const f of factors) term = mulDim(term, symDim(f as string));
      sum = addDim(sum, term);
    }
    return sum;
  };
  // Dividing again registers each atom under the same name, so it evaluates at run time.
  for (const [name, num, den] of j.atoms) {
    const q = divDim(dim(num), dim(den)).q;
    const [[m, c]] = [...q.terms];
    if (q.terms.size !== 1 || m !== name || c !== 1) throw new Error(`bundle data: the quotient ${name} did not come back as itself`);
  }
  const value = (v: AttrJson): unknown => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const tagged = v as { readonly d: DimJson } | { readonly n: string };
    return "d" in tagged ? dim(tagged.d) : Number(tagged.n);
  };
  const nodes = j.nodes.map(([op, inputs, dtype, shape, attrs], id): Node => ({
    id,
    op,
    inputs,
    attrs: attrs ? (Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, value(v)])) as Attrs) : {},
    dtype,
    shape: shape.map(dim),
  }));
  return { name: j.name, nodes, inputs: j.inputs.map(([name, node]) => ({ name, node })), outputs: j.outputs.map(([name, node]) => ({ name, node })), states: (j.states ?? []).map(([name, axis]) => ({ name, axis })) };
}

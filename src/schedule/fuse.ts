// Fusion: cuts an optimized graph into kernels (see kernel.ts for what each kind may hold).
// Every node that runs per call lands in exactly one kernel, except views (absorbed by their
// readers), index-only nodes and masks (integer or boolean arithmetic on an input or an op
// kernel's value: a padding mask, position ids), recomputed by the kernels reading them, op
// kernels too. The kernels are found greedily,
// the most valuable first:
//   1. attention: matmul → rows body → matmul, with nothing in between read elsewhere;
//   2. matmul: its left operand's rows body as prologue (when read only by it), then its
//      elementwise consumers of the same shape as epilogue;
//   3. rows: a reduction over the last axis with its elementwise producers and consumers;
//   4. elementwise: chains of elementwise nodes of one shape;
//   5. a state's `append` of views of a matmul kernel's result: written by that kernel (appends.ts);
//   6. op: everything else, one node each (an `append` reads its new positions through views).
// A kernel may read a value computed outside it only when that value is available before the
// kernel's first node (load-time, an input, or an earlier node): so kernels ordered by their first
// node never wait on each other, and no kernel reads its own output through another kernel.
import { constDim, type Dim } from "../core/dim.js";
import { sameShape as sameShapes } from "../passes/rewrite.js";
import { loadTimeNodes } from "../ir/load-time.js";
import type { Graph, Node } from "../ir/graph.js";
import { ops } from "../ir/ops.js";
import type { Kernel, KernelKind, Schedule } from "./kernel.js";

const viewOps = new Set(["reshape", "permute", "slice", "expand", "dropout"]);
/** Views each element of whose input is at most one element of theirs (not expand): a kernel storing the input can store the view. */
export const invertibleViews = new Set(["reshape", "permute", "slice", "dropout"]);
export const isView = (n: Node): boolean => viewOps.has(n.op);
export const isElementwise = (n: Node): boolean => {
  const c = ops[n.op].class;
  return c === "unary" || c === "binary" || c === "where";
};

/** One kernel per node that runs per call: the unfused schedule (`tfm run --no-fuse`). */
export function unfused(g: Graph): Schedule {
  const atLoad = loadTimeNodes(g);
  const aliases = new Map<number, number>();
  const kernels: Kernel[] = [];
  const readers = consumers(g);
  for (const n of g.nodes) {
    if (atLoad.has(n.id) || n.op === "input") continue;
    if ((n.op === "reshape" || n.op === "dropout") && !atLoad.has(n.inputs[0]!)) {
      aliases.set(n.id, aliases.get(n.inputs[0]!) ?? n.inputs[0]!);
      continue;
    }
    kernels.push(kernel(kernels.length, "op", [n.id], g, readers, { anchor: n.id }));
  }
  return { graph: g, atLoad, aliases, kernels };
}

/** Who reads each node; graph outputs count as a reader -1. */
export function consumers(g: Graph): number[][] {
  const r: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of new Set(n.inputs)) r[i]!.push(n.id);
  for (const o of g.outputs) r[o.node]!.push(-1);
  return r;
}

/** A kernel from its nodes: its inputs are what they read from outside, its outputs what is read outside. */
export function kernel(id: number, kind: KernelKind, nodes: readonly number[], g: Graph, readers: readonly (readonly number[])[], extra: Partial<Kernel> = {}): Kernel {
  const mine = new Set(nodes);
  const sorted = [...mine].sort((a, b) => a - b);
  const inputs = [...new Set(sorted.flatMap((id) => g.nodes[id]!.inputs.filter((i) => !mine.has(i))))].sort((a, b) => a - b);
  const outputs = sorted.filter((id) => readers[id]!.some((r) => r === -1 || !mine.has(r)));
  return { id, kind, nodes: sorted, inputs, outputs, absorbed: [], ...extra };
}

// indexed: a gather from a load-time table (an embedding), read by its readers as an indexed load.
// mask: integer or boolean arithmetic on values computed per call (a padding mask, HF's position
// ids), recomputed by each kernel that reads it, as index-only nodes are.
type Role = "load" | "input" | "index" | "view" | "indexed" | "mask" | "compute";

/** What each node is to the scheduler. */
function roles(g: Graph, atLoad: ReadonlySet<number>): Role[] {
  const role: Role[] = [];
  /** A value a mask may read: one no elementwise chain would fuse it with (an input, an op kernel's value, another mask). */
  const maskOperand = (i: number): boolean => {
    const r = role[i];
    if (r === "view") return maskOperand(g.nodes[i]!.inputs[0]!);
    if (r !== "compute") return r !== "indexed";
    const n = g.nodes[i]!;
    return !isElementwise(n) && !isRowReduce(n) && n.op !== "matmul";
  };
  for (const n of g.nodes) {
    if (atLoad.has(n.id)) role.push("load");
    else if (n.op === "input") role.push("input");
    else if ((n.op === "arange" || n.op === "const" || isElementwise(n) || isView(n)) && n.inputs.every((i) => role[i] === "load" || role[i] === "index")) role.push("index");
    else if (isView(n)) role.push("view");
    else if (n.op === "gather" && role[n.inputs[0]!] === "load") role.push("indexed");
    else if (isElementwise(n) && (n.dtype === "bool" || n.dtype === "i32") && n.inputs.every(maskOperand)) role.push("mask");
    else role.push("compute");
  }
  return role;
}

const sameShape = (a: Node, b: readonly Dim[]): boolean => sameShapes(a.shape, b);
const rowScalarShape = (d: readonly Dim[]): Dim[] => [...d.slice(0, -1), constDim(1)];
const isRowReduce = (n: Node): boolean =>
  (n.op === "sum" || n.op === "mean" || n.op === "max" || n.op === "min") && n.attrs.keepdim === true && n.attrs.axis === n.shape.length - 1 && n.shape.length > 0;

/** Cuts the graph into fused kernels (see the top of this file). */
export function schedule(g: Graph): Schedule {
  const atLoad = loadTimeNodes(g);
  const role = roles(g, atLoad);
  const readers = consumers(g);
  const isOutput = new Set(g.outputs.map((o) => o.node));
  const owner = new Array<number>(g.nodes.length).fill(-1);
  const node = (id: number) => g.nodes[id]!;

  /** The compute nodes a value comes from, looking through views and index-only nodes. */
  const sources = (id: number, into: Set<number> = new Set()): Set<number> => {
    const r = role[id];
    if (r === "compute") into.add(id);
    else if (r === "view") sources(node(id).inputs[0]!, into);
    else if (r === "mask") for (const i of node(id).inputs) sources(i, into);
    else if (r === "indexed") {
      // Itself too: where it is materialised (read by a kernel other than elementwise), a reader waits on it.
      into.add(id);
      for (const i of node(id).inputs) sources(i, into);
    }
    return into;
  };
  /** The compute values a group reads from outside (through views). */
  const external = (group: ReadonlySet<number>): Set<number> => {
    const out = new Set<number>();
    for (const id of group) for (const i of node(id).inputs) if (!group.has(i)) for (const s of sources(i)) if (!group.has(s)) out.add(s);
    return out;
  };
  /** A group may run as one kernel when everything it reads from outside is computed before its first node. */
  const available = (group: ReadonlySet<number>): boolean => {
    const first = Math.min(...group);
    return [...external(group)].every((s) => s < first);
  };
  /** Inputs reached through a view must come from outside the group (a view reads a materialised value). */
  const viewsFromOutside = (group: ReadonlySet<number>): boolean =>
    [...group].every((id) => node(id).inputs.every((i) => !readAt(i) || [...sources(i)].every((s) => !group.has(s))));
  const free = (id: number) => role[id] === "compute" && owner[id] === -1;
  /** Read by a kernel at other positions than its own element's: what it reads must be materialised outside it. */
  const readAt = (id: number) => role[id] === "view" || role[id] === "indexed" || role[id] === "mask";
  /** Computed by each fused kernel that reads it, for itself. */
  const absorbable = (id: number) => role[id] === "view" || role[id] === "index" || role[id] === "indexed" || role[id] === "mask";
  const readOnlyBy = (id: number, group: ReadonlySet<number>) => !isOutput.has(id) && readers[id]!.every((r) => group.has(r));

  /**
   * Grows a rows body backwards from `start` over the row domain `dom` ([..., n]): elementwise
   * nodes and last-axis reductions whose every reader is already in the body. Stops at `stop`.
   */
  const growRowsBack = (start: number, dom: readonly Dim[], body: Set<number>, stop?: (id: number) => boolean): void => {
    const rowShapes = [dom, rowScalarShape(dom)];
    const todo = [start];
    while (todo.length) {
      const id = todo.pop()!;
      for (const i of node(id).inputs) {
        if (body.has(i) || !free(i) || stop?.(i)) continue;
        const n = node(i);
        if (!(isElementwise(n) || isRowReduce(n)) || !rowShapes.some((s) => sameShape(n, s)) || !readOnlyBy(i, body)) continue;
        body.add(i);
        todo.push(i);
      }
    }
  };
  /**
   * Grows a group forwards over elementwise readers with one of `shapes`, while it stays runnable:
   * candidates are tried in id order (a min-heap), and what makes a group runnable is kept up to
   * date as nodes join — the compute values it reads from outside computed at or after its first
   * node (`late`), and the values its members read through views — so each try costs the
   * candidate's own inputs, not the group's size (a chain of n nodes is O(n log n), not O(n³)).
   * A candidate refused while the group is not yet runnable with it is tried again after the
   * next node joins.
   */
  const growForward = (group: Set<number>, shapes: readonly (readonly Dim[])[], reduce = false): void => {
    const first = Math.min(...group);
    const ext = external(group);
    let late = 0;
    for (const e of ext) if (e >= first) late++;
    const throughViews = new Set<number>();
    for (const id of group) for (const i of node(id).inputs) if (readAt(i)) for (const s of sources(i)) throughViews.add(s);
    const heap = new MinHeap();
    const tried = new Set<number>();
    const offer = (id: number) => {
      for (const c of readers[id]!) if (c >= 0 && !group.has(c) && !tried.has(c)) (tried.add(c), heap.push(c));
    };
    for (const id of group) offer(id);
    let refused: number[] = [];
    while (heap.size) {
      const c = heap.pop();
      if (group.has(c) || !free(c)) continue;
      const n = node(c);
      if (!(isElementwise(n) || (reduce && isRowReduce(n))) || !shapes.some((sh) => sameShape(n, sh))) continue;
      // What c would read from outside, and through views.
      const added = new Set<number>();
      const viewed: number[] = [];
      for (const i of n.inputs) {
        if (group.has(i)) continue;
        for (const s of sources(i)) if (!group.has(s) && s !== c && !ext.has(s)) added.add(s);
        if (readAt(i)) for (const s of sources(i)) viewed.push(s);
      }
      let lateNext = late - (ext.has(c) && c >= first ? 1 : 0);
      for (const s of added) if (s >= first) lateNext++;
      const runnable = lateNext === 0 && !throughViews.has(c) && viewed.every((s) => !group.has(s) && s !== c);
      if (!runnable) {
        refused.push(c);
        continue;
      }
      group.add(c);
      if (ext.delete(c) && c >= first) late--;
      for (const s of added) {
        ext.add(s);
        if (s >= first) late++;
      }
      for (const s of viewed) throughViews.add(s);
      offer(c);
      for (const r of refused) heap.push(r);
      refused = [];
    }
  };

  const groups: { kind: KernelKind; nodes: Set<number>; extra: Partial<Kernel> }[] = [];
  const claim = (kind: KernelKind, nodes: Set<number>, extra: Partial<Kernel> = {}) => {
    for (const id of nodes) owner[id] = groups.length;
    groups.push({ kind, nodes, extra });
  };

  // 1. attention: scores = q @ k, a rows body over them, out = p @ v.
  for (const out of g.nodes) {
    if (out.op !== "matmul" || !free(out.id) || out.shape.length < 2) continue;
    const p = out.inputs[0]!;
    if (!free(p) || !readOnlyBy(p, new Set([out.id]))) continue;
    const pn = node(p);
    if (!(isElementwise(pn) || isRowReduce(pn))) continue;
    const body = new Set([p]);
    growRowsBack(p, pn.shape, body);
    // Scores of two activations (not a projection by weights: that is a feed-forward block), and
    // a body with a reduction (a softmax, not an activation function).
    const perCall = (i: number) => role[i] !== "load";
    const scores = [...external(body)].filter((s) => node(s).op === "matmul" && free(s) && sameShape(node(s), pn.shape) && readOnlyBy(s, body) && node(s).inputs.every(perCall));
    if (scores.length !== 1 || ![...body].some((id) => isRowReduce(node(id)))) continue;
    const group = new Set([...body, scores[0]!, out.id]);
    if (!available(group) || !viewsFromOutside(group)) continue;
    claim("attention", group, { anchor: out.id, scores: scores[0]! });
  }

  // 2. matmul, with its left operand's rows body as prologue and its elementwise readers as epilogue.
  for (const m of g.nodes) {
    if (m.op !== "matmul" || !free(m.id)) continue;
    const group = new Set([m.id]);
    const a = m.inputs[0]!;
    const an = node(a);
    const prologue = new Set<number>();
    if (free(a) && an.shape.length >= 2 && (isElementwise(an) || isRowReduce(an)) && readOnlyBy(a, group)) {
      prologue.add(a);
      growRowsBack(a, an.shape, prologue);
      const withPrologue = new Set([...group, ...prologue]);
      // Worth it only around a reduction (LayerNorm); a plain elementwise operand is an epilogue elsewhere.
      if ([...prologue].some((id) => isRowReduce(node(id))) && available(withPrologue) && viewsFromOutside(withPrologue)) for (const id of prologue) group.add(id);
      else prologue.clear();
    }
    const before = new Set(group);
    growForward(group, [m.shape]);
    const epilogue = [...group].filter((id) => !before.has(id)).sort((x, y) => x - y);
    claim("matmul", group, { anchor: m.id, prologue: [...prologue].sort((x, y) => x - y), epilogue });
  }

  // 3. rows: a last-axis reduction with its elementwise producers and readers.
  for (const r of g.nodes) {
    if (!free(r.id) || !isRowReduce(r)) continue;
    const dom = node(r.inputs[0]!).shape;
    const group = new Set([r.id]);
    const back = new Set<number>();
    growRowsBack(r.id, dom, back);
    const withBack = new Set([...group, ...back]);
    if (available(withBack) && viewsFromOutside(withBack)) for (const id of back) group.add(id);
    growForward(group, [dom, rowScalarShape(dom)], true);
    claim("rows", group);
  }

  // 4. elementwise chains of one shape.
  const firstElementwise = groups.length;
  for (const e of g.nodes) {
    if (!free(e.id) || !isElementwise(e)) continue;
    const group = new Set([e.id]);
    growForward(group, [e.shape]);
    // One node alone is an op kernel, unless it reads views or index-only nodes: as an elementwise
    // kernel it computes them itself (a causal mask's aranges and comparisons, a slice) instead of
    // each running as an op kernel of its own.
    const absorbs = e.inputs.some((i) => absorbable(i));
    claim(group.size > 1 || absorbs ? "elementwise" : "op", group, group.size > 1 || absorbs ? {} : { anchor: e.id });
  }
  // A chain read by a later one of the same shape joins it when the two run as one (everything
  // the union reads from outside is computed before its first node): a chain that met a node
  // computed after its start (HF's position ids: `ne` of the mask, then the `where` of its cumsum
  // less one) is one kernel with that node's chain. The emptied chain is no kernel.
  const chains = groups.length;
  for (let gi = firstElementwise; gi < chains; gi++) {
    const grp = groups[gi]!;
    for (let grew = true; grew && grp.nodes.size; ) {
      grew = false;
      for (const id of [...grp.nodes]) for (const r of readers[id]!) {
        const hi = r < 0 ? -1 : owner[r]!;
        if (hi < firstElementwise || hi >= chains || hi === gi || !sameShape(node(r), node(id).shape)) continue;
        const other = groups[hi]!;
        const union = new Set([...grp.nodes, ...other.nodes]);
        if (!available(union) || !viewsFromOutside(union)) continue;
        for (const n of other.nodes) owner[n] = gi;
        grp.nodes = union;
        grp.kind = "elementwise";
        grp.extra = {};
        other.nodes = new Set();
        grew = true;
      }
    }
  }

  // 5. a state's `append` whose new positions are views of a matmul kernel's result (the keys and
  // values a q/k/v projection's output is split into): written by that kernel where it computes
  // them, each element stored at its place in the state, instead of by an op kernel of its own.
  const stateInput = new Map(g.states.map((st) => [g.outputs.find((p) => p.name === st.name)!.node, g.inputs.find((p) => p.name === st.name)!.node]));
  const joined = new Map<number, { appends: number[]; chains: Set<number>; from: Set<number> }>();
  for (const n of g.nodes) {
    if (!free(n.id) || n.op !== "append" || stateInput.get(n.id) !== n.inputs[0] || n.inputs[0] === n.inputs[1]) continue;
    const chain: number[] = [];
    let x = n.inputs[1]!;
    while (role[x] === "view" && invertibleViews.has(node(x).op)) (chain.push(x), (x = node(x).inputs[0]!));
    const host = owner[x]!;
    const grp = groups[host];
    if (role[x] !== "compute" || !grp || grp.kind !== "matmul" || !(x === grp.extra.anchor || grp.extra.epilogue?.includes(x))) continue;
    const j = joined.get(host) ?? joined.set(host, { appends: [], chains: new Set(), from: new Set() }).get(host)!;
    j.appends.push(n.id);
    for (const c of chain) j.chains.add(c);
    j.from.add(x);
  }
  for (const [host, j] of joined) {
    const grp = groups[host]!;
    // The values they are views of stay the kernel's outputs (read outside it too): a backend may
    // run the appends apart, after the rest (splitAppends).
    const readElsewhere = (x: number) => isOutput.has(x) || readers[x]!.some((r) => !grp.nodes.has(r) && !j.chains.has(r));
    if (![...j.from].every(readElsewhere)) continue;
    for (const a of j.appends) (grp.nodes.add(a), (owner[a] = host));
    grp.extra = { ...grp.extra, appends: j.appends };
  }

  // 6. everything else, one node each.
  for (const n of g.nodes) if (free(n.id)) claim("op", new Set([n.id]), { anchor: n.id });

  // Views and index-only nodes: absorbed by the fused kernels that read them; materialised
  // (an alias for a reshape, else a kernel of their own) when an op kernel or an output reads them.
  const fusedKind = (k: KernelKind) => k !== "op";
  // An `append` reads its new positions through views too (index arithmetic where it stores them):
  // the slices and permutes splitting a fused q/k/v projection into heads run inside it, not as
  // kernels of their own. Not its state (read in place, as itself).
  const readsThrough = (grp: (typeof groups)[number], id: number, i: number): boolean =>
    grp.kind === "op" && node(id).op === "append" && node(id).inputs[1] === i && node(id).inputs[0] !== i;
  const absorbed = groups.map(() => new Set<number>());
  const needed = new Set<number>(g.outputs.map((o) => o.node).filter(absorbable));
  const absorb = (k: number, id: number): void => {
    if (!absorbable(id) || absorbed[k]!.has(id)) return;
    // A gather is read as an indexed load by elementwise kernels only; the others read its buffer.
    if (role[id] === "indexed" && groups[k]!.kind !== "elementwise") return void needed.add(id);
    absorbed[k]!.add(id);
    for (const i of node(id).inputs) absorb(k, i);
  };
  groups.forEach((grp, k) => {
    for (const id of grp.nodes) for (const i of node(id).inputs) {
      if (!absorbable(i)) continue;
      if (fusedKind(grp.kind) || readsThrough(grp, id, i) || role[i] === "mask") absorb(k, i);
      else needed.add(i);
    }
  });
  // What a materialised view or index node needs is materialised too (op kernels read buffers).
  const aliases = new Map<number, number>();
  const order = [...needed].sort((a, b) => a - b);
  const materialise = new Set<number>();
  const want = (id: number): void => {
    if (!absorbable(id) || materialise.has(id)) return;
    materialise.add(id);
    // A mask is an elementwise kernel of its own, computing what it reads as its readers would.
    if (role[id] !== "mask") for (const i of node(id).inputs) want(i);
  };
  order.forEach(want);
  for (const id of [...materialise].sort((a, b) => a - b)) {
    const n = node(id);
    const src = n.inputs[0];
    absorbed.push(new Set());
    if ((n.op === "reshape" || n.op === "dropout") && src !== undefined && role[src] !== "load") aliases.set(id, aliases.get(src) ?? src);
    else if (role[id] === "mask") {
      claim("elementwise", new Set([id]));
      for (const i of n.inputs) absorb(groups.length - 1, i);
    } else claim("op", new Set([id]), { anchor: id });
  }

  const kernels = groups
    .map((grp, k) => ({ grp, k, first: Math.min(...grp.nodes) }))
    .filter(({ grp }) => grp.nodes.size > 0)
    .sort((a, b) => a.first - b.first)
    .map(({ grp, k }, id) => {
      const k0 = kernel(id, grp.kind, [...grp.nodes, ...absorbed[k]!], g, readers, grp.extra);
      // Absorbed nodes are copies: the kernel computes them for itself and never writes them.
      const own = new Set(grp.nodes);
      return { ...k0, outputs: k0.outputs.filter((o) => own.has(o)), absorbed: [...absorbed[k]!].sort((a, b) => a - b) };
    });
  return { graph: g, atLoad, aliases, kernels };
}

/** A binary min-heap of node ids: growForward tries candidates in id order. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]! < a[l]! ? l + 1 : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

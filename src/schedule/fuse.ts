// Fusion: cuts an optimized graph into kernels (see kernel.ts for what each kind may hold).
// Every node that runs per call lands in exactly one kernel, except views (absorbed by their
// readers) and index-only nodes (recomputed by their readers). The kernels are found greedily,
// the most valuable first:
//   1. attention: matmul → rows body → matmul, with nothing in between read elsewhere;
//   2. matmul: its left operand's rows body as prologue (when read only by it), then its
//      elementwise consumers of the same shape as epilogue;
//   3. rows: a reduction over the last axis with its elementwise producers and consumers;
//   4. elementwise: chains of elementwise nodes of one shape;
//   5. op: everything else, one node each.
// A kernel may read a value computed outside it only when that value is available before the
// kernel's first node (load-time, an input, or an earlier node): so kernels ordered by their first
// node never wait on each other, and no kernel reads its own output through another kernel.
import { constValue } from "../check/shapes/dim.js";
import type { Graph, Node } from "../ir/graph.js";
import { ops } from "../ir/ops.js";
import type { Kernel, KernelKind, Schedule } from "./kernel.js";

/** Nodes computed when the weights are loaded (the CPU interpreter's rule, shared by every backend). */
export function loadTimeNodes(g: Graph): Set<number> {
  const fixed = new Set<number>();
  for (const n of g.nodes) {
    if (n.op === "weight") fixed.add(n.id);
    else if (n.op !== "input" && n.shape.every((d) => constValue(d) !== undefined) && n.inputs.every((i) => fixed.has(i)) && (n.op !== "const" || typeof n.attrs.value !== "object")) fixed.add(n.id);
  }
  return fixed;
}

const viewOps = new Set(["reshape", "permute", "slice", "expand", "dropout"]);
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
  return { id, kind, nodes: sorted, inputs, outputs, ...extra };
}

// A schedule: the optimized graph cut into kernels, the unit a backend runs (one CPU routine, one
// WGSL dispatch). The graph itself stays primitive (src/ir/); a kernel names the graph nodes it
// computes, so its meaning is always the interpreter's meaning of those nodes, and a backend may
// run any kernel by evaluating its nodes one by one. Built by `schedule()` in fuse.ts.
//
// What each kind guarantees about its nodes (fuse.ts makes only these shapes):
//   op          one node of any op, run on its own (gather, concat, a reduction over an inner axis...);
//               an `append` also absorbs the views its new positions are read through.
//   elementwise unary/binary/where/cast nodes of one output shape; inputs broadcast to it.
//   rows        elementwise nodes and reductions over the LAST axis with keepdim, on values of shape
//               [...outer, n] or [...outer, 1]: each row of n elements is computed independently
//               (LayerNorm, softmax with its scale and mask, residual-add + LayerNorm).
//   matmul      one matmul (`anchor`); a `prologue` (a rows body computing its left operand, e.g.
//               the LayerNorm before a projection); an `epilogue` of elementwise nodes of the
//               matmul's output shape (bias, activation, residual); `appends` of states whose new
//               positions are views of its result (a q/k/v projection's keys and values into their
//               caches; appends.ts gives the kernels they stand for, for a backend that runs them apart).
//   attention   scores = matmul(q, k) (`scores`), a rows body over the scores (scale, mask,
//               softmax), and out = matmul(p, v) (`anchor`): each query row can be computed
//               alone, so the [.., sq, sk] score matrix is never materialised.
// In every kind, `nodes` may also hold layout nodes (reshape, permute, slice, expand, dropout)
// that read a kernel input — views, read through index arithmetic — and index-only nodes
// (computed from arange and constants alone, such as a causal mask), recomputed where used.
import { showDim } from "../core/dim.js";
import type { Graph } from "../ir/graph.js";

export type KernelKind = "op" | "elementwise" | "rows" | "matmul" | "attention";

export interface Kernel {
  readonly id: number;
  readonly kind: KernelKind;
  /** Every graph node this kernel computes, in topological order (views and index-only nodes included). */
  readonly nodes: readonly number[];
  /** The graph nodes it reads that are computed elsewhere: inputs, load-time values, other kernels' outputs. */
  readonly inputs: readonly number[];
  /** The views and index-only nodes among `nodes`: computed by the kernel for itself from its inputs, never written. */
  readonly absorbed: readonly number[];
  /** Its nodes whose values are read after it (by later kernels or as graph outputs): the buffers it writes. */
  readonly outputs: readonly number[];
  /** matmul, attention: the (output) matmul; op: the node. */
  readonly anchor?: number;
  /** attention: the matmul computing the scores. */
  readonly scores?: number;
  /** matmul: the nodes computing its left operand inside the kernel (a rows body). */
  readonly prologue?: readonly number[];
  /** matmul: the elementwise nodes after it. */
  readonly epilogue?: readonly number[];
  /** matmul: states' `append` nodes it writes, their new positions views of its result (or of its epilogue's). */
  readonly appends?: readonly number[];
}

export interface Schedule {
  readonly graph: Graph;
  /**
   * Nodes computed once when the weights are loaded, never per run: weights, constants and
   * everything computed from them alone with a shape known at compile time.
   */
  readonly atLoad: ReadonlySet<number>;
  /** Nodes that share another node's buffer (a reshape or dropout of a value computed per run): node → the node that owns the buffer. */
  readonly aliases: ReadonlyMap<number, number>;
  /** The kernels, in an order that respects their dependencies. */
  readonly kernels: readonly Kernel[];
}

/** The textual form: one line per kernel, its nodes, what it reads and what it writes. */
export function printSchedule(s: Schedule): string {
  const type = (id: number) => {
    const n = s.graph.nodes[id]!;
    return `${n.dtype}[${n.shape.map(showDim).join(", ")}]`;
  };
  const lines = s.kernels.map((k) => {
    const nodes = k.nodes.map((id) => `%${id}`).join(" ");
    const head = `  k${k.id} ${k.kind}${k.anchor !== undefined && k.kind !== "op" ? `(%${k.anchor})` : ""}`;
    const reads = k.inputs.map((i) => `%${i}`).join(", ");
    const writes = k.outputs.map((o) => `%${o}: ${type(o)}`).join(", ");
    return `${head} ${s.graph.nodes[k.anchor ?? k.nodes[k.nodes.length - 1]!]?.op ?? ""}\n    reads ${reads || "nothing"}\n    writes ${writes}\n    nodes ${nodes}`;
  });
  return `schedule ${s.graph.name}: ${s.kernels.length} kernels, ${s.atLoad.size} load-time nodes {\n${lines.join("\n")}\n}\n`;
}

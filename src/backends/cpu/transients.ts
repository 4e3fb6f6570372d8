// What a kernel allocates beyond the memory plan's buffers while it runs, as an upper bound in
// bytes at the call's dims: the interpreter adds the largest of these to the planned buffers when
// it checks a run against its memory budget (../shared/budget.ts), so that nothing the kernels
// make escapes the count. By kernel kind, from what the code does:
//
// - an op kernel (interpret.ts, semantics.ts, kernels/), by its op's class: elementwise ops write
//   into their buffer (nothing); a source, layout or identity op's result may be made apart and
//   copied into its buffer (its output's bytes); a reduction accumulates in double (8 bytes per
//   output element), a scan carries a row of them (at most as many); the matmul accumulates in
//   double and packs or copies its operands into WebAssembly memory (every input's bytes);
// - a fused kernel over a domain of one dim (fused.ts evaluates it node by node on whole tensors):
//   every node's value whole, plus the double accumulators;
// - a matmul kernel with appends (schedule/appends.ts): the largest of the kernels it is run as;
// - a fused kernel over rows (fused.ts): the nodes it absorbed, computed whole once per call (a
//   causal mask `[seq, seq]`, split heads), and per block every node's block of rows (the last
//   block has up to 3 rows more), with double accumulators, plus a matmul's right operand at one
//   outer index, packed or copied into WebAssembly memory.
import { numel, runtimeDType } from "../../core/tensor.js";
import { symbolsOf } from "../../core/dim.js";
import { runtimeBytes } from "../../core/dtype.js";
import type { Graph, Node } from "../../ir/graph.js";
import type { Kernel, Schedule } from "../../schedule/kernel.js";
import { ops, type OpClass } from "../../ir/ops.js";
import { blockRows } from "./fused.js";
import { narrowing } from "./narrow.js";
import { splitAppends } from "../../schedule/appends.js";

/** Bytes of double accumulators per element (reductions, the matmul). */
const ACCUMULATOR = 8;

/** An op kernel's transient by its op's class, from its output's bytes, its accumulators' and its inputs'. */
const opTransient: Record<OpClass, (out: number, accumulators: number, inputs: () => number) => number> = {
  source: (out) => out,
  layout: (out) => out,
  identity: (out) => out,
  unary: () => 0,
  binary: () => 0,
  where: () => 0,
  reduce: (_, acc) => acc,
  // A scan carries one row of double accumulators (at most one per output element).
  scan: (_, acc) => acc,
  matmul: (_, acc, inputs) => acc + inputs(),
};

/** An upper bound on the bytes kernel `k` allocates outside the planned buffers, at the dims `shape` evaluates nodes at. */
export function transientBytes(k: Kernel, graph: Graph, shape: (n: Node) => readonly number[]): number {
  const node = (id: number) => graph.nodes[id]!;
  const elementBytes = (n: Node) => runtimeBytes[runtimeDType[n.dtype]];
  const bytes = (n: Node) => numel(shape(n)) * elementBytes(n);
  // Its appends run after it, as op kernels of their own (interpret.ts): the largest of those.
  if (k.appends?.length) return Math.max(...splitAppends(k, graph).map((p) => transientBytes(p, graph, shape)));
  if (k.kind === "op") {
    const n = node(k.anchor!);
    // The views it absorbed (an append's new positions) are evaluated into tensors of their own.
    const views = k.absorbed.reduce((a, id) => a + bytes(node(id)), 0);
    return views + opTransient[ops[n.op].class](bytes(n), numel(shape(n)) * ACCUMULATOR, () => n.inputs.reduce((a, i) => a + bytes(node(i)), 0));
  }
  const absorbed = new Set(k.absorbed);
  const own = k.nodes.filter((id) => !absorbed.has(id)).map(node);
  const dom = shape(node(k.anchor ?? own.at(-1)!.id));
  if (dom.length < 2 || own.some((n) => n.op === "matmul" && n.inputs.some((i) => node(i).shape.length < 2))) {
    return k.nodes.reduce((a, id) => a + bytes(node(id)) + numel(shape(node(id))) * ACCUMULATOR, 0);
  }
  const rows = dom.at(-2)!;
  const widest = Math.max(1, ...own.map((n) => shape(n).at(-1) ?? 1));
  const block = Math.min(rows, blockRows(k, rows, widest, !!narrowing(k, graph, own), true) + 3);
  let total = k.absorbed.reduce((a, id) => a + bytes(node(id)), 0);
  for (const n of own) {
    total += block * (shape(n).at(-1) ?? 1) * (elementBytes(n) + ACCUMULATOR);
    if (n.op === "matmul") {
      const b = shape(node(n.inputs[1]!));
      total += 2 * (b.at(-1)! * b.at(-2)!) * runtimeBytes.f32;
    }
  }
  return total;
}

/**
 * The kernel of `s` with the largest transient at these dims, and its bytes (0 and none for no
 * kernels), plus the values several kernels absorb (`sharedAbsorbed`: computed once a call and
 * held through it).
 */
export function largestTransient(s: Schedule, shape: (n: Node) => readonly number[], bytesOf = (k: Kernel) => transientBytes(k, s.graph, shape)): { bytes: number; kernel?: Kernel } {
  let best: { bytes: number; kernel?: Kernel } = { bytes: 0 };
  for (const k of s.kernels) {
    const t = bytesOf(k);
    if (t > best.bytes) best = { bytes: t, kernel: k };
  }
  let held = 0;
  for (const id of sharedAbsorbed(s)) held += numel(shape(s.graph.nodes[id]!)) * runtimeBytes[runtimeDType[s.graph.nodes[id]!.dtype]];
  return { ...best, bytes: best.bytes + held };
}

const shared = new WeakMap<Schedule, ReadonlySet<number>>();

/** The nodes more than one kernel of `s` absorbs (fused.ts `SharedAbsorbed`). */
export function sharedAbsorbed(s: Schedule): ReadonlySet<number> {
  let ids = shared.get(s);
  if (!ids) {
    const seen = new Set<number>(), twice = new Set<number>();
    for (const k of s.kernels) for (const id of k.absorbed) (seen.has(id) ? twice : seen).add(id);
    shared.set(s, (ids = twice));
  }
  return ids;
}

/**
 * largestTransient over the calls of one program (its budget check runs at every call): each
 * kernel's transient kept by the values of the symbols its shapes mention (its nodes', the nodes it
 * absorbed and their inputs'), so that a decode step recomputes only the kernels whose shapes hold
 * the cached length. The same figures as largestTransient.
 */
export class Transients {
  private readonly kept = new Map<Kernel, { key: string; bytes: number }>();
  private readonly symbols = new Map<Kernel, readonly string[]>();

  constructor(private readonly s: Schedule) {}

  largest(shape: (n: Node) => readonly number[], values: ReadonlyMap<string, number>): { bytes: number; kernel?: Kernel } {
    return largestTransient(this.s, shape, (k) => {
      const key = this.symbolsOf(k).map((name) => values.get(name)).join(",");
      const hit = this.kept.get(k);
      if (hit?.key === key) return hit.bytes;
      const bytes = transientBytes(k, this.s.graph, shape);
      this.kept.set(k, { key, bytes });
      return bytes;
    });
  }

  private symbolsOf(k: Kernel): readonly string[] {
    let names = this.symbols.get(k);
    if (!names) {
      const g = this.s.graph;
      const ids = new Set([...k.nodes, ...k.absorbed].flatMap((id) => [id, ...g.nodes[id]!.inputs]));
      names = [...new Set([...ids].flatMap((id) => g.nodes[id]!.shape.flatMap(symbolsOf)))].sort();
      this.symbols.set(k, names);
    }
    return names;
  }
}

// Liveness over a schedule: the values a run materialises and, in steps (a kernel's index in
// `schedule.kernels`), when each is written and when it is last read. A value is a kernel output;
// a node in `aliases` (a reshape or dropout of a value) is that value under another shape. Graph
// inputs are the caller's buffers and load-time nodes are weights: neither is a value here. A
// graph output is read at step `kernels.length`, after the last kernel.
import { constDim, mulDim, type Dim } from "../core/dim.js";
import { type DTypeName, runtimeBytes as bytesOfRuntime, runtimeDType } from "../core/dtype.js";
import type { Node } from "../ir/graph.js";
import type { Schedule } from "./kernel.js";

/** Bytes per element of each IR dtype at run time. */
export type ElementBytes = (dtype: DTypeName) => number;

/**
 * The CPU runtime's element sizes: f16 and bf16 compute as f32, i64 as i32 (runtimeDType in
 * src/core/dtype.ts), bool is one byte. A WebGPU runtime storing bool as u32 passes its own.
 */
export const runtimeBytes: ElementBytes = (dtype) => bytesOfRuntime[runtimeDType[dtype]];

/** A node's size in bytes, symbolic in the dims. */
export const bytesOf = (n: Node, elementBytes: ElementBytes): Dim => n.shape.reduce(mulDim, constDim(elementBytes(n.dtype)));

export interface Value {
  /** The node whose value it is: an output of the kernel at step `def`. */
  readonly node: number;
  readonly bytes: Dim;
  /** The step that writes it. */
  readonly def: number;
  /** The last step that reads it (through any alias); `kernels.length` for a graph output; `def` if nothing reads it. */
  readonly last: number;
  /** A graph output (itself or through an alias). */
  readonly output: boolean;
}

export interface Liveness {
  /** Every value, in the order they are written (by `def`, then by node). */
  readonly values: readonly Value[];
  readonly byNode: ReadonlyMap<number, Value>;
  /** The number of steps: kernels.length. */
  readonly steps: number;
  /** The node owning a node's buffer: itself, or what an alias stands for (graph inputs and load-time nodes included). */
  owner(node: number): number;
  /** The value a node stands for (itself or through aliases), or undefined for inputs, load-time nodes and kernel-internal nodes. */
  valueOf(node: number): Value | undefined;
}

export class ScheduleError extends Error {}

/** The values of a schedule with their live ranges. Throws ScheduleError if a kernel reads a value not written before it. */
export function liveness(s: Schedule, elementBytes: ElementBytes): Liveness {
  const g = s.graph;
  const owner = (node: number): number => {
    let o = node;
    for (let hops = 0; s.aliases.has(o); hops++) {
      if (hops > g.nodes.length) throw new ScheduleError(`schedule: the aliases of %${node} form a cycle`);
      o = s.aliases.get(o)!;
    }
    return o;
  };
  const external = (node: number) => s.atLoad.has(node) || g.nodes[node]?.op === "input";
  const def = new Map<number, number>();
  s.kernels.forEach((k, step) => {
    for (const o of k.outputs) if (!def.has(o) && !s.aliases.has(o) && !external(o)) def.set(o, step);
  });
  const last = new Map<number, number>([...def].map(([n, d]) => [n, d]));
  s.kernels.forEach((k, step) => {
    for (const i of k.inputs) {
      const o = owner(i);
      if (external(o)) continue;
      const d = def.get(o);
      if (d === undefined || d >= step) throw new ScheduleError(`schedule: kernel k${k.id} (step ${step}) reads %${i}${o !== i ? ` (%${o})` : ""}, which no earlier kernel writes`);
      last.set(o, Math.max(last.get(o)!, step));
    }
  });
  const outputs = new Set<number>();
  for (const p of g.outputs) {
    const o = owner(p.node);
    if (external(o)) continue;
    if (!def.has(o)) throw new ScheduleError(`schedule: the output ${p.name} (%${p.node}) is written by no kernel`);
    outputs.add(o);
    last.set(o, s.kernels.length);
  }
  const values = [...def]
    .sort(([a, da], [b, db]) => da - db || a - b)
    .map(([node, d]): Value => ({ node, bytes: bytesOf(g.nodes[node]!, elementBytes), def: d, last: last.get(node)!, output: outputs.has(node) }));
  const byNode = new Map(values.map((v) => [v.node, v]));
  return { values, byNode, steps: s.kernels.length, owner, valueOf: (node) => byNode.get(owner(node)) };
}

// A matmul kernel that also writes states' `append`s (fuse.ts step 5: the keys and values of a
// q/k/v projection stored into their caches by the projection's kernel) as the kernels it stands
// for: the matmul kernel without them, then one op kernel per append, reading its new positions
// through its views as an append op kernel does. A backend that cannot store them where it
// computes them (the CPU interpreter; a WGSL matmul whose views it cannot invert) runs these: the
// same values, the appends after the rest. The values they are views of are outputs of the
// matmul kernel (fuse.ts keeps only such appends in it), so nothing new is materialised.
import type { Graph } from "../ir/graph.js";
import type { Kernel } from "./kernel.js";

export function splitAppends(k: Kernel, g: Graph): readonly Kernel[] {
  if (!k.appends?.length) return [k];
  // Kernels are immutable: each is split once (the CPU's memory check asks at every call).
  const known = split.get(k);
  if (known?.graph === g) return known.parts;
  const parts = Object.freeze(splitNow(k, g));
  split.set(k, { graph: g, parts });
  return parts;
}

const split = new WeakMap<Kernel, { readonly graph: Graph; readonly parts: readonly Kernel[] }>();

function splitNow(k: Kernel, g: Graph): Kernel[] {
  const appends = new Set(k.appends);
  const absorbed = new Set(k.absorbed);
  /** The absorbed views `ids` read, and what they read in turn. */
  const through = (ids: Iterable<number>): Set<number> => {
    const out = new Set<number>();
    const todo = [...ids];
    for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
      for (const i of g.nodes[id]!.inputs) if (absorbed.has(i) && !out.has(i)) (out.add(i), todo.push(i));
    }
    return out;
  };
  const part = (kind: Kernel["kind"], own: readonly number[]): Kernel => {
    const abs = through(own);
    const nodes = [...own, ...abs].sort((a, b) => a - b);
    const mine = new Set(nodes);
    const inputs = [...new Set(nodes.flatMap((id) => g.nodes[id]!.inputs.filter((i) => !mine.has(i))))].sort((a, b) => a - b);
    return { id: k.id, kind, nodes, inputs, outputs: k.outputs.filter((o) => mine.has(o) && !abs.has(o)), absorbed: [...abs].sort((a, b) => a - b) };
  };
  // Its anchor, prologue and epilogue, as they are.
  const { id: _id, kind: _kind, nodes: _nodes, inputs: _inputs, outputs: _outputs, absorbed: _absorbed, appends: _appends, ...extra } = k;
  const core: Kernel = { ...part(k.kind, k.nodes.filter((id) => !absorbed.has(id) && !appends.has(id))), ...extra };
  return [core, ...k.appends!.map((a) => ({ ...part("op", [a]), anchor: a }))];
}

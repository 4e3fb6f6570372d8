// Weights kept as f16 on the device (`weightsDtype: "f16"`): half the bytes uploaded, held and read
// per token. Which load-time values: the weights' matrices (rank ≥ 2, f32), as given or rearranged
// at load by layout ops alone (Llama's q/k/v weights concatenated, a slice of one), so that every
// value kept is a weight's values, rounded to the nearest f16 once. Vectors (biases, norms' scales)
// and values computed at load (rotary tables, constants) stay f32: they are small, and an error in
// them is not averaged over a product. A value another node aliases (its buffer bound under the
// alias) or a graph output (read back) stays f32 too. Kernels read such a buffer through
// `unpack2x16float` (codegen/kernel.ts); the device uploads it packed (device.ts, core/f16.ts).
import type { Op } from "../../ir/ops.js";
import type { Schedule } from "../../schedule/kernel.js";

/** Ops whose value at load is their inputs' values rearranged. */
const layout: ReadonlySet<Op> = new Set<Op>(["concat", "slice", "reshape", "permute"]);

export function halvesOf(s: Schedule): Set<number> {
  const g = s.graph;
  const aliased = new Set(s.aliases.values());
  const outputs = new Set(g.outputs.map((o) => o.node));
  const ofWeights = new Map<number, boolean>();
  const fromWeights = (id: number): boolean => {
    const known = ofWeights.get(id);
    if (known !== undefined) return known;
    const n = g.nodes[id]!;
    const v = n.dtype === "f32" && (n.op === "weight" || (layout.has(n.op) && n.inputs.every(fromWeights)));
    ofWeights.set(id, v);
    return v;
  };
  const out = new Set<number>();
  for (const id of s.atLoad) {
    const n = g.nodes[id]!;
    if (n.shape.length >= 2 && !aliased.has(id) && !outputs.has(id) && fromWeights(id)) out.add(id);
  }
  return out;
}

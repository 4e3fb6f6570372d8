// Which nodes are computed once, when the weights are loaded, rather than on every call: weights,
// constants and everything computed from them alone with a shape known at compile time. One rule
// for the optimizer (merge-qkv), the scheduler and every backend.
import { constValue } from "../core/dim.js";
import type { Graph } from "./graph.js";

export function loadTimeNodes(g: Graph): Set<number> {
  const fixed = new Set<number>();
  for (const n of g.nodes) {
    if (n.op === "weight") fixed.add(n.id);
    else if (n.op !== "input" && n.shape.every((d) => constValue(d) !== undefined) && n.inputs.every((i) => fixed.has(i)) && (n.op !== "const" || typeof n.attrs.value !== "object")) fixed.add(n.id);
  }
  return fixed;
}

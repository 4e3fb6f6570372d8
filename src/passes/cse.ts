// Pass `cse`: common-subexpression elimination — a node identical to an earlier one (same op,
// inputs, attributes, dtype and shape) is replaced by it. Shapes and symbolic attributes compare
// structurally, constants by value with -0 apart from 0. Inputs of commutative ops whose result is
// exactly the same either way (IEEE + and ×, ==, !=, &&, ||) are compared as a set.
import type { Graph, Node } from "../ir/graph.js";
import type { Op } from "../ir/ops.js";
import { attrsKey, rewrite, shapeKey } from "./rewrite.js";

const commutative = new Set<Op>(["add", "mul", "eq", "ne", "and", "or"]);

/** The node's identity: two nodes with one key compute the same value. */
export function nodeKey(n: Node): string {
  const inputs = commutative.has(n.op) ? [...n.inputs].sort((a, b) => a - b) : n.inputs;
  return `${n.op}|${n.dtype}|${shapeKey(n.shape)}|${attrsKey(n.attrs)}|${inputs.join(",")}`;
}

export function cse(g: Graph): Graph {
  const seen = new Map<string, number>();
  return rewrite(g, (n, r) => {
    if (n.op === "input") return undefined; // each input is its own value, whatever its type
    const key = nodeKey(n);
    const known = seen.get(key);
    if (known !== undefined) return known;
    const id = r.add(n.op, n.inputs, n.attrs, n.dtype, n.shape);
    seen.set(key, id);
    return id;
  });
}

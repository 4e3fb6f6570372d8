// Pass `fold-constants`: a node whose inputs are all (numeric) constants and whose result is a
// scalar becomes a constant. The value is computed by the evaluator the pipeline is given — the CPU
// interpreter itself on 0-d tensors (src/backends/cpu/evaluate.ts), so folding has exactly its
// semantics (f32 rounding, i32 wrapping, NaN) while the passes import no backend. Weights are never
// folded: their values are not known until load time. A node the evaluator rejects is kept, so its
// error still happens at run time.
import type { Graph, Node } from "../ir/graph.js";
import { ops } from "../ir/ops.js";
import { rewrite } from "./rewrite.js";

/** The value of `n` applied to the constant nodes `inputs`; undefined where computing it fails. */
export type ScalarEvaluator = (n: Node, inputs: readonly Node[]) => number | boolean | undefined;

const foldable = new Set(["f32", "i32", "bool"]);

export function foldConstants(g: Graph, evaluate: ScalarEvaluator): Graph {
  return rewrite(g, (n, r) => {
    if (ops[n.op].class === "source" || n.shape.length !== 0 || !foldable.has(n.dtype)) return undefined;
    const ins = n.inputs.map((i) => r.node(i));
    if (!ins.every((c) => c.op === "const" && typeof c.attrs.value !== "object" && foldable.has(c.dtype))) return undefined;
    const value = evaluate(n, ins);
    return value === undefined ? undefined : r.add("const", [], { value }, n.dtype, []);
  });
}

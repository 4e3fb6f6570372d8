// Pass `fold-constants`: a node whose inputs are all (numeric) constants and whose result is a
// scalar becomes a constant. The value is computed by the CPU interpreter itself on 0-d tensors,
// so folding has exactly its semantics (f32 rounding, i32 wrapping, NaN). Weights are never
// folded: their values are not known until load time. A node the interpreter rejects is kept,
// so its error still happens at run time.
import { CpuProgram } from "../backends/cpu/interpret.js";
import type { Graph, Node } from "../ir/graph.js";
import { ops } from "../ir/ops.js";
import { rewrite } from "./rewrite.js";

const foldable = new Set(["f32", "i32", "bool"]);

/** The node's value from its constant inputs, by the interpreter; undefined if it fails. */
export function evaluateScalar(n: Node, inputs: readonly Node[]): number | boolean | undefined {
  const nodes: Node[] = inputs.map((c, id) => ({ id, op: "const", inputs: [], attrs: { value: c.attrs.value! }, dtype: c.dtype, shape: [] }));
  nodes.push({ ...n, id: nodes.length, inputs: inputs.map((_, i) => i) });
  try {
    const v = new CpuProgram({ name: "fold", nodes, inputs: [], outputs: [{ name: "v", node: nodes.length - 1 }] }, new Map()).run(new Map()).outputs.get("v")!;
    const x = v.data[0]!;
    return n.dtype === "bool" ? x !== 0 : x;
  } catch {
    return undefined;
  }
}

export function foldConstants(g: Graph): Graph {
  return rewrite(g, (n, r) => {
    if (ops[n.op].class === "source" || n.shape.length !== 0 || !foldable.has(n.dtype)) return undefined;
    const ins = n.inputs.map((i) => r.node(i));
    if (!ins.every((c) => c.op === "const" && typeof c.attrs.value !== "object" && foldable.has(c.dtype))) return undefined;
    const value = evaluateScalar(n, ins);
    return value === undefined ? undefined : r.add("const", [], { value }, n.dtype, []);
  });
}

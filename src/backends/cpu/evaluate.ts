// The interpreter as an evaluator for the phases that must compute exactly as it does but may not
// import it: constant folding (src/passes/fold-constants.ts takes `evaluateScalar`) and the WebGPU
// backend's load-time values (src/backends/webgpu/program.ts takes `loadTimeValues`). Their
// callers pass these functions in, so neither the passes nor the WebGPU backend depend on the CPU.
import type { Tensor } from "../../core/tensor.js";
import type { Graph, Node } from "../../ir/graph.js";
import { loadTimeNodes } from "../../ir/load-time.js";
import { CpuProgram } from "./interpret.js";

/** The value of `n` applied to constant `inputs`, computed on 0-d tensors; undefined where the interpreter fails. */
export function evaluateScalar(n: Node, inputs: readonly Node[]): number | boolean | undefined {
  const nodes: Node[] = inputs.map((c, id) => ({ id, op: "const", inputs: [], attrs: { value: c.attrs.value! }, dtype: c.dtype, shape: [] }));
  nodes.push({ ...n, id: nodes.length, inputs: inputs.map((_, i) => i) });
  try {
    const p = new CpuProgram({ name: "fold", nodes, inputs: [], outputs: [{ name: "v", node: nodes.length - 1 }], states: [] }, new Map());
    let v: Tensor;
    try {
      v = p.run(new Map()).outputs.get("v")!;
    } finally {
      p.dispose();
    }
    const x = v.data[0]!;
    return n.dtype === "bool" ? x !== 0 : x;
  } catch {
    return undefined;
  }
}

/**
 * The values of the load-time nodes `need` (src/ir/load-time.ts: weights, constants and what is
 * computed from them alone), computed by the interpreter on the graph's load-time part. A failure
 * is the interpreter's RunError (a weight not loaded, a constant index out of range).
 */
export function loadTimeValues(g: Graph, need: readonly number[], weights: ReadonlyMap<string, Tensor>): Map<number, Tensor> {
  const atLoad = loadTimeNodes(g);
  const ids = g.nodes.filter((n) => atLoad.has(n.id)).map((n) => n.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const nodes = ids.map((id, i) => ({ ...g.nodes[id]!, id: i, inputs: g.nodes[id]!.inputs.map((x) => index.get(x)!) }));
  const sub: Graph = { name: g.name, nodes, inputs: [], outputs: need.map((id) => ({ name: String(id), node: index.get(id)! })), states: [] };
  const p = new CpuProgram(sub, weights);
  try {
    const res = p.run(new Map());
    return new Map(need.map((id) => [id, res.outputs.get(String(id))!]));
  } finally {
    p.dispose();
  }
}

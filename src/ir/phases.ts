// The calls of a model that keeps states written once per sequence (`state mem_k: f32[B, H, S, D]`
// with `k = once(mem_k, key_proj(memory))`: an encoder–decoder's cross-attention keys and values).
// Such a model is lowered three ways (build.ts `lowerOps(..., phase)`):
//
//   call    one call from empty state: `once(s, x)` is x, and the states written once are not ports
//           (what `tfm run` and `session.run` run; the graph of a model without them, unchanged);
//   encode  what the first call of a sequence writes once: `once(s, x)` is x, the output ports are
//           the states written once (by their paths) and nothing else, so the decoder is dead;
//   step    every call of the sequence: `once(s, x)` is the state, an ordinary input port of its
//           path, so what computed x (the encoder) is dead, and so are the inputs only it read (the
//           source tokens); the states that grow (`append`) are the graph's `states` as in `call`.
//
// A sequence is then `encode` once, and `step` for its first and every later call (generate/decoder.ts).
import type { Graph, Node, Port } from "./graph.js";

export type Phase = "call" | "encode" | "step";

/**
 * `g` without what no output needs: with `keep`, only those outputs (and no state); the input ports
 * whose node is then unused are dropped too (a state's input stays while its next value is an output).
 */
export function pruned(g: Graph, keep?: readonly string[]): Graph {
  const outputs = keep ? g.outputs.filter((p) => keep.includes(p.name)) : g.outputs;
  const states = g.states.filter((s) => outputs.some((p) => p.name === s.name));
  const live = new Array<boolean>(g.nodes.length).fill(false);
  for (const p of outputs) live[p.node] = true;
  for (let i = g.nodes.length - 1; i >= 0; i--) if (live[i]) for (const j of g.nodes[i]!.inputs) live[j] = true;
  const inputs = g.inputs.filter((p) => live[p.node] || states.some((s) => s.name === p.name));
  for (const p of inputs) live[p.node] = true;
  const ids = new Array<number>(g.nodes.length).fill(-1);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!live[n.id]) continue;
    ids[n.id] = nodes.length;
    nodes.push(Object.freeze({ ...n, id: nodes.length, inputs: Object.freeze(n.inputs.map((i) => ids[i]!)) }));
  }
  const port = (p: Port): Port => Object.freeze({ name: p.name, node: ids[p.node]! });
  return Object.freeze({ name: g.name, nodes: Object.freeze(nodes), inputs: Object.freeze(inputs.map(port)), outputs: Object.freeze(outputs.map(port)), states: Object.freeze(states) });
}

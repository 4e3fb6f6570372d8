// Pass `dce`: dead-code elimination — drops every node no output depends on. Graph inputs stay,
// used or not, since they are part of the model's signature.
import type { Graph } from "../ir/graph.js";
import { rewrite } from "./rewrite.js";

export function dce(g: Graph): Graph {
  const live = new Array<boolean>(g.nodes.length).fill(false);
  for (const p of [...g.outputs, ...g.inputs]) live[p.node] = true;
  for (let i = g.nodes.length - 1; i >= 0; i--) if (live[i]) for (const j of g.nodes[i]!.inputs) live[j] = true;
  return rewrite(g, (n) => (live[n.id] ? undefined : null));
}

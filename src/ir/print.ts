// The IR's textual form, one node per line with its type: `%7: f32[batch, seq, 768] = add %5, %6`.
// Used by `tfm ir`, golden files and hovers.
import { showDim, showShape } from "../core/dim.js";
import type { Attrs, Graph, Node } from "./graph.js";

function attrs(a: Attrs): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (k === "name") continue;
    const shown = typeof v === "object" && v !== null && "terms" in v ? showDim(v) : Array.isArray(v) ? `[${v.join(", ")}]` : Object.is(v, -0) ? "-0" : String(v);
    parts.push(`${k}=${shown}`);
  }
  return parts.length ? ` {${parts.join(", ")}}` : "";
}

export function printNode(n: Node): string {
  const args = [...(n.attrs.name !== undefined ? [JSON.stringify(n.attrs.name)] : []), ...n.inputs.map((i) => `%${i}`)];
  return `%${n.id}: ${n.dtype}${showShape(n.shape)} = ${n.op}${args.length ? " " + args.join(", ") : ""}${attrs(n.attrs)}`;
}

export function printGraph(g: Graph): string {
  const state = new Set(g.states.map((s) => s.name));
  const port = (p: { name: string; node: number }) => `${state.has(p.name) ? "state " : ""}${p.name}: ${g.nodes[p.node]!.dtype}${showShape(g.nodes[p.node]!.shape)}`;
  const lines = [`graph ${g.name}(${g.inputs.map(port).join(", ")}) -> (${g.outputs.map(port).join(", ")}) {`];
  for (const n of g.nodes) lines.push(`  ${printNode(n)}`);
  lines.push(`  return ${g.outputs.map((o) => `${o.name}=%${o.node}`).join(", ")}`, "}");
  return lines.join("\n") + "\n";
}

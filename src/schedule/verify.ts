// Checks a schedule against the graph it cuts: what every backend relies on. Returns the problems
// found (none for a good schedule); run on every model and on random programs in the tests.
//   - every node run per call that an output or a kernel needs is computed by exactly one kernel as its own, or is an alias, or is
//     absorbed (a view or index-only node some kernel recomputes for itself);
//   - a kernel reads only what exists before it: inputs, load-time values, outputs of earlier
//     kernels (or aliases of those), and its own nodes;
//   - a kernel's outputs are exactly its own nodes read outside it;
//   - each kind holds what kernel.ts says it may (a matmul kernel's appends listed as such).
import type { Graph } from "../ir/graph.js";
import { isElementwise, isView } from "./fuse.js";
import type { Schedule } from "./kernel.js";

export function verifySchedule(s: Schedule): string[] {
  const g: Graph = s.graph;
  const problems: string[] = [];
  const ownedBy = new Map<number, number>();
  const absorbedAnywhere = new Set<number>();
  for (const k of s.kernels) {
    const absorbed = new Set(k.absorbed);
    for (const id of k.nodes) {
      if (absorbed.has(id)) {
        absorbedAnywhere.add(id);
        continue;
      }
      if (ownedBy.has(id)) problems.push(`%${id} is computed by k${ownedBy.get(id)} and k${k.id}`);
      ownedBy.set(id, k.id);
    }
  }
  const readers = g.nodes.map(() => new Set<number>());
  for (const n of g.nodes) for (const i of n.inputs) readers[i]!.add(n.id);
  const outputs = new Set(g.outputs.map((o) => o.node));
  // What the outputs need (a dead view is computed by no one, and need not be).
  const needed = new Set(g.outputs.map((o) => o.node));
  for (let i = g.nodes.length - 1; i >= 0; i--) if (needed.has(i) || ownedBy.has(i)) for (const x of g.nodes[i]!.inputs) needed.add(x);
  for (const n of g.nodes) {
    if (s.atLoad.has(n.id) || n.op === "input" || s.aliases.has(n.id) || !needed.has(n.id)) continue;
    if (!ownedBy.has(n.id) && !absorbedAnywhere.has(n.id)) problems.push(`%${n.id} (${n.op}) is computed by no kernel`);
    if (!ownedBy.has(n.id) && outputs.has(n.id)) problems.push(`%${n.id} is a graph output but only absorbed, never written`);
  }
  for (const [a, src] of s.aliases) {
    const n = g.nodes[a]!;
    if (n.op !== "reshape" && n.op !== "dropout") problems.push(`alias %${a} is a ${n.op}, not a reshape or dropout`);
    if (s.atLoad.has(src)) problems.push(`alias %${a} shares a load-time value's buffer`);
  }
  const done = new Set<number>([...s.atLoad, ...g.inputs.map((p) => p.node)]);
  const ready = (i: number): boolean => done.has(i) || (s.aliases.has(i) && ready(s.aliases.get(i)!));
  s.kernels.forEach((k, t) => {
    if (k.id !== t) problems.push(`kernel ${t} has id ${k.id}`);
    const mine = new Set(k.nodes);
    const own = k.nodes.filter((id) => !k.absorbed.includes(id));
    for (const id of k.nodes) for (const i of g.nodes[id]!.inputs) if (!mine.has(i) && !ready(i)) problems.push(`k${k.id} reads %${i} before it is computed`);
    const want = own.filter((id) => outputs.has(id) || [...readers[id]!].some((r) => !mine.has(r)));
    const wrote = new Set(k.outputs);
    for (const id of want) if (!wrote.has(id)) problems.push(`k${k.id} does not write %${id}, which is read outside it`);
    for (const id of k.absorbed) {
      const n = g.nodes[id]!;
      const indexed = n.op === "gather" && s.atLoad.has(n.inputs[0]!);
      if (!isView(n) && !isElementwise(n) && n.op !== "arange" && n.op !== "const" && !indexed) problems.push(`k${k.id} absorbs %${id}, a ${n.op}`);
    }
    const ops = own.map((id) => g.nodes[id]!);
    if (k.kind === "op" && own.length !== 1) problems.push(`op kernel k${k.id} has ${own.length} nodes`);
    if (k.kind === "elementwise" && ops.some((n) => !isElementwise(n))) problems.push(`elementwise kernel k${k.id} holds a ${ops.find((n) => !isElementwise(n))!.op}`);
    if ((k.kind === "matmul" || k.kind === "attention") && g.nodes[k.anchor ?? -1]?.op !== "matmul") problems.push(`${k.kind} kernel k${k.id} has no matmul anchor`);
    if (k.kind === "attention" && g.nodes[k.scores ?? -1]?.op !== "matmul") problems.push(`attention kernel k${k.id} has no scores matmul`);
    if (k.appends?.length && k.kind !== "matmul") problems.push(`${k.kind} kernel k${k.id} has appends`);
    const appends = new Set(k.appends ?? []);
    for (const a of appends) if (!own.includes(a) || g.nodes[a]!.op !== "append") problems.push(`k${k.id} lists %${a} as an append it writes, a ${g.nodes[a]!.op}${own.includes(a) ? "" : " it does not own"}`);
    if (k.kind === "matmul") for (const n of ops) if (n.op === "append" && !appends.has(n.id)) problems.push(`matmul kernel k${k.id} holds %${n.id}, an append it does not list`);
    for (const id of own) done.add(id);
  });
  return problems;
}

// The optimizer: the passes, in the order they run, in this one list. Each pass is a function
// Graph → Graph that preserves every output's value (see each pass's file for why it is exact;
// test/property/passes.test.ts checks it on random programs). `runPasses` runs the list and keeps
// the graph after each pass with a report of what it changed (`tfm ir --after PASS`, `--report`).
// What the passes need from outside the IR (the interpreter's scalar semantics, for folding) comes
// in a `PassContext` from the caller: src/optimize.ts gives the CPU interpreter's.
// After the list, src/schedule/fuse.ts cuts the result into kernels (the report counts them after
// every pass) and src/schedule/memory.ts plans their buffers.
import type { Graph, Node } from "../ir/graph.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { foldConstants, type ScalarEvaluator } from "./fold-constants.js";
import { foldTranspose } from "./fold-transpose.js";
import { mergeQkv } from "./merge-qkv.js";
import { simplify } from "./simplify.js";
import { schedule, unfused } from "../schedule/fuse.js";

/** What the passes take from their caller. */
export interface PassContext {
  /** Computes a node on constant inputs (fold-constants): the CPU interpreter's `evaluateScalar`. */
  readonly evaluate: ScalarEvaluator;
}

export interface Pass {
  readonly name: string;
  readonly run: (g: Graph, ctx: PassContext) => Graph;
  readonly doc: string;
}

export const passes: readonly Pass[] = [
  { name: "fold-constants", run: (g, ctx) => foldConstants(g, ctx.evaluate), doc: "compute scalar nodes of constants at compile time, by the interpreter's kernels" },
  { name: "simplify", run: simplify, doc: "exact identities: no dropout, x·1, x/1, x − 0, same-type cast/reshape/expand, whole-axis slice, reshape∘reshape, permute∘permute, where(c, x, x)" },
  { name: "fold-transpose", run: foldTranspose, doc: "a matmul by a transpose (whose k dim is its source's innermost) reads the source as stored (transB)" },
  { name: "cse", run: cse, doc: "merge identical nodes" },
  { name: "merge-qkv", run: mergeQkv, doc: "matmuls of one operand by load-time matrices of one shape become one matmul by their concatenation and slices" },
  { name: "dce", run: dce, doc: "drop nodes no output depends on" },
];

/**
 * What one pass changed. `removed` and `added` count nodes by kind — the op, or `matmul(transB)`
 * for a matmul that reads its right operand transposed — as the net change per kind.
 */
export interface PassReport {
  readonly pass: string;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  readonly removed: Readonly<Record<string, number>>;
  readonly added: Readonly<Record<string, number>>;
}

export interface Stage {
  readonly pass: string;
  /** The graph after this pass. */
  readonly graph: Graph;
  readonly report: PassReport;
}

export interface Optimized {
  /** The graph the passes started from. */
  readonly input: Graph;
  /** The graph after the last pass run (the input graph if none ran). */
  readonly graph: Graph;
  readonly stages: readonly Stage[];
  /** What the passes run changed together. */
  readonly total: PassReport;
}

export class UnknownPass extends Error {
  constructor(readonly pass: string) {
    super(`no pass \`${pass}\`; the passes are: none, ${passes.map((p) => p.name).join(", ")}, all`);
  }
}

/** A node's kind in reports: its op, told apart by the attributes that change how it runs. */
export const kindOf = (n: Node): string => (n.op === "matmul" && n.attrs.transB ? "matmul(transB)" : n.op);

/** Nodes by kind. */
export function kindCounts(g: Graph): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of g.nodes) m.set(kindOf(n), (m.get(kindOf(n)) ?? 0) + 1);
  return m;
}

export function diffReport(pass: string, before: Graph, after: Graph): PassReport {
  const [a, b] = [kindCounts(before), kindCounts(after)];
  const removed: Record<string, number> = {};
  const added: Record<string, number> = {};
  for (const kind of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const d = (b.get(kind) ?? 0) - (a.get(kind) ?? 0);
    if (d < 0) removed[kind] = -d;
    if (d > 0) added[kind] = d;
  }
  return { pass, nodesBefore: before.nodes.length, nodesAfter: after.nodes.length, removed, added };
}

/**
 * Runs the passes in order, up to and including `until` (a pass name; "all", the default, runs
 * every pass; "none" runs none). Throws UnknownPass for another name.
 */
export function runPasses(g: Graph, opts: PassContext & { readonly until?: string }): Optimized {
  const until = opts.until ?? "all";
  const stop = until === "all" ? passes.length : until === "none" ? 0 : passes.findIndex((p) => p.name === until) + 1;
  if (stop === 0 && until !== "none") throw new UnknownPass(until);
  const stages: Stage[] = [];
  let cur = g;
  for (const p of passes.slice(0, stop)) {
    const next = p.run(cur, opts);
    stages.push({ pass: p.name, graph: next, report: diffReport(p.name, cur, next) });
    cur = next;
  }
  return { input: g, graph: cur, stages, total: diffReport(until, g, cur) };
}

/**
 * The reports as a table: one line per pass (nodes and fused kernels before → after, ops removed
 * and added), the total, then the fused schedule of the result by kind of kernel.
 */
export function formatReport(o: Optimized): string {
  // Kernel counts are the report's business only: `runPasses` (run by every tfm run) never schedules.
  const kernels = new Map<Graph, number>();
  const count = (g: Graph) => kernels.get(g) ?? kernels.set(g, schedule(g).kernels.length).get(g)!;
  const graphs = [o.input, ...o.stages.map((s) => s.graph)];
  const before = [...graphs.slice(0, -1), o.input];
  const after = [...graphs.slice(1), o.graph];
  const rows = [...o.stages.map((s) => s.report), { ...o.total, pass: "total" }].map((r, i) => ({ ...r, kernelsBefore: count(before[i]!), kernelsAfter: count(after[i]!) }));
  const width = Math.max(5, ...rows.map((r) => r.pass.length));
  const ops = (r: Readonly<Record<string, number>>, sign: string) => Object.entries(r).map(([kind, k]) => `${sign}${k} ${kind}`);
  const lines = rows.map((r) => {
    const changes = [...ops(r.removed, "-"), ...ops(r.added, "+")];
    return `${r.pass.padEnd(width)}  ${String(r.nodesBefore).padStart(6)} → ${String(r.nodesAfter).padEnd(6)}  ${String(r.kernelsBefore).padStart(7)} → ${String(r.kernelsAfter).padEnd(6)}  ${changes.length ? changes.join(", ") : "no change"}`;
  });
  const s = schedule(o.graph);
  const kinds = new Map<string, number>();
  for (const k of s.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  const fused = `fuse: ${o.graph.nodes.length} nodes → ${s.kernels.length} kernels (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}); ${unfused(o.graph).kernels.length} unfused`;
  return `${"pass".padEnd(width)}  ${"nodes".padStart(6)}  ${"kernels".padStart(7)}\n${lines.join("\n")}\n${fused}\n`;
}

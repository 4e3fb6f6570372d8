// What a memory plan saves, as formulas in the symbolic dims and as bytes at given dim values:
// the planned peak of live activations, the arena (the planned buffers together), the sum of every
// value with no reuse, the sum of every per-run node as if each had its own buffer (op by op,
// views included), the graph's inputs and outputs, and the weights. `tfm ir --report` prints it.
import { addDim, constDim, evalDim, mulDim, showDim, subDim, type Dim } from "../core/dim.js";
import { evalMax, maxima, showMax } from "./dim-max.js";
import type { Schedule } from "./kernel.js";
import { bytesOf } from "./liveness.js";
import { planMemory, type MemoryPlan, type PlanOptions } from "./memory.js";

/** A size in bytes: its formula in the dims, and its value at the report's bindings (undefined if some dim is unbound). */
export interface Quantity {
  readonly formula: string;
  readonly bytes: number | undefined;
}

export interface MemoryReport {
  readonly bindings: ReadonlyMap<string, number>;
  readonly kernels: number;
  readonly values: number;
  readonly buffers: number;
  readonly inPlace: number;
  /** The most bytes live at once (max over the steps); `step` is where, at the bindings. */
  readonly peak: Quantity & { readonly step: number | undefined };
  /** The same without the graph outputs: the most bytes of intermediates live at once. */
  readonly peakIntermediates: Quantity;
  /** The planned buffers together: what a runtime allocates. */
  readonly arena: Quantity;
  /** Every value (kernel output) in its own buffer: the schedule with no reuse. */
  readonly allValues: Quantity;
  /** Every node computed per run in its own buffer (views included), as if run op by op with no reuse. */
  readonly allNodes: Quantity;
  /** The caller's buffers. */
  readonly inputs: Quantity;
  readonly outputs: Quantity;
  /** Bytes of the checkpoint's tensors (as held at run time) and of what is computed from them at load. */
  readonly weights: number;
  readonly computedAtLoad: number;
  /** The state kept between calls (KV caches) after this call: every state's next value. */
  readonly state: Quantity;
  /**
   * The state as generation holds it: one buffer per state at `capacity` positions along its axis,
   * written in place (src/backends/cpu/cache.ts); when a capacity is known.
   */
  readonly stateAtCapacity?: Quantity & { readonly capacity: number };
}

const sum = (ds: readonly Dim[]): Dim => ds.reduce(addDim, constDim(0));
const quantity = (d: Dim, b: ReadonlyMap<string, number>): Quantity => ({ formula: showDim(d), bytes: evalDim(d, b) });

export function memoryReport(plan: MemoryPlan, given: ReadonlyMap<string, number>, capacity?: number): MemoryReport {
  // `past` (the positions the state holds) is 0 unless given: a call on an empty cache.
  const bindings = given.has("past") ? given : new Map([...given, ["past", 0]]);
  const s = plan.schedule;
  const g = s.graph;
  const bytes = (id: number) => bytesOf(g.nodes[id]!, plan.elementBytes);
  const values = plan.liveness.values;
  const perRun = g.nodes.filter((n) => n.op !== "input" && !s.atLoad.has(n.id));
  const atLoad = g.nodes.filter((n) => s.atLoad.has(n.id));
  const loadBytes = (ns: typeof atLoad) => ns.reduce((a, n) => a + (evalDim(bytes(n.id), bindings) ?? 0), 0);
  // The arena: buffers of one known size add up as one polynomial; the others as max(...) terms.
  const [plain, maxes] = [plan.sizes.filter((d) => d.length <= 1), plan.sizes.filter((d) => d.length > 1)];
  const arenaBytes = plan.sizes.reduce<number | undefined>((a, ds) => {
    const v = evalMax(ds, bindings);
    return a === undefined || v === undefined ? undefined : a + v;
  }, 0);
  const plainSum = sum(plain.flat());
  const arenaFormula = [...(plain.length || !maxes.length ? [showDim(plainSum)] : []), ...maxes.map(showMax)].join(" + ");
  const liveAt = plan.live.map((d) => evalDim(d, bindings));
  const peakBytes = evalMax(plan.peak, bindings);
  const peakStep = peakBytes === undefined ? undefined : liveAt.findIndex((v) => v === peakBytes);
  // Graph outputs live from their step to the end: take them out of each step's live bytes.
  const outs = values.filter((v) => v.output);
  const intermediates = maxima(plan.live.map((d, step) => outs.reduce((acc, v) => (v.def <= step ? subDim(acc, v.bytes) : acc), d)));
  return {
    bindings,
    kernels: s.kernels.length,
    values: values.length,
    buffers: plan.sizes.length,
    inPlace: plan.inPlace.length,
    peak: { formula: showMax(plan.peak), bytes: peakBytes, step: peakStep === -1 ? undefined : peakStep },
    peakIntermediates: { formula: showMax(intermediates), bytes: evalMax(intermediates, bindings) },
    arena: { formula: arenaFormula, bytes: arenaBytes },
    allValues: quantity(sum(values.map((v) => v.bytes)), bindings),
    allNodes: quantity(sum(perRun.map((n) => bytes(n.id))), bindings),
    inputs: quantity(sum(g.inputs.map((p) => bytes(p.node))), bindings),
    outputs: quantity(sum(values.filter((v) => v.output).map((v) => v.bytes)), bindings),
    weights: loadBytes(atLoad.filter((n) => n.op === "weight")),
    computedAtLoad: loadBytes(atLoad.filter((n) => n.op !== "weight")),
    state: quantity(sum(g.outputs.filter((p) => g.states.some((st) => st.name === p.name)).map((p) => bytes(p.node))), bindings),
    ...(capacity !== undefined && g.states.length ? { stateAtCapacity: { ...quantity(mulDim(constDim(capacity), sum(g.states.map((st) => perPosition(g.nodes[g.outputs.find((p) => p.name === st.name)!.node]!.shape, st.axis, plan.elementBytes(g.nodes[g.outputs.find((p) => p.name === st.name)!.node]!.dtype))))), bindings), capacity } } : {}),
  };
}

/** Bytes of one position along `axis` of a value of `shape`. */
const perPosition = (shape: readonly Dim[], axis: number, element: number): Dim => shape.reduce((a, d, i) => (i === axis ? a : mulDim(a, d)), constDim(element));

/** 26214400 → "26,214,400 bytes (25.0 MiB)". */
export function showBytes(n: number | undefined): string {
  if (n === undefined) return "? bytes (a dim is unbound)";
  const mib = n / 2 ** 20;
  const unit = n >= 2 ** 20 ? ` (${mib.toFixed(1)} MiB)` : n >= 1024 ? ` (${(n / 1024).toFixed(1)} KiB)` : "";
  return `${n.toLocaleString("en-US")} bytes${unit}`;
}

const percent = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? "" : `${((100 * a) / b).toFixed(1)}% of all values`);

/** The report as text: per quantity, its bytes at the bindings and a note, then its formula in the dims. */
export function formatMemory(plan: MemoryPlan, bindings: ReadonlyMap<string, number>, capacity?: number): string {
  const r = memoryReport(plan, bindings, capacity);
  const at = [...(plan.schedule.graph.states.length ? r.bindings : bindings)].map(([k, v]) => `${k}=${v}`).join(", ");
  const k = r.peak.step === undefined ? undefined : plan.schedule.kernels[r.peak.step];
  const where = k ? `at k${k.id} ${k.kind}${k.anchor !== undefined ? ` (%${k.anchor} ${plan.schedule.graph.nodes[k.anchor]!.op})` : ""}` : "";
  const line = (label: string, q: Quantity, ...notes: string[]) =>
    `${`  ${label.padEnd(19)} ${showBytes(q.bytes).padEnd(30)} ${notes.filter(Boolean).join("; ")}`.trimEnd()}\n  ${"".padEnd(19)} = ${q.formula}\n`;
  return (
    `memory plan${at ? ` at ${at}` : ""}: ${r.kernels} kernels write ${r.values} values into ${r.buffers} buffers, ${r.inPlace} of them in place\n` +
    line("peak activations", r.peak, percent(r.peak.bytes, r.allValues.bytes), where) +
    line("peak intermediates", r.peakIntermediates, "graph outputs left out") +
    line("arena", r.arena, percent(r.arena.bytes, r.allValues.bytes), `the ${r.buffers} buffers`) +
    line("all values", r.allValues, "every kernel output in its own buffer") +
    line("all nodes", r.allNodes, "every per-run node in its own buffer, op by op") +
    line("graph inputs", r.inputs, "the caller's") +
    line("graph outputs", r.outputs) +
    (plan.schedule.graph.states.length ? line("state", r.state, `${plan.schedule.graph.states.length} tensors kept between calls (the KV cache after this call)`) : "") +
    (r.stateAtCapacity ? line("state at capacity", r.stateAtCapacity, `as generation holds it: one buffer per state at ${r.stateAtCapacity.capacity} positions, appended in place`) : "") +
    `  ${"weights".padEnd(19)} ${showBytes(r.weights)}, and ${showBytes(r.computedAtLoad)} computed from them at load\n`
  );
}

/** Plans `s` for the given dim values and reports it (for `tfm ir --report` and `tfm build --report`). */
export function memoryReportText(s: Schedule, bindings: ReadonlyMap<string, number>, opts: PlanOptions & { readonly capacity?: number } = {}): string {
  return formatMemory(planMemory(s, { hint: bindings, ...opts }), bindings, opts.capacity);
}

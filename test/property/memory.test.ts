// Memory plans are sound on random programs. Two sources, each optimized, then cut into the
// unfused and the fused schedule, each schedule planned (hint: random dim values):
//
//   1. the shape properties' programs (shapes-gen.ts: symbolic dims b, t, s, quotients included),
//      compiled from .tfm text, with random weights and inputs;
//   2. IR graphs built directly (passes-gen.ts): identities, transposes into matmul, repeats.
//
// For every plan: checkPlan finds nothing; at the generator's dim values and at random ones, every
// buffer is at least as big as each value it holds; the live bytes at every step, counted from
// the buffers in use, are the plan's, and the planned peak is their max, at most the arena and at
// most the sum of all values; and the plans run: the CPU interpreter, which writes every kernel
// output into its planned buffer (in place where the plan says so), gives the same bits as with a
// buffer per value (`reuse: false`; any NaN matching any NaN, as in the passes' property test). And the size comparison they rest on
// (provablyNonNegative, dim.ts) is sound on random polynomials.
// Seeds are printed; replay with TFM_MEMORY_SEED=<seed>, change the length with TFM_MEMORY_RUNS.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { RunError } from "../../src/backends/shared/errors.js";
import type { Tensor } from "../../src/core/tensor.js";
import { addDim, constDim, divDim, evalDim, mulDim, nonNegative, provablyNonNegative, showDim, symbolsOf, symDim } from "../../src/core/dim.js";
import { hasErrors } from "../../src/diag/diagnostic.js";
import type { Graph } from "../../src/ir/graph.js";
import { printGraph } from "../../src/ir/print.js";
import { optimize } from "../../src/optimize.js";
import { randomWeights } from "../../src/runtime/init.js";
import { checkPlan } from "../../src/schedule/check-plan.js";
import { evalMax } from "../../src/schedule/dim-max.js";
import { schedule, unfused } from "../../src/schedule/fuse.js";
import { printSchedule, type Schedule } from "../../src/schedule/kernel.js";
import { memoryReport } from "../../src/schedule/memory-report.js";
import { planMemory, type MemoryPlan } from "../../src/schedule/memory.js";
import { pickSeed } from "../helpers/seed.js";
import { randomTensor } from "../unit/backends/cpu/helpers.js";
import { randomGraph } from "./passes-gen.js";
import { caseArbitrary, generate } from "./shapes-gen.js";
import { runCheck } from "./shapes-oracle.js";
import { printProgram } from "./shapes-program.js";

const TIME_LIMIT_MS = 25_000;
/** Graphs whose values would take more than this many elements in all are not run (only planned). */
const MAX_ELEMENTS = 1 << 18;

interface Tally {
  plans: number;
  bindings: number;
  ran: number;
  inPlace: number;
  values: number;
  buffers: number;
  /** Planned peak / all values, summed, to print the mean. */
  ratio: number;
}
const tally = (): Tally => ({ plans: 0, bindings: 0, ran: 0, inPlace: 0, values: 0, buffers: 0, ratio: 0 });

/** A small deterministic generator for dim values. */
const lcg = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

/** Checks a plan's sizes and live bytes at one set of dim values; false when those values are not a valid run (unbound, inexact, negative). */
function checkAt(p: MemoryPlan, symbols: ReadonlyMap<string, number>): boolean {
  const lv = p.liveness;
  // Values the program cannot take there (a slice `2:` of a dim of 1): not a run.
  if (p.schedule.graph.nodes.some((n) => n.shape.some((d) => (evalDim(d, symbols) ?? 0) < 0))) return false;
  const bytes = lv.values.map((v) => evalDim(v.bytes, symbols));
  if (bytes.some((x) => x === undefined)) return false;
  const sizes = p.sizes.map((ds) => evalMax(ds, symbols));
  if (sizes.some((x) => x === undefined)) return false;
  lv.values.forEach((v, i) => {
    const b = p.buffers.get(v.node)!;
    if (sizes[b]! < bytes[i]!) throw new Error(`buffer ${b} is ${sizes[b]} bytes at ${show(symbols)}, but holds %${v.node} of ${bytes[i]}`);
  });
  // Live bytes at each step, from the buffers in use: per buffer, the largest value live in it then.
  let peak = 0;
  for (let step = 0; step < lv.steps; step++) {
    const inUse = new Map<number, number>();
    lv.values.forEach((v, i) => {
      if (v.def > step || v.last < step) return;
      const b = p.buffers.get(v.node)!;
      inUse.set(b, Math.max(inUse.get(b) ?? 0, bytes[i]!));
    });
    const live = [...inUse.values()].reduce((a, x) => a + x, 0);
    if (evalDim(p.live[step]!, symbols) !== live) throw new Error(`step ${step}: the plan counts ${evalDim(p.live[step]!, symbols)} live bytes at ${show(symbols)}, the buffers in use hold ${live}`);
    peak = Math.max(peak, live);
  }
  const r = memoryReport(p, symbols);
  if (r.peak.bytes !== peak) throw new Error(`the planned peak is ${r.peak.bytes} bytes at ${show(symbols)} (${r.peak.formula}), the steps' max ${peak}`);
  if (r.arena.bytes! < peak) throw new Error(`the arena (${r.arena.bytes}) is smaller than the peak (${peak}) at ${show(symbols)}`);
  if (r.allValues.bytes! < peak) throw new Error(`the peak (${peak}) is more than all values (${r.allValues.bytes}) at ${show(symbols)}`);
  return true;
}

const show = (m: ReadonlyMap<string, number>) => [...m].map(([k, v]) => `${k}=${v}`).join(",") || "(no dims)";
/** Where two tensors differ (bit for bit, −0 apart from 0, but any NaN matching any NaN): undefined when they do not. */
function difference(got: Tensor, want: Tensor): string | undefined {
  if (got.shape.join() !== want.shape.join()) return `shape [${got.shape}], expected [${want.shape}]`;
  const i = got.data.findIndex((x: number, k: number) => !Object.is(x, want.data[k]) && !(Number.isNaN(x) && Number.isNaN(want.data[k]!)));
  if (i < 0) return undefined;
  return `element ${i} is ${Object.is(got.data[i], -0) ? "-0" : got.data[i]}, expected ${Object.is(want.data[i], -0) ? "-0" : want.data[i]}`;
}

/** Plans both schedules of `g` and checks them at every binding; runs them when inputs are given. */
function checkGraph(g: Graph, bindings: readonly ReadonlyMap<string, number>[], seed: number, t: Tally, run?: { weights: ReadonlyMap<string, Tensor>; inputs: ReadonlyMap<string, Tensor>; symbols: ReadonlyMap<string, number> }): void {
  const next = lcg(seed);
  const names = [...new Set(g.nodes.flatMap((n) => n.shape.flatMap(symbolsOf)))];
  const random = Array.from({ length: 4 }, () => new Map(names.map((n) => [n, 1 + Math.floor(next() * (next() < 0.3 ? 4 : 300))])));
  for (const [name, s] of [["unfused", unfused(g)], ["fused", schedule(g)]] as [string, Schedule][]) {
    const p = planMemory(s, { hint: random[0]! });
    const where = () => `${name} schedule:\n${printGraph(g)}${printSchedule(s)}buffers: ${JSON.stringify([...p.buffers])}\nin place: ${JSON.stringify(p.inPlace)}`;
    const problems = checkPlan(p);
    if (problems.length) throw new Error(`checkPlan: ${problems.join("; ")}\n${where()}`);
    t.plans++;
    t.inPlace += p.inPlace.length;
    t.values += p.liveness.values.length;
    t.buffers += p.sizes.length;
    try {
      for (const b of [...bindings, ...random]) if (checkAt(p, b)) t.bindings++;
      const r = memoryReport(p, bindings[0] ?? new Map());
      if (r.peak.bytes !== undefined && r.allValues.bytes) t.ratio += r.peak.bytes / r.allValues.bytes;
      if (!run) continue;
      let want: ReadonlyMap<string, Tensor>;
      try {
        want = new CpuProgram(g, run.weights, undefined, { fuse: name === "fused", reuse: false }).run(run.inputs).outputs;
      } catch (e) {
        if (e instanceof RunError) continue; // an index out of range: nothing to compare
        throw e;
      }
      const got = new CpuProgram(g, run.weights, undefined, { fuse: name === "fused" }).run(run.inputs).outputs;
      for (const [o, w] of want) {
        const d = difference(got.get(o)!, w);
        if (d) throw new Error(`output ${o}: running from the planned buffers gives other bits than the interpreter: ${d}`);
      }
      t.ran++;
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${where()}`);
    }
  }
}

const describeError = (e: unknown): string => (e instanceof TypeError || e instanceof RangeError ? String(e.stack) : e instanceof Error ? e.message : String(e));

function summary(tag: string, t: Tally): void {
  console.log(`[memory] ${tag}: ${t.plans} plans checked at ${t.bindings} dim bindings, ${t.ran} run from their buffers; ${t.values} values in ${t.buffers} buffers, ${t.inPlace} written in place; mean peak / all values ${t.plans ? ((100 * t.ratio) / t.plans).toFixed(1) : "-"}%`);
}

describe("memory plans are sound", () => {
  const seed = pickSeed("TFM_MEMORY_SEED");
  const runs = Number(process.env["TFM_MEMORY_RUNS"] || 0);

  it("on the shape properties' random programs, symbolic dims, both schedules (seed printed; replay with TFM_MEMORY_SEED)", { timeout: 120_000 }, () => {
    const numRuns = runs || 300;
    console.log(`[memory] programs: seed=${seed} numRuns=${numRuns} (replay: TFM_MEMORY_SEED=${seed})`);
    const t = tally();
    let skipped = 0;
    const details = fc.check(
      fc.property(caseArbitrary(12), fc.nat(), (c, valueSeed) => {
        const gen = generate(c);
        const text = printProgram(gen.program);
        const r = runCheck(text);
        const built = hasErrors(r.diagnostics) ? undefined : buildGraph(r);
        if (!built || !r.instance) {
          skipped++;
          return;
        }
        const g = optimize(built).graph;
        const asg = gen.assignments.map((a) => new Map(Object.entries(a)));
        const sizes = g.nodes.map((n) => n.shape.reduce((a, d) => a * (evalDim(d, asg[0]!) ?? NaN), 1));
        let run: Parameters<typeof checkGraph>[4];
        if (!sizes.some(Number.isNaN) && sizes.reduce((a, b) => a + b, 0) <= MAX_ELEMENTS) {
          const inputs = new Map<string, Tensor>();
          g.inputs.forEach((p, k) => {
            const n = g.nodes[p.node]!;
            const dtype = n.dtype === "i32" ? "i32" : n.dtype === "bool" ? "bool" : "f32";
            inputs.set(p.name, randomTensor(dtype, n.shape.map((d) => evalDim(d, asg[0]!)!), valueSeed + k, { scale: 2, special: 0.05, range: 1 }));
          });
          for (const x of inputs.values()) if (x.dtype === "i32") x.data.forEach((v, i) => (x.data[i] = Math.abs(v)));
          run = { weights: randomWeights(r.instance.weights, valueSeed % 2 ** 31), inputs, symbols: asg[0]! };
        }
        try {
          checkGraph(g, asg, valueSeed, t, run);
        } catch (e) {
          throw new Error(`${(e as Error).message}\nprogram:\n${text}symbols: ${JSON.stringify(gen.assignments)}`);
        }
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    console.log(`[memory] programs: ${details.numRuns} runs (${details.numShrinks} shrinks), ${skipped} skipped (errors)${details.interrupted ? " (stopped at the time limit)" : ""}`);
    summary("programs", t);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath} (replay: TFM_MEMORY_SEED=${seed}): ${describeError(details.errorInstance)}`);
    expect(t.plans).toBeGreaterThan(100);
    expect(t.ran).toBeGreaterThan(50);
    expect(t.inPlace).toBeGreaterThan(0);
  });

  it("compare sizes soundly: whenever provablyNonNegative(d), d ≥ 0 at every assignment tried (seed printed)", () => {
    const numRuns = runs || 2000;
    console.log(`[memory] dims: seed=${seed} numRuns=${numRuns} (replay: TFM_MEMORY_SEED=${seed})`);
    const half = divDim(symDim("b"), constDim(2)).q; // (b / 2): b is even at every assignment below
    const factor = fc.constantFrom(symDim("b"), symDim("t"), symDim("s"), half);
    const term = fc.tuple(fc.integer({ min: -60, max: 60 }), fc.array(factor, { maxLength: 3 })).map(([c, fs]) => fs.reduce(mulDim, constDim(c)));
    const dim = fc.array(term, { minLength: 1, maxLength: 5 }).map((ts) => ts.reduce(addDim, constDim(0)));
    const assignment = fc.record({ b: fc.integer({ min: 1, max: 40 }).map((x) => 2 * x), t: fc.integer({ min: 1, max: 80 }), s: fc.integer({ min: 1, max: 80 }) });
    let [proven, byNonNegative] = [0, 0];
    const details = fc.check(
      fc.property(dim, fc.array(assignment, { minLength: 1, maxLength: 20 }), (d, asg) => {
        if (!provablyNonNegative(d)) return;
        proven++;
        if (nonNegative(d) === true) byNonNegative++;
        for (const a of asg) {
          const v = evalDim(d, new Map(Object.entries(a)));
          if (v === undefined || v < 0) throw new Error(`${showDim(d)} is proven ≥ 0 but is ${v} at ${JSON.stringify(a)}`);
        }
      }),
      { seed, numRuns },
    );
    console.log(`[memory] dims: ${proven} of ${details.numRuns} proven ≥ 0 (${byNonNegative} of them by nonNegative alone)`);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath} (replay: TFM_MEMORY_SEED=${seed}): ${describeError(details.errorInstance)}`);
    expect(proven).toBeGreaterThan(byNonNegative);
  });

  it("on random IR graphs full of identities, transposes and repeats, run from their buffers (seed printed)", { timeout: 120_000 }, () => {
    const numRuns = runs || 500;
    console.log(`[memory] graphs: seed=${seed} numRuns=${numRuns} (replay: TFM_MEMORY_SEED=${seed})`);
    const t = tally();
    const details = fc.check(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 24 }), (s, steps) => {
        const { graph, weights, inputs } = randomGraph(s, steps);
        checkGraph(optimize(graph).graph, [new Map()], s, t, { weights, inputs, symbols: new Map() });
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    console.log(`[memory] graphs: ${details.numRuns} runs (${details.numShrinks} shrinks)${details.interrupted ? " (stopped at the time limit)" : ""}`);
    summary("graphs", t);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath} (replay: TFM_MEMORY_SEED=${seed}): ${describeError(details.errorInstance)}`);
    expect(t.ran).toBeGreaterThan(100);
    expect(t.inPlace).toBeGreaterThan(0);
  });
});

// The optimizer preserves results. Two sources of random programs, each run on the CPU interpreter
// with random inputs and weights, unoptimized and after each pass alone and after the whole
// pipeline (every stage verified):
//
//   1. the shape properties' programs (shapes-gen.ts: the builtin and layer catalogue, symbolic
//      dims), compiled from .tfm text, with random weights and inputs;
//   2. IR graphs built directly (passes-gen.ts), rich in identities, transposes into matmul,
//      constant subexpressions and repeats, over inputs with −0, NaN and ±∞.
//
// Every pass but fold-transpose must give the same bits (NaN matching NaN). fold-transpose (and so
// the pipeline) may change the last bit of a matmul: the kernel for a transposed operand sums in
// another order than the one for small m (both in double, rounded once to f32); those outputs must
// agree within 1e-5, absolute plus relative (|a − b| ≤ 1e-5 + 1e-5·|b|), with NaN and ±∞ exact.
// The same holds for the fused kernels (src/schedule/fuse.ts, run in row tiles by
// src/backends/cpu/fused.ts), on the pipeline's graph and on the graph as built; how many elements
// were not bit-identical is printed. The fused kernels compiled to JavaScript (rowcode.ts, the
// default) must give exactly the bits of the same kernels evaluated node by node.
// Seeds are printed; replay with TFM_PASSES_SEED=<seed>, change the length with TFM_PASSES_RUNS.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { setCompileRows } from "../../src/backends/cpu/rowcode.js";
import { RunError } from "../../src/backends/shared/errors.js";
import type { Tensor } from "../../src/core/tensor.js";
import { evalDim } from "../../src/core/dim.js";
import { hasErrors } from "../../src/diag/diagnostic.js";
import type { Graph } from "../../src/ir/graph.js";
import { printGraph } from "../../src/ir/print.js";
import { verify } from "../../src/ir/verify.js";
import { passes } from "../../src/passes/pipeline.js";
import { optimize } from "../../src/optimize.js";
import { evaluateScalar } from "../../src/backends/cpu/evaluate.js";
import { schedule } from "../../src/schedule/fuse.js";
import { printSchedule } from "../../src/schedule/kernel.js";
import { verifySchedule } from "../../src/schedule/verify.js";
import { randomWeights } from "../../src/runtime/init.js";
import { pickSeed } from "../helpers/seed.js";
import { randomTensor } from "../unit/backends/cpu/helpers.js";
import { randomGraph } from "./passes-gen.js";
import { caseArbitrary, generate } from "./shapes-gen.js";
import { runCheck } from "./shapes-oracle.js";
import { printProgram } from "./shapes-program.js";

const TOLERANCE = 1e-5;
const TIME_LIMIT_MS = 25_000;
/** Graphs whose values would take more than this many elements in all are skipped. */
const MAX_ELEMENTS = 1 << 20;

interface Tally {
  outputs: number;
  elements: number;
  /** Elements that differ in their bits, and the largest differences, by variant. */
  inexact: Map<string, { elements: number; abs: number; rel: number }>;
  /** Programs each pass changed, and the nodes it removed. */
  changed: Map<string, { programs: number; removed: number }>;
  /** Fused kernels run, by kind. */
  kernels: Map<string, number>;
}

const tally = (): Tally => ({ outputs: 0, elements: 0, inexact: new Map(), changed: new Map(), kernels: new Map() });

const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/** Compares one variant's outputs with the reference's; throws on a difference not allowed. */
function compare(variant: string, exact: boolean, want: ReadonlyMap<string, Tensor>, got: ReadonlyMap<string, Tensor>, t: Tally): void {
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) throw new Error(`${variant}: output ${name} is missing`);
    if (g.dtype !== w.dtype || g.shape.join() !== w.shape.join()) throw new Error(`${variant}: output ${name} is ${g.dtype}[${g.shape}], expected ${w.dtype}[${w.shape}]`);
    t.outputs++;
    for (let i = 0; i < w.data.length; i++) {
      const [a, b] = [g.data[i]!, w.data[i]!];
      t.elements++;
      if (sameBits(a, b)) continue;
      const abs = Math.abs(a - b);
      const rel = abs / Math.max(Math.abs(b), Number.MIN_VALUE);
      const s = t.inexact.get(variant) ?? { elements: 0, abs: 0, rel: 0 };
      t.inexact.set(variant, { elements: s.elements + 1, abs: Math.max(s.abs, abs), rel: Math.max(s.rel, rel) });
      if (exact) throw new Error(`${variant}: output ${name}[${i}] is ${Object.is(a, -0) ? "-0" : a}, expected ${Object.is(b, -0) ? "-0" : b} (the pass must be exact)`);
      if (!(abs <= TOLERANCE + TOLERANCE * Math.abs(b))) throw new Error(`${variant}: output ${name}[${i}] is ${a}, expected ${b} (|Δ| = ${abs})`);
    }
  }
}

/** Runs `g` and every optimized variant of it on the same inputs; false when the reference run fails at run time. */
function checkVariants(g: Graph, weights: ReadonlyMap<string, Tensor>, inputs: ReadonlyMap<string, Tensor>, t: Tally): boolean {
  const problems = verify(g);
  if (problems.length) throw new Error(`the generated graph does not verify: ${problems.join("; ")}\n${printGraph(g)}`);
  const run = (x: Graph, fuse = false) => new CpuProgram(x, weights, undefined, { fuse }).run(inputs).outputs;
  let want: ReadonlyMap<string, Tensor>;
  try {
    want = run(g);
  } catch (e) {
    if (e instanceof RunError) return false; // an index out of range: nothing to compare
    throw e;
  }
  const variants: [string, Graph][] = passes.map((p) => [p.name, p.run(g, { evaluate: evaluateScalar })]);
  const all = optimize(g);
  for (const s of all.stages) {
    const problems = verify(s.graph);
    if (problems.length) throw new Error(`after ${s.pass} (pipeline): ${problems.join("; ")}\n${printGraph(s.graph)}`);
  }
  variants.push(["pipeline", all.graph]);
  for (const [name, x] of variants) {
    const problems = verify(x);
    if (problems.length) throw new Error(`after ${name}: ${problems.join("; ")}\n${printGraph(x)}`);
    if (name !== "pipeline") {
      const c = t.changed.get(name) ?? { programs: 0, removed: 0 };
      if (printGraph(x) !== printGraph(g)) t.changed.set(name, { programs: c.programs + 1, removed: c.removed + g.nodes.length - x.nodes.length });
    }
    try {
      compare(name, name !== "fold-transpose" && name !== "pipeline", want, run(x), t);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nbefore:\n${printGraph(g)}after ${name}:\n${printGraph(x)}`);
    }
  }
  // The pipeline's graph in fused kernels (tfm run's default), and the graph as built, fused.
  for (const x of [g, all.graph]) {
    const problems = verifySchedule(schedule(x));
    if (problems.length) throw new Error(`the fused schedule is invalid: ${problems.join("; ")}\n${printGraph(x)}${printSchedule(schedule(x))}`);
  }
  for (const k of schedule(all.graph).kernels) t.kernels.set(k.kind, (t.kernels.get(k.kind) ?? 0) + 1);
  for (const [name, x] of [["fused", all.graph], ["fused as built", g]] as const) {
    try {
      const fused = run(x, true);
      compare(name, false, want, fused, t);
      // The fused kernels compiled to JavaScript (the default) give the bits of their nodes evaluated one by one.
      setCompileRows(false);
      try {
        compare(`${name}, node by node`, true, fused, run(x, true), t);
      } finally {
        setCompileRows(true);
      }
    } catch (e) {
      throw new Error(`${(e as Error).message}\ngraph:\n${printGraph(x)}schedule:\n${printSchedule(schedule(x))}`);
    }
  }
  return true;
}

/** A failure's message; with its stack when it is a crash rather than a difference found. */
const describeError = (e: unknown): string => (e instanceof TypeError || e instanceof RangeError ? String(e.stack) : e instanceof Error ? e.message : String(e));

function summary(tag: string, t: Tally): void {
  const delta = (removed: number) => (removed >= 0 ? `−${removed}` : `+${-removed}`);
  const changed = passes.map((p) => `${p.name} ${t.changed.get(p.name)?.programs ?? 0} (${delta(t.changed.get(p.name)?.removed ?? 0)} nodes)`).join(", ");
  const inexact = [...t.inexact].map(([v, s]) => `${v}: ${s.elements} elements, max |Δ| ${s.abs.toExponential(2)}, max rel ${s.rel.toExponential(2)}`).join("; ");
  console.log(`[passes] ${tag}: ${t.outputs} outputs, ${t.elements} elements compared (the ${passes.length + 3} variants together); programs changed by: ${changed}`);
  console.log(`[passes] ${tag}: fused kernels of the pipeline's graphs: ${[...t.kernels].map(([k, n]) => `${n} ${k}`).join(", ")}`);
  console.log(`[passes] ${tag}: not bit-identical: ${inexact || "none (every variant gave the same bits)"}`);
}

describe("optimizer passes preserve results", () => {
  const seed = pickSeed("TFM_PASSES_SEED");
  const runs = Number(process.env["TFM_PASSES_RUNS"] || 0);

  it("on the shape properties' random programs, with random weights and inputs (seed printed; replay with TFM_PASSES_SEED)", { timeout: 120_000 }, () => {
    const numRuns = runs || 400;
    console.log(`[passes] programs: seed=${seed} numRuns=${numRuns} (replay: TFM_PASSES_SEED=${seed})`);
    const t = tally();
    const tc = tally();
    let [tried, compared, skipped, failedAtRun, withCaptures] = [0, 0, 0, 0, 0];
    const t0 = performance.now();
    const details = fc.check(
      fc.property(caseArbitrary(12), fc.nat(), (c, valueSeed) => {
        tried++;
        const gen = generate(c);
        const text = printProgram(gen.program);
        const r = runCheck(text);
        const g = hasErrors(r.diagnostics) ? undefined : buildGraph(r);
        const asg = new Map(Object.entries(gen.assignments[0]!));
        const sizes = g?.nodes.map((n) => n.shape.reduce((a, d) => a * (evalDim(d, asg) ?? NaN), 1));
        if (!g || !r.instance || !sizes || sizes.some(Number.isNaN) || sizes.reduce((a, b) => a + b, 0) > MAX_ELEMENTS) {
          skipped++;
          return;
        }
        const weights = randomWeights(r.instance.weights, valueSeed % 2 ** 31);
        const inputs = new Map<string, Tensor>();
        g.inputs.forEach((p, k) => {
          const n = g.nodes[p.node]!;
          const dtype = n.dtype === "i32" ? "i32" : n.dtype === "bool" ? "bool" : "f32";
          const shape = n.shape.map((d) => evalDim(d, asg)!);
          inputs.set(p.name, randomTensor(dtype, shape, valueSeed + k, { scale: 2, special: 0.05, range: 1 }));
        });
        // Indices: mostly 0 and 1, so that take() finds its rows; a run that fails anyway is counted.
        for (const x of inputs.values()) if (x.dtype === "i32") x.data.forEach((v, i) => (x.data[i] = Math.abs(v)));
        try {
          if (checkVariants(g, weights, inputs, t)) {
            compared++;
            // Random captures (a random subset of the bound names, as extra outputs): the model's
            // outputs as built are the same bits, and every pass and fusion keeps the captured values.
            let chosen: readonly string[] = [];
            const gc = buildGraph(r, (names) => (chosen = names.filter((_, i) => ((valueSeed >> (i % 24)) & 1) === 1 || names.length === 1)));
            if (gc && chosen.length) {
              const run = (x: Graph) => new CpuProgram(x, weights, undefined, { fuse: false }).run(inputs).outputs;
              const [plain, captured] = [run(g), run(gc)];
              compare("captured, as built", true, plain, captured, tc);
              if (chosen.some((n) => !captured.has(n))) throw new Error(`a capture is missing: ${chosen.join(", ")}`);
              checkVariants(gc, weights, inputs, tc);
              withCaptures++;
            }
          } else failedAtRun++;
        } catch (e) {
          throw new Error(`${(e as Error).message}\nprogram:\n${text}symbols: ${JSON.stringify(gen.assignments[0])}`);
        }
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`[passes] programs: tried ${tried} (${details.numRuns} runs, ${details.numShrinks} shrinks), compared ${compared}, skipped ${skipped} (errors or too large), ${failedAtRun} failed at run time before optimizing; ${seconds} s${details.interrupted ? " (stopped at the time limit)" : ""}`);
    summary("programs", t);
    console.log(`[passes] programs with random captures: ${withCaptures}`);
    summary("programs with random captures", tc);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath} (replay: TFM_PASSES_SEED=${seed}): ${describeError(details.errorInstance)}`);
    expect(compared).toBeGreaterThan(50);
    expect(withCaptures).toBeGreaterThan(20);
  });

  it("on random IR graphs full of identities, transposes and repeats, over −0, NaN and ±∞ (seed printed)", { timeout: 120_000 }, () => {
    const numRuns = runs || 1000;
    console.log(`[passes] graphs: seed=${seed} numRuns=${numRuns} (replay: TFM_PASSES_SEED=${seed})`);
    const t = tally();
    let [compared, failedAtRun] = [0, 0];
    const details = fc.check(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 24 }), (s, steps) => {
        const { graph, weights, inputs } = randomGraph(s, steps);
        if (checkVariants(graph, weights, inputs, t)) compared++;
        else failedAtRun++;
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    console.log(`[passes] graphs: ${details.numRuns} runs (${details.numShrinks} shrinks), compared ${compared}, ${failedAtRun} failed at run time before optimizing${details.interrupted ? " (stopped at the time limit)" : ""}`);
    summary("graphs", t);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath} (replay: TFM_PASSES_SEED=${seed}): ${describeError(details.errorInstance)}`);
    // Every pass had something to do.
    if (compared >= 200) for (const p of passes) expect(t.changed.get(p.name)?.programs ?? 0, p.name).toBeGreaterThan(0);
  });
});

// The whole compiler on one fuzzed input, for the fuzz shards (fuzz-shard-*.test.ts): `compile()`
// (check), then each lazy stage the API computes on first use, timed one by one — the IR as built
// (buildGraph), the optimizer's passes (every stage verified), the fused schedule (verified), the
// memory plan (checked against the schedule) — and, for an input that checks clean, a run on the
// CPU: random weights and small random inputs (every symbolic dim bound to 1..4), under a small
// memory budget, so a model too large for the test is refused (TFM6003) before anything is
// allocated rather than run.
//
// Invariants (a violation is a bug in src/, never in the input):
//   - no phase throws anything but a TfmError with a catalogued code (no TFM9001 either);
//   - every diagnostic keeps test/helpers/invariants.ts `violations` (spans inside the text, ...);
//   - every graph verifies, every schedule verifies, every plan checks;
//   - no input takes more than 1 s per 64 KiB of its text (at least 1 s), the compiler's phases
//     together (check to memory plan: the run's time is the model's arithmetic, not the input's
//     size, and is printed but not bounded);
//   - every output of a run has its declared dtype and the number of elements its shape says.
import fc from "fast-check";
import { codes } from "../../src/diag/codes.js";
import { TfmError } from "../../src/bundle/errors.js";
import { compile, type CompiledModel } from "../../src/compile.js";
import { evalDim, symbolsOf } from "../../src/core/dim.js";
import { renderDiagnostics } from "../../src/diag/render.js";
import { verify } from "../../src/ir/verify.js";
import { printGraph } from "../../src/ir/print.js";
import { modelInputs } from "../../src/runtime/inputs.js";
import { checkPlan } from "../../src/schedule/check-plan.js";
import { verifySchedule } from "../../src/schedule/verify.js";
import type { Graph } from "../../src/ir/graph.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { RunError } from "../../src/backends/shared/errors.js";
import { optimize } from "../../src/optimize.js";
import { schedule } from "../../src/schedule/fuse.js";
import { planMemory } from "../../src/schedule/memory.js";
import type { Tensor } from "../../src/core/tensor.js";
import { violations } from "../helpers/invariants.js";
import { pickSeed } from "../helpers/seed.js";
import { saveRegression } from "./corpus.js";
import { Chooser } from "./shapes-gen.js";

export const phases = ["check", "ir", "passes", "fusion", "memory", "run"] as const;
export type Phase = (typeof phases)[number];

/** The time allowed per input: 1 s per 64 KiB of text, and never less than 1 s. */
export const allowedMs = (chars: number) => 1000 * Math.max(1, Math.ceil(chars / 65536));

/** The budget of a fuzzed run: models larger than this are refused with TFM6003 before allocating. */
export const RUN_BUDGET = 16 << 20;

interface Slowest {
  ms: number;
  chars: number;
}

/** What a shard saw: inputs, how far each got, and the slowest input of each phase. */
export class Tally {
  inputs = 0;
  /** Inputs each phase was reached by. */
  readonly reached = new Map<Phase, number>(phases.map((p) => [p, 0]));
  readonly slowest = new Map<Phase, Slowest>(phases.map((p) => [p, { ms: 0, chars: 0 }]));
  /** The slowest input, the compiler's phases together (the run not counted). */
  overall: Slowest = { ms: 0, chars: 0 };
  /** How runs ended: "ok" or the refusal's code. */
  readonly runs = new Map<string, number>();
  /** A message of each refusal code a run ended with, for the figures. */
  readonly runMessages = new Map<string, string>();
  /** Inputs that checked with errors, by the first error's code (top few printed). */
  readonly firstErrors = new Map<string, number>();

  time(phase: Phase, chars: number, ms: number): void {
    this.reached.set(phase, this.reached.get(phase)! + 1);
    const s = this.slowest.get(phase)!;
    if (ms > s.ms) this.slowest.set(phase, { ms, chars });
  }

  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** The figures printed at the end of a shard. */
  report(tag: string, seconds: number): string {
    const f = (s: Slowest) => `${s.ms.toFixed(1)} ms (${s.chars} chars)`;
    const lines = [
      `[${tag}] inputs fuzzed: ${this.inputs} in ${seconds.toFixed(1)} s; slowest input ${f(this.overall)} check to memory plan (limit: 1 s per 64 KiB)`,
      `[${tag}] per phase (inputs reaching it, slowest): ${phases.map((p) => `${p} ${this.reached.get(p)}, ${f(this.slowest.get(p)!)}`).join("; ")}`,
      `[${tag}] runs: ${[...this.runs].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(", ") || "none"}`,
      `[${tag}] a message of each: ${[...this.runMessages].map(([k, m]) => `${k}: ${m}`).join(" | ") || "none"}`,
      `[${tag}] inputs with errors, by first code (top 8): ${[...this.firstErrors].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, n]) => `${k} ×${n}`).join(", ") || "none"}`,
    ];
    return lines.join("\n");
  }
}

/** The refusal's code when `e` is a TfmError with a catalogued code; throws (a crash) otherwise. */
export function refusal(e: unknown, where: string): string {
  const catalogued = (code: string) => Object.hasOwn(codes, code) && code !== "TFM9001";
  if (e instanceof TfmError && catalogued(e.code) && (e.diagnostics ?? []).every((d) => catalogued(d.code))) return e.code;
  const what = e instanceof Error ? `${e.constructor.name}: ${e.stack ?? e.message}` : String(e);
  throw new Error(`${where} threw something other than a TfmError with a catalogued code: ${what}`);
}

/** Runs `f`, timing it into `t` under `phase`; its failure is a crash unless it is a coded TfmError. */
function timed<T>(t: Tally, phase: Phase, chars: number, f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  t.time(phase, chars, ms);
  return { value, ms };
}

/** Random small inputs for `model` (symbolic dims bound to 1..4), or undefined when a dim cannot be bound. */
function randomInputs(model: CompiledModel, c: Chooser): Record<string, { data: ArrayLike<number>; shape: number[] }> | undefined {
  const inputs = modelInputs(model.checked);
  const symbols = new Map<string, number>();
  for (const i of inputs) for (const d of i.shape) for (const s of symbolsOf(d)) if (!symbols.has(s)) symbols.set(s, c.pick([1, 2, 2, 3, 4, 4]));
  const out: Record<string, { data: ArrayLike<number>; shape: number[] }> = {};
  for (const i of inputs) {
    if (i.optional && c.chance(50)) continue;
    const shape = i.shape.map((d) => evalDim(d, symbols));
    if (shape.some((d) => d === undefined || d < 0 || d > 4096)) return undefined;
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (n > 1 << 16) return undefined;
    let data: Float32Array | Int32Array | Uint8Array;
    if (i.dtype === "bool") data = Uint8Array.from({ length: n }, () => (c.chance(70) ? 1 : 0));
    else if (i.dtype === "i32" || i.dtype === "i64") data = Int32Array.from({ length: n }, () => (c.chance(3) ? c.pick([-1, 1 << 20]) : c.int(4)));
    else data = Float32Array.from({ length: n }, () => (c.chance(2) ? c.pick([NaN, Infinity, -Infinity, -0]) : (c.int(2001) - 1000) / 250));
    out[i.name] = { data, shape: shape as number[] };
  }
  return out;
}

/**
 * One input through every phase. Returns the invariants it broke (empty when none); a crash is
 * returned as a violation too, with its stack.
 */
export async function pipeline(text: string, valueSeed: number, t: Tally, opts: { run?: boolean } = {}): Promise<string[]> {
  const chars = text.length;
  const problems: string[] = [];
  t.inputs++;
  let total = 0;
  try {
    const { value: model, ms } = timed(t, "check", chars, () => compile(text, { file: "input.tfm" }));
    total += ms;
    problems.push(...violations(text, model.checked));
    renderDiagnostics(model.diagnostics, model.sources);
    if (!model.ok) {
      t.count(t.firstErrors, model.diagnostics.find((d) => d.severity === "error")!.code);
    } else {
      const built = timed(t, "ir", chars, () => model.built);
      total += built.ms;
      if (built.value) {
        problems.push(...verify(built.value).map((p) => `the graph as built: ${p}`));
        const opt = timed(t, "passes", chars, () => model.optimized!);
        total += opt.ms;
        for (const s of opt.value.stages) problems.push(...verify(s.graph).map((p) => `after ${s.pass}: ${p}`));
        const sched = timed(t, "fusion", chars, () => model.schedule!);
        total += sched.ms;
        problems.push(...verifySchedule(sched.value).map((p) => `the schedule: ${p}`));
        const plan = timed(t, "memory", chars, () => model.plan!);
        total += plan.ms;
        problems.push(...checkPlan(plan.value).map((p) => `the memory plan: ${p}`));
        if (opts.run !== false && !problems.length) await runOnce(model, valueSeed, t, chars, problems);
      }
    }
  } catch (e) {
    problems.push(`crash: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }
  if (total > t.overall.ms) t.overall = { ms: total, chars };
  if (total > allowedMs(chars)) problems.push(`took ${total.toFixed(0)} ms, over ${allowedMs(chars)} ms for ${chars} characters`);
  return problems;
}

/** Loads `model` with random weights and runs it once on random small inputs; returns the time taken. */
async function runOnce(model: CompiledModel, valueSeed: number, t: Tally, chars: number, problems: string[]): Promise<number> {
  const c = new Chooser(valueSeed);
  const records = randomInputs(model, c);
  if (!records) {
    t.count(t.runs, "skipped (a dim not bound by the inputs)");
    return 0;
  }
  const t0 = performance.now();
  let outcome = "ok";
  try {
    const session = await model.load({ random: true, seed: valueSeed % 1000 }, { threads: 1, maxMemory: RUN_BUDGET, checkConfig: false });
    try {
      const outs = await session.run(records);
      for (const p of model.outputs) {
        const o = outs[p.name];
        if (!o) problems.push(`output ${p.name} is missing`);
        else if (o.data.length !== o.shape.reduce((a, b) => a * b, 1)) problems.push(`output ${p.name} has ${o.data.length} elements for shape [${o.shape}]`);
      }
    } finally {
      session.dispose();
    }
  } catch (e) {
    outcome = refusal(e, "load() or run()");
    if (!t.runMessages.has(outcome)) t.runMessages.set(outcome, (e as Error).message.slice(0, 300));
    if (/-\d[\d,]* bytes|length: -\d/.test((e as Error).message)) problems.push(`a refusal counts negative bytes: ${(e as Error).message}`);
  }
  const ms = performance.now() - t0;
  t.time("run", chars, ms);
  t.count(t.runs, outcome);
  return ms;
}

/**
 * A graph built directly (passes-gen.ts, no .tfm text) through the passes, fusion, the memory plan
 * and a fused run on the CPU; the same invariants, sizes counted in nodes.
 */
export function graphPipeline(g: Graph, weights: ReadonlyMap<string, Tensor>, inputs: ReadonlyMap<string, Tensor>, t: Tally): string[] {
  const size = g.nodes.length;
  const problems: string[] = [];
  t.inputs++;
  let total = 0;
  try {
    const opt = timed(t, "passes", size, () => optimize(g));
    total += opt.ms;
    for (const s of opt.value.stages) problems.push(...verify(s.graph).map((p) => `after ${s.pass}: ${p}`));
    const sched = timed(t, "fusion", size, () => schedule(opt.value.graph));
    total += sched.ms;
    problems.push(...verifySchedule(sched.value).map((p) => `the schedule: ${p}`));
    const plan = timed(t, "memory", size, () => planMemory(sched.value));
    total += plan.ms;
    problems.push(...checkPlan(plan.value).map((p) => `the memory plan: ${p}`));
    if (!problems.length) {
      const run = timed(t, "run", size, () => {
        try {
          new CpuProgram(opt.value.graph, weights, undefined, { fuse: true, maxMemory: RUN_BUDGET }).run(inputs);
          return "ok";
        } catch (e) {
          if (e instanceof RunError && Object.hasOwn(codes, e.code)) return e.code;
          throw e;
        }
      });
      t.count(t.runs, run.value);
    }
  } catch (e) {
    problems.push(`crash: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n${printGraph(g)}`);
  }
  if (total > t.overall.ms) t.overall = { ms: total, chars: size };
  if (total > allowedMs(0)) problems.push(`took ${total.toFixed(0)} ms on a graph of ${size} nodes`);
  return problems;
}

// ---- the corpus, shrunk to tiny models --------------------------------------------------------

/**
 * `text` with the model's integer parameters made tiny, so that a mutant that checks clean also
 * runs in milliseconds: layer counts 1, head counts 2, other sizes 16 (2 below 16), tried in that
 * order of boldness until the result checks without errors; undefined if none does.
 */
export function tinyVariant(text: string): string | undefined {
  const header = /\bmodel\s+\w+\s*\(([^)]*)\)/.exec(text);
  if (!header) return undefined;
  const rules: ((name: string, v: number) => number)[] = [
    (n, v) => (/layer/i.test(n) ? 1 : /head/i.test(n) ? 2 : v >= 16 ? 16 : Math.min(v, 2)),
    (n, v) => (/layer/i.test(n) ? 1 : /head/i.test(n) ? 2 : v >= 16 ? 16 : v),
    (n, v) => (/layer/i.test(n) ? 1 : v >= 64 ? 64 : v),
  ];
  for (const rule of rules) {
    const params = header[1]!.replace(/\b(\w+)(\s*=\s*)(\d+)\b(?![.eE\d])/g, (_, n: string, eq: string, v: string) => `${n}${eq}${rule(n, Number(v))}`);
    const tiny = text.slice(0, header.index) + header[0].replace(header[1]!, params) + text.slice(header.index + header[0].length);
    if (tiny !== text && compile(tiny).ok) return tiny;
  }
  return undefined;
}

// ---- a shard ----------------------------------------------------------------------------------

export interface FuzzCase {
  readonly text: string;
  /** How the input was made, for the failure message. */
  readonly how: string;
}

export interface ShardOptions {
  readonly tag: string;
  /** Mixed into the printed seed, so that shards with one seed explore different inputs. */
  readonly shard: number;
  readonly arbitrary: fc.Arbitrary<FuzzCase>;
  readonly defaultRuns: number;
}

/** A stop for a shard that hangs or a machine far slower than CI: the figures say when it was hit. */
export const SHARD_TIME_CAP_MS = 240_000;

/**
 * Fuzzes `arbitrary` through `pipeline` with fast-check: the seed printed (TFM_FUZZ_SEED replays
 * every shard, TFM_FUZZ_RUNS sets the inputs per shard), a failure shrunk and saved to
 * test/property/regressions/ (replayed by regressions.test.ts), the figures printed at the end.
 */
export async function fuzzShard(o: ShardOptions): Promise<{ details: fc.RunDetails<[FuzzCase, number]>; tally: Tally; seed: number; message?: string }> {
  const base = pickSeed("TFM_FUZZ_SEED");
  const seed = (base + o.shard * 7919) % 2 ** 31;
  const numRuns = Number(process.env["TFM_FUZZ_RUNS"] || o.defaultRuns);
  console.log(`[${o.tag}] seed=${base} (shard seed ${seed}) numRuns=${numRuns} (replay: TFM_FUZZ_SEED=${base} TFM_FUZZ_RUNS=${numRuns})`);
  const tally = new Tally();
  const t0 = performance.now();
  const details = await fc.check(
    fc.asyncProperty(o.arbitrary, fc.nat(), async (c, valueSeed) => {
      let problems = await pipeline(c.text, valueSeed, tally);
      // Over the time limit: timed once more (a pause of the collector or of a loaded machine is not the input's).
      if (problems.length && problems.every((p) => p.startsWith("took "))) problems = await pipeline(c.text, valueSeed, new Tally());
      if (problems.length) throw new Error(problems.join("\n"));
    }),
    { seed, numRuns, interruptAfterTimeLimit: SHARD_TIME_CAP_MS, markInterruptAsFailure: false },
  );
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${tally.report(o.tag, seconds)}\n[${o.tag}] ${details.numRuns} runs, ${details.numShrinks} shrinks${details.interrupted ? ` (stopped at the time cap of ${SHARD_TIME_CAP_MS / 1000} s)` : ""}`);
  if (!details.failed || !details.counterexample) return { details, tally, seed: base };
  const [c, valueSeed] = details.counterexample;
  const path = saveRegression(c.text);
  const err = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const message = `an invariant broke (TFM_FUZZ_SEED=${base}, shard ${o.shard}, path ${details.counterexamplePath}, value seed ${valueSeed})\ninput: ${c.how} (${c.text.length} characters)\nsaved to ${path}\n${err.slice(0, 4000)}`;
  return { details, tally, seed: base, message };
}

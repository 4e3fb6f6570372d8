// Fuzz shard 2 of 4 (see fuzz-pipeline.ts): the shape properties' well-shaped random programs
// (shapes-gen.ts: the builtins, the layer catalogue, symbolic dims), each through every phase and
// run on the CPU; and random IR graphs (passes-gen.ts: identities, transposes into matmul,
// repeats, over −0, NaN and ±∞) through the passes, fusion, the memory plan and a fused run.
// Replay with TFM_FUZZ_SEED; TFM_FUZZ_RUNS sets the inputs per shard.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pickSeed } from "../helpers/seed.js";
import { fuzzShard, graphPipeline, Tally } from "./fuzz-pipeline.js";
import { randomGraph } from "./passes-gen.js";
import { caseArbitrary, generate } from "./shapes-gen.js";
import { printProgram } from "./shapes-program.js";

describe("fuzz shard: generated programs through every phase", () => {
  it("keeps every invariant on 12,500 generated programs, and most run (seed printed)", { timeout: 300_000 }, async () => {
    const arbitrary = caseArbitrary(12).map((c) => ({ text: printProgram(generate(c).program), how: `shapes-gen case ${JSON.stringify(c)}` }));
    const r = await fuzzShard({ tag: "fuzz generated", shard: 2, defaultRuns: 12_500, arbitrary });
    if (r.message) expect.fail(r.message);
    // Well-shaped programs check clean: they reach the run, and most of them run.
    expect(r.tally.reached.get("run")!).toBeGreaterThan(r.tally.inputs * 0.9);
    expect(r.tally.runs.get("ok") ?? 0).toBeGreaterThan(r.tally.inputs * 0.5);
  });

  it("keeps every invariant on 2,000 random IR graphs (seed printed)", { timeout: 120_000 }, () => {
    const seed = pickSeed("TFM_FUZZ_SEED");
    const numRuns = Math.ceil(Number(process.env["TFM_FUZZ_RUNS"] || 12_500) * 0.16);
    const t = new Tally();
    const t0 = performance.now();
    const details = fc.check(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 40 }), (s, steps) => {
        const { graph, weights, inputs } = randomGraph(s, steps);
        const problems = graphPipeline(graph, weights, inputs, t);
        if (problems.length) throw new Error(problems.join("\n"));
      }),
      { seed, numRuns },
    );
    console.log(`${t.report("fuzz graphs", (performance.now() - t0) / 1000).replace(/\(\d+ chars\)/g, (m) => m.replace("chars", "nodes"))}\n[fuzz graphs] seed=${seed} ${details.numRuns} runs (replay: TFM_FUZZ_SEED=${seed})`);
    if (details.failed) expect.fail(`seed ${seed}, path ${details.counterexamplePath}: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`);
  });
});

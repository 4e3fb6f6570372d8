// Fuzz shard 1 of 4 (test/property/fuzz-pipeline.ts runs each input through check, IR, the
// passes, fusion, the memory plan and, if it checks clean, a run on the CPU): mutations of real
// programs (mutate.ts: token swaps, deletions, copies, splices, hostile characters, line
// endings) of every model in models/, the stdlib, and each model made tiny (tinyVariant), so
// that the mutants which check clean also run. Replay with TFM_FUZZ_SEED; TFM_FUZZ_RUNS sets the
// inputs per shard.
import { describe, expect, it } from "vitest";
import { loadCorpus, type Seed } from "./corpus.js";
import { fuzzShard, tinyVariant } from "./fuzz-pipeline.js";
import { caseArbitrary, describeCase } from "./mutate.js";

describe("fuzz shard: mutated models through every phase", () => {
  const corpus: Seed[] = loadCorpus();
  for (const s of [...corpus]) {
    const tiny = tinyVariant(s.text);
    if (tiny) corpus.push({ name: `${s.name} (tiny)`, text: tiny });
  }

  it("makes every model tiny", () => {
    expect(corpus.filter((s) => s.name.endsWith("(tiny)")).length).toBe(corpus.filter((s) => s.name.startsWith("models/") && !s.name.endsWith("(tiny)")).length);
  });

  it("keeps every invariant on 12,500 mutants (seed printed)", { timeout: 300_000 }, async () => {
    const r = await fuzzShard({ tag: "fuzz corpus", shard: 1, defaultRuns: 12_500, arbitrary: caseArbitrary(corpus).map((c) => ({ text: c.text, how: describeCase(c) })) });
    if (r.message) expect.fail(r.message);
    expect(r.tally.runs.get("ok") ?? 0, "some mutants ran").toBeGreaterThan(0);
  });
});

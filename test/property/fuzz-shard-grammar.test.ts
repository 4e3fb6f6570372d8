// Fuzz shard 4 of 4 (see fuzz-pipeline.ts): random programs drawn from the grammar
// (grammar-gen.ts: every declaration, member and expression form, names from the builtins, the
// standard library and earlier bindings), half of them with one or two text mutations on top
// (mutate.ts), through every phase, and run when they check clean.
// Replay with TFM_FUZZ_SEED; TFM_FUZZ_RUNS sets the inputs per shard.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzShard } from "./fuzz-pipeline.js";
import { grammarProgram } from "./grammar-gen.js";
import { apply, mutationArbitrary } from "./mutate.js";

describe("fuzz shard: programs from the grammar through every phase", () => {
  it("keeps every invariant on 12,500 grammar-generated programs (seed printed)", { timeout: 300_000 }, async () => {
    const arbitrary = fc.tuple(fc.nat(), fc.array(mutationArbitrary, { maxLength: 2 })).map(([seed, ms]) => {
      const base = grammarProgram(seed);
      const seeds = [{ name: "grammar", text: base }];
      return { text: ms.reduce((t, m) => apply(t, m, seeds), base), how: `grammarProgram(${seed})${ms.length ? ` with ${ms.map((m) => JSON.stringify(m)).join(", ")}` : ""}` };
    });
    const r = await fuzzShard({ tag: "fuzz grammar", shard: 4, defaultRuns: 12_500, arbitrary });
    if (r.message) expect.fail(r.message);
    // The programs reach past the parser: the resolver's and checker's codes (TFM2xxx, TFM3xxx, TFM4xxx).
    expect([...r.tally.firstErrors.keys()].filter((k) => !k.startsWith("TFM1")).length).toBeGreaterThan(5);
    expect(r.tally.reached.get("run")!, "some programs check clean").toBeGreaterThan(0);
  });
});

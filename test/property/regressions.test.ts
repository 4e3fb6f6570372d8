// Replays every input the fuzzers (fuzz.test.ts and the fuzz shards, fuzz-shard-*.test.ts) ever
// found failing, stored in test/property/regressions/: each must now keep check()'s invariants,
// and pass through every phase of fuzz-pipeline.ts (IR, passes, fusion, memory plan, a run on
// small random inputs under a few value seeds) with no crash. Delete a file only if the behaviour
// it pins down is meant to change.
import { describe, expect, it } from "vitest";
import { checkKeepingInvariants } from "../helpers/invariants.js";
import { loadRegressions } from "./corpus.js";
import { pipeline, Tally } from "./fuzz-pipeline.js";

describe("fuzz regressions", () => {
  const cases = loadRegressions();
  it("has a regressions directory (kept by .gitkeep)", () => {
    expect(Array.isArray(cases)).toBe(true);
  });
  for (const { name, text } of cases) {
    it(`replays ${name} (${text.length} characters)`, async () => {
      let problems: string[];
      try {
        problems = checkKeepingInvariants(text).problems;
      } catch (e) {
        problems = [`check() threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`];
      }
      expect(problems).toEqual([]);
      const t = new Tally();
      for (let valueSeed = 0; valueSeed < 4; valueSeed++) expect(await pipeline(text, valueSeed, t)).toEqual([]);
    });
  }
});

// Replays every input the fuzzer (fuzz.test.ts) ever found failing, stored in
// test/property/regressions/: each must now keep check()'s invariants. Delete a file only if
// the behaviour it pins down is meant to change.
import { describe, expect, it } from "vitest";
import { checkKeepingInvariants } from "../helpers/invariants.js";
import { loadRegressions } from "./corpus.js";

describe("fuzz regressions", () => {
  const cases = loadRegressions();
  it("has a regressions directory (kept by .gitkeep)", () => {
    expect(Array.isArray(cases)).toBe(true);
  });
  for (const { name, text } of cases) {
    it(`replays ${name} (${text.length} characters)`, () => {
      let problems: string[];
      try {
        problems = checkKeepingInvariants(text).problems;
      } catch (e) {
        problems = [`check() threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`];
      }
      expect(problems).toEqual([]);
    });
  }
});

// Replays every counterexample the shape properties (shapes-soundness.test.ts,
// shapes-mutations.test.ts) ever found, stored as test/property/regressions/shapes-<hash>.tfm:
// the program text, with the generated program and the symbols' values in its
// `# shapes-regression {...}` comment line. Each must now be judged as the property would: right
// shapes and no error for a well-shaped program, the required error or warning for a mutated one.
// (regressions.test.ts replays the same files for check()'s general invariants.) Delete a file
// only if the behaviour it pins down is meant to change.
import { describe, expect, it } from "vitest";
import { loadShapesRegressions, replayProblems } from "./shapes-oracle.js";
import { printProgram } from "./shapes-program.js";

describe("shape property regressions", () => {
  const cases = loadShapesRegressions();
  it("reads the regressions directory", () => {
    expect(Array.isArray(cases)).toBe(true);
  });
  for (const { name, text, reg } of cases) {
    it(`replays ${name} (${reg.property}${reg.expect ? `, expect ${reg.expect}` : ""})`, () => {
      // The stored text is the program printed with its header: what the checker saw.
      expect(text.endsWith(printProgram(reg.program)), "the stored text no longer matches its program").toBe(true);
      expect(replayProblems(text, reg)).toEqual([]);
    });
  }
});

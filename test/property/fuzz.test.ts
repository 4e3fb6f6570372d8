// Fuzzing `check` with mutations of real programs: every file in models/ (read at test time, so
// new models join automatically) and src/std/nn.tfm. Each input is one of those files with 1 to
// 4 mutations applied in turn: token swaps, deletions, duplications, copies and insertions,
// truncations, splices of one file into another, hostile character insertions (NUL, lone
// surrogates, BOM, CR, `"`, `{`, `(`, ...) and line-ending changes. For every input, `check`
// must not throw and must keep the invariants of test/helpers/invariants.ts (spans inside the
// text, valid severities, catalogued codes, no TFM9001, the same diagnostics twice).
//
// The seed is printed; replay a run with TFM_FUZZ_SEED=<seed>, and change its length with
// TFM_FUZZ_RUNS=<n>. A failing input is shrunk and written to test/property/regressions/, which
// regressions.test.ts replays on every run.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkKeepingInvariants } from "../helpers/invariants.js";
import { loadCorpus, saveRegression } from "./corpus.js";
import { caseArbitrary, describeCase } from "./mutate.js";
import { pickSeed } from "../helpers/seed.js";

/** About 4-8 ms per run on the 2-core dev machine (3 checks each): 25-40 s, under a minute with shrinking. */
const DEFAULT_RUNS = 4000;
const TIME_LIMIT_MS = 50_000;

// ---- the property -----------------------------------------------------------------------------

describe("fuzz: check() on mutated programs", () => {
  const corpus = loadCorpus();
  const envSeed = process.env["TFM_FUZZ_SEED"];
  const seed = pickSeed("TFM_FUZZ_SEED");
  const numRuns = Number(process.env["TFM_FUZZ_RUNS"] || DEFAULT_RUNS);

  it("reads a corpus with every model and the stdlib", () => {
    expect(Number.isInteger(seed), `TFM_FUZZ_SEED must be an integer, got ${envSeed}`).toBe(true);
    expect(corpus.some((s) => s.name === "src/std/nn.tfm")).toBe(true);
    expect(corpus.filter((s) => s.name.startsWith("models/")).length).toBeGreaterThan(0);
    // The unmutated corpus itself is clean of internal errors and bad spans.
    for (const s of corpus) expect(checkKeepingInvariants(s.text).problems, s.name).toEqual([]);
  });

  it(`keeps check()'s invariants (seed printed; replay with TFM_FUZZ_SEED)`, { timeout: 120_000 }, () => {
    console.log(`[fuzz] seed=${seed} numRuns=${numRuns} corpus=${corpus.map((s) => s.name).join(",")} (replay: TFM_FUZZ_SEED=${seed})`);
    let tried = 0;
    let previous = corpus[0]!.text;
    const t0 = performance.now();
    const details = fc.check(
      fc.property(caseArbitrary(corpus), (c) => {
        tried++;
        const { problems } = checkKeepingInvariants(c.text, {}, previous); // throws if check() throws
        previous = c.text;
        if (problems.length) throw new Error(problems.join("\n"));
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`[fuzz] tried ${tried} inputs (${details.numRuns} runs, ${details.numShrinks} shrinks) in ${seconds} s${details.interrupted ? " (stopped at the time limit)" : ""}`);
    if (details.failed && details.counterexample) {
      const [c] = details.counterexample;
      const path = saveRegression(c.text);
      const err = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      expect.fail(
        `check() broke an invariant (seed ${seed}, path ${details.counterexamplePath}; replay: TFM_FUZZ_SEED=${seed})\n` +
          `input: ${describeCase(c)}\nsaved to ${path}\n${err}`,
      );
    }
    expect(details.failed).toBe(false);
  });
});

// Fuzz shard 3 of 4 (see fuzz-pipeline.ts): the shape properties' random programs, broken — one
// ill-shaped edit of the kind a port from PyTorch makes (shapes-mutate.ts: swapped or dropped
// dims, a wrong axis, head count or feature size, a rewired argument) or one to three text
// mutations (mutate.ts) — through every phase, and run when they still check clean.
// Replay with TFM_FUZZ_SEED; TFM_FUZZ_RUNS sets the inputs per shard.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzShard } from "./fuzz-pipeline.js";
import { apply, mutationArbitrary } from "./mutate.js";
import { caseArbitrary, Chooser, generate } from "./shapes-gen.js";
import { mutations } from "./shapes-mutate.js";
import { printProgram } from "./shapes-program.js";

describe("fuzz shard: broken generated programs through every phase", () => {
  it("keeps every invariant on 12,500 broken programs (seed printed)", { timeout: 300_000 }, async () => {
    const arbitrary = fc.tuple(caseArbitrary(10), fc.nat(), fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([c, pick, ms, shaped]) => {
      const g = generate(c);
      const base = printProgram(g.program);
      if (shaped) {
        const options = mutations(g.program, g.assignments, new Chooser(pick));
        const m = options[pick % Math.max(1, options.length)];
        if (m) return { text: printProgram(m.program), how: `shapes-gen case ${JSON.stringify(c)}, mutated: ${m.kind} ${m.description}` };
      }
      const seeds = [{ name: "generated", text: base }];
      return { text: ms.reduce((t, m) => apply(t, m, seeds), base), how: `shapes-gen case ${JSON.stringify(c)} with ${ms.map((m) => JSON.stringify(m)).join(", ")}` };
    });
    const r = await fuzzShard({ tag: "fuzz mutated", shard: 3, defaultRuns: 12_500, arbitrary });
    if (r.message) expect.fail(r.message);
    expect(r.tally.firstErrors.size, "the mutations reach several kinds of error").toBeGreaterThan(5);
  });
});

// Did-you-mean: the bit-parallel distance agrees with the textbook table, and a suggestion over
// thousands of names stays linear.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { didYouMean, editDistance, maxSuggestionCandidates, suggest } from "../../../src/diag/suggest.js";

function levenshtein(a: string, b: string): number {
  const t = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = Math.min(t[i - 1]![j]! + 1, t[i]![j - 1]! + 1, t[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return t[a.length]![b.length]!;
}

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

describe("editDistance", () => {
  it("is Levenshtein's distance, for names of up to 32 code units (Myers) and longer ones", () => {
    console.log(`[diag] editDistance: fast-check seed ${seed} (replay with FC_SEED=${seed})`);
    const word = (max: number) => fc.string({ unit: fc.constantFrom("a", "b", "c", "_", "1", "é", "層"), maxLength: max });
    fc.assert(fc.property(word(40), word(40), (a, b) => editDistance(a, b) === levenshtein(a, b)), { seed, numRuns: 3000 });
    expect(editDistance("d_model", "d_modle")).toBe(2);
    expect(editDistance("x".repeat(32), "y".repeat(32))).toBe(32);
  });
});

describe("suggest", () => {
  it("finds the closest name, ignoring case, and nothing when none is close", () => {
    expect(didYouMean("d_modle", ["n_head", "d_model", "dropout"])).toEqual(["did you mean `d_model`?"]);
    expect(suggest("LayerNrom", ["layernorm", "Linear"])).toBe("layernorm");
    expect(suggest("zzz", ["d_model", "n_head"])).toBeUndefined();
  });

  it("considers at most maxSuggestionCandidates names, innermost first", () => {
    const names = Array.from({ length: maxSuggestionCandidates }, (_, i) => `far_name_${i}`);
    expect(suggest("targte", [...names, "target"])).toBeUndefined();
    expect(suggest("targte", ["target", ...names])).toBe("target");
  });
});

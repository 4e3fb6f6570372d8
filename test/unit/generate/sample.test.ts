// The sampler (src/generate/sample.ts): greedy is the first largest logit; sampling is seeded
// (same seed, same tokens), follows HF's processors (repetition penalty, temperature, top-k,
// top-p), and options out of range are TFM8002.
import { describe, expect, it } from "vitest";
import { argmax, mulberry32, Sampler } from "../../../src/generate/sample.js";
import { TfmError } from "../../../src/bundle/errors.js";

const logits = [0.1, 2.0, -1.0, 2.0, 1.5, 0.0];

describe("Sampler", () => {
  it("greedy picks the first largest logit, and NaN never wins", () => {
    expect(new Sampler().next(logits, [])).toBe(1);
    expect(argmax([NaN, 1, 3, 3])).toBe(2);
    expect(new Sampler({ temperature: 0 }).next([NaN, -5, -2], [])).toBe(2);
  });

  it("applies the repetition penalty as Hugging Face does (divide positive logits, multiply negative ones)", () => {
    // 2.0 / 4 = 0.5 for token 1 and 3: token 4 (1.5) wins.
    expect(new Sampler({ repetitionPenalty: 4 }).next(logits, [1, 3])).toBe(4);
    // A negative logit gets more negative: -1 * 4 = -4, still not chosen; 0.0 stays 0.
    expect(new Sampler({ repetitionPenalty: 4 }).next([-1, -0.5], [1])).toBe(0);
  });

  it("is seeded: the same seed gives the same tokens, another seed others", () => {
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 1, seed });
      return Array.from({ length: 50 }, () => s.next(logits, []));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });

  it("top-k 1 and a tiny top-p are greedy; top-k keeps only the k most likely", () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(new Sampler({ temperature: 1.5, topK: 1, seed }).next(logits, [])).toBe(1);
      expect(new Sampler({ temperature: 1.5, topP: 1e-6, seed }).next(logits, [])).toBe(1);
      expect([1, 3]).toContain(new Sampler({ temperature: 5, topK: 2, seed }).next(logits, []));
    }
  });

  it("samples in proportion to softmax(logits / T)", () => {
    const s = new Sampler({ temperature: 0.7, seed: 3 });
    const n = 20000;
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[s.next(logits, [])]++;
    const w = logits.map((l) => Math.exp(l / 0.7));
    const z = w.reduce((a, b) => a + b, 0);
    // Within 4 standard deviations of the expected count for every token.
    w.forEach((x, i) => {
      const p = x / z;
      expect(Math.abs(counts[i] - n * p)).toBeLessThan(4 * Math.sqrt(n * p * (1 - p)) + 1);
    });
  });

  it("top-p keeps the smallest set of tokens whose probability reaches p", () => {
    // Probabilities ~ [0.5, 0.3, 0.2]: top-p 0.6 keeps tokens 0 and 1, never 2.
    const l = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const seen = new Set<number>();
    for (let seed = 0; seed < 200; seed++) seen.add(new Sampler({ temperature: 1, topP: 0.6, seed }).next(l, []));
    expect([...seen].sort()).toEqual([0, 1]);
  });

  it("refuses options out of range with TFM8002, naming the option", () => {
    const bad: [object, string][] = [
      [{ temperature: -1 }, "temperature"],
      [{ temperature: NaN }, "temperature"],
      [{ topK: 1.5 }, "topK"],
      [{ topP: 0 }, "topP"],
      [{ topP: 1.5 }, "topP"],
      [{ repetitionPenalty: 0 }, "repetitionPenalty"],
      [{ seed: -3 }, "seed"],
      [{ seed: 2 ** 32 }, "seed"],
    ];
    for (const [o, name] of bad) {
      let e: unknown;
      try {
        new Sampler(o);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(TfmError);
      expect((e as TfmError).code).toBe("TFM8002");
      expect((e as TfmError).message).toContain(name);
    }
  });
});

// Choosing the next token from a row of logits: greedy, or sampled after Hugging Face's logits
// processors in their order — repetition penalty, temperature, top-k, top-p — from a seeded
// generator, so the same seed gives the same tokens on every backend and platform (the logits are
// the only input; the arithmetic here is plain f64 JavaScript).
import { TfmError } from "../bundle/errors.js";

export interface SamplingOptions {
  /** 0 or absent: greedy (the most likely token, the first of equals). Above 0: sample at this temperature. */
  readonly temperature?: number;
  /** Sample only among the k most likely tokens (absent or 0: all). */
  readonly topK?: number;
  /** Sample only among the most likely tokens whose probabilities sum to at least p (absent or 1: all). */
  readonly topP?: number;
  /** HF's repetition penalty: a logit of a token already in the sequence is divided by it when positive, multiplied when negative (1: none). */
  readonly repetitionPenalty?: number;
  /** The generator's seed, an integer in [0, 2^32) (default 0). */
  readonly seed?: number;
}

/** Checks the options: TFM8002 naming the one out of range. */
export function checkSampling(o: SamplingOptions): void {
  const bad = (name: string, v: unknown, want: string) => new TfmError("TFM8002", `${name} is ${String(v)}: it must be ${want}`);
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (o.temperature !== undefined && !(num(o.temperature) && o.temperature >= 0)) throw bad("temperature", o.temperature, "a number ≥ 0 (0 is greedy)");
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw bad("topK", o.topK, "an integer ≥ 0 (0 keeps every token)");
  if (o.topP !== undefined && !(num(o.topP) && o.topP > 0 && o.topP <= 1)) throw bad("topP", o.topP, "a number in (0, 1]");
  if (o.repetitionPenalty !== undefined && !(num(o.repetitionPenalty) && o.repetitionPenalty > 0)) throw bad("repetitionPenalty", o.repetitionPenalty, "a number > 0 (1 is none)");
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)) throw bad("seed", o.seed, "an integer in [0, 2^32)");
}

/** Mulberry32: a small 32-bit generator, exact in JavaScript's integer arithmetic on every engine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The index of the first largest value (NaN never wins). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]! || Number.isNaN(row[best]!)) best = i;
  return best;
}

export class Sampler {
  private readonly random: () => number;

  constructor(private readonly o: SamplingOptions = {}) {
    checkSampling(o);
    this.random = mulberry32(o.seed ?? 0);
  }

  get greedy(): boolean {
    return !this.o.temperature;
  }

  /** The next token from one row of logits, given the tokens of the sequence so far. */
  next(logits: ArrayLike<number>, history: readonly number[]): number {
    const scores = Float64Array.from(logits as ArrayLike<number>);
    const penalty = this.o.repetitionPenalty ?? 1;
    if (penalty !== 1) {
      for (const t of new Set(history)) {
        if (t < 0 || t >= scores.length) continue;
        scores[t] = scores[t]! > 0 ? scores[t]! / penalty : scores[t]! * penalty;
      }
    }
    if (this.greedy) return argmax(scores);
    const temperature = this.o.temperature!;
    // Candidates, most likely first (ties by index, so the order is the same everywhere).
    let order = Array.from(scores.keys()).filter((i) => !Number.isNaN(scores[i]!));
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    const k = this.o.topK ?? 0;
    if (k > 0 && k < order.length) order = order.slice(0, k);
    const top = scores[order[0]!]! / temperature;
    const weights = order.map((i) => Math.exp(scores[i]! / temperature - top));
    const total = weights.reduce((s, w) => s + w, 0);
    const p = this.o.topP ?? 1;
    let n = order.length;
    if (p < 1) {
      // The smallest prefix whose probability reaches p (at least one token).
      let sum = 0;
      for (n = 0; n < order.length; ) {
        sum += weights[n++]! / total;
        if (sum >= p) break;
      }
    }
    const kept = weights.slice(0, n).reduce((s, w) => s + w, 0);
    let u = this.random() * kept;
    for (let i = 0; i < n; i++) {
      u -= weights[i]!;
      if (u < 0) return order[i]!;
    }
    return order[n - 1]!;
  }
}

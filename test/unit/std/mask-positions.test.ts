// std mask_positions (Hugging Face's position ids: cumsum(mask) - 1, 1 at padding) against the
// definition it replaced, which counted the real tokens up to each position through a [B, n, S]
// causal-and-mask tensor: the same i32s for random masks (left padding, gaps, values other than
// 0/1), cached positions and batch sizes, fused and unfused; and GPT-2's logits on a padded batch
// bit for bit the same with either definition.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../../src/index.js";
import type { Tensor } from "../../../src/core/tensor.js";
import { rng } from "../backends/cpu/helpers.js";

const counted = `
fn counted_positions(attention_mask: i32[B, S], n: int, past: int = 0) {
  seen = unsqueeze(causal_mask(n, past), 0) && unsqueeze(attention_mask != 0, 1)  # [B, n, S]
  return where(attention_mask[:, past:] != 0, sum(cast(seen, i32), -1) - 1, 1)
}
`;

const positions = (past: number) => `${counted}
model P() {
  input mask: i32[batch, S]
  output by_cumsum = mask_positions(mask, S - ${past}, ${past})
  output by_count = counted_positions(mask, S - ${past}, ${past})
}
`;

/** A random mask of B rows: left padding, some gaps, and a few values that are neither 0 nor 1. */
function mask(B: number, S: number, seed: number): Tensor {
  const r = rng(seed);
  const data = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    const pad = Math.floor(r() * S);
    for (let j = 0; j < S; j++) data[b * S + j] = j < pad ? 0 : r() < 0.1 ? 0 : r() < 0.05 ? (r() < 0.5 ? 2 : -1) : 1;
  }
  return { dtype: "i32", shape: [B, S], data };
}

describe("mask_positions by cumsum", () => {
  it("equals the count through a causal mask, for any mask, cached positions and batch", async () => {
    let cases = 0;
    for (const past of [0, 3]) {
      const model = compile(positions(past), { file: "positions.tfm" });
      expect(model.diagnostics).toEqual([]);
      for (const fuse of [true, false]) {
        const s = await model.load({ random: true }, { fuse });
        for (const [B, n] of [[1, 1], [3, 7], [2, 40], [5, 300]] as const) {
          const out = await s.run({ mask: mask(B, past + n, 100 * B + n + past) });
          const [a, b] = [out["by_cumsum"] as Tensor, out["by_count"] as Tensor];
          expect(a.shape).toEqual([B, n]);
          expect(Array.from(a.data), `past ${past}, [${B}, ${n}], fuse ${fuse}`).toEqual(Array.from(b.data));
          cases++;
        }
        s.dispose();
      }
    }
    expect(cases).toBe(16);
  });

  it("gives GPT-2 the same logits, bit for bit, on a left-padded batch", async () => {
    const source = readFileSync("models/gpt2.tfm", "utf8");
    const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 37, n_positions: 64 };
    const ids: Tensor = { dtype: "i32", shape: [3, 20], data: Int32Array.from({ length: 60 }, (_, i) => (i * 7) % 37) };
    const m = mask(3, 20, 5);
    const logits = [];
    for (const text of [source, counted + source.replace("mask_positions(mask, seq, past)", "counted_positions(mask, seq, past)")]) {
      expect(text).toContain("_positions(mask, seq, past)");
      const model = compile(text, { file: "gpt2.tfm", settings });
      expect(model.diagnostics).toEqual([]);
      const s = await model.load({ random: true, seed: 1 });
      logits.push((await s.run({ input_ids: ids, attention_mask: m }))["logits"] as Tensor);
      s.dispose();
    }
    expect(logits[0]!.shape).toEqual([3, 20, 37]);
    expect(Buffer.from(logits[0]!.data.buffer).equals(Buffer.from(logits[1]!.data.buffer))).toBe(true);
  });
});

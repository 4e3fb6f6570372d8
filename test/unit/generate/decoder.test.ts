// Decoding with a KV cache (src/generate/decoder.ts over `state` in models/gpt2.tfm): the logits of
// every cached step equal the whole prefix run without a cache, over random prompt lengths, batch
// sizes, step sizes, fused and op by op (fast-check; the seed is printed); and what generation
// refuses, with its code.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../../src/compile.js";
import type { Session } from "../../../src/session.js";

const gpt2 = readFileSync("models/gpt2.tfm", "utf8");
const small = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 37, n_positions: 24 };
// Llama with GQA (4 query heads, 2 key/value heads) and RoPE at the cached offset.
const llama = { file: "models/llama.tfm", settings: { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 37, max_position_embeddings: 24 } };
const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

async function sessions(fuse: boolean, model = { file: "models/gpt2.tfm", settings: small as Record<string, number> }): Promise<[Session, Session]> {
  const text = model.file === "models/gpt2.tfm" ? gpt2 : readFileSync(model.file, "utf8");
  const cached = await compile(text, { file: model.file, settings: model.settings }).load({ random: true, seed: 5 }, { fuse });
  const plain = await compile(text, { file: model.file, settings: { ...model.settings, use_cache: false } }).load({ random: true, seed: 5 }, { fuse });
  return [cached, plain];
}

describe("KV cache", () => {
  console.log(`[generate] decoder.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`);

  it("a model with state runs plain calls from empty state, equal to the model without it", async () => {
    const [cached, plain] = await sessions(true);
    expect([cached.stateful, plain.stateful]).toEqual([true, false]);
    const ids = { input_ids: { data: [1, 5, 9, 3, 2], shape: [1, 5] } };
    expect((await cached.run(ids)).logits!.data).toEqual((await plain.run(ids)).logits!.data);
  });

  for (const [name, fuse] of [["gpt2", true], ["gpt2", false], ["llama", true]] as const) {
    it(`cached steps give the logits of the whole prefix (≤ 1e-5): ${name}, ${fuse ? "fused" : "op by op"}`, async () => {
      const [cached, plain] = await sessions(fuse, name === "llama" ? llama : undefined);
      let worst = 0;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 }), async (batch, prompt, steps, salt) => {
          let run = 0; // this run's max |Δ| (the shrunk counterexample is then a failing run of its own)
          const total = prompt + steps.reduce((a, b) => a + b, 0);
          const ids = Array.from({ length: batch * total }, (_, i) => (i * 7 + salt) % small.vocab_size);
          const row = (from: number, to: number) => Array.from({ length: batch }, (_, b) => ids.slice(b * total + from, b * total + to)).flat();
          const full = (await plain.run({ input_ids: { data: ids, shape: [batch, total] } })).logits!;
          const V = small.vocab_size;
          const check = (got: Float32Array, from: number, n: number) => {
            for (let b = 0; b < batch; b++)
              for (let t = 0; t < n; t++)
                for (let v = 0; v < V; v++) run = Math.max(run, Math.abs(got[(b * n + t) * V + v]! - full.data[(b * total + from + t) * V + v]!));
          };
          check((await cached.prefill({ input_ids: { data: row(0, prompt), shape: [batch, prompt] } })).logits!.data as Float32Array, 0, prompt);
          let at = prompt;
          for (const n of steps) {
            check((await cached.step({ input_ids: { data: row(at, at + n), shape: [batch, n] } })).logits!.data as Float32Array, at, n);
            at += n;
          }
          expect(cached.cacheLength).toBe(total);
          worst = Math.max(worst, run);
          return run <= 1e-5;
        }),
        { seed, numRuns: 25 },
      );
      console.log(`[generate] cached vs whole prefix (${name}, ${fuse ? "fused" : "op by op"}): max |Δ| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-5);
    }, 120_000);
  }

  // The encoder–decoder: the source encoded once (its padding masked), the cross-attention keys and
  // values written once, the self-attention appended; random batch, source lengths and padding,
  // target prompt and step sizes, and target prompts left-padded (tgt_mask).
  for (const fuse of [true, false]) {
    it(`cached steps give the log-probs of the whole prefix (≤ 1e-5): transformer, ${fuse ? "fused" : "op by op"}`, async () => {
      const settings = { d_model: 16, nhead: 2, num_encoder_layers: 2, num_decoder_layers: 2, dim_feedforward: 24, src_vocab_size: 23, tgt_vocab_size: 19 };
      const text = readFileSync("models/transformer.tfm", "utf8");
      const cached = await compile(text, { file: "models/transformer.tfm", settings }).load({ random: true, seed: 6 }, { fuse });
      const plain = await compile(text, { file: "models/transformer.tfm", settings: { ...settings, use_cache: false } }).load({ random: true, seed: 6 }, { fuse });
      const V = settings.tgt_vocab_size;
      let worst = 0;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), async (batch, srcLen, pads, prompt, steps, salt, tpads) => {
          let run = 0; // this run's max |Δ| (the shrunk counterexample is then a failing run of its own)
          // Each source row padded at its end by up to srcLen - 1 positions (masked out).
          const mask = Array.from({ length: batch }, (_, b) => Array.from({ length: srcLen }, (_, i) => (i < srcLen - Math.min(pads[b]!, srcLen - 1) ? 1 : 0)));
          const src = { data: mask.map((r, b) => r.map((m, i) => (m ? 1 + ((b * 31 + i * 7 + salt) % (settings.src_vocab_size - 1)) : 0))) };
          const source = { src, src_mask: { data: mask } };
          const total = prompt + steps.reduce((a, b) => a + b, 0);
          const tgt = Array.from({ length: batch }, (_, b) => Array.from({ length: total }, (_, i) => (b * 5 + i * 3 + salt) % V));
          const cols = (from: number, to: number) => ({ data: tgt.map((r) => r.slice(from, to)) });
          // Each target prompt left-padded by up to prompt - 1 positions; the later tokens are real.
          const tmask = Array.from({ length: batch }, (_, b) => Array.from({ length: total }, (_, i) => (i >= Math.min(tpads[b]!, prompt - 1) ? 1 : 0)));
          const full = (await plain.run({ ...source, tgt: { data: tgt }, tgt_mask: { data: tmask } })).log_probs!;
          const check = (got: Float32Array, from: number, n: number) => {
            for (let b = 0; b < batch; b++)
              for (let t = 0; t < n; t++)
                for (let v = 0; v < V; v++) run = Math.max(run, Math.abs(got[(b * n + t) * V + v]! - full.data[(b * total + from + t) * V + v]!));
          };
          check((await cached.prefill({ ...source, tgt: cols(0, prompt), tgt_mask: { data: tmask.map((r) => r.slice(0, prompt)) } })).log_probs!.data as Float32Array, 0, prompt);
          let at = prompt;
          for (const n of steps) {
            check((await cached.step({ tgt: cols(at, at + n) })).log_probs!.data as Float32Array, at, n);
            at += n;
          }
          expect(cached.cacheLength).toBe(total);
          worst = Math.max(worst, run);
          return run <= 1e-5;
        }),
        { seed, numRuns: 20 },
      );
      console.log(`[generate] cached vs whole prefix (transformer, ${fuse ? "fused" : "op by op"}): max |Δ| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-5);
      cached.dispose();
      plain.dispose();
    }, 120_000);
  }

  it("greedy generation is the same with the cache and by recomputing the sequence", async () => {
    const [cached, plain] = await sessions(true);
    const run = async (s: Session) => {
      const out: number[][] = [];
      for await (const t of s.generate([[3, 1, 4], [1, 5, 9]], { maxNewTokens: 12 })) out.push(t);
      return out;
    };
    expect(await run(cached)).toEqual(await run(plain));
  });

  it("refuses what it cannot do, with a code", async () => {
    const [cached] = await sessions(true);
    const codeOf = async (f: () => Promise<unknown>) => f().then(() => "ok", (e: { code?: string }) => e.code);
    const all = async (prompt: number[], o = {}) => {
      for await (const _ of cached.generate(prompt, o)) void _;
    };
    expect(await codeOf(() => all([1, 99]))).toBe("TFM8004"); // not in the vocabulary of 37
    expect(await codeOf(() => all([1, -1]))).toBe("TFM8004");
    expect(await codeOf(() => all([1, 2], { topP: 2 }))).toBe("TFM8002");
    expect(await codeOf(() => all([]))).toBe("TFM8002");
    // 24 positions: a 20-token prompt and 10 new tokens do not fit.
    expect(await codeOf(() => all(Array(20).fill(1), { maxNewTokens: 10 }))).toBe("TFM8003");
    expect(await codeOf(() => cached.prefill({ input_ids: { data: Array(25).fill(1), shape: [1, 25] } }))).toBe("TFM8003");
    const bert = await compile(readFileSync("models/bert.tfm", "utf8"), { file: "bert.tfm", settings: { num_hidden_layers: 1, hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, vocab_size: 11, max_position_embeddings: 16 } }).load({ random: true });
    expect(await codeOf(async () => {
      for await (const _ of bert.generate([1, 2])) void _;
    })).toBe("TFM8001");
  });

  it("an encoder–decoder's source ids are checked against the source vocabulary, as the prompt's are against the target's (TFM8004)", async () => {
    const settings = { d_model: 16, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 1, dim_feedforward: 24, src_vocab_size: 23, tgt_vocab_size: 19 };
    const text = readFileSync("models/transformer.tfm", "utf8");
    for (const use_cache of [true, false]) {
      const s = await compile(text, { file: "models/transformer.tfm", settings: { ...settings, use_cache } }).load({ random: true, seed: 6 });
      const refusal = async (f: () => Promise<unknown>) => f().then(() => "ok", (e: { code?: string; message?: string }) => (e.code && e.message?.startsWith(`${e.code}: `) ? e.message : `(no code) ${e.message}`));
      const gen = (prompt: number[][], src: number[][]) => refusal(async () => {
        for await (const _ of s.generate(prompt, { maxNewTokens: 2, source: { src: { data: src } } })) void _;
      });
      const msg = "is not in the source vocabulary: ids are integers in [0, 23)";
      // 22 is the last id of the source (its vocabulary is 23), while the target's is 19: the source is checked against its own.
      expect(await gen([[1]], [[3, 22, 5]])).toBe("ok");
      expect(await gen([[1]], [[3, 23, 5]])).toBe(`TFM8004: source \`src\`: token 23 at position 1 ${msg}`);
      expect(await gen([[1], [1]], [[3, 4, 5], [6, 7, -2]])).toBe(`TFM8004: source \`src\`: token -2 at position 2 of sequence 1 ${msg}`);
      // The prompt is still checked against the target's vocabulary.
      expect(await gen([[20]], [[3, 4]])).toMatch(/^TFM8004: token 20 at position 0 is not in the vocabulary: ids are integers in \[0, 19\)/);
      // prefill with a source too, before anything runs: the session is still usable after it.
      expect(await refusal(() => s.prefill({ src: { data: [[3, 99]] }, tgt: { data: [[1]] } }))).toBe(`TFM8004: source \`src\`: token 99 at position 1 ${msg}`);
      expect(s.cacheLength).toBe(0);
      expect(await gen([[1]], [[3, 4]])).toBe("ok");
      s.dispose();
    }
  });
});

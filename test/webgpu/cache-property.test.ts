// Cached decoding on WebGPU (SwiftShader) equals recomputation, property-tested (issue 11 §4, as
// test/unit/generate/decoder.test.ts does on the CPU): over random batch sizes, prompt lengths,
// left padding of the prompts and step sizes, the logits of the prefill and of every step — the
// cache kept on the device — equal WebGPU's own no-cache forward pass of the whole sequence so far
// (≤ 1e-5). GPT-2 and Llama with GQA (attention_mask), and the encoder–decoder (the source padded at its end, the
// target prompts left-padded through tgt_mask). SwiftShader is slow: tiny models, few runs; the
// seed is printed (replay with FC_SEED).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import type { Session } from "../../src/session.js";
import type { Tensor } from "../../src/core/tensor.js";
import { openGpu } from "./helpers.js";

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
}, 60_000);
afterAll(() => gpu?.close());

/** Left padding of each row: the first min(pad, length − 1) positions of a prompt are padding (0), the rest real (1). */
const leftMask = (pads: readonly number[], batch: number, prompt: number, total: number) =>
  Array.from({ length: batch }, (_, b) => Array.from({ length: total }, (_, i) => (i >= Math.min(pads[b]!, prompt - 1) ? 1 : 0)));

type Rows = { data: number[][] };
const cols = (rows: number[][], from: number, to: number): Rows => ({ data: rows.map((r) => r.slice(from, to)) });

/**
 * The largest |Δ| between `out` of the cached calls — a prefill of `prompt` positions, then a step
 * of each of `steps` — and of the whole sequence at once (`full`: [batch, total, V]). `inputs(from,
 * to)` gives a call's inputs for positions [from, to).
 */
async function cachedVsFull(cached: Session, out: string, full: Tensor, prompt: number, steps: readonly number[], inputs: (from: number, to: number) => Record<string, Rows>): Promise<number> {
  const [batch, total, V] = full.shape as [number, number, number];
  let worst = 0;
  const check = (got: Tensor, from: number, n: number) => {
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < n; t++)
        for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs((got.data[(b * n + t) * V + v] as number) - (full.data[(b * total + from + t) * V + v] as number)));
  };
  check((await cached.prefill(inputs(0, prompt)))[out]!, 0, prompt);
  let at = prompt;
  for (const n of steps) {
    check((await cached.step(inputs(at, at + n)))[out]!, at, n);
    at += n;
  }
  expect(cached.cacheLength).toBe(total);
  return worst;
}

describe("cached decoding on WebGPU equals the no-cache pass (fast-check)", () => {
  console.log(`[webgpu] cache-property.test.ts: fast-check seed ${seed} (replay with FC_SEED=${seed})`);

  // Decoder-only models with HF's attention_mask: GPT-2 (learned positions), Llama (GQA, RoPE at the cached offset).
  const decoders = {
    "GPT-2": { file: "models/gpt2.tfm", settings: { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 29, n_positions: 24 }, vocab: 29 },
    "Llama (GQA)": { file: "models/llama.tfm", settings: { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 29, max_position_embeddings: 24 }, vocab: 29 },
  };
  for (const [name, m] of Object.entries(decoders)) it(`${name}: random batch, prompt, left padding and steps`, async () => {
    const text = readFileSync(m.file, "utf8");
    const load = (useCache: boolean) => compile(text, { file: m.file, settings: { ...m.settings, use_cache: useCache } }).load({ random: true, seed: 4 }, { backend: "webgpu", device: gpu.device });
    const [cached, plain] = [await load(true), await load(false)];
    const V = m.vocab;
    let worst = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 1000 }), async (batch, prompt, steps, pads, salt) => {
          const total = prompt + steps.reduce((a, b) => a + b, 0);
          const ids = Array.from({ length: batch }, (_, b) => Array.from({ length: total }, (_, i) => (b * 11 + i * 7 + salt) % V));
          const mask = leftMask(pads, batch, prompt, total);
          const full = (await plain.run({ input_ids: { data: ids }, attention_mask: { data: mask } })).logits!;
          // This run's own max |Δ|: the shrunk counterexample is then a failing run of its own.
          const run = await cachedVsFull(cached, "logits", full, prompt, steps, (from, to) => ({ input_ids: cols(ids, from, to), ...(from === 0 ? { attention_mask: cols(mask, 0, to) } : {}) }));
          worst = Math.max(worst, run);
          return run <= 1e-5;
        }),
        { seed, numRuns: 4 },
      );
    } finally {
      cached.dispose();
      plain.dispose();
    }
    console.log(`[webgpu] cached vs whole sequence (${name}): max |Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-5);
  }, 300_000);

  it("the encoder–decoder: random batch, source padding, target prompt, its left padding and steps", async () => {
    const settings = { d_model: 16, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 2, dim_feedforward: 24, src_vocab_size: 23, tgt_vocab_size: 19 };
    const text = readFileSync("models/transformer.tfm", "utf8");
    const load = (useCache: boolean) => compile(text, { file: "models/transformer.tfm", settings: { ...settings, use_cache: useCache } }).load({ random: true, seed: 6 }, { backend: "webgpu", device: gpu.device });
    const [cached, plain] = [await load(true), await load(false)];
    const V = settings.tgt_vocab_size;
    let worst = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 1000 }), async (batch, srcLen, srcPads, prompt, tgtPads, steps, salt) => {
          // Each source padded at its end by up to srcLen − 1 positions, each target prompt at its start.
          const srcMask = Array.from({ length: batch }, (_, b) => Array.from({ length: srcLen }, (_, i) => (i < srcLen - Math.min(srcPads[b]!, srcLen - 1) ? 1 : 0)));
          const src = { data: srcMask.map((r, b) => r.map((m, i) => (m ? 1 + ((b * 31 + i * 7 + salt) % (settings.src_vocab_size - 1)) : 0))) };
          const source = { src, src_mask: { data: srcMask } };
          const total = prompt + steps.reduce((a, b) => a + b, 0);
          const tgt = Array.from({ length: batch }, (_, b) => Array.from({ length: total }, (_, i) => (b * 5 + i * 3 + salt) % V));
          const tgtMask = leftMask(tgtPads, batch, prompt, total);
          const full = (await plain.run({ ...source, tgt: { data: tgt }, tgt_mask: { data: tgtMask } })).log_probs!;
          // The source and the prompt's mask with the first call only.
          const run = await cachedVsFull(cached, "log_probs", full, prompt, steps, (from, to) => ({ tgt: cols(tgt, from, to), ...(from === 0 ? { ...source, tgt_mask: cols(tgtMask, 0, to) } : {}) }));
          worst = Math.max(worst, run);
          return run <= 1e-5;
        }),
        { seed, numRuns: 3 },
      );
    } finally {
      cached.dispose();
      plain.dispose();
    }
    console.log(`[webgpu] cached vs whole sequence (transformer): max |Δ| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-5);
  }, 300_000);
});

// A batch of prompts of different lengths (7, 3, 5) through GPT-2 (and 6, 2, 4 through Llama with GQA), against Hugging Face's
// generate() written out in PyTorch (test/fixtures/gpt2_batch.py, llama_batch.py, float64): left-padded prompts, an
// attention_mask, position ids counting from each row's first real token, the mask kept as state.
// Greedy tokens of the batch equal PyTorch's and each prompt generated alone (a finished row emits
// the pad token); the padded prefill's logits at real positions match PyTorch's.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let dir = "";
let out = "";
interface Ref {
  prompts: number[][];
  pad: number;
  eos: number;
  tokens: number[][];
  alone: number[][];
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][][];
}
let ref: Ref;
let settings: Record<string, number>;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "tfm-generate-batch-"));
  const r = spawnSync(python, ["test/fixtures/gpt2_batch.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
  dir = join(out, "gpt2_batch");
  ref = JSON.parse(readFileSync(join(dir, "batch.json"), "utf8")) as Ref;
  settings = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { settings: Record<string, number> }).settings;
}, 120_000);
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

async function session(useCache: boolean, fuse: boolean) {
  const model = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "models/gpt2.tfm", settings: { ...settings, use_cache: useCache } });
  expect(model.diagnostics).toEqual([]);
  return model.load(join(dir, "weights.safetensors"), { fuse });
}

async function tokens(s: Awaited<ReturnType<typeof session>>, prompts: number[][]): Promise<number[][]> {
  const steps: number[][] = [];
  for await (const t of s.generate(prompts, { maxNewTokens: ref.tokens[0]!.length, stop: [ref.eos], padTokenId: ref.pad })) steps.push(t);
  return prompts.map((_, b) => steps.map((t) => t[b]!));
}

describe("batched generation of prompts of different lengths vs PyTorch (GPT-2, HF's generate)", () => {
  for (const [useCache, fuse] of [[true, true], [true, false], [false, true]] as const) {
    it(`greedy tokens, ${useCache ? "KV cache" : "recomputed"}, ${fuse ? "fused" : "op by op"}`, async () => {
      const s = await session(useCache, fuse);
      expect(s.stateful).toBe(useCache);
      const batch = await tokens(s, ref.prompts);
      expect(batch).toEqual(ref.tokens);
      expect(ref.tokens).toEqual(ref.alone);
      // Each prompt alone, through tfm too: alone, generation ends at the stop token.
      for (const [b, p] of ref.prompts.entries()) {
        const row = ref.alone[b]!;
        const end = row.indexOf(ref.eos);
        expect((await tokens(s, [p]))[0]).toEqual(end < 0 ? row : row.slice(0, end + 1));
      }
    }, 120_000);
  }

  it("padded prefill logits at the real positions, and each step's logits, match PyTorch", async () => {
    const s = await session(true, true);
    const [batch, len] = [ref.input_ids.length, ref.input_ids[0]!.length];
    const o = await s.prefill({ input_ids: { data: ref.input_ids.flat(), shape: [batch, len] }, attention_mask: { data: ref.attention_mask.flat(), shape: [batch, len] } });
    const logits = o.logits!;
    const vocab = logits.shape[2]!;
    let worst = 0;
    let checked = 0;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < len; t++) {
        if (!ref.attention_mask[b]![t]) continue;
        for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(Number(logits.data[(b * len + t) * vocab + v]) - ref.logits[b]![t]![v]!));
        checked++;
      }
    }
    console.log(`[generate-batch] padded prefill: ${checked} real positions × ${vocab} logits, max |tfm − PyTorch| = ${worst.toExponential(2)}`);
    expect(checked).toBe(ref.prompts.reduce((n, p) => n + p.length, 0));
    expect(worst).toBeLessThan(2e-5);
  }, 60_000);

  it("the padded batch's logits equal each prompt's own (cache, every step)", async () => {
    const s = await session(true, true);
    const [batch, len] = [ref.input_ids.length, ref.input_ids[0]!.length];
    const next = ref.tokens.map((r) => r.slice(0, 4));
    const rowsOf = async (ids: number[][], mask: number[][], steps: number[][]) => {
      const n = ids.length;
      const w = ids[0]!.length;
      const got: Float32Array[][] = [];
      const first = await s.prefill({ input_ids: { data: ids.flat(), shape: [n, w] }, attention_mask: { data: mask.flat(), shape: [n, w] } });
      const vocab = first.logits!.shape[2]!;
      const last = (l: { data: ArrayLike<number> }, seq: number) => Array.from({ length: n }, (_, b) => Float32Array.from(Array.from(l.data).slice((b * seq + seq - 1) * vocab, (b * seq + seq) * vocab)));
      got.push(last(first.logits!, w));
      for (let k = 0; k < steps[0]!.length; k++) {
        const o = await s.step({ input_ids: { data: steps.map((r) => r[k]!), shape: [n, 1] } });
        got.push(last(o.logits!, 1));
      }
      return got;
    };
    const together = await rowsOf(ref.input_ids, ref.attention_mask, next);
    let worst = 0;
    for (let b = 0; b < batch; b++) {
      const alone = await rowsOf([ref.prompts[b]!], [ref.prompts[b]!.map(() => 1)], [next[b]!]);
      alone.forEach((step, k) => step[0]!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - together[k]![b]![i]!)))));
    }
    console.log(`[generate-batch] padded batch vs alone, prefill + 4 steps: max |Δ logit| = ${worst.toExponential(2)} (len ${len})`);
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);
});

describe("batched generation of prompts of different lengths vs PyTorch (Llama with GQA, HF's generate)", () => {
  let lref: Omit<Ref, "eos">;
  let lset: Record<string, number>;
  let ldir = "";
  beforeAll(() => {
    const r = spawnSync(python, ["test/fixtures/llama_batch.py", out], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
    ldir = join(out, "llama_batch");
    lref = JSON.parse(readFileSync(join(ldir, "batch.json"), "utf8")) as Omit<Ref, "eos">;
    lset = (JSON.parse(readFileSync(join(ldir, "manifest.json"), "utf8")) as { settings: Record<string, number> }).settings;
  }, 120_000);

  it("greedy tokens with the KV cache and RoPE at each row's positions; prefill logits at the real positions", async () => {
    const model = compile(readFileSync("models/llama.tfm", "utf8"), { file: "models/llama.tfm", settings: lset });
    expect(model.diagnostics).toEqual([]);
    const s = await model.load(join(ldir, "weights.safetensors"));
    const steps: number[][] = [];
    for await (const t of s.generate(lref.prompts, { maxNewTokens: lref.tokens[0]!.length, padTokenId: lref.pad })) steps.push(t);
    expect(lref.prompts.map((_, b) => steps.map((t) => t[b]!))).toEqual(lref.tokens);
    expect(lref.tokens).toEqual(lref.alone);
    const [batch, len] = [lref.input_ids.length, lref.input_ids[0]!.length];
    const o = await s.prefill({ input_ids: { data: lref.input_ids.flat(), shape: [batch, len] }, attention_mask: { data: lref.attention_mask.flat(), shape: [batch, len] } });
    const vocab = o.logits!.shape[2]!;
    let worst = 0;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < len; t++) {
        if (!lref.attention_mask[b]![t]) continue;
        for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(Number(o.logits!.data[(b * len + t) * vocab + v]) - lref.logits[b]![t]![v]!));
      }
    }
    console.log(`[generate-batch] llama padded prefill: max |tfm − PyTorch| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-5);
  }, 120_000);
});

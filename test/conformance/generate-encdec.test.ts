// Greedy generation with the encoder–decoder (models/transformer.tfm) against PyTorch: 32 tokens
// for a batch of 2 sources (the second padded), from the start token, against the tutorial's greedy
// loop over torch.nn.Transformer (test/fixtures/transformer_generate.py, float64) — token for
// token, with the decoder's caches (self-attention appended, cross-attention written once: the
// encode phase on the first call, the step graph without the encoder on every call), fused and op
// by op, and without a cache. Each cached step's log-probs equal the no-cache forward pass of the
// whole prefix (≤ 1e-5) and PyTorch's (≤ 1e-4). Target prompts of different lengths continue
// PyTorch's greedy sequences.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { TfmError } from "../../src/bundle/errors.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let out = "";
let dir = "";
interface Ref {
  src: number[][];
  src_mask: number[][];
  start: number;
  tokens: number[][];
  log_probs: number[][][];
  min_margin: number;
}
let ref: Ref;
let settings: Record<string, number>;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "tfm-generate-encdec-"));
  const r = spawnSync(python, ["test/fixtures/transformer_generate.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
  dir = join(out, "transformer_generate");
  ref = JSON.parse(readFileSync(join(dir, "generate.json"), "utf8")) as Ref;
  settings = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { settings: Record<string, number> }).settings;
}, 120_000);
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

const model = (useCache: boolean) => {
  const m = compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings: { ...settings, use_cache: useCache } });
  expect(m.diagnostics).toEqual([]);
  return m;
};
const source = () => ({ src: { data: ref.src }, src_mask: { data: ref.src_mask } });

describe("encoder–decoder generation vs PyTorch (torch.nn.Transformer's greedy loop)", () => {
  it("the step graph reads the states written once, not the source or the encoder", () => {
    const m = model(true);
    const { encode, step } = m.phases!;
    const weights = (g: typeof step) => g.nodes.filter((n) => n.op === "weight").map((n) => n.attrs.name!);
    expect(step.inputs.map((p) => p.name)).not.toContain("src");
    expect(step.inputs.map((p) => p.name)).not.toContain("src_mask");
    expect(weights(step).filter((w) => w.startsWith("encoder.") || w.startsWith("src_embed."))).toEqual([]);
    expect(encode.inputs.map((p) => p.name)).toEqual(["src", "src_mask"]);
    expect(encode.outputs.map((p) => p.name)).toEqual(["src_mask_cache", ...[0, 1].flatMap((i) => [`decoder.layers.${i}.multihead_attn.k_memory`, `decoder.layers.${i}.multihead_attn.v_memory`])]);
    expect(weights(encode).some((w) => w.startsWith("decoder.layers.0.self_attn") || w.startsWith("generator."))).toBe(false);
    expect(step.states.map((s) => s.name)).toEqual(["tgt_mask_cache", ...[0, 1].flatMap((i) => [`decoder.layers.${i}.self_attn.k_cache`, `decoder.layers.${i}.self_attn.v_cache`])]);
    expect(model(false).phases).toBeUndefined();
  });

  for (const [useCache, fuse] of [[true, true], [true, false], [false, true]] as const) {
    it(`32 greedy tokens, batch 2, ${useCache ? "with the caches" : "recomputed"}, ${fuse ? "fused" : "op by op"}`, async () => {
      const s = await model(useCache).load(join(dir, "weights.safetensors"), { fuse });
      expect(s.stateful).toBe(useCache);
      const steps: number[][] = [];
      for await (const t of s.generate(ref.tokens.map(() => [ref.start]), { maxNewTokens: 32, source: source() })) steps.push(t);
      const got = ref.tokens.map((_, b) => steps.map((t) => t[b]!));
      console.log(`[generate] transformer greedy, ${useCache ? "cached" : "recomputed"}, ${fuse ? "fused" : "op by op"}: ${got[0]!.length} tokens × ${got.length}; PyTorch's smallest top-2 margin ${ref.min_margin.toExponential(2)}`);
      expect(got).toEqual(ref.tokens);
      s.dispose();
    }, 60_000);
  }

  // Target prompts of different lengths: the first sequence forced to start with PyTorch's first 3
  // greedy tokens, the second from the start token alone. The shorter prompt is left-padded and
  // masked through `tgt_mask`, its positions counted from its first real token, so each sequence
  // continues PyTorch's greedy sequence of its source.
  for (const useCache of [true, false]) {
    it(`target prompts of different lengths (left-padded, masked by tgt_mask), ${useCache ? "with the caches" : "recomputed"}: each sequence's tokens are PyTorch's`, async () => {
      const s = await model(useCache).load(join(dir, "weights.safetensors"));
      const forced = 3;
      const prompts = [[ref.start, ...ref.tokens[0]!.slice(0, forced)], [ref.start]];
      const steps: number[][] = [];
      for await (const t of s.generate(prompts, { maxNewTokens: 16, source: source() })) steps.push(t);
      expect(steps.map((t) => t[0])).toEqual(ref.tokens[0]!.slice(forced, forced + 16));
      expect(steps.map((t) => t[1])).toEqual(ref.tokens[1]!.slice(0, 16));
      s.dispose();
    }, 60_000);
  }

  it("each cached step's log-probs equal the no-cache forward pass of the whole prefix, and PyTorch's", async () => {
    const s = await model(true).load(join(dir, "weights.safetensors"));
    const B = ref.tokens.length;
    const V = ref.log_probs[0]![0]!.length;
    let vsFull = 0;
    let vsTorch = 0;
    const prefix = ref.tokens.map(() => [ref.start]);
    let lp = (await s.prefill({ ...source(), tgt: { data: prefix } })).log_probs!;
    for (let i = 0; i < 32; i++) {
      const T = prefix[0]!.length;
      const full = (await s.run({ ...source(), tgt: { data: prefix } })).log_probs!;
      expect(lp.shape).toEqual([B, 1, V]);
      for (let b = 0; b < B; b++) {
        for (let v = 0; v < V; v++) {
          const here = lp.data[b * V + v] as number;
          vsFull = Math.max(vsFull, Math.abs(here - (full.data[(b * T + T - 1) * V + v] as number)));
          vsTorch = Math.max(vsTorch, Math.abs(here - ref.log_probs[b]![i]![v]!));
        }
      }
      prefix.forEach((p, b) => p.push(ref.tokens[b]![i]!));
      if (i < 31) lp = (await s.step({ tgt: { data: ref.tokens.map((t) => [t[i]!]) } })).log_probs!;
    }
    console.log(`[generate] transformer: 32 cached steps × batch ${B}, log-probs vs the no-cache forward pass max |Δ| ${vsFull.toExponential(2)}, vs PyTorch (float64) ${vsTorch.toExponential(2)}`);
    expect(vsFull).toBeLessThanOrEqual(1e-5);
    expect(vsTorch).toBeLessThanOrEqual(1e-4);
    expect(s.cacheLength).toBe(32);
    s.dispose();
  }, 60_000);

  it("what is missing or misplaced is an error with a code", async () => {
    const s = await model(true).load(join(dir, "weights.safetensors"));
    const code = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        return e instanceof TfmError ? e.code : String(e);
      }
      return "no error";
    };
    const drain = async (opts: Parameters<typeof s.generate>[1]) => {
      for await (const _ of s.generate([ref.start], opts)) void _;
    };
    // No source at all, or no `src` (src_mask has a default, so it may be left out).
    expect(await code(() => drain({ maxNewTokens: 2 }))).toBe("TFM5202");
    expect(await code(() => drain({ maxNewTokens: 2, source: { src_mask: { data: [ref.src_mask[0]!] } } }))).toBe("TFM5202");
    // A name that is not an input.
    expect(await code(() => drain({ maxNewTokens: 2, source: { source: { data: [ref.src[0]!] } } }))).toBe("TFM5201");
    // The source of another batch than the prompt's.
    expect(await code(() => drain({ maxNewTokens: 2, source: source() }))).toBe("TFM6002");
    // A later call that gives a source again, and a first one without it.
    await s.prefill({ ...source(), tgt: { data: ref.tokens.map(() => [ref.start]) } });
    expect(await code(() => s.step({ ...source(), tgt: { data: ref.tokens.map(() => [ref.start]) } }))).toBe("TFM5201");
    s.reset();
    expect(await code(() => s.prefill({ tgt: { data: [[ref.start]] } }))).toBe("TFM5202");
    // The source left out of a stateless run is the model's own TFM5202 too; src_mask defaults to ones.
    const alone = [] as number[];
    for await (const t of s.generate([ref.start], { maxNewTokens: 3, source: { src: { data: [ref.src[0]!] } } })) alone.push(t);
    expect(alone).toEqual(ref.tokens[0]!.slice(0, 3));
    s.dispose();
    // A model that is no encoder–decoder takes no source.
    const gpt2 = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "models/gpt2.tfm", settings: { n_layer: 1, n_embd: 16, n_head: 2, vocab_size: 50, n_positions: 16 } });
    const g = await gpt2.load({ random: true, seed: 1 });
    expect(await code(async () => {
      for await (const _ of g.generate([1, 2], { maxNewTokens: 1, source: { src: { data: [[1]] } } })) void _;
    })).toBe("TFM8002");
    g.dispose();
  }, 60_000);
});

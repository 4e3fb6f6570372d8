// Greedy generation against PyTorch: 32 tokens after a 7-token prompt (batch 2) from a small GPT-2
// written to Hugging Face's definition (test/fixtures/gpt2.py, float64; with HF's past_key_values
// and by recomputing the sequence, which agree), through `compile().load().generate()` with the
// model's KV cache — token for token, fused and op by op.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let out = "";

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "tfm-generate-"));
  const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
}, 120_000);
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

describe("greedy generation vs PyTorch (GPT-2, HF's definition)", () => {
  for (const fuse of [true, false]) {
    it(`32 tokens, batch 2, ${fuse ? "fused" : "op by op"}`, async () => {
      const dir = join(out, "gpt2_generate");
      const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model: string; settings: Record<string, number> };
      const ref = JSON.parse(readFileSync(join(dir, "generate.json"), "utf8")) as { prompt: number[][]; tokens: number[][]; min_margin: number };
      const model = compile(readFileSync(m.model, "utf8"), { file: m.model, settings: m.settings });
      expect(model.diagnostics).toEqual([]);
      const s = await model.load(join(dir, "weights.safetensors"), { fuse });
      expect(s.stateful).toBe(true);
      const steps: number[][] = [];
      for await (const t of s.generate(ref.prompt, { maxNewTokens: 32 })) steps.push(t);
      const got = ref.prompt.map((_, b) => steps.map((t) => t[b]!));
      console.log(`[generate] gpt2 greedy ${fuse ? "fused" : "op by op"}: ${got[0]!.length} tokens × ${got.length}; PyTorch's smallest top-2 margin ${ref.min_margin.toExponential(2)}`);
      expect(got).toEqual(ref.tokens);
      expect(s.cacheLength).toBe(ref.prompt[0]!.length + 31);
    }, 60_000);
  }
});

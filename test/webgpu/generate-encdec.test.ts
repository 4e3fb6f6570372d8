// The encoder–decoder (models/transformer.tfm) generating on WebGPU (SwiftShader): the encode
// phase's states written once (the cross-attention keys/values, the source mask) come back from
// the device once per sequence and are the step graph's inputs; the self-attention cache stays on
// the device (runResident). Greedy tokens equal PyTorch's (test/fixtures/transformer_generate.py),
// each cached step's log-probs equal PyTorch's (≤ 1e-4), and WebGPU's own no-cache pass over the
// whole prefix (≤ 1e-5) at every 4th step and the last (each such pass is slow on SwiftShader; the
// CPU's test, test/conformance/generate-encdec.test.ts, compares all 32).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { openGpu } from "./helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let gpu: NodeGpu;
let out = "";
let dir = "";
let ref: { src: number[][]; src_mask: number[][]; start: number; tokens: number[][]; log_probs: number[][][] };
let settings: Record<string, number>;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "tfm-webgpu-encdec-"));
  const r = spawnSync(python, ["test/fixtures/transformer_generate.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
  dir = join(out, "transformer_generate");
  ref = JSON.parse(readFileSync(join(dir, "generate.json"), "utf8")) as typeof ref;
  settings = (JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { settings: Record<string, number> }).settings;
  gpu = await openGpu();
}, 120_000);
afterAll(() => {
  gpu?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("encoder–decoder generation on WebGPU", () => {
  it("32 greedy tokens × 2 equal PyTorch's; each cached step's log-probs equal the no-cache pass", async () => {
    const model = compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings });
    const s = await model.load(join(dir, "weights.safetensors"), { backend: "webgpu", device: gpu.device });
    const source = { src: { data: ref.src }, src_mask: { data: ref.src_mask } };
    try {
      const steps: number[][] = [];
      for await (const t of s.generate(ref.tokens.map(() => [ref.start]), { maxNewTokens: 32, source })) steps.push(t);
      expect(ref.tokens.map((_, b) => steps.map((t) => t[b]!))).toEqual(ref.tokens);

      const B = ref.tokens.length;
      const V = ref.log_probs[0]![0]!.length;
      const prefix = ref.tokens.map(() => [ref.start]);
      let lp = (await s.prefill({ ...source, tgt: { data: prefix } })).log_probs!;
      let [vsFull, vsTorch] = [0, 0];
      for (let i = 0; i < 32; i++) {
        const T = prefix[0]!.length;
        const full = i % 4 === 0 || i === 31 ? (await s.run({ ...source, tgt: { data: prefix } })).log_probs! : undefined;
        for (let b = 0; b < B; b++) {
          for (let v = 0; v < V; v++) {
            const here = lp.data[b * V + v] as number;
            if (full) vsFull = Math.max(vsFull, Math.abs(here - (full.data[(b * T + T - 1) * V + v] as number)));
            vsTorch = Math.max(vsTorch, Math.abs(here - ref.log_probs[b]![i]![v]!));
          }
        }
        prefix.forEach((p, b) => p.push(ref.tokens[b]![i]!));
        if (i < 31) lp = (await s.step({ tgt: { data: ref.tokens.map((t) => [t[i]!]) } })).log_probs!;
      }
      console.log(`[webgpu] transformer: 32 cached steps × batch ${B}, log-probs vs the no-cache pass (9 steps) max |Δ| ${vsFull.toExponential(2)}, vs PyTorch (float64) ${vsTorch.toExponential(2)}`);
      expect(vsFull).toBeLessThanOrEqual(1e-5);
      expect(vsTorch).toBeLessThanOrEqual(1e-4);
    } finally {
      s.dispose();
    }
  }, 300_000);
});

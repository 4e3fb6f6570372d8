// Every PyTorch reference fixture (test/fixtures/) run through tfm's CPU interpreter: the model is
// checked, lowered to IR, loaded from the fixture's safetensors, run on its .npy inputs, and every
// output compared with PyTorch's three ways: the graph as built, one kernel per node (the
// interpreter as the reference semantics); the optimized graph, one kernel per node; and the
// optimized graph in fused kernels (tfm run's default). The tolerance is 1e-4 absolute; the actual
// errors are printed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { verify } from "../../src/ir/verify.js";
import { optimize } from "../../src/optimize.js";
import { bindCheckpoint } from "../../src/runtime/bind.js";
import { loadInputs } from "../../src/runtime/inputs.js";
import { readNpy } from "../../src/weights/npy.js";
import { emptyStates } from "../../src/generate/decoder.js";
import type { Tensor } from "../../src/core/tensor.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const TOLERANCE = 1e-4;
const fixtures = ["additive_attention", "bert", "cosine_attention", "decoder_layer", "decoder_layer_norm_first", "encoder_layer", "encoder_layer_norm_first", "gpt2", "gpt2_generate", "llama", "multihead_attention_cross", "multihead_attention_self", "sinusoidal", "transformer"];
let out = "";

beforeAll(() => {
  // No skipping: without Debian's python3 + torch this fails, here and in CI (scripts/test-it.sh installs them).
  out = mkdtempSync(join(tmpdir(), "tfm-conformance-"));
  const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
}, 120_000);
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

describe("CPU interpreter vs PyTorch", () => {
  for (const fx of fixtures) {
    it(fx, () => {
      const dir = join(out, fx);
      const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model: string; settings: Record<string, unknown> };
      const r = check(readFileSync(m.model, "utf8"), m.model, { settings: new Map(Object.entries(m.settings).map(([k, v]) => [k, String(v)])) });
      expect(r.diagnostics).toEqual([]);
      const g = buildGraph(r)!;
      expect(verify(g)).toEqual([]);
      const bound = bindCheckpoint(r.instance!.weights, readFileSync(join(dir, "weights.safetensors")), r.instance!.ignored);
      expect(bound.diagnostics).toEqual([]);
      const inputs = loadInputs(r, readdirSync(join(dir, "inputs")).map((f) => ({ name: f.replace(/\.npy$/, ""), source: { kind: "npyFile" as const, path: join(dir, "inputs", f) } })));
      expect(inputs.diagnostics).toEqual([]);
      // A model with state (GPT-2's KV cache) runs from empty state: one call on its own.
      for (const [k, t] of emptyStates(g, inputs.tensors!)) (inputs.tensors as Map<string, Tensor>).set(k, t);
      // The graph as built, and after the optimizer's pipeline (verified after every pass).
      const opt = optimize(g);
      for (const s of opt.stages) expect(verify(s.graph), `after ${s.pass}`).toEqual([]);
      const res = new CpuProgram(g, bound.tensors!, undefined, { fuse: false }).run(inputs.tensors!);
      const resOpt = new CpuProgram(opt.graph, bound.tensors!, undefined, { fuse: false }).run(inputs.tensors!);
      const fused = new CpuProgram(opt.graph, bound.tensors!);
      const resFused = fused.run(inputs.tensors!);
      const report: string[] = [];
      for (const f of readdirSync(join(dir, "outputs"))) {
        const name = f.replace(/\.npy$/, "");
        const want = readNpy(readFileSync(join(dir, "outputs", f)));
        const errors = [res, resOpt, resFused].map((r) => {
          const got = r.outputs.get(name)!;
          expect(got.shape, name).toEqual(want.shape);
          let max = 0;
          for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(Number(want.data[i]) - got.data[i]!));
          return max;
        });
        report.push(`${name} ${JSON.stringify(want.shape)}: max |Δ| = ${errors[0]!.toExponential(2)}, optimized ${errors[1]!.toExponential(2)}, fused ${errors[2]!.toExponential(2)}`);
        expect(errors[0], `${fx}.${name}`).toBeLessThanOrEqual(TOLERANCE);
        expect(errors[1], `${fx}.${name} (optimized)`).toBeLessThanOrEqual(TOLERANCE);
        expect(errors[2], `${fx}.${name} (fused)`).toBeLessThanOrEqual(TOLERANCE);
      }
      console.log(`[conformance] ${fx} (${g.nodes.length} → ${opt.graph.nodes.length} nodes, ${fused.schedule.kernels.length} kernels): ${report.join("; ")}`);
    });
  }
});

// Every PyTorch reference fixture (test/fixtures/) run on WebGPU (Dawn; SwiftShader without a GPU):
// the optimized graph, op by op (the unfused schedule) and fused (as `tfm run --backend webgpu`
// runs it), compiled to WGSL kernels, loaded from the fixture's safetensors and run on its .npy
// inputs; every output is compared with PyTorch's (tolerance 1e-4 absolute, as the CPU
// conformance test) and with the CPU interpreter's. The actual errors and the dispatch counts
// are printed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { optimize } from "../../src/optimize.js";
import { schedule, unfused } from "../../src/schedule/fuse.js";
import { bindCheckpoint } from "../../src/runtime/bind.js";
import { loadInputs } from "../../src/runtime/inputs.js";
import { readNpy } from "../../src/weights/npy.js";
import { emptyStates } from "../../src/generate/decoder.js";
import type { Tensor } from "../../src/core/tensor.js";
import { diff, openGpu } from "./helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const TOLERANCE = 1e-4;
const fixtures = ["additive_attention", "bert", "cosine_attention", "decoder_layer", "decoder_layer_norm_first", "encoder_layer", "encoder_layer_norm_first", "gpt2", "gpt2_generate", "llama", "multihead_attention_cross", "multihead_attention_self", "sinusoidal", "transformer"];
let out = "";
let gpu: NodeGpu;

beforeAll(async () => {
  gpu = await openGpu();
  // No skipping: without Debian's python3 + torch this fails (scripts/test-it.sh installs them).
  out = mkdtempSync(join(tmpdir(), "tfm-webgpu-conformance-"));
  const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
}, 120_000);
afterAll(() => {
  gpu?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("WebGPU vs PyTorch", () => {
  for (const fx of fixtures) {
    it(fx, async () => {
      const dir = join(out, fx);
      const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model: string; settings: Record<string, unknown> };
      const r = check(readFileSync(m.model, "utf8"), m.model, { settings: new Map(Object.entries(m.settings).map(([k, v]) => [k, String(v)])) });
      expect(r.diagnostics).toEqual([]);
      const g = optimize(buildGraph(r)!).graph;
      const bound = bindCheckpoint(r.instance!.weights, readFileSync(join(dir, "weights.safetensors")), r.instance!.ignored);
      expect(bound.diagnostics).toEqual([]);
      const inputs = loadInputs(r, readdirSync(join(dir, "inputs")).map((f) => ({ name: f.replace(/\.npy$/, ""), source: { kind: "npyFile" as const, path: join(dir, "inputs", f) } })));
      expect(inputs.diagnostics).toEqual([]);
      // A model with state (GPT-2's KV cache) runs from empty state: one call on its own.
      for (const [k, t] of emptyStates(g, inputs.tensors!)) (inputs.tensors as Map<string, Tensor>).set(k, t);
      const cpu = new CpuProgram(g, bound.tensors!).run(inputs.tensors!).outputs;
      const report: string[] = [];
      // Op by op (the unfused schedule), then fused.
      for (const fused of [false, true]) {
        const program = await WebGpuProgram.load(fused ? schedule(g) : unfused(g), bound.tensors!, gpu.device, { loadTime: loadTimeValues });
        expect(program.compiled.fallbacks).toEqual([]);
        const got = await program.run(inputs.tensors!);
        const errors: string[] = [];
        for (const f of readdirSync(join(dir, "outputs"))) {
          const name = f.replace(/\.npy$/, "");
          const want = readNpy(readFileSync(join(dir, "outputs", f)));
          const t = got.get(name)!;
          expect(t.shape, name).toEqual(want.shape);
          let max = 0;
          for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(Number(want.data[i]) - t.data[i]!));
          const vsCpu = diff(t, cpu.get(name)!, TOLERANCE);
          errors.push(`${name} ${JSON.stringify(want.shape)} ${max.toExponential(2)} (vs CPU ${vsCpu.max.toExponential(2)})`);
          expect(max, `${fx}.${name}${fused ? " fused" : ""}`).toBeLessThanOrEqual(TOLERANCE);
          expect(vsCpu.bad, `${fx}.${name} vs the CPU${fused ? " fused" : ""}`).toBeUndefined();
        }
        const plan = program.plan!;
        report.push(`${fused ? "fused" : "unfused"}: ${program.dispatches.lastRun} dispatches, ${plan.sizes.length} buffers (${plan.inPlace.length} in place), max |Δ| vs PyTorch ${errors.join(", ")}`);
        program.destroy();
      }
      console.log(`[webgpu conformance] ${fx}: ${report.join("; ")}`);
    }, 300_000); // SwiftShader compiles every pipeline on the CPU: a minute or more for one model on a busy 2-core machine
  }
});

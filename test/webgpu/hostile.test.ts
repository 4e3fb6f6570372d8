// Hostile names: a model whose names (the model's, its inputs', outputs', layers', symbolic dims',
// and checkpoint names given with `as "..."`) hold quotes, backticks, `${`, `*/`, `</script>`,
// non-ASCII letters, WGSL keywords (struct, loop, fn, let, var) and the very identifiers the
// generated kernels use (in0, out0, sz, main). The WGSL must never contain user text — it is
// ASCII, without comments, made of generated identifiers only — and the model must compile and
// run on WebGPU as it runs on the CPU, fused and op by op.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { fromValues, type Tensor } from "../../src/core/tensor.js";
import { compile } from "../../src/backends/webgpu/compile.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { optimize } from "../../src/optimize.js";
import { randomWeights } from "../../src/runtime/init.js";
import { schedule, unfused } from "../../src/schedule/fuse.js";
import { diff, openGpu } from "./helpers.js";

// (⟨bt⟩ and ⟨dl⟩ stand for a backtick and a dollar sign, which this template literal cannot hold as such.)
const source = String.raw`# Names that would break generated WGSL if pasted into it.
block Dense(d_in: int, d_out: int) {
  input x: f32[*batch, d_in]
  param w: f32[d_in, d_out] as "w\"⟨bt⟩⟨dl⟩{x}*/</script>//struct"
  param b: f32[d_out] as "b\\'/*é_fn_main(){}"
  output y = x @ w + b
}

model Modèle_struct_名前(d = 8) {
  input in0: f32[sz, séq, d]
  input données_loop: i32[sz, séq]
  layer norm = LayerNorm(d)
  layer main = Dense(d, d) as "fn.let.var"
  layer attn = MultiheadAttention(d, 2)
  h = main(norm(in0))
  output out0 = attn(h, h, h, padding_mask(données_loop)) + in0
  output 出力_workgroupBarrier = softmax(h * 2.0)
}
`.replaceAll("⟨bt⟩", "`").replaceAll("⟨dl⟩", "$");

/** User text that must never reach WGSL (every non-ASCII letter is caught by the ASCII check). */
const forbidden = ["Modèle", "struct_", "données", "séq", "出力", "`", "${", "*/", "/*", "//", '"', "'", "\\", "</script>", "fn.let", "é"];

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.close());

describe("hostile names", () => {
  const r = check(source, 'h"`${x}*/é.tfm');
  const g = optimize(buildGraph(r)!).graph;

  it("the program checks, and its checkpoint names are the hostile strings", () => {
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const names = r.instance!.weights.map((w) => w.name);
    expect(names).toContain('fn.let.var.w"`${x}*/</script>//struct');
    expect(names).toContain("fn.let.var.b\\'/*é_fn_main(){}");
  });

  it("no user text reaches the WGSL", () => {
    for (const s of [unfused(g), schedule(g)]) {
      for (const k of compile(s).kernels) {
        expect(k.wgsl, `kernel k${k.kernel}`).toMatch(/^[\x20-\x7e\n]*$/);
        for (const f of forbidden) expect(k.wgsl.includes(f), `kernel k${k.kernel} contains ${JSON.stringify(f)}`).toBe(false);
      }
    }
  });

  it("runs on WebGPU as on the CPU, fused and op by op", async () => {
    const weights = randomWeights(r.instance!.weights, 5);
    const [B, T, D] = [2, 5, 8];
    const inputs = new Map<string, Tensor>([
      ["in0", fromValues("f32", [B, T, D], Array.from({ length: B * T * D }, (_, i) => Math.sin(i) * 2))],
      ["données_loop", fromValues("i32", [B, T], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1])],
    ]);
    const want = new CpuProgram(g, weights).run(inputs).outputs;
    for (const s of [unfused(g), schedule(g)]) {
      const p = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues });
      const got = await p.run(inputs);
      expect([...got.keys()].sort()).toEqual(["out0", "出力_workgroupBarrier"]);
      for (const [name, t] of want) expect(diff(got.get(name)!, t, 1e-5, 1e-5).bad, name).toBeUndefined();
      p.destroy();
    }
  });
});

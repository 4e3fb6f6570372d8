// The fused schedule's kernels on WebGPU (elementwise, rows, matmul with a LayerNorm prologue and
// an epilogue, attention) against the CPU interpreter, on programs chosen for their edges: more
// keys than one tile of the attention kernel and a query count that is not a multiple of its 16
// rows, head dims too long to stage (80), several output columns per lane, fully masked rows,
// -inf masks in rows kernels, outputs of both row shapes. No kernel may fall back to op kernels.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { fromValues, type Tensor } from "../../src/core/tensor.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { optimize } from "../../src/optimize.js";
import { randomWeights } from "../../src/runtime/init.js";
import { schedule } from "../../src/schedule/fuse.js";
import { diff, openGpu, rng } from "./helpers.js";

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.close());

const attention = `
model Attn(d = 160, heads = 2) {
  input x: f32[batch, seq, d]
  input attention_mask: i32[batch, seq]
  layer attn = MultiheadAttention(d, heads)
  layer norm = LayerNorm(d)
  output y = norm(x + attn(x, x, x, causal_mask(seq) && padding_mask(attention_mask)))
}
`;

const mixed = `
model Mixed(d = 24) {
  input x: f32[batch, seq, d]
  input m: bool[batch, seq, d]
  layer norm = LayerNorm(d)
  layer fc = Linear(d, 40)
  layer proj = Linear(40, d)
  h = x + proj(gelu(fc(norm(x))))
  output p = masked_softmax(h, m)
  output l = log_softmax(h * 2.0)
  output s = sum(h, -1, keepdim=true)
  output e = tanh(x) * sigmoid(x * 3.0) + where(m, 1.0, -1.0)
}
`;

function values(kind: "normal" | "mask" | "ids", n: number, seed: number, rowLen = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    if (kind === "normal") return (r() * 2 - 1) * 2;
    // masks: the first row of each batch element fully masked, others random
    const row = Math.floor(i / rowLen);
    return row === 0 ? 0 : r() < 0.7 ? 1 : 0;
  });
}

async function compare(src: string, inputs: Record<string, Tensor>, kinds: string[]): Promise<void> {
  const r = check(src, "test.tfm");
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const g = optimize(buildGraph(r)!).graph;
  const weights = randomWeights(r.instance!.weights, 7);
  const s = schedule(g);
  for (const k of kinds) {
    const has = k === "prologue" ? s.kernels.some((x) => x.kind === "matmul" && x.prologue?.length) : s.kernels.some((x) => x.kind === k);
    expect(has, `a ${k} kernel`).toBe(true);
  }
  const ins = new Map(Object.entries(inputs));
  const want = new CpuProgram(g, weights).run(ins).outputs;
  // Out of the memory plan's buffers (in place where it says), and with a buffer per value.
  for (const reuse of [true, false]) {
    const p = await WebGpuProgram.load(s, weights, gpu.device, { loadTime: loadTimeValues, reuse });
    expect(p.compiled.fallbacks).toEqual([]);
    const got = await p.run(ins);
    const report: string[] = [];
    for (const [name, t] of want) {
      const d = diff(got.get(name)!, t, 2e-5, 2e-5);
      report.push(`${name} ${d.max.toExponential(1)}`);
      expect(d.bad, name).toBeUndefined();
    }
    const planned = p.plan ? `; ${p.plan.sizes.length} buffers, ${p.plan.inPlace.length} in place` : "; a buffer per value";
    console.log(`[webgpu fused] ${g.name}: ${s.kernels.map((k) => k.kind).join(" ")}${planned}; max |Δ| ${report.join(", ")}`);
    p.destroy();
  }
}

describe("fused kernels on WebGPU against the CPU interpreter", () => {
  it("a softmax over rows of no element is the CPU's TFM6001 (an empty max)", async () => {
    const r = check("model M {\n  input x: f32[b, s]\n  output y = softmax(x * 2.0)\n}\n", "test.tfm");
    const g = optimize(buildGraph(r)!).graph;
    const s = schedule(g);
    expect(s.kernels.map((k) => k.kind)).toContain("rows");
    const p = await WebGpuProgram.load(s, new Map(), gpu.device, { loadTime: loadTimeValues });
    const e = await p.run(new Map([["x", fromValues("f32", [3, 0], [])]])).then(() => undefined, (x: unknown) => x);
    expect((e as { code?: string }).code).toBe("TFM6001");
    expect((e as Error).message).toMatch(/^max: cannot reduce an empty axis: axis 1 of shape \[3, 0\] has size 0/);
    // No row at all is no error: an empty result.
    expect((await p.run(new Map([["x", fromValues("f32", [0, 5], [])]]))).get("y")!.shape).toEqual([0, 5]);
    p.destroy();
  });

  it("attention over 70 keys, head dim 80, causal and padding masks, a fully masked sequence", async () => {
    const [B, T, D] = [2, 70, 160];
    const mask = [...new Array(T).fill(0), ...values("mask", T, 3).map((v, i) => (i < 50 ? 1 : v))];
    await compare(attention, { x: fromValues("f32", [B, T, D], values("normal", B * T * D, 1)), attention_mask: fromValues("i32", [B, T], mask) }, ["attention", "matmul", "rows"]);
  });

  it("LayerNorm prologue, GELU and residual epilogues, masked softmax and log-softmax rows, elementwise", async () => {
    const [B, T, D] = [3, 5, 24];
    await compare(mixed, { x: fromValues("f32", [B, T, D], values("normal", B * T * D, 2)), m: fromValues("bool", [B, T, D], values("mask", B * T * D, 4, D)) }, ["matmul", "prologue", "rows", "elementwise"]);
  });

  it("on a device with 3 storage buffers per stage, fused kernels that bind more run as op kernels", async () => {
    const r = check(mixed, "test.tfm");
    const g = optimize(buildGraph(r)!).graph;
    const weights = randomWeights(r.instance!.weights, 7);
    const [B, T, D] = [2, 3, 24];
    const ins = new Map(Object.entries({ x: fromValues("f32", [B, T, D], values("normal", B * T * D, 5)), m: fromValues("bool", [B, T, D], values("mask", B * T * D, 6, D)) }));
    const p = await WebGpuProgram.load(schedule(g), weights, gpu.device, { loadTime: loadTimeValues, limits: { maxStorageBuffersPerShaderStage: 3 } });
    expect(p.compiled.fallbacks.length).toBeGreaterThan(0);
    expect(p.plan).toBeUndefined();
    expect(Math.max(...p.compiled.kernels.map((k) => k.binds.length))).toBeLessThanOrEqual(3);
    const got = await p.run(ins);
    for (const [name, t] of new CpuProgram(g, weights).run(ins).outputs) expect(diff(got.get(name)!, t, 2e-5, 2e-5).bad, name).toBeUndefined();
    p.destroy();
  });
});

// Memory planning (src/schedule/memory.ts and its helpers): symbolic size maxima, liveness, buffer
// reuse and in-place writes, checkPlan catching bad plans, plans that run (every kernel writing
// into its planned buffer gives the interpreter's bits), every model's plans, and GPT-2's figures.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { CpuProgram } from "../../../src/backends/cpu/interpret.js";
import { type Tensor } from "../../../src/core/tensor.js";
import { addDim, constDim, divDim, mulDim, provablyNonNegative, subDim, symDim, type Dim } from "../../../src/core/dim.js";
import type { DType } from "../../../src/check/shapes/value.js";
import { GraphBuilder, type Attrs, type Graph } from "../../../src/ir/graph.js";
import type { Op } from "../../../src/ir/ops.js";
import { verify } from "../../../src/ir/verify.js";
import { optimize } from "../../../src/optimize.js";
import { dimBindings } from "../../../src/cli/dims.js";
import { randomWeights } from "../../../src/runtime/init.js";
import { checkPlan } from "../../../src/schedule/check-plan.js";
import { evalMax, maxima, provablyGeq, showMax } from "../../../src/schedule/dim-max.js";
import { consumers, kernel, schedule, unfused } from "../../../src/schedule/fuse.js";
import type { Schedule } from "../../../src/schedule/kernel.js";
import { liveness, runtimeBytes, ScheduleError } from "../../../src/schedule/liveness.js";
import { formatMemory, memoryReport, memoryReportText } from "../../../src/schedule/memory-report.js";
import { bufferBytes, planMemory, type MemoryPlan } from "../../../src/schedule/memory.js";
import { randomTensor } from "../backends/cpu/helpers.js";

const [b, t] = [symDim("b"), symDim("t")];
const c = constDim;
const mul = (...ds: Dim[]) => ds.reduce(mulDim, c(1));

/** A graph built node by node: `x: f32[b, t, 4]` and whatever the test adds. */
class G {
  readonly g = new GraphBuilder("T");
  readonly x: number;
  constructor(shape: Dim[] = [b, t, c(4)]) {
    this.x = this.input("x", "f32", shape);
  }
  input(name: string, dtype: DType, shape: Dim[]): number {
    const id = this.g.add("input", [], { name }, dtype, shape);
    this.g.inputs.push({ name, node: id });
    return id;
  }
  add(op: Op, inputs: number[], shape: Dim[] = [b, t, c(4)], dtype: DType = "f32", attrs: Attrs = {}): number {
    return this.g.add(op, inputs, attrs, dtype, shape);
  }
  finish(...outs: number[]): Graph {
    outs.forEach((node, i) => this.g.outputs.push({ name: `y${i}`, node }));
    const graph = this.g.finish();
    expect(verify(graph)).toEqual([]);
    return graph;
  }
}

const at = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe("symbolic size maxima", () => {
  it("proves a ≥ b where signs are mixed, and nothing where it depends on the dims", () => {
    const logits = mul(c(201028), b, t);
    const hidden = addDim(mul(c(3072), b, t), mul(c(3076), t));
    expect(provablyNonNegative(subDim(logits, hidden))).toBe(true); // 197952·b·t + 3076·(b − 1)·t
    expect(provablyNonNegative(subDim(hidden, logits))).toBe(false);
    const scores = mul(c(48), b, t, t);
    expect([provablyGeq(scores, mul(c(12288), b, t)), provablyGeq(mul(c(12288), b, t), scores)]).toEqual([false, false]);
    expect(provablyGeq(subDim(mul(t, t), t), c(0))).toBe(true); // t² − t ≥ 0 for t ≥ 1
    expect(provablyGeq(subDim(t, c(2)), c(0))).toBe(false); // t − 2 < 0 at t = 1
    const quarter = divDim(b, c(4)).q; // an exact positive quotient is ≥ 1
    expect([provablyGeq(mul(c(72), quarter, t), c(4)), provablyGeq(mul(c(72), quarter, t), mul(c(4), b, t))]).toEqual([true, true]);
  });

  it("keeps the maxima as an antichain and evaluates their max", () => {
    const scores = mul(c(48), b, t, t);
    const proj = mul(c(12288), b, t);
    expect(maxima([proj, mul(c(4), b, t)])).toEqual([proj]);
    const m = maxima([mul(c(4), b, t), scores, proj, mul(c(2), scores)]);
    expect(m.length).toBe(2);
    expect(showMax(m)).toBe("max(96 * b * t * t, 12288 * b * t)"); // the larger for large dims first
    expect(evalMax(m, at({ b: 1, t: 128 }))).toBe(12288 * 128);
    expect(evalMax(m, at({ b: 1, t: 1024 }))).toBe(96 * 1024 * 1024);
    expect(evalMax(m, at({ b: 1 }))).toBe(undefined);
  });
});

describe("liveness", () => {
  it("gives each kernel output the step that writes it and the last that reads it; aliases read their owner", () => {
    const h = new G();
    const e = h.add("exp", [h.x]);
    const r = h.add("reshape", [e], [b, mul(t, c(4))]);
    const n = h.add("neg", [r], [b, mul(t, c(4))]);
    const s = h.add("add", [e, h.x]);
    const lv = liveness(unfused(h.finish(n, s)), runtimeBytes);
    expect(lv.values.map((v) => [v.node, v.def, v.last, v.output])).toEqual([
      [e, 0, 2, false],
      [n, 1, 3, true],
      [s, 2, 3, true],
    ]);
    expect(lv.owner(r)).toBe(e);
    expect(lv.valueOf(r)?.node).toBe(e);
    expect(lv.valueOf(h.x)).toBe(undefined); // the caller's
  });

  it("rejects a schedule that reads a value before any kernel writes it", () => {
    const h = new G();
    const e = h.add("exp", [h.x]);
    const n = h.add("neg", [e]);
    const g = h.finish(n);
    const readers = consumers(g);
    const bad: Schedule = { graph: g, atLoad: new Set(), aliases: new Map(), kernels: [kernel(0, "op", [n], g, readers, { anchor: n }), kernel(1, "op", [e], g, readers, { anchor: e })] };
    expect(() => liveness(bad, runtimeBytes)).toThrow(ScheduleError);
    expect(() => liveness(bad, runtimeBytes)).toThrow(/reads %1, which no earlier kernel writes/);
  });
});

describe("planMemory", () => {
  it("writes a chain of elementwise ops in place, in one buffer (never over the caller's input)", () => {
    const h = new G();
    let v = h.x;
    for (const op of ["exp", "neg", "tanh", "abs"] as const) v = h.add(op, [v]);
    const p = planMemory(unfused(h.finish(v)));
    expect(p.sizes).toEqual([[mul(c(16), b, t)]]);
    expect(p.inPlace.length).toBe(3);
    expect(p.bufferOf(h.x)).toBe(undefined);
    expect(p.peak).toEqual([mul(c(16), b, t)]);
    expect(p.outputBuffers).toEqual(new Set([0]));
    expect(checkPlan(p)).toEqual([]);
  });

  it("reuses a buffer once its last reader has run, never while it is read", () => {
    const h = new G();
    const p1 = h.add("permute", [h.x], [t, b, c(4)], "f32", { perm: [1, 0, 2] });
    const p2 = h.add("permute", [p1], [b, t, c(4)], "f32", { perm: [1, 0, 2] });
    const p3 = h.add("permute", [p2], [t, b, c(4)], "f32", { perm: [1, 0, 2] });
    const p = planMemory(unfused(h.finish(p3)));
    expect([p1, p2, p3].map((id) => p.bufferOf(id))).toEqual([0, 1, 0]);
    expect(p.inPlace).toEqual([]); // a permute reads other indices than it writes
    expect(checkPlan(p)).toEqual([]);
  });

  it("writes in place only over an input of the output's shape and element size that dies there", () => {
    const h = new G();
    const bias = h.input("bias", "f32", [c(4)]);
    const e = h.add("exp", [h.x]);
    const s = h.add("add", [bias, e]); // over e, not over the broadcast bias (the caller's anyway)
    const lt = h.add("lt", [s, h.x], [b, t, c(4)], "bool"); // bool is 1 byte: not over s
    const keep = h.add("neg", [s]); // s is a graph output: never overwritten
    const g = h.finish(s, lt, keep);
    const p = planMemory(unfused(g));
    expect(p.inPlace).toEqual([{ step: 1, input: e, output: s }]);
    expect(new Set([s, lt, keep].map((id) => p.bufferOf(id))).size).toBe(3);
    expect(checkPlan(p)).toEqual([]);
    expect(planMemory(unfused(g), { inPlace: [] }).inPlace).toEqual([]);
  });

  it("never writes over a matmul's operands, nor in an attention kernel", () => {
    const h = new G([b, t, c(8)]);
    const w = h.g.weight("w", false, "f32", [c(8), c(8)]);
    const e = h.add("exp", [h.x], [b, t, c(8)]);
    const m = h.add("matmul", [e, w], [b, t, c(8)]);
    const r = h.add("add", [m, h.x], [b, t, c(8)]);
    const g = h.finish(r);
    const u = planMemory(unfused(g));
    expect(u.inPlace).toEqual([{ step: 2, input: m, output: r }]); // the add, over the product
    const f = schedule(g);
    expect(f.kernels.map((k) => k.kind)).toEqual(["op", "matmul"]);
    expect(planMemory(f).inPlace).toEqual([]); // e is the matmul's operand
    expect(checkPlan(planMemory(f))).toEqual([]);
  });

  it("lets a residual epilogue overwrite the residual stream (GPT-2's blocks)", () => {
    const g = gpt2({ n_layer: "2", n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "16" });
    const s = schedule(g);
    const p = planMemory(s);
    const residual = p.inPlace.filter((ip) => s.kernels[ip.step]!.kind === "matmul");
    expect(residual.length).toBe(4); // attention and MLP projections, 2 blocks
    for (const ip of residual) expect(s.kernels[ip.step]!.epilogue).toContain(ip.output);
    // The residual stream's buffers, and the attention mask's (its state's next value, then its
    // cumsum: the causal && padding mask and the position ids are recomputed by their readers).
    expect(p.sizes.length).toBe(3);
    expect(checkPlan(p)).toEqual([]);
  });

  it("sizes a buffer by the max of what it holds, incomparable sizes kept apart, evaluated per call", () => {
    const h = new G([b, t, c(64)]);
    const scores = h.add("matmul", [h.x, h.x], [b, t, t], "f32", { transB: true });
    const o = h.add("matmul", [scores, h.x], [b, t, c(64)]);
    const y = h.add("permute", [o], [b, c(64), t], "f32", { perm: [0, 2, 1] }); // only the scores' buffer is free
    const p = planMemory(unfused(h.finish(y)));
    expect(p.bufferOf(y)).toBe(p.bufferOf(scores));
    expect(checkPlan(p)).toEqual([]);
    const mixed = p.sizes.find((ds) => ds.length === 2);
    expect(mixed && showMax(mixed)).toBe("max(4 * b * t * t, 256 * b * t)");
    const bi = p.sizes.indexOf(mixed!);
    expect(bufferBytes(p, at({ b: 2, t: 8 }))[bi]).toBe(256 * 2 * 8);
    expect(bufferBytes(p, at({ b: 2, t: 100 }))[bi]).toBe(4 * 2 * 100 * 100);
    expect(() => bufferBytes(p, at({ b: 2 }))).toThrow(/not bound/);
  });
});

describe("checkPlan", () => {
  const plan = () => {
    const h = new G();
    const e = h.add("exp", [h.x]);
    const p1 = h.add("permute", [e], [t, b, c(4)], "f32", { perm: [1, 0, 2] });
    const n = h.add("neg", [p1], [t, b, c(4)]);
    return { p: planMemory(unfused(h.finish(n))), e, p1, n };
  };

  it("accepts the planner's plan and finds values live at once in one buffer", () => {
    const { p, e, p1 } = plan();
    expect(checkPlan(p)).toEqual([]);
    const buffers = new Map(p.buffers).set(p1, p.buffers.get(e)!);
    const bad: MemoryPlan = { ...p, buffers };
    expect(checkPlan(bad).join("\n")).toMatch(/buffer 0: %1 \(live at steps 0\.\.1\) and %2 \(1\.\.2\) overlap/);
  });

  it("finds a buffer too small, a value with no buffer and an in-place pair the kernel may not make", () => {
    const { p, e, p1, n } = plan();
    expect(checkPlan({ ...p, sizes: p.sizes.map(() => [mul(c(4), b, t)]) }).join("\n")).toMatch(/needs 16 \* b \* t bytes, but buffer \d has 4 \* b \* t/);
    const missing = new Map(p.buffers);
    missing.delete(n);
    expect(checkPlan({ ...p, buffers: missing }).join("\n")).toMatch(/%3 \(written at step 2\) has no buffer/);
    // The permute may not write over e (it reads other indices), even when listed as in place.
    const buffers = new Map(p.buffers).set(p1, p.buffers.get(e)!);
    expect(checkPlan({ ...p, buffers, inPlace: [{ step: 1, input: e, output: p1 }] }).length).toBeGreaterThan(0);
  });
});

// The forward pass's figures: GPT-2 without its KV cache (test/unit/generate/ covers the cache).
const gpt2 = (settings: Record<string, string> = {}) => graphOf("models/gpt2.tfm", { use_cache: "false", ...settings });

function graphOf(file: string, settings: Record<string, string> = {}): Graph {
  const r = check(readFileSync(file, "utf8"), file, { settings: new Map(Object.entries(settings)) });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return optimize(buildGraph(r)!).graph;
}

describe("plans that run", () => {
  it("GPT-2 (2 small blocks), fused and unfused, run from their planned buffers gives the bits of a run with a buffer per value", () => {
    const r = check(readFileSync("models/gpt2.tfm", "utf8"), "gpt2.tfm", { settings: new Map(Object.entries({ n_layer: "2", n_embd: "16", n_head: "2", vocab_size: "23", n_positions: "40", use_cache: "false" })) });
    const g = optimize(buildGraph(r)!).graph;
    const weights = randomWeights(r.instance!.weights, 7);
    for (const [batch, seq] of [[1, 5], [2, 33]] as const) {
      const ids = randomTensor("i32", [batch, seq], 3, { range: 22 });
      ids.data.forEach((v, i) => (ids.data[i] = Math.abs(v) % 23));
      // Left padding in the second batch row: the attention mask and HF's position ids run too.
      const mask: Tensor = { dtype: "i32", shape: [batch, seq], data: Int32Array.from({ length: batch * seq }, (_, i) => (i >= seq && i % seq < 3 ? 0 : 1)) };
      const inputs = new Map<string, Tensor>([["input_ids", ids], ["attention_mask", mask]]);
      for (const fuse of [false, true]) {
        const planned = new CpuProgram(g, weights, undefined, { fuse });
        expect(checkPlan(planned.plan)).toEqual([]);
        const got = planned.run(inputs).outputs.get("logits")!;
        const want = new CpuProgram(g, weights, undefined, { fuse, reuse: false }).run(inputs).outputs.get("logits")!;
        expect(got.shape).toEqual(want.shape);
        expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
      }
    }
  });
});

describe("the models", () => {
  for (const m of ["gpt2", "bert", "transformer", "additive_attention", "cosine_attention", "llama"]) {
    it(`${m}: the unfused and fused plans check, and save memory`, () => {
      const g = graphOf(`models/${m}.tfm`);
      for (const s of [unfused(g), schedule(g)]) {
        const p = planMemory(s);
        expect(checkPlan(p)).toEqual([]);
        const r = memoryReport(p, dimBindings(g));
        expect(r.peak.bytes).toBeDefined();
        expect(r.peak.bytes!).toBeLessThanOrEqual(r.arena.bytes!);
        expect(r.peak.bytes!).toBeLessThanOrEqual(r.allValues.bytes!);
        expect(r.allValues.bytes!).toBeLessThanOrEqual(r.allNodes.bytes!);
      }
    });
  }
});

describe("GPT-2 (124M)", () => {
  const g = gpt2();
  const seq128 = at({ batch: 1, seq: 128 });
  const seq1024 = at({ batch: 1, seq: 1024 });
  const plans = { unfused: planMemory(unfused(g), { hint: seq128 }), fused: planMemory(schedule(g), { hint: seq128 }) };

  it("plans a peak of at most 25% of all intermediates at batch 1, seq 128", () => {
    for (const [name, p] of Object.entries(plans)) {
      expect(checkPlan(p)).toEqual([]);
      const r = memoryReport(p, seq128);
      console.log(`[memory] gpt2 ${name}, batch=1 seq=128: ${r.kernels} kernels, ${r.buffers} buffers, ${r.inPlace} in place; peak ${r.peak.bytes} bytes (${r.peak.formula}); peak of intermediates ${r.peakIntermediates.bytes}; arena ${r.arena.bytes}; all values ${r.allValues.bytes}; all nodes ${r.allNodes.bytes}; peak/all values ${((100 * r.peak.bytes!) / r.allValues.bytes!).toFixed(1)}%, peak/all nodes ${((100 * r.peak.bytes!) / r.allNodes.bytes!).toFixed(1)}%; outputs ${r.outputs.bytes}; weights ${r.weights}`);
      expect(r.peak.bytes! / r.allNodes.bytes!).toBeLessThanOrEqual(0.25);
      // The logits (50257 per token) are most of the peak; they are an output, not an intermediate.
      expect(r.outputs.bytes).toBe(4 * 128 * 50257);
    }
    const u = memoryReport(plans.unfused, seq128);
    expect(u.peak.bytes! / u.allValues.bytes!).toBeLessThanOrEqual(0.25);
    // Fused, the intermediates are few (65 values) and the logits most of them: compare without outputs.
    const f = memoryReport(plans.fused, seq128);
    const ratio = f.peakIntermediates.bytes! / (f.allValues.bytes! - f.outputs.bytes!);
    console.log(`[memory] gpt2 fused, batch=1 seq=128: peak of intermediates / all intermediate values ${(100 * ratio).toFixed(1)}%`);
    expect(ratio).toBeLessThanOrEqual(0.25);
  });

  it("never materialises the attention scores when fused: at seq 1024 the only seq² values are the masks", () => {
    const scores = 1 * 12 * 1024 * 1024 * 4;
    const f = memoryReport(plans.fused, seq1024);
    const u = memoryReport(plans.unfused, seq1024);
    console.log(`[memory] gpt2 at batch=1 seq=1024: one score matrix ${scores} bytes; fused peak ${f.peak.bytes} (${f.peak.formula}), of intermediates ${f.peakIntermediates.bytes}; unfused peak ${u.peak.bytes}, of intermediates ${u.peakIntermediates.bytes}`);
    // The seq² terms are the attention mask's (bool [batch, 1, seq, seq], shared by every block), the
    // causal mask's and the i32 count HF's position ids take (cumsum) — 6 bytes per score, never 48.
    const perScore = [...f.peak.formula!.matchAll(/(?:(\d+) \* )?batch \* seq \* seq/g)].map((m) => Number(m[1] ?? 1));
    expect(Math.max(...perScore)).toBeLessThanOrEqual(5);
    expect(f.peakIntermediates.bytes!).toBeLessThan(scores / 2);
    expect(u.peakIntermediates.bytes!).toBeGreaterThan(scores);
  });

  it("reports formulas and bytes", () => {
    const text = formatMemory(plans.fused, seq128);
    expect(text).toMatch(/^memory plan at batch=1, seq=128: 63 kernels write \d+ values into \d+ buffers, \d+ of them in place\n/);
    expect(text).toContain("  graph outputs       25,731,584 bytes (24.5 MiB)");
    expect(text).toContain("= 201028 * batch * seq\n");
    expect(text).toMatch(/ {2}weights {13}497,759,232 bytes \(474\.7 MiB\), and \d+ bytes computed from them at load\n$/);
    expect(memoryReportText(schedule(g), seq128)).toBe(text);
  });
});

// The interpreter (CpuProgram) on small graphs: matmul's transB attribute, with a weight laid out
// at load time and with an activation; a weight read as [k, n] packed as it is by kernels with
// prepareB (no transposed copy made: plainKernels still make one), the same bits either way; and buffer reuse that never touches the caller's inputs.
import { describe, expect, it } from "vitest";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { plainKernels, wasmKernels, type Kernels } from "../../../../src/backends/cpu/kernels/index.js";
import { gemmUsesFma } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { fromValues, type Tensor } from "../../../../src/core/tensor.js";
import { constDim } from "../../../../src/core/dim.js";
import { GraphBuilder } from "../../../../src/ir/graph.js";
import { graphOf } from "../../passes/helpers.js";

const dims = (...ns: number[]) => ns.map(constDim);

describe("CpuProgram", () => {
  it("runs matmul {transB} against a weight as stored and against an activation", () => {
    const b = new GraphBuilder("T");
    const x = b.add("input", [], { name: "x" }, "f32", dims(2, 3));
    b.inputs.push({ name: "x", node: x });
    const w = b.add("weight", [], { name: "w" }, "f32", dims(4, 3)); // [n, k]
    b.outputs.push({ name: "xw", node: b.add("matmul", [x, w], { transB: true }, "f32", dims(2, 4)) });
    b.outputs.push({ name: "xx", node: b.add("matmul", [x, x], { transB: true }, "f32", dims(2, 2)) });
    const W = [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1];
    const res = new CpuProgram(b.finish(), new Map([["w", fromValues("f32", [4, 3], W)]])).run(new Map([["x", fromValues("f32", [2, 3], [1, 2, 3, 4, 5, 6])]]));
    expect([...res.outputs.get("xw")!.data]).toEqual([1, 2, 3, 6, 4, 5, 6, 15]);
    expect([...res.outputs.get("xx")!.data]).toEqual([14, 32, 32, 77]);
  });

  it("packs a weight read as [k, n] for kernels with prepareB without transposing it; others get the transposed copy; the bits of the transposed product", () => {
    const [m, k, n] = [6, 37, 21];
    const b = new GraphBuilder("NN");
    const x = b.add("input", [], { name: "x" }, "f32", dims(m, k));
    b.inputs.push({ name: "x", node: x });
    const w = b.add("weight", [], { name: "w" }, "f32", dims(k, n)); // [k, n]
    b.outputs.push({ name: "xw", node: b.add("matmul", [x, w], {}, "f32", dims(m, n)) });
    const g = b.finish();
    const W = Float32Array.from({ length: k * n }, (_, i) => Math.fround(Math.sin(i * 1.7) * 2));
    const X = Float32Array.from({ length: m * k }, (_, i) => Math.fround(Math.cos(i * 0.3)));
    // Each C[i, j] one f32 sum in ascending p: the wasm kernels' bits (without relaxed-SIMD FMA).
    const want = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc = Math.fround(acc + Math.fround(X[i * k + p]! * W[p * n + j]!));
        want[i * n + j] = acc;
      }
    }
    const run = (base: Kernels) => {
      const transposed: number[][] = [];
      const kernels: Kernels = { ...base, permute: (t, perm, out) => (transposed.push([...t.shape]), base.permute(t, perm, out)) };
      const p = new CpuProgram(g, new Map([["w", fromValues("f32", [k, n], W)]]), kernels);
      return { transposed, got: p.run(new Map([["x", fromValues("f32", [m, k], X)]])).outputs.get("xw")!.data };
    };
    const wasm = run(wasmKernels);
    expect(wasm.transposed).toEqual([]);
    if (!gemmUsesFma()) expect(wasm.got).toEqual(want);
    const plain = run(plainKernels);
    expect(plain.transposed).toEqual([[k, n]]);
    // The plain kernels accumulate in double: their bits are those of their product on the transposed weight.
    const Wt = new Float32Array(n * k);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) Wt[j * k + p] = W[p * n + j]!;
    expect(plain.got).toEqual(plainKernels.matmulTransB(fromValues("f32", [m, k], X), fromValues("f32", [n, k], Wt)).data);
  });

  it("never recycles an input's buffer, not even through a reshape of it", () => {
    const g = graphOf("model M {\n  input x: f32[n]\n  a = exp(unsqueeze(x, 0))\n  output a\n  output b = x + 1.0\n  output c = x * 2.0\n}\n");
    const x = fromValues("f32", [3], [1, 2, 3]);
    const res = new CpuProgram(g, new Map()).run(new Map([["x", x]]));
    expect([...res.outputs.get("b")!.data]).toEqual([2, 3, 4]);
    expect([...res.outputs.get("c")!.data]).toEqual([2, 4, 6]);
    expect([...x.data]).toEqual([1, 2, 3]);
  });

  it("a fused kernel writing an output over an input that a later node of the row still reads gives the bits of node by node", () => {
    // Found by test/property/memory.test.ts: %10 = b·a is written in place of a's buffer while
    // %9 = b + a, inlined into %11 after it, still reads a. (a is a cumsum, an op kernel of its
    // own: an elementwise a would now join b's chain, fuse.ts, and no buffer would be overwritten.)
    const b = new GraphBuilder("R");
    const x = b.add("input", [], { name: "x" }, "f32", dims(1, 5, 5));
    const y = b.add("input", [], { name: "y" }, "f32", dims(5, 5));
    const m = b.add("input", [], { name: "m" }, "bool", dims(1, 5, 5));
    for (const [name, node] of [["x", x], ["y", y], ["m", m]] as const) b.inputs.push({ name, node });
    const one = b.add("expand", [b.add("const", [], { value: 1 }, "f32", [])], {}, "f32", dims(5, 5));
    const a = b.add("cumsum", [b.add("where", [m, y, one], {}, "f32", dims(1, 5, 5))], { axis: 2 }, "f32", dims(1, 5, 5));
    const bb = b.add("where", [m, x, b.add("const", [], { value: -1 }, "f32", [])], {}, "f32", dims(1, 5, 5));
    const sum = b.add("add", [bb, a], {}, "f32", dims(1, 5, 5));
    const prod = b.add("mul", [bb, a], {}, "f32", dims(1, 5, 5));
    const lt = b.add("lt", [prod, sum], {}, "bool", dims(1, 5, 5));
    b.outputs.push({ name: "out0", node: b.add("and", [lt, b.add("const", [], { value: true }, "bool", [])], {}, "bool", dims(1, 5, 5)) });
    b.outputs.push({ name: "out1", node: prod });
    const g = b.finish();
    const inputs = new Map<string, Tensor>([
      ["x", fromValues("f32", [1, 5, 5], Array.from({ length: 25 }, (_, i) => (i % 7) - 3))],
      ["y", fromValues("f32", [5, 5], Array.from({ length: 25 }, (_, i) => (i % 5) - 1.5))],
      ["m", fromValues("bool", [1, 5, 5], Array.from({ length: 25 }, (_, i) => (i % 3 ? 1 : 0)))],
    ]);
    const fused = new CpuProgram(g, new Map());
    expect(fused.plan.inPlace.length).toBeGreaterThan(0);
    const got = fused.run(inputs).outputs, want = new CpuProgram(g, new Map(), undefined, { fuse: false, reuse: false }).run(inputs).outputs;
    for (const name of ["out0", "out1"]) expect([...got.get(name)!.data], name).toEqual([...want.get(name)!.data]);
  });

  it("reuses a call's internal buffers in the next call, never those its outputs are views of", () => {
    // Intermediates (exp, the sum) live in planned buffers a second call takes back; the outputs
    // handed to the caller must keep their values, and each call must equal a fresh program's.
    const src = "model M {\n  input x: f32[n, 4]\n  e = exp(x * 0.5)\n  s = sum(e, -1, keepdim=true)\n  output p = e / s\n  output q = tanh(x) + 1.0\n}\n";
    const g = graphOf(src);
    const p = new CpuProgram(g, new Map());
    const inputs = (v: number) => new Map([["x", fromValues("f32", [3, 4], Array.from({ length: 12 }, (_, i) => (i - 5) * v))]]);
    const first = p.run(inputs(0.3)).outputs;
    const kept = new Map([...first].map(([k, t]) => [k, [...t.data]]));
    for (const v of [0.7, -0.2, 0.3]) {
      const got = p.run(inputs(v)).outputs;
      const fresh = new CpuProgram(g, new Map()).run(inputs(v)).outputs;
      for (const [k, t] of got) expect([...t.data], `${k} at ${v}`).toEqual([...fresh.get(k)!.data]);
      for (const [k, t] of first) expect([...t.data], `the first call's ${k}`).toEqual(kept.get(k));
    }
  });
});

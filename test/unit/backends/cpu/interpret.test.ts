// The interpreter (CpuProgram) on small graphs: matmul's transB attribute, with a weight laid out
// at load time and with an activation, and buffer reuse that never touches the caller's inputs.
import { describe, expect, it } from "vitest";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { fromValues } from "../../../../src/core/tensor.js";
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

  it("never recycles an input's buffer, not even through a reshape of it", () => {
    const g = graphOf("model M {\n  input x: f32[n]\n  a = exp(unsqueeze(x, 0))\n  output a\n  output b = x + 1.0\n  output c = x * 2.0\n}\n");
    const x = fromValues("f32", [3], [1, 2, 3]);
    const res = new CpuProgram(g, new Map()).run(new Map([["x", x]]));
    expect([...res.outputs.get("b")!.data]).toEqual([2, 3, 4]);
    expect([...res.outputs.get("c")!.data]).toEqual([2, 4, 6]);
    expect([...x.data]).toEqual([1, 2, 3]);
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

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
});

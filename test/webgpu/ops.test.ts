// Every IR op as a WebGPU kernel (the unfused schedule: one kernel per node) against the CPU
// interpreter, on Dawn. The cases are a table keyed by op, so a new op fails to compile here until
// it has one. They use random shapes with a symbolic dim (so the sizes uniform is exercised),
// broadcasting, special values (NaN, ±∞, −0, i32 extremes), empty dims and -inf masks; all of them
// go into one graph, loaded once (SwiftShader compiles pipelines slowly). Each op's max |Δ| is
// printed. Run-time errors (an index out of range, an empty max) must be the CPU's TFM6001.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { RunError } from "../../src/backends/shared/errors.js";
import { fromValues, type DType as RtDType, type Tensor } from "../../src/core/tensor.js";
import { addDim, constDim, evalDim, mulDim, symDim, type Dim } from "../../src/core/dim.js";
import type { DType } from "../../src/check/shapes/value.js";
import { type Attrs, type Graph, GraphBuilder } from "../../src/ir/graph.js";
import type { Op } from "../../src/ir/ops.js";
import { verify } from "../../src/ir/verify.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { schedule, unfused } from "../../src/schedule/fuse.js";
import { diff, openGpu, rng } from "./helpers.js";

const N = 3; // the value of the symbolic dim `n`
const n = symDim("n");
type Shape = (number | Dim)[];
const dimsOf = (s: Shape): Dim[] => s.map((d) => (typeof d === "number" ? constDim(d) : d));
const sizeOf = (d: Dim) => evalDim(d, new Map([["n", N]]))!;

const specialsF = [NaN, Infinity, -Infinity, -0, 0, 1e-30, 40, -40, 0.5, -2.5];
const specialsI = [0, 1, -1, 2147483647, -2147483648, 7, -7];

type Values = "normal" | "special" | "positive" | "int" | "smallint" | "bool" | "index" | "angle";

/** Builds one graph holding every case, with random inputs and the tolerance of each output. */
class Cases {
  readonly b = new GraphBuilder("Ops");
  readonly inputs = new Map<string, Tensor>();
  readonly tolerances = new Map<string, { op: Op; atol: number; rtol: number }>();
  private readonly rand = rng(20261122);
  private count = 0;

  input(dtype: DType, shape: Shape, values: Values = "normal", limit = 0): number {
    const name = `x${this.count++}`;
    const dims = dimsOf(shape);
    const sizes = dims.map(sizeOf);
    const len = sizes.reduce((a, d) => a * d, 1);
    const r = this.rand;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const data = Array.from({ length: len }, () => {
      switch (values) {
        case "normal": return (r() * 2 - 1) * 3;
        case "special": return r() < 0.3 ? pick(specialsF) : (r() * 2 - 1) * 5;
        case "positive": return r() * 4 + 0.01;
        case "angle": return (r() * 2 - 1) * 1000;
        case "int": return r() < 0.3 ? pick(specialsI) : Math.floor(r() * 41) - 20;
        case "smallint": return Math.floor(r() * 9) - 4;
        case "bool": return r() < 0.5 ? 1 : 0;
        case "index": return Math.floor(r() * limit); // valid: [0, limit)
      }
    });
    const id = this.b.add("input", [], { name }, dtype, dims);
    this.b.inputs.push({ name, node: id });
    this.inputs.set(name, fromValues((dtype === "bool" ? "bool" : dtype === "i32" ? "i32" : "f32") as RtDType, sizes, data));
    return id;
  }

  node(op: Op, inputs: number[], dtype: DType, shape: Shape, attrs: Attrs = {}): number {
    return this.b.add(op, inputs, attrs, dtype, dimsOf(shape));
  }

  const(dtype: DType, value: number | boolean | Dim): number {
    return this.b.add("const", [], { value }, dtype, []);
  }

  out(op: Op, id: number, atol = 0, rtol = 0): void {
    const name = `${op}${this.count++}`;
    this.b.outputs.push({ name, node: id });
    this.tolerances.set(name, { op, atol, rtol });
  }

  shape(id: number): Dim[] {
    return [...this.b.node(id).shape];
  }
}

/** A unary op on a few shapes and value kinds. */
const unary = (dtype: DType, values: Values, atol = 0, rtol = 0, outType?: DType) => (c: Cases, op: Op) => {
  for (const shape of [[n, 7], [2, n, 1, 5], []] as Shape[]) {
    const x = c.input(dtype, shape, values);
    c.out(op, c.node(op, [x], outType ?? dtype, shape), atol, rtol);
  }
};

/** A binary op with broadcasting: same shape, trailing, middle, scalar, 0-d const. */
const binary = (dtype: DType, values: [Values, Values], atol = 0, rtol = 0, cmp = false) => (c: Cases, op: Op) => {
  const outType: DType = cmp ? "bool" : op === "div" ? "f32" : dtype;
  const pairs: [Shape, Shape, Shape][] = [
    [[n, 6], [n, 6], [n, 6]],
    [[n, 4, 5], [5], [n, 4, 5]],
    [[n, 1, 5], [4, 1], [n, 4, 5]],
    [[], [2, n], [2, n]],
  ];
  for (const [sa, sb, so] of pairs) c.out(op, c.node(op, [c.input(dtype, sa, values[0]), c.input(dtype, sb, values[1])], outType, so), atol, rtol);
};

const f32un = (atol = 0, rtol = 0, values: Values = "special") => unary("f32", values, atol, rtol);
const f32bin = (atol = 0, rtol = 0, values: [Values, Values] = ["special", "special"]) => binary("f32", values, atol, rtol);
/** Comparisons on f32 (with NaN), i32 and bool. */
const comparison = (c: Cases, op: Op) => {
  binary("f32", ["special", "special"], 0, 0, true)(c, op);
  binary("i32", ["smallint", "smallint"], 0, 0, true)(c, op);
  binary("bool", ["bool", "bool"], 0, 0, true)(c, op);
};
/** An arithmetic op on f32 and on i32 (wrapping at the i32 extremes). */
const arith = (atol = 0, rtol = 0) => (c: Cases, op: Op) => {
  f32bin(atol, rtol)(c, op);
  binary("i32", ["int", "int"])(c, op);
};

const reduce = (c: Cases, op: Op) => {
  const i32 = op === "argmax";
  for (const [dtype, values] of [["f32", "special"], ["f32", "normal"], ["i32", "smallint"]] as [DType, Values][]) {
    for (const [shape, axis, keepdim] of [[[n, 300], 1, true], [[n, 5, 4], 1, false], [[2, n], 0, false], [[7], 0, true]] as [Shape, number, boolean][]) {
      const x = c.input(dtype, shape, values);
      const out = shape.filter((_, i) => i !== axis || keepdim).map((d, i) => (i === axis && keepdim ? 1 : d));
      const tol = op === "sum" || op === "mean" ? (dtype === "f32" ? 2e-5 : 0) : 0;
      c.out(op, c.node(op, [x], i32 ? "i32" : dtype, out, { axis, keepdim }), tol, tol);
    }
  }
  if (op === "max" || op === "min" || op === "argmax") {
    const x = c.input("bool", [n, 6], "bool");
    c.out(op, c.node(op, [x], op === "argmax" ? "i32" : "bool", [n], { axis: 1 }));
  } else {
    // An empty axis: a sum is 0, a mean NaN.
    const x = c.input("f32", [n, 0], "normal");
    c.out(op, c.node(op, [x], "f32", [n, 1], { axis: 1, keepdim: true }));
  }
};

/**
 * cumsum over the last axis (one workgroup per row: short rows, rows of many chunks) and over
 * others (one thread per column); f32 with NaN and ±∞, i32 wrapping; an empty axis. The CPU sums
 * f32 in double and the GPU compensates its f32 sums: the same bits here (tolerance 0).
 */
const scanCases = (c: Cases) => {
  for (const [dtype, values] of [["f32", "special"], ["f32", "normal"], ["i32", "int"]] as [DType, Values][]) {
    for (const [shape, axis] of [[[n, 7], 1], [[n, 1000], 1], [[2, n, 300], 2], [[n, 5, 4], 1], [[2, n], 0], [[7], 0]] as [Shape, number][]) {
      c.out("cumsum", c.node("cumsum", [c.input(dtype, shape, values)], dtype, shape, { axis }));
    }
  }
  c.out("cumsum", c.node("cumsum", [c.input("f32", [n, 0], "normal")], "f32", [n, 0], { axis: 1 }));
  c.out("cumsum", c.node("cumsum", [c.input("i32", [0, n], "int")], "i32", [0, n], { axis: 0 }));
};

const matmulCases = (c: Cases) => {
  const mm = (sa: Shape, sb: Shape, so: Shape, transB = false) =>
    c.out("matmul", c.node("matmul", [c.input("f32", sa), c.input("f32", sb)], "f32", so, transB ? { transB } : {}), 1e-5, 1e-5);
  mm([n, 5, 7], [7, 6], [n, 5, 6]);
  mm([2, 1, 5, 7], [n, 7, 4], [2, n, 5, 4]);
  mm([n, 5, 7], [n, 6, 7], [n, 5, 6], true);
  mm([7], [n, 7, 4], [n, 4]);
  mm([n, 5, 7], [7], [n, 5]);
  mm([7], [7], []);
  mm([33, 40], [40, 35], [33, 35]);
  mm([19, 70], [n, 17, 70], [n, 19, 17], true);
  mm([n, 3, 0], [0, 4], [n, 3, 4]);
};

const layout: Record<"reshape" | "permute" | "slice" | "concat" | "append" | "gather" | "expand" | "dropout", (c: Cases) => void> = {
  reshape: (c) => {
    const x = c.input("f32", [n, 4, 6]);
    c.out("reshape", c.node("reshape", [c.node("neg", [x], "f32", [n, 4, 6])], "f32", [n, 2, 12]));
    const y = c.input("i32", [n, 6], "int");
    c.out("reshape", c.node("reshape", [c.node("neg", [y], "i32", [n, 6])], "i32", [2, 3, n]));
  },
  permute: (c) => {
    const x = c.input("f32", [2, n, 4, 5]);
    c.out("permute", c.node("permute", [x], "f32", [4, 2, 5, n], { perm: [2, 0, 3, 1] }));
    const y = c.input("bool", [n, 3], "bool");
    c.out("permute", c.node("permute", [y], "bool", [3, n], { perm: [1, 0] }));
  },
  slice: (c) => {
    const x = c.input("f32", [n, 9]);
    c.out("slice", c.node("slice", [x], "f32", [n, 4], { axis: 1, start: constDim(2), end: constDim(6) }));
    const y = c.input("i32", [5, n], "int");
    c.out("slice", c.node("slice", [y], "i32", [5, n], { axis: 1, start: constDim(0), end: n }));
    c.out("slice", c.node("slice", [y], "i32", [0, n], { axis: 0, start: constDim(2), end: constDim(2) }));
  },
  concat: (c) => {
    const [a, b, e] = [c.input("f32", [n, 2, 3]), c.input("f32", [n, 4, 3]), c.input("f32", [n, 0, 3])];
    c.out("concat", c.node("concat", [a, e, b, a], "f32", [n, 8, 3], { axis: 1 }));
    const [p, q] = [c.input("bool", [2, n], "bool"), c.input("bool", [2, 1], "bool")];
    c.out("concat", c.node("concat", [p, q], "bool", [2, addDim(n, constDim(1))], { axis: 1 }));
  },
  // A state's next value, run as a plain call (the state given, the next value returned): concat's values.
  append: (c) => {
    const [st, x] = [c.input("f32", [n, 2, 3]), c.input("f32", [n, 1, 3])];
    c.out("append", c.node("append", [st, x], "f32", [n, 3, 3], { axis: 1 }));
  },
  gather: (c) => {
    const table = c.input("f32", [11, 4]);
    c.out("gather", c.node("gather", [table, c.input("i32", [n, 5], "index", 11)], "f32", [n, 5, 4], { axis: 0 }));
    const x = c.input("i32", [n, 6, 2], "int");
    c.out("gather", c.node("gather", [x, c.input("i32", [4], "index", 6)], "i32", [n, 4, 2], { axis: 1 }));
    c.out("gather", c.node("gather", [x, c.input("i32", [], "index", 2)], "i32", [n, 6], { axis: 2 }));
  },
  expand: (c) => {
    const x = c.input("f32", [1, 3]);
    c.out("expand", c.node("expand", [x], "f32", [n, 4, 3]));
    const y = c.input("bool", [n, 1], "bool");
    c.out("expand", c.node("expand", [y], "bool", [n, 5]));
  },
  dropout: (c) => {
    const x = c.input("f32", [n, 3]);
    c.out("dropout", c.node("dropout", [c.node("abs", [x], "f32", [n, 3])], "f32", [n, 3], { p: 0.1 }));
  },
};

const cases: Record<Op, (c: Cases, op: Op) => void> = {
  input: (c) => c.out("input", c.input("f32", [n, 2])),
  weight: () => undefined, // every model of the conformance test loads weights
  const: (c) => {
    // A 0-d constant read by an op, a run-time size as a value (n as f32 and i32), -0 and ±∞.
    const x = c.input("f32", [n, 3]);
    c.out("const", c.node("mul", [x, c.const("f32", -0)], "f32", [n, 3]));
    c.out("const", c.node("add", [x, c.const("f32", -Infinity)], "f32", [n, 3]));
    c.out("const", c.const("f32", n));
    c.out("const", c.node("add", [c.input("i32", [n], "int"), c.const("i32", addDim(mulDim(n, constDim(2)), constDim(1)))], "i32", [n]));
  },
  arange: (c) => {
    c.out("arange", c.node("arange", [], "i32", [n]));
    c.out("arange", c.node("arange", [], "i32", [0]));
  },
  neg: (c, op) => {
    f32un()(c, op);
    unary("i32", "int")(c, op);
  },
  not: unary("bool", "bool"),
  exp: f32un(0, 2e-6),
  log: f32un(1e-6, 2e-6),
  sqrt: f32un(0, 1e-6),
  rsqrt: f32un(0, 1e-6),
  tanh: f32un(1e-6),
  erf: f32un(1e-6),
  sigmoid: f32un(1e-6),
  abs: (c, op) => {
    f32un()(c, op);
    unary("i32", "int")(c, op);
  },
  sin: f32un(1e-6, 0, "angle"),
  cos: f32un(1e-6, 0, "angle"),
  add: arith(),
  sub: arith(),
  mul: arith(),
  div: (c, op) => {
    f32bin(0, 1e-6)(c, op);
    binary("i32", ["smallint", "smallint"])(c, op);
  },
  mod: (c, op) => {
    f32bin(1e-5, 1e-6, ["normal", "normal"])(c, op);
    binary("i32", ["int", "smallint"])(c, op);
  },
  pow: (c, op) => {
    f32bin(0, 2e-6, ["special", "smallint" as Values])(c, op);
    f32bin(0, 2e-6, ["positive", "normal"])(c, op);
    binary("i32", ["smallint", "smallint"])(c, op);
  },
  maximum: arith(),
  minimum: arith(),
  eq: comparison, ne: comparison, lt: comparison, le: comparison, gt: comparison, ge: comparison,
  and: binary("bool", ["bool", "bool"]),
  or: binary("bool", ["bool", "bool"]),
  cast: (c) => {
    const conv = (from: DType, to: DType, values: Values) => {
      const x = c.input(from, [n, 9], values);
      c.out("cast", c.node("cast", [x], to, [n, 9]));
    };
    conv("f32", "i32", "special");
    conv("f32", "bool", "special");
    conv("i32", "f32", "int");
    conv("i32", "bool", "smallint");
    conv("bool", "f32", "bool");
    conv("bool", "i32", "bool");
    // f32 → i32 saturates: values beyond the i32 range.
    const big = c.input("f32", [n, 4], "normal");
    c.out("cast", c.node("cast", [c.node("mul", [big, c.const("f32", 1e10)], "f32", [n, 4])], "i32", [n, 4]));
  },
  where: (c) => {
    // A -inf mask, as masked softmax writes it, with broadcasting of all three operands.
    const m = c.input("bool", [n, 1, 5], "bool");
    const x = c.input("f32", [4, 5], "special");
    c.out("where", c.node("where", [m, x, c.const("f32", -Infinity)], "f32", [n, 4, 5]));
    c.out("where", c.node("where", [c.input("bool", [n, 3], "bool"), c.input("i32", [n, 3], "int"), c.input("i32", [3], "int")], "i32", [n, 3]));
  },
  matmul: matmulCases,
  sum: reduce, mean: reduce, max: reduce, min: reduce, argmax: reduce,
  cumsum: scanCases,
  reshape: layout.reshape, permute: layout.permute, slice: layout.slice, concat: layout.concat, append: layout.append,
  gather: layout.gather, expand: layout.expand, dropout: layout.dropout,
};

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.close());

/** Loads `g` (its unfused schedule, or fused) on the GPU and on the CPU and runs both. */
async function both(g: Graph, inputs: Map<string, Tensor>, fused = false) {
  expect(verify(g)).toEqual([]);
  const p = await WebGpuProgram.load(fused ? schedule(g) : unfused(g), new Map(), gpu.device, { loadTime: loadTimeValues });
  expect(p.compiled.fallbacks).toEqual([]);
  try {
    return { gpu: await p.run(inputs), cpu: new CpuProgram(g, new Map()).run(inputs).outputs, program: p };
  } finally {
    p.destroy();
  }
}

describe("every op on WebGPU against the CPU interpreter", () => {
  it.each([["op by op", false], ["fused", true]] as const)("all ops, one graph, %s", async (_, fused) => {
    const c = new Cases();
    for (const op of Object.keys(cases) as Op[]) cases[op](c, op);
    const g = c.b.finish();
    const r = await both(g, c.inputs, fused);
    const byOp = new Map<Op, number>();
    const failures: string[] = [];
    for (const o of g.outputs) {
      const t = c.tolerances.get(o.name)!;
      const d = diff(r.gpu.get(o.name)!, r.cpu.get(o.name)!, t.atol, t.rtol);
      byOp.set(t.op, Math.max(byOp.get(t.op) ?? 0, d.max));
      if (d.bad) failures.push(`${o.name} (${t.op}, shape ${JSON.stringify(r.cpu.get(o.name)!.shape)}): element ${d.bad.at}: gpu ${d.bad.gpu}, cpu ${d.bad.cpu}`);
    }
    console.log(`[webgpu ops${fused ? ", fused" : ""}] max |Δ| by op: ${[...byOp].map(([op, m]) => `${op} ${m.toExponential(1)}`).join(", ")}`);
    expect(failures).toEqual([]);
    // Every op but weight (every model of the conformance test has weights) is covered.
    expect(new Set(g.nodes.map((x) => x.op)).size).toBe(Object.keys(cases).length - 1);
  });

  it("an index out of range is the CPU's TFM6001, with the CPU's message", async () => {
    const c = new Cases();
    const table = c.input("f32", [5, 2]);
    const ids = c.input("i32", [n, 3], "smallint");
    c.out("gather", c.node("gather", [table, ids], "f32", [n, 3, 2], { axis: 0 }));
    c.inputs.set("x1", fromValues("i32", [N, 3], [0, 1, 2, 3, 4, -5, 4, 9, -7]));
    const g = c.b.finish();
    const cpuError = errorOf(() => new CpuProgram(g, new Map()).run(c.inputs));
    expect(cpuError!.message).toContain("index -5 at position [1, 2]"); // negative ids are errors, as in torch
    const p = await WebGpuProgram.load(g, new Map(), gpu.device, { loadTime: loadTimeValues });
    const gpuError = await p.run(c.inputs).then(() => undefined, (e: unknown) => e);
    p.destroy();
    expect(gpuError).toBeInstanceOf(RunError);
    expect((gpuError as RunError).code).toBe("TFM6001");
    expect((gpuError as RunError).message).toBe(cpuError!.message);
  });

  it("an index computed per run, out of range, is the CPU's TFM6001 with its value, the buffers reused or not", async () => {
    const c = new Cases();
    const table = c.input("f32", [5, 2]);
    const ids = c.input("i32", [n, 3], "smallint");
    const shifted = c.node("add", [ids, c.const("i32", 3)], "i32", [n, 3]);
    const g1 = c.node("gather", [table, shifted], "f32", [n, 3, 2], { axis: 0 });
    c.out("gather", c.node("exp", [c.node("sum", [g1], "f32", [n, 3], { axis: 2 })], "f32", [n, 3]));
    c.out("add", c.node("mul", [shifted, shifted], "i32", [n, 3]));
    c.inputs.set("x1", fromValues("i32", [N, 3], [0, 1, -2, 1, 4, -8, 4, 9, 2]));
    const g = c.b.finish();
    const cpuError = errorOf(() => new CpuProgram(g, new Map()).run(c.inputs));
    expect(cpuError!.message).toContain("index 7 at position [1, 1]");
    for (const reuse of [true, false]) {
      const p = await WebGpuProgram.load(g, new Map(), gpu.device, { loadTime: loadTimeValues, reuse });
      const gpuError = await p.run(c.inputs).then(() => undefined, (e: unknown) => e);
      p.destroy();
      expect((gpuError as RunError).code).toBe("TFM6001");
      expect((gpuError as RunError).message).toBe(cpuError!.message);
    }
  });

  it("a max over an empty axis is the CPU's TFM6001", async () => {
    const c = new Cases();
    const x = c.input("f32", [n, 0]);
    c.out("max", c.node("max", [x], "f32", [n], { axis: 1 }));
    const g = c.b.finish();
    const cpuError = errorOf(() => new CpuProgram(g, new Map()).run(c.inputs));
    const p = await WebGpuProgram.load(g, new Map(), gpu.device, { loadTime: loadTimeValues });
    const gpuError = await p.run(c.inputs).then(() => undefined, (e: unknown) => e);
    p.destroy();
    expect((gpuError as RunError).code).toBe("TFM6001");
    expect((gpuError as RunError).message).toBe(cpuError!.message);
  });

  it("cumsum's float-float f32 sums are the CPU's double-accumulated ones on long rows (differences counted and printed)", async () => {
    // Rows of 20,000: [1e8, 1, 1, ...] (a plain f32 sum stays at 1e8), values of mixed magnitudes,
    // and 0.1 repeated; and the same along the first axis (one thread per column).
    const L = 20000;
    const r = rng(7);
    const rows = [
      Array.from({ length: L }, (_, i) => (i === 0 ? 1e8 : 1)),
      Array.from({ length: L }, () => (r() * 2 - 1) * 10 ** (r() * 8 - 2)),
      Array.from({ length: L }, () => 0.1),
    ];
    const c = new Cases();
    const x = c.input("f32", [n, L]);
    c.out("cumsum", c.node("cumsum", [x], "f32", [n, L], { axis: 1 }));
    const y = c.input("f32", [L, n]);
    c.out("cumsum", c.node("cumsum", [y], "f32", [L, n], { axis: 0 }));
    c.inputs.set("x0", fromValues("f32", [N, L], rows.flat()));
    c.inputs.set("x2", fromValues("f32", [L, N], Array.from({ length: L * N }, (_, k) => rows[k % N]![Math.floor(k / N)]!)));
    const g = c.b.finish();
    const { gpu: got, cpu: want } = await both(g, c.inputs);
    const ulps = new Float32Array(1), bits = new Int32Array(ulps.buffer);
    const ord = (v: number) => ((ulps[0] = v), bits[0]! < 0 ? -(bits[0]! & 0x7fffffff) : bits[0]!);
    const report: string[] = [];
    for (const o of g.outputs) {
      const [a, b] = [got.get(o.name)!.data, want.get(o.name)!.data];
      let differ = 0, worst = 0;
      for (let k = 0; k < b.length; k++) {
        const d = Math.abs(ord(a[k]!) - ord(b[k]!));
        if (d) differ++;
        worst = Math.max(worst, d);
      }
      report.push(`${o.name}: ${differ} of ${b.length} differ, at most ${worst} ulp`);
      expect(worst, o.name).toBeLessThanOrEqual(1);
      expect(differ, o.name).toBeLessThanOrEqual(b.length / 1000);
    }
    // The double accumulator's answer rounded to f32; an f32 running sum stays at 1e8.
    expect(got.get(g.outputs[0]!.name)!.data[L - 1]).toBe(Math.fround(1e8 + L - 1));
    console.log(`[webgpu cumsum] float-float f32 vs the CPU's double sums: ${report.join("; ")}`);
  });

  it("bad inputs are the CPU's TFM6002; one program runs any size", async () => {
    const c = new Cases();
    const x = c.input("f32", [n, 4]);
    c.out("exp", c.node("exp", [x], "f32", [n, 4]));
    // One workgroup per row.
    c.out("sum", c.node("sum", [x], "f32", [n], { axis: 1 }));
    const g = c.b.finish();
    // A device allowing 7 workgroups per grid dimension: 70 rows need a 2-D grid, 300 a 3-D one.
    const p = await WebGpuProgram.load(g, new Map(), gpu.device, { loadTime: loadTimeValues, limits: { maxComputeWorkgroupsPerDimension: 7 } });
    const wrong = new Map([["x0", fromValues("f32", [2, 5], new Array(10).fill(1))]]);
    const cpuError = errorOf(() => new CpuProgram(g, new Map()).run(wrong));
    const gpuError = await p.run(wrong).then(() => undefined, (e: unknown) => e);
    expect((gpuError as RunError).code).toBe("TFM6002");
    expect((gpuError as RunError).message).toBe(cpuError!.message);
    for (const rows of [1, 70, 0, 300, 5]) {
      const inputs = new Map([["x0", fromValues("f32", [rows, 4], Array.from({ length: rows * 4 }, (_, i) => (i % 13) / 7))]]);
      const got = await p.run(inputs);
      const want = new CpuProgram(g, new Map()).run(inputs).outputs;
      for (const o of g.outputs) expect(diff(got.get(o.name)!, want.get(o.name)!, 1e-6, 2e-6).bad, `${o.name}, ${rows} rows`).toBeUndefined();
    }
    p.destroy();
  });
});

describe("one program, many runs", () => {
  it("runs started together run one after the other, each with its own sizes", async () => {
    const c = new Cases();
    const x = c.input("f32", [n, 4]);
    c.out("exp", c.node("exp", [x], "f32", [n, 4]));
    const g = c.b.finish();
    const p = await WebGpuProgram.load(g, new Map(), gpu.device, { loadTime: loadTimeValues });
    const runs = [1, 5, 2].map((rows) => new Map([["x0", fromValues("f32", [rows, 4], Array.from({ length: rows * 4 }, (_, i) => i / 8))]]));
    const outs = await Promise.all(runs.map((inputs) => p.run(inputs)));
    outs.forEach((o, i) => {
      const want = new CpuProgram(g, new Map()).run(runs[i]!).outputs.get(g.outputs[0]!.name)!;
      expect(diff(o.get(g.outputs[0]!.name)!, want, 0, 2e-6).bad).toBeUndefined();
    });
    p.destroy();
  });
});

function errorOf(f: () => unknown): Error | undefined {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

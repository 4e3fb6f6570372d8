// The fused kernels' phases in WebAssembly SIMD (src/backends/cpu/rowwasm.ts) give the bits of the
// same phases in JavaScript (rowcode.ts) and of their nodes one by one: LayerNorm, softmax over a
// mask, GELU (tanh), sigmoid, rsqrt, comparisons and where, on rows of every width to 13 (the four-
// column loop and its tail), over values that reach every branch of exp and tanh (±0, ±∞, NaN,
// subnormals, −110 and 700 where exp's range ends, 19.1 and 1/8 where tanh's branches meet).
import { afterEach, describe, expect, it } from "vitest";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { setCompileRows, setWasmRows } from "../../../../src/backends/cpu/rowcode.js";
import { wasmPhases } from "../../../../src/backends/cpu/rowwasm.js";
import { PHASE_MIN_ELEMENTS, threadedPhaseJobs, wasmGemmAvailable } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { defaultKernels, threadedKernels, type Kernels } from "../../../../src/backends/cpu/kernels/index.js";
import { fromValues, type Tensor } from "../../../../src/core/tensor.js";
import { constDim } from "../../../../src/core/dim.js";
import { GraphBuilder, type Graph } from "../../../../src/ir/graph.js";
import type { Op } from "../../../../src/ir/ops.js";
import { holdThreads } from "./helpers.js";

const dims = (...ns: number[]) => ns.map(constDim);
const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 1.2e-38, -110, -110.5, -109.5, 700, 88.7, 88.8, 89, -104, 104, 0.125, -0.125, 19.1, -19.1, 19.2, 3.4e38, -3.4e38, 0.5, -1, 2, 9, -7.25, -2, 2.0000002, -2.0000002, 5.9999995, -5.9999995, 6, -6, 3.1];

/** Values for n elements: the special ones, then a spread of ordinary ones. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 3 === 0 ? SPECIAL[(i / 3 + seed) % SPECIAL.length]! : Math.fround(Math.sin(i * 1.37 + seed) * 6);
  return out;
}

type Build = (b: GraphBuilder, x: number, rows: number, w: number) => number[];

/** A graph of one input x [2, rows, w] (and a mask) whose outputs `build` makes. */
function graphOf(build: Build, rows: number, w: number): Graph {
  const b = new GraphBuilder("R");
  const x = b.add("input", [], { name: "x" }, "f32", dims(2, rows, w));
  b.inputs.push({ name: "x", node: x });
  build(b, x, rows, w).forEach((node, i) => b.outputs.push({ name: `o${i}`, node }));
  return b.finish();
}

const c = (b: GraphBuilder, value: number) => b.add("const", [], { value }, "f32", []);
const un = (b: GraphBuilder, op: Op, x: number, shape: number[]) => b.add(op, [x], {}, "f32", dims(...shape));
const bin = (b: GraphBuilder, op: Op, x: number, y: number, shape: number[], dtype: "f32" | "bool" = "f32") => b.add(op, [x, y], {}, dtype, dims(...shape));
const red = (b: GraphBuilder, op: Op, x: number, shape: number[]) => b.add(op, [x], { axis: -1, keepdim: true }, "f32", dims(...shape.slice(0, -1), 1));

const kernels: Record<string, Build> = {
  layernorm: (b, x, r, w) => {
    const s = [2, r, w];
    const mean = red(b, "mean", x, s);
    const d = bin(b, "sub", x, mean, s);
    const v = red(b, "mean", bin(b, "mul", d, d, s), s);
    const inv = un(b, "rsqrt", bin(b, "add", v, c(b, 1e-5), [2, r, 1]), [2, r, 1]);
    return [bin(b, "add", bin(b, "mul", bin(b, "mul", d, inv, s), c(b, 1.5), s), c(b, -0.25), s), un(b, "sqrt", bin(b, "maximum", x, c(b, 0), s), s)];
  },
  softmax: (b, x, r, w) => {
    const s = [2, r, w];
    const mask = bin(b, "gt", x, c(b, -3), s, "bool");
    const masked = b.add("where", [mask, x, c(b, -Infinity)], {}, "f32", dims(...s));
    const e = b.add("where", [mask, un(b, "exp", bin(b, "sub", x, red(b, "max", masked, s), s), s), c(b, 0)], {}, "f32", dims(...s));
    return [bin(b, "div", e, bin(b, "maximum", red(b, "sum", e, s), c(b, 1), [2, r, 1]), s), red(b, "min", x, s)];
  },
  gelu: (b, x, r, w) => {
    const s = [2, r, w];
    const cube = bin(b, "mul", bin(b, "mul", bin(b, "mul", x, c(b, 0.044715), s), x, s), x, s);
    const t = un(b, "tanh", bin(b, "mul", c(b, 0.7978845608028654), bin(b, "add", x, cube, s), s), s);
    return [bin(b, "mul", bin(b, "mul", c(b, 0.5), x, s), bin(b, "add", c(b, 1), t, s), s), un(b, "tanh", x, s), un(b, "exp", x, s)];
  },
  "gelu (erf)": (b, x, r, w) => {
    const s = [2, r, w];
    const e = un(b, "erf", bin(b, "mul", x, c(b, 0.7071067811865476), s), s);
    return [bin(b, "mul", bin(b, "mul", c(b, 0.5), x, s), bin(b, "add", c(b, 1), e, s), s), un(b, "erf", x, s)];
  },
  "sigmoid, neg, abs, min and a cast": (b, x, r, w) => {
    const s = [2, r, w];
    const sig = un(b, "sigmoid", x, s);
    const small = b.add("cast", [bin(b, "lt", un(b, "abs", x, s), c(b, 1), s, "bool")], {}, "f32", dims(...s));
    return [bin(b, "mul", sig, un(b, "neg", x, s), s), bin(b, "add", small, bin(b, "minimum", x, c(b, 2), s), s)];
  },
};

/** The outputs of `g` on x, fused: phases in WebAssembly, in JavaScript, or node by node. */
function run(g: Graph, x: Tensor, mode: "wasm" | "js" | "nodes", kernels: Kernels = defaultKernels): Map<string, Tensor> {
  setCompileRows(mode !== "nodes");
  setWasmRows(mode === "wasm");
  try {
    return new CpuProgram(g, new Map(), kernels).run(new Map([["x", x]])).outputs as Map<string, Tensor>;
  } finally {
    setCompileRows(true);
    setWasmRows(true);
  }
}

/** Indices where a and b differ in bits (NaN matching NaN). */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

describe("fused phases in WebAssembly SIMD (rowwasm.ts)", () => {
  afterEach(() => {
    setCompileRows(true);
    setWasmRows(true);
  });

  it.runIf(wasmGemmAvailable())("are what the engine runs by default where SIMD validates, compiled once per phase", () => {
    const before = wasmPhases();
    const g = graphOf(kernels["layernorm"]!, 3, 8);
    run(g, fromValues("f32", [2, 3, 8], values(48, 1)), "wasm");
    const after = wasmPhases();
    expect(after).toBeGreaterThan(before);
    run(g, fromValues("f32", [2, 3, 8], values(48, 2)), "wasm");
    expect(wasmPhases()).toBe(after);
  });

  for (const [name, build] of Object.entries(kernels)) {
    it(`${name}: the bits of the JavaScript phases and of the nodes one by one, for widths 1 to 13`, () => {
      for (let w = 1; w <= 13; w++) {
        for (const rows of [1, 5]) {
          const g = graphOf(build, rows, w);
          const x = fromValues("f32", [2, rows, w], values(2 * rows * w, w));
          const [wasm, js, nodes] = (["wasm", "js", "nodes"] as const).map((m) => run(g, x, m));
          for (const [out, t] of nodes) {
            expect(differences(wasm.get(out)!.data, js.get(out)!.data), `${out} at width ${w}, ${rows} rows (wasm vs js)`).toEqual([]);
            expect(differences(wasm.get(out)!.data, t.data), `${out} at width ${w}, ${rows} rows (wasm vs nodes)`).toEqual([]);
          }
        }
      }
    });
  }
});

describe.runIf(wasmGemmAvailable())("functions of double lanes (rowmath.ts) in a compiled phase", () => {
  it("erf, exp, sigmoid and tanh give math.ts's values rounded to f32 over a sweep of f32 bit patterns", () => {
    // Every 4099th pattern (over a million values: every sign and exponent), as one input [2, rows, 1024].
    const bits = new Uint32Array(Math.ceil(2 ** 32 / 4099 / 2048) * 2048);
    for (let i = 0; i < bits.length; i++) bits[i] = Math.min(2 ** 32 - 1, i * 4099);
    const x = new Float32Array(bits.buffer);
    const rows = x.length / 2048;
    // op(x) · 1 (exact): a two-node kernel, so a compiled phase (one node alone is an op kernel).
    const g = graphOf((b, v, r, w) => (["erf", "exp", "sigmoid", "tanh"] as const).map((op) => bin(b, "mul", un(b, op, v, [2, r, w]), c(b, 1), [2, r, w])), rows, 1024);
    const before = wasmPhases();
    const input = fromValues("f32", [2, rows, 1024], x);
    const [wasm, nodes] = [run(g, input, "wasm"), run(g, input, "nodes")];
    expect(wasmPhases() - before, "one compiled phase per function").toBeGreaterThanOrEqual(4);
    for (const [out, t] of nodes) expect(differences(wasm.get(out)!.data, t.data).slice(0, 5), out).toEqual([]);
  });
});

describe.runIf(wasmGemmAvailable())("fused phases in WebAssembly SIMD over threads", () => {
  holdThreads(3);

  for (const [name, build] of Object.entries(kernels)) {
    it(`${name}: rows split over 2 and 3 threads give the bits of one`, () => {
      // Rows × width above PHASE_MIN_ELEMENTS, so that the phases are really split; rows not a multiple of the blocks.
      for (const [rows, w] of [[301, 37], [67, 130]] as const) {
        expect(rows * w).toBeGreaterThanOrEqual(PHASE_MIN_ELEMENTS);
        const g = graphOf(build, rows, w);
        const x = fromValues("f32", [2, rows, w], values(2 * rows * w, rows));
        const one = run(g, x, "wasm");
        for (const t of [2, 3]) {
          const jobs = threadedPhaseJobs();
          const many = run(g, x, "wasm", threadedKernels(t));
          expect(threadedPhaseJobs(), `${t} threads split the phases`).toBeGreaterThan(jobs);
          for (const [out, want] of one) expect(differences(many.get(out)!.data, want.data), `${out}, ${rows} × ${w}, ${t} threads`).toEqual([]);
        }
      }
    });
  }
});

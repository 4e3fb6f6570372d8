// Special values on WebGPU (issue 15 §7), executed for real on Dawn (SwiftShader without a GPU)
// and compared with the CPU interpreter, the normative semantics, bit for bit where WGSL allows:
// NaN, ±∞ and -0 through `x * 0.0`, `0.0 * x`, `x - x`, `exp`, `exp(log(-2))`, and the same in a
// fused elementwise kernel and in the unfused schedule. Denormals are the one thing WGSL does not
// promise (an implementation may flush them to zero, SwiftShader does): those cases must give
// either the CPU's value or the flushed one, and which one is printed. docs/WEBGPU.md, "Special values".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { compile } from "../../src/backends/webgpu/compile.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { fromValues, type Tensor } from "../../src/core/tensor.js";
import { optimize } from "../../src/optimize.js";
import { schedule, unfused } from "../../src/schedule/fuse.js";
import { openGpu } from "./helpers.js";

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.close());

/** The special inputs: NaN, ±∞, ±0, finite values either side of 0, the largest f32. */
const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2.5, -3.75, 3.4028234663852886e38];

const program = `
model Specials {
  input x: f32[n]
  output mul_zero = x * 0.0
  output zero_mul = 0.0 * x
  output mul_negzero = x * -0.0
  output sub_self = x - x
  output add_zero = x + 0.0
  output zero_sub = 0.0 - x
  output sub_zero = x - 0.0
  output div_self = x / x
  output exp_x = exp(x)
  output exp_log_neg = exp(log(x - 10.0))
  output exp_nan = exp(log(-2.0 + x * 0.0))
  output fused = exp(x * 0.0) + (x - x) * 2.0
}
`;

const bits = (v: number) => {
  const f = new Float32Array([v]);
  return Number.isNaN(f[0]) ? "NaN" : Object.is(f[0], -0) ? "-0" : String(f[0]);
};

async function run(src: string, x: readonly number[], fused: boolean) {
  const r = check(src, "specials.tfm");
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const g = optimize(buildGraph(r)!).graph;
  const ins = new Map<string, Tensor>([["x", fromValues("f32", [x.length], x)]]);
  const want = new CpuProgram(g, new Map()).run(ins).outputs;
  const sched = fused ? schedule(g) : unfused(g);
  const p = await WebGpuProgram.load(sched, new Map(), gpu.device, { loadTime: loadTimeValues });
  try {
    return { want, got: await p.run(ins), wgsl: compile(sched).kernels.map((k) => k.wgsl).join("\n") };
  } finally {
    p.destroy();
  }
}

/** Outputs computed by a transcendental function: finite values within a few ulp (docs/WEBGPU.md), the special ones exact. */
const transcendental = new Set(["exp_x", "exp_log_neg"]);

describe("special values on WebGPU equal the CPU's", () => {
  for (const fused of [true, false]) {
    it(`${fused ? "fused" : "unfused"}: x * 0.0, x + 0.0, 0.0 - x, x - x, x / x, exp(NaN), exp(log(-2)) keep NaN, ±∞ and -0`, async () => {
      const { want, got, wgsl } = await run(program, specials, fused);
      const rows: string[] = [];
      const wrong: string[] = [];
      for (const [name, w] of want) {
        const g = got.get(name)!;
        const gpuVals = [...g.data].map(bits);
        const cpuVals = [...w.data].map(bits);
        rows.push(`${name}: ${gpuVals.join(" ")}`);
        const same = transcendental.has(name)
          ? cpuVals.every((c, i) => (Number.isFinite(w.data[i]!) && w.data[i] !== 0 ? Math.abs(g.data[i]! - w.data[i]!) <= 1e-6 * Math.abs(w.data[i]!) : c === gpuVals[i]))
          : gpuVals.join(" ") === cpuVals.join(" ");
        if (!same) wrong.push(`${name}: WebGPU ${gpuVals.join(" ")}, CPU ${cpuVals.join(" ")}`);
      }
      console.log(`[specials] ${fused ? "fused" : "unfused"} (x = ${specials.map(bits).join(" ")}): ${rows.join("; ")}`);
      if (wrong.length) console.log(`[specials] differences:\n${wrong.join("\n")}`);
      expect(wrong).toEqual([]);
      // The zero literals never reach a float op the compiler could fold; exp is one select, no branch.
      expect(wgsl).not.toMatch(/\* 0f\b|\b0f \*/);
      expect(wgsl).toMatch(/fn tfm_exp\(x: f32\) -> f32 \{ return select\(exp\(x\), x, tfm_isnan\(x\)\); \}/);
    }, 120_000);
  }
});

/** f32 subnormals: the smallest (1e-45 rounds to 2^-149), one mid-range, one negative. */
const subnormals = [1e-45, 1e-40, -3e-42, 1.1754942e-38];

const denormal = `
model Denormal {
  input x: f32[n]
  output div_self = x / x
  output log_x = log(abs(x))
  output scaled = x * 1.0e30
  output sum_self = x + x
}
`;

describe("denormals: WGSL lets an implementation flush them to zero", () => {
  it("each result is the CPU's, or the CPU's on the input flushed to ±0 (printed: which one this device gives)", async () => {
    const { want, got } = await run(denormal, subnormals, true);
    const flushedIn = subnormals.map((v) => (v < 0 ? -0 : 0));
    const { want: flushed } = await run(denormal, flushedIn, true);
    const report: string[] = [];
    for (const [name, w] of want) {
      const g = [...got.get(name)!.data];
      const kinds = g.map((v, i) => {
        const cpu = w.data[i]!, fl = flushed.get(name)!.data[i]!;
        const close = (a: number, b: number) => bits(a) === bits(b) || (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-6 * Math.abs(b));
        // A flushed result may also flush its own output (x + x of a subnormal is a subnormal).
        return close(v, cpu) ? "kept" : close(v, fl) || (Math.abs(cpu) < 1.1754943508222875e-38 && v === 0) ? "flushed" : `wrong (${v}, CPU ${cpu})`;
      });
      report.push(`${name}: ${kinds.join(" ")}`);
      expect(kinds.filter((k) => k.startsWith("wrong")), name).toEqual([]);
    }
    console.log(`[specials] subnormal x = ${subnormals.join(" ")}: ${report.join("; ")}`);
  }, 120_000);
});

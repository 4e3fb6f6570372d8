// Shared by the WebGPU tests: one Dawn device per test file (on SwiftShader when there is no GPU),
// comparison of a GPU result with the CPU interpreter's (NaN where NaN, ±∞ where ±∞, max |Δ|
// elsewhere), and a seeded random source.
import { expect } from "vitest";
import type { Tensor } from "../../src/core/tensor.js";
import { createNodeDevice, type NodeGpu, swiftShaderIcd } from "../../src/backends/webgpu/node.js";

/**
 * The test file's device. No adapter is a failure, never a skip (here and under CI): the WebGPU
 * code paths must run. VK_ICD_FILENAMES is set here when unset so a plain `npx vitest` works.
 */
export async function openGpu(): Promise<NodeGpu> {
  process.env.VK_ICD_FILENAMES ??= swiftShaderIcd;
  return createNodeDevice();
}

export interface Diff {
  /** Largest |gpu − cpu| over elements where both are finite. */
  readonly max: number;
  /** The first element outside the tolerance, if any. */
  readonly bad?: { readonly at: number; readonly gpu: number; readonly cpu: number };
}

/** Compares element by element: NaN must be NaN, infinities equal, others within atol + rtol·|cpu|. */
export function diff(gpu: Tensor, cpu: Tensor, atol: number, rtol = 0): Diff {
  expect(gpu.dtype).toBe(cpu.dtype);
  expect(gpu.shape).toEqual(cpu.shape);
  let max = 0;
  let bad: Diff["bad"];
  const n = cpu.shape.reduce((a, d) => a * d, 1);
  for (let i = 0; i < n; i++) {
    const a = gpu.data[i]!, b = cpu.data[i]!;
    if (Number.isNaN(b) || Number.isNaN(a) || !Number.isFinite(b) || !Number.isFinite(a)) {
      if (!Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b)) && !bad) bad = { at: i, gpu: a, cpu: b };
      continue;
    }
    const d = Math.abs(a - b);
    max = Math.max(max, d);
    if (d > atol + rtol * Math.abs(b) && !bad) bad = { at: i, gpu: a, cpu: b };
  }
  return bad ? { max, bad } : { max };
}

/** A small seeded generator (mulberry32): the same values on every run (the CPU tests' own). */
export { rng } from "../unit/backends/cpu/helpers.js";

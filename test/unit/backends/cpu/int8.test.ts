// int8 weights (src/backends/cpu/kernels/wasm/gemm.ts `packWeightInt8`, `packWeightInt8NN`, `int8Kernels`): the
// kernel computes exactly what src/backends/cpu/kernels/wasm/int8.ts says (weights per output column
// in int8, the left operand per row in int16, integer sums per block of 512, scaled) — on shapes off every tile and block, the same bits for 1, 2 and 3
// threads; products whose right operand is not a packed weight stay f32; and the accuracy cost on
// a GPT-2 with PyTorch-made weights (test/fixtures/gpt2.py) is measured and bounded: the logits'
// error against f32 and the greedy tokens' agreement over 57 steps (the 7-token prompt and 57 fill its 64 positions).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { int8Kernels, markResident, wasmGemmAvailable, wasmKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { acquireGemmThreads } from "../../../../src/backends/cpu/kernels/wasm/node-threads.js";
import { tensor } from "../../../../src/core/tensor.js";
import { agreement, gpt2Fixture } from "../../../helpers/agreement.js";
import { seedFor } from "./helpers.js";

const seed = seedFor("int8.test.ts");

function data(n: number, s: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * (1 + (i % 7));
  }
  return a;
}

/** Per row: its scale fround(max|x| / levels) and floor(x / scale + 1/2) (0 where the scale is 0). */
function quantize(x: Float32Array, off: number, k: number, levels: number): { scale: number; q: number[] } {
  let max = 0;
  for (let p = 0; p < k; p++) max = Math.max(max, Math.abs(x[off + p]!));
  const scale = Math.fround(max / levels);
  return { scale, q: Array.from({ length: k }, (_, p) => (scale > 0 ? Math.floor(x[off + p]! / scale + 0.5) : 0)) };
}

/** The reference, as src/backends/cpu/kernels/wasm/int8.ts documents it: integer sums per 512-k block, their f32 sum, scaled. */
function reference(A: Float32Array, Bt: Float32Array, m: number, n: number, k: number): Float32Array {
  const C = new Float32Array(m * n);
  const rows = Array.from({ length: m }, (_, i) => quantize(A, i * k, k, 32767));
  for (let j = 0; j < n; j++) {
    const w = quantize(Bt, j * k, k, 127);
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let b = 0; b < k; b += 512) {
        let s = 0;
        for (let p = b; p < Math.min(k, b + 512); p++) s += rows[i]!.q[p]! * w.q[p]!;
        acc = b === 0 ? Math.fround(s) : Math.fround(acc + Math.fround(s));
      }
      C[i * n + j] = Math.fround(Math.fround(acc * w.scale) * rows[i]!.scale);
    }
  }
  return C;
}

const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 7, 3], [2, 3, 5], [3, 31, 2], [5, 9, 13], [7, 33, 61], [13, 17, 513], [17, 5, 1031],
  [1, 263, 1031], [1, 97, 769], [4, 8, 8], [6, 71, 2053], [127, 13, 7], [1, 3072, 769], [130, 66, 258],
];

describe.skipIf(!wasmGemmAvailable())("int8 weights", () => {
  let release: () => void = () => undefined;
  beforeAll(async () => {
    const p = await acquireGemmThreads(3);
    release = p.release;
  });
  afterAll(() => release());

  it("computes exactly the documented integer products and scales, the same bits for 1, 2 and 3 threads", () => {
    for (const [m, n, k] of shapes) {
      const A = data(m * k, seed + m), Bt = data(n * k, seed + n + 1);
      if (n > 3) Bt.fill(0, 0, k); // a column of zeros: scale 0
      const a = tensor("f32", [m, k], A), bT = tensor("f32", [n, k], Bt);
      markResident(Bt);
      int8Kernels(1)!.prepareTransB!(bT);
      const one = int8Kernels(1)!.matmulTransB(a, bT).data;
      expect(Array.from(one), `${m}x${n}x${k}`).toEqual(Array.from(reference(A, Bt, m, n, k)));
      for (const t of [2, 3]) expect(Array.from(int8Kernels(t)!.matmulTransB(a, bT).data), `${m}x${n}x${k}, ${t} threads`).toEqual(Array.from(one));
      // The f32 kernels on the same array still read its f32 values.
      if (k >= 8) expect(Array.from(wasmKernels.matmulTransB(a, bT).data)).not.toEqual(Array.from(one));
    }
  });

  it("a weight read as B [k, n] is quantized straight from it (prepareB): the same bits as its transpose through prepareTransB", () => {
    for (const [m, n, k] of shapes) {
      const A = data(m * k, seed + 2 * m), Bt = data(n * k, seed + 2 * n + 1);
      if (n > 3) Bt.fill(0, 0, k); // a column of zeros: scale 0
      Bt[Bt.length - 1] = -Bt[Bt.length - 1]! * 9; // a column whose largest magnitude is negative
      const B = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) B[p * n + j] = Bt[j * k + p]!;
      const a = tensor("f32", [m, k], A), b = tensor("f32", [k, n], B);
      expect(int8Kernels(1)!.prepareB!(b)).toBe(true);
      const want = Array.from(reference(A, Bt, m, n, k));
      for (const t of [1, 2, 3]) expect(Array.from(int8Kernels(t)!.matmul(a, b).data), `${m}x${n}x${k}, ${t} threads`).toEqual(want);
      // An array not prepared is read as f32.
      if (k >= 8) expect(Array.from(int8Kernels(1)!.matmul(a, tensor("f32", [k, n], B.slice())).data)).toEqual(Array.from(wasmKernels.matmul(a, tensor("f32", [k, n], B.slice())).data));
    }
  });

  it("leaves products of operands that are not packed weights (attention's) in f32", () => {
    const [m, n, k] = [5, 19, 33];
    const A = data(m * k, seed + 3), Bt = data(n * k, seed + 4);
    const a = tensor("f32", [m, k], A), bT = tensor("f32", [n, k], Bt);
    expect(Array.from(int8Kernels(1)!.matmulTransB(a, bT).data)).toEqual(Array.from(wasmKernels.matmulTransB(a, bT).data));
  });

  describe("on a GPT-2 with PyTorch-made weights", () => {
    const fixture = gpt2Fixture();
    it("costs a small logit error and keeps most greedy tokens over 57 steps (the fixture's 64 positions; figures printed)", async () => {
      const { model, weights, prompt } = fixture();
      expect(model.diagnostics).toEqual([]);
      const f32 = await model.load(weights, { threads: 1 });
      const i8 = await model.load(weights, { threads: 1, weightsDtype: "int8" });
      try {
        const r = await agreement(f32, i8, prompt, "[int8] gpt2 fixture");
        console.log(r.line);
        expect(r.err).toBeLessThan(0.05 * r.scale);
        expect(Math.min(...r.prefix)).toBeGreaterThanOrEqual(8);
        expect(Math.min(...r.same)).toBeGreaterThanOrEqual(50);
      } finally {
        f32.dispose();
        i8.dispose();
      }
    }, 120_000);
  });
});

// f16 weights on the CPU (src/backends/cpu/kernels/wasm/f16.ts, `f16Kernels`, `halfWeights`): a
// product by a weight packed as f16 has exactly the bits of the f32 GEMM on that weight rounded to
// f16 — on shapes off every tile and block, through both of the driver's paths (the half kernels
// below 16 rows, the converted blocks from 16 on), read as Bt [n, k] or B [k, n], for 1, 2 and 3
// threads; every finite f16 is read back exactly; a weight with a value past f16's range is read
// from f32 panels; products whose right operand is not a packed weight stay f32. A session with
// `weightsDtype: "f16"` computes what an f32 session computes on the weights rounded to f16, and
// the accuracy cost on a GPT-2 with PyTorch-made weights (test/fixtures/gpt2.py) is measured and
// bounded: the logits' error against f32 and the greedy tokens' agreement over 57 steps
// (test/helpers/agreement.ts).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { f16Kernels, markResident, wasmGemmAvailable, wasmKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { residentBytes } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { acquireGemmThreads } from "../../../../src/backends/cpu/kernels/wasm/node-threads.js";
import { compile } from "../../../../src/compile.js";
import { f16Value, roundToF16 } from "../../../../src/core/f16.js";
import { tensor } from "../../../../src/core/tensor.js";
import { randomCheckpoint } from "../../../../src/runtime/init.js";
import { writeSafetensors } from "../../../../src/weights/safetensors.js";
import { agreement, gpt2Fixture } from "../../../helpers/agreement.js";
import { seedFor } from "./helpers.js";

const seed = seedFor("f16.test.ts");

/** Values of several magnitudes: every 11th below f16's smallest normal (its subnormals), some zeros of either sign. */
function data(n: number, s: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = i % 13 === 5 ? (i & 1 ? -0 : 0) : (s / 2 ** 32 - 0.5) * (1 + (i % 7)) * (i % 11 === 0 ? 1e-5 : 1);
  }
  return a;
}

const transpose = (Bt: Float32Array, n: number, k: number): Float32Array => {
  const B = new Float32Array(k * n);
  for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) B[p * n + j] = Bt[j * k + p]!;
  return B;
};

const bits = (x: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(x).buffer));

const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 7, 3], [2, 3, 5], [3, 31, 2], [5, 9, 13], [7, 33, 61], [13, 17, 513], [15, 40, 600], [16, 9, 7],
  [17, 5, 1031], [1, 263, 1031], [1, 97, 769], [4, 8, 8], [20, 70, 1100], [127, 13, 7], [1, 3072, 769], [130, 66, 258],
];

describe.skipIf(!wasmGemmAvailable())("f16 weights on the CPU", () => {
  let release: () => void = () => undefined;
  beforeAll(async () => {
    const p = await acquireGemmThreads(3);
    release = p.release;
  });
  afterAll(() => release());

  it(`computes the f32 GEMM's bits on the weights rounded to f16, as Bt and as B, for 1, 2 and 3 threads (seed ${seed})`, () => {
    for (const [m, n, k] of shapes) {
      const A = data(m * k, seed + m), Bt = data(n * k, seed + n + 1), B = transpose(Bt, n, k);
      const a = tensor("f32", [m, k], A), bT = tensor("f32", [n, k], Bt), b = tensor("f32", [k, n], B);
      const before = residentBytes();
      markResident(Bt);
      f16Kernels(1)!.prepareTransB!(bT);
      // Two bytes an element (whole panels of 8 columns), not four.
      expect(residentBytes() - before, `${m}x${n}x${k}`).toBe(Math.ceil((Math.ceil(n / 8) * 8 * k * 2) / 16) * 16);
      expect(f16Kernels(1)!.prepareB!(b)).toBe(true);
      const want = bits(wasmKernels.matmulTransB(a, tensor("f32", [n, k], roundToF16(Bt))).data);
      for (const t of [1, 2, 3]) {
        expect(bits(f16Kernels(t)!.matmulTransB(a, bT).data), `${m}x${n}x${k} Bt, ${t} threads`).toEqual(want);
        expect(bits(f16Kernels(t)!.matmul(a, b).data), `${m}x${n}x${k} B, ${t} threads`).toEqual(want);
      }
      // The f32 kernels on the same arrays still read their f32 values (which rounding changes).
      if (k >= 8) expect(bits(wasmKernels.matmulTransB(a, bT).data)).not.toEqual(want);
    }
  });

  it("reads every finite f16 back exactly, through the half kernels (1 row) and the converted blocks (16 rows)", () => {
    const finite = Array.from({ length: 65536 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00);
    const values = Float32Array.from(finite, f16Value);
    const bT = tensor("f32", [values.length, 1], values);
    markResident(values);
    f16Kernels(1)!.prepareTransB!(bT);
    for (const m of [1, 16]) {
      const c = f16Kernels(2)!.matmulTransB(tensor("f32", [m, 1], new Float32Array(m).fill(1)), bT).data;
      // 0 + 1·v: −0 sums to +0, as the f32 kernels' do.
      for (let r = 0; r < m; r++) expect(bits(c.subarray(r * values.length, (r + 1) * values.length)), `row ${r} of ${m}`).toEqual(bits(values.map((v) => 0 + v)));
    }
  });

  it("reads a weight with a value past f16's range from f32 panels; leaves products of operands that are not packed weights in f32", () => {
    const [m, n, k] = [5, 19, 33];
    const A = data(m * k, seed + 3), Bt = data(n * k, seed + 4);
    Bt[7] = 70000;
    const a = tensor("f32", [m, k], A), bT = tensor("f32", [n, k], Bt);
    markResident(Bt);
    const before = residentBytes();
    f16Kernels(1)!.prepareTransB!(bT);
    expect(residentBytes() - before).toBe(Math.ceil(n / 8) * 8 * k * 4);
    expect(bits(f16Kernels(2)!.matmulTransB(a, bT).data)).toEqual(bits(wasmKernels.matmulTransB(a, bT).data));
    const other = tensor("f32", [n, k], data(n * k, seed + 5));
    expect(bits(f16Kernels(1)!.matmulTransB(a, other).data)).toEqual(bits(wasmKernels.matmulTransB(a, other).data));
  });

  it("a session with f16 weights computes what an f32 session computes on the weights' matrices rounded to f16", async () => {
    const file = "models/gpt2.tfm";
    const model = compile(readFileSync(file, "utf8"), { file, settings: { n_layer: 2, n_embd: 32, n_head: 4, vocab_size: 61, n_positions: 24 } });
    expect(model.diagnostics).toEqual([]);
    const checkpoint = randomCheckpoint(model.checked.instance!.weights, seed);
    const bytes = writeSafetensors(checkpoint);
    const copy = bytes.slice();
    const rounded = writeSafetensors(checkpoint.map((t) => (t.dtype === "F32" && t.shape.length >= 2 ? { ...t, data: roundToF16(t.data as Float32Array) } : t)));
    const ids = { input_ids: { data: [[3, 17, 42, 5, 9], [60, 0, 11, 29, 33]] } };
    const f16 = await model.load(bytes, { weightsDtype: "f16", threads: 2 });
    const f32 = await model.load(rounded, { threads: 1 });
    try {
      expect(bits((await f16.run(ids)).logits!.data)).toEqual(bits((await f32.run(ids)).logits!.data));
      // The caller's bytes are not rounded.
      expect(bytes).toEqual(copy);
    } finally {
      f16.dispose();
      f32.dispose();
    }
  });

  describe("on a GPT-2 with PyTorch-made weights", () => {
    const fixture = gpt2Fixture();
    it("costs a logit error near f16's rounding and keeps the greedy tokens over 57 steps (figures printed)", async () => {
      const { model, weights, prompt } = fixture();
      expect(model.diagnostics).toEqual([]);
      const f32 = await model.load(weights, { threads: 1 });
      const half = await model.load(weights, { threads: 2, weightsDtype: "f16" });
      try {
        const r = await agreement(f32, half, prompt, "[f16] gpt2 fixture");
        console.log(r.line);
        expect(r.err).toBeGreaterThan(0);
        expect(r.err).toBeLessThan(0.005 * r.scale);
        expect(Math.min(...r.prefix)).toBeGreaterThanOrEqual(30);
      } finally {
        f32.dispose();
        half.dispose();
      }
    }, 120_000);
  });
});

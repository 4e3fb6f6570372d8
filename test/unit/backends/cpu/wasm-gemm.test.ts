// The WebAssembly SIMD GEMM core (src/backends/cpu/kernels/wasm/gemm.ts) and wasmKernels: against
// a double-precision triple loop on random shapes with edges off the 4×2 tile, the 64-row panel
// and k % 4 (k = 0 included); a row of C bit-identical whatever m and the rows around it (fused
// kernels compute row blocks and are compared with the unfused product bit for bit); and matmul /
// matmulTransB through wasmKernels against plainKernels, the reference.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultKernels, gemmNTWasm, plainKernels, wasmGemmAvailable, wasmKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { matmul, matmulTransB } from "../../../../src/backends/cpu/kernels/matmul.js";
import { gemmModuleBytes } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { fcParams, randomTensor, seedFor } from "./helpers.js";

const seed = seedFor("wasm-gemm.test.ts");

/** f32 data of `len` values uniform in [-2, 2). */
const data = (len: number, s: number) => randomTensor("f32", [len], s, { scale: 2 }).data;

/** Fails unless every C[i, j] is within 1e-5 · Σ_p |A[i, p] · Bt[j, p]| of the double-precision sum. */
function expectGemm(A: Float32Array, Bt: Float32Array, C: Float32Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0, g = 0;
      for (let p = 0; p < k; p++) {
        const t = A[i * k + p]! * Bt[j * k + p]!;
        s += t;
        g += Math.abs(t);
      }
      const c = C[i * n + j]!;
      if (!(Math.abs(c - s) <= 1e-5 * g)) expect.fail(`C[${i}, ${j}] = ${c}, want ${s} (Σ|ab| = ${g}; m=${m} n=${n} k=${k})`);
    }
  }
}

describe("wasm gemm core", () => {
  it("validates here (Node ≥ 16) and instantiates synchronously", () => {
    expect(wasmGemmAvailable()).toBe(true);
    expect(WebAssembly.validate(gemmModuleBytes())).toBe(true);
  });

  it("matches a double-precision reference on random shapes (m, n, k in 1..70, k = 0)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70 })), fc.integer(), (m, n, k, s) => {
        const A = data(m * k, s), Bt = data(n * k, s + 1);
        const C = new Float32Array(m * n).fill(NaN);
        expect(gemmNTWasm(A, 0, Bt, 0, C, 0, m, n, k)).toBe(true);
        expectGemm(A, Bt, C, m, n, k);
      }),
      fcParams(seed, 300),
    );
  });

  it("handles large k, several n panels and offsets into the operands", () => {
    const [m, n, k] = [9, 133, 771];
    const A = data(3 + m * k, seed), Bt = data(5 + n * k, seed + 1);
    const C = new Float32Array(7 + m * n).fill(NaN);
    gemmNTWasm(A, 3, Bt, 5, C, 7, m, n, k);
    expect(Array.from(C.subarray(0, 7)).every(Number.isNaN)).toBe(true);
    expectGemm(A.subarray(3), Bt.subarray(5), C.subarray(7), m, n, k);
  });

  it("gives a row the same bits whatever m and the rows around it", () => {
    for (const k of [1, 3, 4, 67, 768]) {
      const n = 37;
      const A = data(64 * k, seed + k), Bt = data(n * k, seed + 2 * k);
      const full = new Float32Array(64 * n);
      gemmNTWasm(A, 0, Bt, 0, full, 0, 64, n, k);
      for (const r of [0, 2, 5, 61, 63]) {
        const want = full.subarray(r * n, (r + 1) * n);
        for (const m of [1, 5, 64]) {
          // Row r placed at position r % m of an m-row block whose other rows are fresh values.
          const pos = r % m;
          const block = data(m * k, seed + 7 * m + r);
          block.set(A.subarray(r * k, (r + 1) * k), pos * k);
          const C = new Float32Array(m * n);
          gemmNTWasm(block, 0, Bt, 0, C, 0, m, n, k);
          expect(C.subarray(pos * n, (pos + 1) * n), `row ${r}, m=${m}, k=${k}`).toEqual(want);
        }
      }
      // And through the kernels: matmulTransB on 1 row and matmul on 1 row (no separate small-m path).
      const row = { dtype: "f32", shape: [1, k], data: A.slice(5 * k, 6 * k) } as const;
      const bt = { dtype: "f32", shape: [n, k], data: Bt } as const;
      const b = wasmKernels.permute(bt, [1, 0]);
      expect(wasmKernels.matmulTransB(row, bt).data).toEqual(full.subarray(5 * n, 6 * n));
      expect(wasmKernels.matmul(row, b).data).toEqual(full.subarray(5 * n, 6 * n));
    }
  });
});

describe("wasmKernels", () => {
  it("is the default here; plainKernels stays the TypeScript reference", () => {
    expect(wasmKernels.name).toBe("wasm-simd");
    expect(defaultKernels).toBe(wasmKernels);
    expect(plainKernels.name).toBe("plain-ts");
    expect(plainKernels.matmul).toBe(matmul);
    expect(plainKernels.matmulTransB).toBe(matmulTransB);
    expect(wasmKernels.softmaxLastAxis).toBe(plainKernels.softmaxLastAxis);
  });

  it("matmul and matmulTransB agree with plainKernels on batched and 1-D operands", () => {
    const cases: [number[], number[], boolean][] = [
      [[2, 3, 5, 19], [19, 11], false],
      [[2, 3, 5, 19], [11, 19], true],
      [[3, 1, 6, 8], [4, 8, 7], false],
      [[4, 2, 9], [4, 5, 9], true],
      [[19], [19, 6], false],
      [[3, 19], [19], false],
      [[2, 19], [19], true],
      [[2, 0, 4], [4, 3], false],
    ];
    for (const [as, bs, t] of cases) {
      const a = randomTensor("f32", as, seed + as.length, { scale: 2 }), b = randomTensor("f32", bs, seed + bs.length + 9, { scale: 2 });
      const got = t ? wasmKernels.matmulTransB(a, b) : wasmKernels.matmul(a, b);
      const want = t ? plainKernels.matmulTransB(a, b) : plainKernels.matmul(a, b);
      expect(got.shape).toEqual(want.shape);
      for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThanOrEqual(1e-5 * 19 * 4);
    }
  });
});

// The WebAssembly SIMD GEMM core (src/backends/cpu/kernels/wasm/gemm.ts) and wasmKernels: against
// a double-precision triple loop on random shapes with edges off the 4×8 tile and the 8-column
// panel (k = 0 included); on odd shapes (1, primes, k past the k block, m = 1 with several panel
// groups) bit for bit against a plain sequential f32 loop (the plain SIMD path's contract), or
// within 1e-5 · Σ|ab| where relaxed-SIMD FMA is in use; weights packed once (resident) giving
// the same bits as packed per call; a weight B [k, n] packed straight from [k, n] (packWeightNN, no
// transposed copy; raw copies in pieces) giving the bits of its transpose's panels; the relaxed-SIMD path in a child process run with
// --experimental-wasm-relaxed-simd (Node 20), bit-exact for 1, 2 and 3 threads; a row of C
// bit-identical whatever m and the rows around it (fused kernels compute row blocks and are
// compared with the unfused product bit for bit); and matmul / matmulTransB through wasmKernels
// against plainKernels, the reference.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultKernels, gemmNTWasm, plainKernels, threadedKernels, wasmGemmAvailable, wasmKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { matmul, matmulTransB } from "../../../../src/backends/cpu/kernels/matmul.js";
import { gemmModuleBytes, gemmNNPacked, gemmUsesFma, markResident, packWeightNN, residentBytes, SMALL_MIN_MACS, stateArray, stateReadsInPlace, threadedSmallJobs, wasmFmaAvailable } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { fcParams, holdThreads, randomTensor, seedFor } from "./helpers.js";

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

/** C = A · Btᵀ as a plain JS loop: each C[i, j] one f32 sum in ascending p, each product rounded to f32. */
export function sequentialF32(A: Float32Array, Bt: Float32Array, m: number, n: number, k: number): Float32Array {
  const C = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = Math.fround(s + Math.fround(A[i * k + p]! * Bt[j * k + p]!));
      C[i * n + j] = s;
    }
  }
  return C;
}

/** [m, n, k] off every tile, panel and block: 1, primes, k past the 512 k block, m = 1 over several 4-panel groups, m = 2 over panel pairs. */
const oddShapes: [number, number, number][] = [
  [1, 1, 1], [1, 7, 3], [2, 3, 5], [3, 31, 2], [5, 9, 13], [7, 33, 61], [13, 17, 513], [17, 5, 1031],
  [31, 67, 1], [61, 41, 127], [1, 263, 1031], [1, 37, 2], [1, 97, 769], [4, 8, 8], [6, 71, 2053], [127, 13, 7],
  // 2 and 3 rows over pairs of panels and an odd panel after them (the two-row kernel)
  [2, 45, 1031], [3, 67, 130], [2, 24, 9], [3, 16, 3],
  // fewer than 4 rows, k a multiple of 4: decode's q · kᵀ, not packed (small.ts's ntsmall)
  [1, 1, 4], [1, 5, 64], [2, 13, 8], [3, 128, 64], [1, 9, 12], [1, 127, 1024],
];

describe("wasm gemm core", () => {
  it("gives a plain sequential f32 loop's bits on odd shapes (within 1e-5 · Σ|ab| with relaxed-SIMD FMA)", () => {
    const fma = gemmUsesFma();
    for (const [m, n, k] of oddShapes) {
      const A = data(m * k, seed + m * 31 + k), Bt = data(n * k, seed + n * 7 + k);
      const C = new Float32Array(m * n).fill(NaN);
      expect(gemmNTWasm(A, 0, Bt, 0, C, 0, m, n, k)).toBe(true);
      if (fma) expectGemm(A, Bt, C, m, n, k);
      else expect(C, `${m}x${n}x${k}`).toEqual(sequentialF32(A, Bt, m, n, k));
    }
  });

  it("packs a resident weight once and gives the bits of packing per call", () => {
    const [m, n, k] = [19, 45, 300];
    const A = data(m * k, seed + 5), Bt = data(2 + n * k, seed + 6), copy = Bt.slice();
    const want = new Float32Array(m * n);
    gemmNTWasm(A, 0, copy, 2, want, 0, m, n, k);
    markResident(Bt);
    const before = residentBytes();
    for (let r = 0; r < 3; r++) {
      const C = new Float32Array(m * n);
      gemmNTWasm(A, 0, Bt, 2, C, 0, m, n, k);
      expect(C).toEqual(want);
      // 6 panels of 8 columns × k floats, packed on the first call only.
      expect(residentBytes() - before).toBe(6 * 8 * k * 4);
    }
    // The same array read as another shape is packed separately.
    const C2 = new Float32Array(m * 15);
    gemmNTWasm(A, 0, Bt, 2, C2, 0, m, 15, k);
    expect(C2).toEqual(want.filter((_, i) => i % n < 15));
    expect(residentBytes() - before).toBe(6 * 8 * k * 4 + 2 * 8 * k * 4);
  });

  it("packs a weight B [k, n] as it is (no transposed copy) into its transpose's panels: the same bits, packed once", () => {
    const fma = gemmUsesFma();
    // [5, 1031, 2053]: B's raw copies (and Bt's, below) go in two pieces.
    for (const [m, n, k] of [...oddShapes, [5, 1031, 2053], [128, 72, 768]] as [number, number, number][]) {
      const A = data(m * k, seed + m * 17 + k), B = data(k * n, seed + n * 3 + k);
      const Bt = new Float32Array(n * k);
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) Bt[j * k + p] = B[p * n + j]!;
      const viaBt = new Float32Array(m * n).fill(NaN);
      expect(gemmNTWasm(A, 0, Bt, 0, viaBt, 0, m, n, k)).toBe(true);
      if (fma) expectGemm(A, Bt, viaBt, m, n, k);
      else expect(viaBt, `Bt ${m}x${n}x${k}`).toEqual(sequentialF32(A, Bt, m, n, k));
      const before = residentBytes();
      expect(packWeightNN(B, k, n)).toBe(true);
      expect(residentBytes() - before).toBe(Math.ceil(n / 8) * 8 * k * 4);
      const a = { dtype: "f32", shape: [m, k], data: A } as const, b = { dtype: "f32", shape: [k, n], data: B } as const;
      for (let r = 0; r < 2; r++) expect(wasmKernels.matmul(a, b).data, `B ${m}x${n}x${k}`).toEqual(viaBt);
      expect(residentBytes() - before).toBe(Math.ceil(n / 8) * 8 * k * 4);
    }
  });

  it("packs a resident B [k, n] read at an offset at its first product, packs any other B per call (4 rows or more), and leaves fewer rows to the small kernels", () => {
    const [m, n, k] = [7, 21, 37];
    const A = data(m * k, seed + 11), B = data(3 + k * n, seed + 12);
    const Bt = new Float32Array(n * k);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) Bt[j * k + p] = B[3 + p * n + j]!;
    const want = sequentialF32(A, Bt, m, n, k);
    const packed = gemmNNPacked(1);
    // Not resident, 3 rows: nothing written.
    const few = new Float32Array(3 * n).fill(NaN);
    expect(packed(A, 0, B, 3, few, 0, 3, n, k)).toBe(false);
    expect(Array.from(few).every(Number.isNaN)).toBe(true);
    // Not resident, 7 rows: packed into scratch for this call (the resident region does not grow), the core's bits.
    const C = new Float32Array(m * n).fill(NaN);
    const start = residentBytes();
    expect(packed(A, 0, B, 3, C, 0, m, n, k)).toBe(true);
    if (!gemmUsesFma()) expect(C).toEqual(want);
    expect(residentBytes()).toBe(start);
    C.fill(NaN);
    markResident(B);
    const before = residentBytes();
    for (let r = 0; r < 2; r++) {
      expect(packed(A, 0, B, 3, C, 0, m, n, k)).toBe(true);
      if (!gemmUsesFma()) expect(C).toEqual(want);
      expect(residentBytes() - before).toBe(3 * 8 * k * 4);
    }
  });

  it("recognises a resident weight read through a view (a fused kernel's `subarray`): packed once, not per call", () => {
    // GPT-2's LM head reads the tied embedding through a view; it was packed per call (154 MB a decode step).
    const [m, n, k] = [1, 40, 64];
    const A = data(m * k, seed + 7), Bt = data(n * k, seed + 8);
    const want = new Float32Array(m * n);
    gemmNTWasm(A, 0, Bt.slice(), 0, want, 0, m, n, k);
    markResident(Bt);
    const before = residentBytes();
    for (let r = 0; r < 3; r++) {
      const C = new Float32Array(m * n);
      gemmNTWasm(A, 0, Bt.subarray(0, n * k), 0, C, 0, m, n, k);
      expect(C).toEqual(want);
      expect(residentBytes() - before).toBe(5 * 8 * k * 4);
    }
    // A view of part of it (rows 8 .. 40) is the same memory: packed once more, then kept.
    for (let r = 0; r < 2; r++) gemmNTWasm(A, 0, Bt.subarray(8 * k), 0, new Float32Array(32), 0, m, 32, k);
    expect(residentBytes() - before).toBe(5 * 8 * k * 4 + 4 * 8 * k * 4);
    // An array that merely has the same length is not resident.
    const other = Bt.slice();
    gemmNTWasm(A, 0, other, 0, new Float32Array(n), 0, m, n, k);
    expect(residentBytes() - before).toBe(5 * 8 * k * 4 + 4 * 8 * k * 4);
  });

  it("runs relaxed-SIMD FMA when asked where the engine validates it: within 1e-5 · Σ|ab|, the same bits for 1, 2 and 3 threads", () => {
    const flags = wasmFmaAvailable() ? [] : ["--experimental-wasm-relaxed-simd"];
    const run = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, [...flags, "--import", "tsx", "test/unit/backends/cpu/wasm-gemm-fma-child.ts"], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout) as { fma: boolean; failures: string[]; maxRel: number };
    };
    const fma = run({ TFM_WASM_FMA: "1" });
    expect(fma.fma).toBe(true);
    expect(fma.failures).toEqual([]);
    console.log(`relaxed-SIMD FMA: largest |C − exact| / Σ|ab| = ${fma.maxRel.toExponential(2)}`);
    const plain = run({ TFM_WASM_FMA: "0" });
    expect(plain.fma).toBe(false);
    expect(plain.failures).toEqual([]);
  }, 150_000);

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

  it("matmul of fewer than 4 rows by a B given [k, n] (decode's p · v) has the core's bits without packing: a sequential f32 loop's", () => {
    if (gemmUsesFma()) return; // with FMA such products are packed, and the core's test above covers them
    for (const [m, n, k] of [...oddShapes.filter(([m]) => m < 4), [1, 64, 128], [3, 64, 1031], [1, 17, 9], [2, 35, 64], [1, 3, 5], [1, 64, 1024]] as [number, number, number][]) {
      for (const batch of [[], [3]]) {
        const a = randomTensor("f32", [...batch, m, k], seed + m * 13 + k, { scale: 2 }), b = randomTensor("f32", [...batch, k, n], seed + n * 5 + k, { scale: 2 });
        const got = wasmKernels.matmul(a, b).data as Float32Array;
        const count = batch[0] ?? 1;
        for (let i = 0; i < count; i++) {
          const A = (a.data as Float32Array).subarray(i * m * k, (i + 1) * m * k), B = (b.data as Float32Array).subarray(i * k * n, (i + 1) * k * n);
          const Bt = new Float32Array(n * k);
          for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) Bt[j * k + p] = B[p * n + j]!;
          expect(got.subarray(i * m * n, (i + 1) * m * n), `${batch}x${m}x${n}x${k}`).toEqual(sequentialF32(A, Bt, m, n, k));
        }
      }
    }
  });

  it("reads a state kept in its memory (stateArray: a KV cache) in place: decode's q · kᵀ and p · v, the bits of a copied operand", () => {
    if (gemmUsesFma()) return; // with FMA such products are packed
    // A cache of 3 heads × 40 positions × 64 (k and v), read at 37 positions per head (off the tile of 4) and at all 40 (the buffer's end: the kernels read past it).
    const [heads, cap, d] = [3, 40, 64];
    const cache = stateArray(heads * cap * d);
    expect(cache, "a shared memory holds states here").toBeDefined();
    cache!.set(data(heads * cap * d, seed + 7));
    for (const len of [37, 40]) {
      const q = randomTensor("f32", [1, d], seed + len, { scale: 2 }), p = randomTensor("f32", [1, len], seed + len + 1, { scale: 2 });
      for (let h = 0; h < heads; h++) {
        const view = cache!.subarray(h * cap * d, h * cap * d + len * d);
        const keys = { dtype: "f32", shape: [len, d], data: view } as const;
        const copied = { dtype: "f32", shape: [len, d], data: view.slice() } as const;
        // q · kᵀ (keys as Bt [len, d]) and p · v (values as B [len, d]), each read in place once
        const before = stateReadsInPlace();
        expect(wasmKernels.matmulTransB(q, keys).data, `q · kᵀ, head ${h}, ${len} positions`).toEqual(wasmKernels.matmulTransB(q, copied).data);
        expect(wasmKernels.matmul(p, keys).data, `p · v, head ${h}, ${len} positions`).toEqual(wasmKernels.matmul(p, copied).data);
        expect(stateReadsInPlace() - before).toBe(2);
        expect(wasmKernels.matmulTransB(q, keys).data).toEqual(sequentialF32(q.data as Float32Array, view, 1, len, d));
      }
    }
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

describe("smallProducts: attention's products for every head in one call (decode)", () => {
  holdThreads(3);
  // A cache of 5 heads × 130 positions × d (keys and values), read at len positions per head:
  // off the tile of 4, at the buffer's end (the kernels read past it), and past SMALL_MIN_MACS.
  const [heads, cap] = [5, 130];
  const cases: [m: number, len: number, d: number][] = [[1, 37, 64], [1, 130, 64], [2, 13, 8], [3, 40, 12], [1, 1, 4], [2, 103, 64]];
  for (const [m, len, d] of cases) {
    it(`m ${m}, ${len} positions, d ${d}: the bits of matmulTransB and matmul head by head, for 1, 2 and 3 threads`, () => {
      if (gemmUsesFma()) return; // with FMA such products are packed: smallProducts declines (below)
      const keys = stateArray(heads * cap * d)!, values = stateArray(heads * cap * d)!;
      keys.set(data(heads * cap * d, seed + len)), values.set(data(heads * cap * d, seed + len + 1));
      // q rows of every head with a gap between heads (aStride > m · d); p contiguous.
      const q = data(heads * (m * d + 3), seed + d) as Float32Array, p = data(heads * m * len, seed + m) as Float32Array;
      const headOf = (b: Float32Array, h: number, rows: number, cols: number) => ({ dtype: "f32", shape: [rows, cols], data: b.subarray(h * cap * d, h * cap * d + rows * cols) }) as const;
      const wantS: number[] = [], wantO: number[] = [];
      for (let h = 0; h < heads; h++) {
        const qh = { dtype: "f32", shape: [m, d], data: q.subarray(h * (m * d + 3), h * (m * d + 3) + m * d) } as const;
        const ph = { dtype: "f32", shape: [m, len], data: p.subarray(h * m * len, (h + 1) * m * len) } as const;
        wantS.push(...wasmKernels.matmulTransB(qh, headOf(keys, h, len, d)).data);
        wantO.push(...wasmKernels.matmul(ph, headOf(values, h, len, d)).data);
      }
      for (const threads of [1, 2, 3]) {
        const K = threadedKernels(threads);
        const s = new Float32Array(heads * m * len), o = new Float32Array(heads * m * d + 2);
        const before = stateReadsInPlace(), jobs = threadedSmallJobs();
        expect(K.smallProducts!({ transB: true, count: heads, m, n: len, k: d, a: q, aOff: 0, aStride: m * d + 3, b: keys, bOff: 0, bStride: cap * d, c: s, cOff: 0, cStride: m * len })).toBe(true);
        expect(K.smallProducts!({ transB: false, count: heads, m, n: d, k: len, a: p, aOff: 0, aStride: m * len, b: values, bOff: 0, bStride: cap * d, c: o, cOff: 2, cStride: m * d })).toBe(true);
        expect(stateReadsInPlace() - before).toBe(4 * heads);
        // Shared out over the threads where the heads' multiply-adds reach SMALL_MIN_MACS.
        expect(threadedSmallJobs() - jobs).toBe(threads > 1 ? [m * len * d, m * d * len].filter((macs) => heads * macs >= SMALL_MIN_MACS).length : 0);
        expect([...s], `q · kᵀ, ${threads} threads`).toEqual(wantS);
        expect([...o.subarray(2)], `p · v, ${threads} threads`).toEqual(wantO);
        expect(o.subarray(0, 2)).toEqual(new Float32Array(2));
      }
    });
  }

  it("declines, having done nothing, where the head-by-head products would not run so", () => {
    const K = threadedKernels(2);
    const inMemory = stateArray(4 * 16 * 8)!, plain = new Float32Array(4 * 16 * 8);
    const c = new Float32Array(64).fill(7);
    const base = { count: 4, n: 16, aOff: 0, bOff: 0, bStride: 128, c, cOff: 0, cStride: 16 } as const;
    // Keys not in the GEMM's memory; four rows or more (the packed GEMM's bits); k not a multiple of 4 for q · kᵀ.
    expect(K.smallProducts!({ ...base, transB: true, m: 1, k: 8, a: new Float32Array(32), aStride: 8, b: plain })).toBe(false);
    expect(K.smallProducts!({ ...base, transB: false, m: 4, k: 8, a: new Float32Array(128), aStride: 32, b: inMemory, cStride: 64 })).toBe(false);
    expect(K.smallProducts!({ ...base, transB: true, m: 1, k: 6, a: new Float32Array(24), aStride: 6, b: inMemory })).toBe(false);
    if (gemmUsesFma()) expect(K.smallProducts!({ ...base, transB: true, m: 1, k: 8, a: new Float32Array(32), aStride: 8, b: inMemory })).toBe(false);
    expect(c).toEqual(new Float32Array(64).fill(7));
  });
});

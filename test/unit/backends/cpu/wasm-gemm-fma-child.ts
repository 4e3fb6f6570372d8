// Run by wasm-gemm.test.ts in its own process (with --experimental-wasm-relaxed-simd where the
// engine needs it): the GEMM core on odd shapes with 1, 2 and 3 threads. Prints JSON: whether it
// used relaxed-SIMD FMA, the failures (a thread count giving other bits than one thread, an
// element off the double-precision sum by more than 1e-5 · Σ|ab|, or, on the plain path, other
// bits than a sequential f32 loop) and the largest error relative to Σ|ab|.
import { gemmNTWasm, gemmUsesFma } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { acquireGemmThreads } from "../../../../src/backends/cpu/kernels/wasm/node-threads.js";

const fma = gemmUsesFma();
const { threads, release } = await acquireGemmThreads(3);
const failures: string[] = [];
if (threads !== 3) failures.push(`${threads} threads, want 3`);
let maxRel = 0;
let s = 12345;
const data = (len: number) => {
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) a[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4;
  return a;
};
// Every product is above THREAD_MIN_MACS (2^20 multiply-adds): really split over the threads.
const shapes: [number, number, number][] = [[1, 3072, 769], [7, 130, 1155], [129, 37, 601], [1, 263, 4099], [61, 1031, 17]];
for (const [m, n, k] of shapes) {
  const A = data(m * k), Bt = data(n * k);
  const one = new Float32Array(m * n);
  gemmNTWasm(A, 0, Bt, 0, one, 0, m, n, k, 1);
  for (const t of [2, 3]) {
    const C = new Float32Array(m * n).fill(NaN);
    gemmNTWasm(A, 0, Bt, 0, C, 0, m, n, k, t);
    const a = new Uint32Array(C.buffer), b = new Uint32Array(one.buffer);
    const bad = a.findIndex((v, i) => v !== b[i]);
    if (bad >= 0) failures.push(`${m}x${n}x${k}, ${t} threads: element ${bad} is ${C[bad]}, one thread gives ${one[bad]}`);
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let e = 0, g = 0, f = 0;
      for (let p = 0; p < k; p++) {
        const x = A[i * k + p]! * Bt[j * k + p]!;
        e += x;
        g += Math.abs(x);
        f = Math.fround(f + Math.fround(x));
      }
      const c = one[i * n + j]!;
      const rel = Math.abs(c - e) / g;
      maxRel = Math.max(maxRel, rel);
      if (!(rel <= 1e-5)) failures.push(`${m}x${n}x${k}: C[${i}, ${j}] = ${c}, exact ${e}`);
      if (!fma && c !== f) failures.push(`${m}x${n}x${k}: C[${i}, ${j}] = ${c}, the sequential f32 loop gives ${f}`);
    }
  }
}
release();
console.log(JSON.stringify({ fma, failures: failures.slice(0, 10), maxRel }));

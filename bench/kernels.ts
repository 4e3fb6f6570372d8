// Benchmark (not a test): the CPU kernels' matmul in GFLOP/s (median of several runs) against a
// naive triple loop and, as a peer, NumPy's `a @ b` through /usr/bin/python3 (its own BLAS, with
// its default threads and with one thread), plus a few elementwise kernels.
//
// Run: npx tsx bench/kernels.ts [--runs 5] [--no-large] [--no-numpy] [--python /usr/bin/python3] [--threads N]
// (--threads N: the WebAssembly SIMD kernels with their GEMM over N threads, 1 included, instead of
// the plain TypeScript ones; plus decode's m = 1 shapes.)
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { markResident, plainKernels, threadedKernels, wasmKernels } from "../src/backends/cpu/kernels/index.js";
import { acquireGemmThreads } from "../src/backends/cpu/kernels/wasm/node-threads.js";
import { allocate, type Tensor } from "../src/core/tensor.js";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(opt("--runs") ?? 5);
const large = !args.includes("--no-large");
const numpy = !args.includes("--no-numpy");
const python = opt("--python") ?? process.env["TFM_PYTHON"] ?? "/usr/bin/python3";
const threadsArg = opt("--threads");
const threads = threadsArg === undefined ? undefined : (await acquireGemmThreads(Number(threadsArg))).threads;
const K = threads === undefined ? plainKernels : threads === 1 ? wasmKernels : threadedKernels(threads);

function random(shape: number[], seed: number): Tensor<"f32"> {
  const t = allocate("f32", shape);
  let s = seed >>> 0;
  for (let i = 0; i < t.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    t.data[i] = s / 2 ** 32 - 0.5;
  }
  return t;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Median seconds of `f` over `n` runs after one warm-up. */
function time(f: () => void, n: number): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

/** The textbook i-j-p loop over row-major A and B (no transposition, no blocking), double accumulator. */
function naive(A: Float32Array, B: Float32Array, C: Float32Array, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[i * k + p]! * B[p * n + j]!;
      C[i * n + j] = s;
    }
  }
}

/** NumPy's a @ b for float32 [m, k] @ [k, n]: median seconds, or a reason it could not run. */
function numpyTime(m: number, k: number, n: number, threads?: number): number | string {
  const script = `
import sys, time
import numpy as np
m, k, n, runs = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
a = rng.standard_normal((m, k), dtype=np.float32)
b = rng.standard_normal((k, n), dtype=np.float32)
a @ b
ts = []
for _ in range(runs):
    t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
print(sorted(ts)[len(ts) // 2])
`;
  const env = { ...process.env };
  if (threads !== undefined) for (const v of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"]) env[v] = String(threads);
  const r = spawnSync(python, ["-c", script, String(m), String(k), String(n), String(runs)], { encoding: "utf8", env, timeout: 600_000 });
  if (r.status !== 0) return (r.error?.message ?? r.stderr.trim().split("\n").pop()) || "failed";
  return Number(r.stdout.trim());
}

const gflops = (m: number, k: number, n: number, s: number) => (2 * m * k * n) / s / 1e9;
const fmt = (x: number) => x.toFixed(2).padStart(7);

console.log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}, kernels "${K.name}", median of ${runs} runs\n`);

const shapes: [number, number, number][] = [[768, 768, 3072], [128, 768, 768]];
if (large) shapes.push([128, 768, 50257]);
if (threads !== undefined) shapes.push([1, 768, 768], [1, 768, 3072], [1, 3072, 768], ...(large ? [[1, 768, 50257] as [number, number, number]] : []));

if (numpy) {
  const v = spawnSync(python, ["-c", "import numpy; print(numpy.__version__)"], { encoding: "utf8" });
  console.log(v.status === 0 ? `NumPy ${v.stdout.trim()} (${python})` : `NumPy unavailable (${python}): skipped`);
}
console.log("matmul [m, k] @ [k, n], f32, GFLOP/s (higher is better)");
console.log("     m      k      n   matmul  transB  naive*  numpy  numpy-1t");
for (const [m, k, n] of shapes) {
  const a = random([m, k], 1), b = random([k, n], 2);
  const out = allocate("f32", [m, n]);
  const bT = K.permute(b, [1, 0]);
  // A weight laid out at load: the wasm GEMM keeps its copy in its memory (as CpuProgram marks them).
  markResident(bT.data as Float32Array);
  const r = n > 10000 ? Math.min(runs, 3) : runs;
  const tMatmul = time(() => K.matmul(a, b, out), r);
  const tTrans = time(() => K.matmulTransB(a, bT, out), r);
  // The naive loop is slow; time it on the first rows only (its rate does not depend on m).
  const mNaive = Math.min(m, 16);
  const tNaive = time(() => naive(a.data, b.data, out.data, mNaive, k, n), 1);
  let np = "     -", np1 = "     -";
  if (numpy) {
    const t = numpyTime(m, k, n);
    const t1 = numpyTime(m, k, n, 1);
    np = typeof t === "number" ? fmt(gflops(m, k, n, t)) : "  n/a";
    np1 = typeof t1 === "number" ? fmt(gflops(m, k, n, t1)) : "  n/a";
  }
  console.log(`${String(m).padStart(6)} ${String(k).padStart(6)} ${String(n).padStart(6)} ${fmt(gflops(m, k, n, tMatmul))} ${fmt(gflops(m, k, n, tTrans))} ${fmt(gflops(mNaive, k, n, tNaive))} ${np}  ${np1}`);
}
console.log("  matmul: B packed (transposed) into scratch on every call; transB: B pre-transposed at load time (resident in wasm memory)");
console.log("  naive*: i-j-p triple loop on row-major B, timed on the first 16 rows; numpy-1t: BLAS limited to one thread\n");

// A few elementwise kernels at GPT-2 small sizes, in elements per second.
const x = random([128, 3072], 3), bias = random([3072], 4), y = allocate("f32", [128, 3072]);
const scores = random([12, 128, 128], 5);
const causal = K.binary("le", K.arange(128), K.reshape(K.arange(128), [128, 1]));
const sOut = allocate("f32", [12, 128, 128]), sumOut = allocate("f32", [128, 1]);
const heads = K.reshape(random([128, 768], 6), [128, 12, 64]), headsOut = allocate("f32", [12, 128, 64]);
const rows: [string, number, () => void][] = [
  ["add [128,3072] + [3072]", 128 * 3072, () => K.binary("add", x, bias, y)],
  ["erf [128,3072]", 128 * 3072, () => K.unary("erf", x, y)],
  ["tanh [128,3072]", 128 * 3072, () => K.unary("tanh", x, y)],
  ["sum [128,3072] axis -1", 128 * 3072, () => K.reduce("sum", x, -1, true, sumOut)],
  ["softmax [12,128,128] causal", 12 * 128 * 128, () => K.softmaxLastAxis!(scores, causal, sOut)],
  ["permute [128,12,64] → [12,128,64]", 128 * 768, () => K.permute(heads, [1, 0, 2], headsOut)],
];
console.log("elementwise, M elements/s");
for (const [name, n, f] of rows) console.log(`  ${name.padEnd(36)} ${(n / time(f, runs * 4) / 1e6).toFixed(0).padStart(6)}`);

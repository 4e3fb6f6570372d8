// The GEMM's workers in Node: worker_threads running gemm.ts's `workerSource` (eval'd, so the same
// code runs under tsx, vitest and the compiled dist/) on the module and shared memory of the
// calling thread. Workers are unref'd: a process whose work is done exits even while they wait
// for a job (Node stops them at exit). Only Node-side code imports this file (src/session.ts):
// bundles import no Node module and run single-threaded.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { acquireGemmWorkers, type SpawnGemmWorker } from "./gemm.js";

const spawn: SpawnGemmWorker = (source, data) => {
  const program = `const { workerData, parentPort } = require("node:worker_threads");\n(${source})(workerData, (m) => parentPort.postMessage(m));`;
  const worker = new Worker(program, { eval: true, workerData: data });
  worker.unref();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`a GEMM worker exited (code ${code}) before it was ready`)));
  });
  return { worker: { terminate: () => void worker.terminate() }, ready };
};

/**
 * The default thread count: `TFM_THREADS` when it is a whole number from 1 to 1024 (as
 * OMP_NUM_THREADS for PyTorch: several processes sharing the cores), else the cores this process may use.
 */
export function defaultThreads(): number {
  const env = process.env["TFM_THREADS"];
  const n = env !== undefined && /^\d+$/.test(env.trim()) ? Number(env) : NaN;
  return n >= 1 && n <= 1024 ? n : availableParallelism();
}

/**
 * Starts workers so that `threads` threads (this one included) run the GEMM, for one holder (a
 * session); returns the threads available and `release` (gemm.ts `acquireGemmWorkers`).
 */
export function acquireGemmThreads(threads: number): Promise<{ threads: number; release: () => void }> {
  return acquireGemmWorkers(threads, spawn);
}

// The GEMM's workers in Node: worker_threads running gemm.ts's `workerSource` (eval'd, so the same
// code runs under tsx, vitest and the compiled dist/) on the module and shared memory of the
// calling thread. Workers are unref'd: a process whose work is done exits even while they wait
// for a job (Node stops them at exit). Only Node-side code imports this file (src/session.ts):
// bundles import no Node module and run single-threaded.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { startGemmWorkers, stopGemmWorkers, type SpawnGemmWorker } from "./gemm.js";

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

/** Sessions holding the workers: the last to release them stops them. */
let holders = 0;

/**
 * Starts workers so that `threads` threads (this one included) run the GEMM, for one holder (a
 * session); returns the threads available and `release`, which stops the workers once no holder
 * is left (they are shared by every session of the process, and grow to the largest count asked).
 */
export async function acquireGemmThreads(threads: number): Promise<{ threads: number; release: () => void }> {
  if (threads <= 1) return { threads: 1, release: () => undefined };
  holders++;
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    if (--holders === 0) stopGemmWorkers();
  };
  try {
    return { threads: 1 + (await startGemmWorkers(threads - 1, spawn)), release };
  } catch (e) {
    release();
    throw e;
  }
}

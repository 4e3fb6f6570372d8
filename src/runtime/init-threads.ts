// Random weights drawn on several threads (Node's worker_threads): every weight has a stream of
// its own (init.ts), so any thread may draw any weight and the bytes are those of `randomWeights`.
// The values are drawn into SharedArrayBuffers, the largest weights first, spread over the
// threads so that each draws about as many values; this thread draws a share too. Used for the
// CPU backend (WebGPU uploads from ordinary buffers) and for models big enough to pay for starting
// the workers; from TypeScript sources (tests) there is no built worker module, so one thread draws.
import { Worker } from "node:worker_threads";
import type { Tensor } from "../core/tensor.js";
import type { Weight } from "../check/elaborated.js";
import { makeTensor, roundToDeclared, runtimeDType } from "./convert.js";
import { checkSeed, fillWeight, initsFor, randomWeights, type Init } from "./init.js";

/** Below this many values one thread is faster than starting workers (each costs some 30 ms). */
const MIN_VALUES = 1 << 23;

export interface Job {
  readonly name: string;
  readonly init: Init;
  readonly buffer: SharedArrayBuffer;
}

export async function randomWeightsThreaded(weights: readonly Weight[], seed: number, threads: number): Promise<Map<string, Tensor>> {
  checkSeed(seed);
  const worker = new URL("./init-worker.js", import.meta.url);
  const drawn = weights.filter((w) => runtimeDType[w.dtype] === "f32");
  const size = (w: Weight) => w.shape.reduce((a, b) => a * b, 1);
  const total = drawn.reduce((a, w) => a + size(w), 0);
  if (threads < 2 || total < MIN_VALUES || !import.meta.url.endsWith(".js")) return randomWeights(weights, seed);

  const inits = initsFor(weights);
  const buffers = new Map(drawn.map((w) => [w.name, new SharedArrayBuffer(size(w) * 4)]));
  // The largest first, each to the thread with the fewest values so far.
  const shares = Array.from({ length: Math.min(threads, drawn.length) }, () => ({ values: 0, jobs: [] as Job[] }));
  for (const w of [...drawn].sort((a, b) => size(b) - size(a))) {
    const least = shares.reduce((a, b) => (b.values < a.values ? b : a));
    least.values += size(w);
    least.jobs.push({ name: w.name, init: inits.get(w.name)!, buffer: buffers.get(w.name)! });
  }
  const [own, ...others] = shares;
  const done = others.map(
    (share) =>
      new Promise<void>((resolve, reject) => {
        const t = new Worker(worker, { workerData: { seed, jobs: share.jobs } });
        t.once("message", (m: string | null) => (m === null ? resolve() : reject(new Error(m))));
        t.once("error", reject);
        t.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`a weights worker exited with code ${code}`))));
      }),
  );
  for (const j of own!.jobs) fillWeight(new Float32Array(j.buffer), j.init, seed, j.name);
  await Promise.all(done);

  const rest = randomWeights(weights.filter((w) => runtimeDType[w.dtype] !== "f32"), seed);
  const out = new Map<string, Tensor>();
  for (const w of weights) {
    const buffer = buffers.get(w.name);
    out.set(w.name, buffer ? makeTensor("f32", w.shape, roundToDeclared(new Float32Array(buffer), w.dtype)) : rest.get(w.name)!);
  }
  return out;
}

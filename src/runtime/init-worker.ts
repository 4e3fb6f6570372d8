// A worker of init-threads.ts: draws its share of the random weights into their shared buffers,
// then says so (null) or sends the error's message.
import { parentPort, workerData } from "node:worker_threads";
import { fillWeight } from "./init.js";
import type { Job } from "./init-threads.js";

const { seed, jobs } = workerData as { seed: number; jobs: readonly Job[] };
try {
  for (const j of jobs) fillWeight(new Float32Array(j.buffer), j.init, seed, j.name);
  parentPort!.postMessage(null);
} catch (e) {
  parentPort!.postMessage(e instanceof Error ? e.message : String(e));
}

// onnxruntime-web's wasm backend (SIMD, threads) as a benchmark peer, run in Node: the engine a
// browser user of transformers.js gets. Each thread count runs in a worker thread of its own
// (ortweb-worker.mjs says why); a run is a message there and the logits come back transferred, so
// a timed run includes one message each way (well under a millisecond).
import { Worker } from "node:worker_threads";

export interface OrtWebEngine {
  readonly threads: number;
  readonly loadMs: number;
  readonly version: string;
  run(op: "prefill" | "decode"): Promise<Float32Array>;
  /** Greedy generation of n tokens after the prompt, timed in the worker (no message per step). */
  generate(n: number, vocab: number): Promise<{ prefillMs: number; stepMs: number[]; tokens: number[] }>;
  release(): Promise<void>;
}

type Reply = { ready: true; loadMs: number; version: string } | { logits: Float32Array } | { generated: { prefillMs: number; stepMs: number[]; tokens: number[] } } | { error: string } | { released: true };

export async function ortWebEngine(threads: number, prefill: Uint8Array, decode: Uint8Array | undefined, ids: Int32Array, nLayer: number): Promise<OrtWebEngine> {
  const worker = new Worker(new URL("./ortweb-worker.mjs", import.meta.url), { workerData: { threads, prefill, decode, ids, nLayer } });
  const next = () =>
    new Promise<Reply>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      worker.once("error", onError);
      worker.once("message", (m: Reply) => {
        worker.off("error", onError);
        resolve(m);
      });
    });
  const first = await next();
  if (!("ready" in first)) throw new Error("error" in first ? first.error : "onnxruntime-web's worker did not start");
  return {
    threads,
    loadMs: first.loadMs,
    version: first.version,
    async run(op) {
      const reply = next();
      worker.postMessage(op);
      const m = await reply;
      if ("error" in m) throw new Error(m.error);
      if (!("logits" in m)) throw new Error("onnxruntime-web's worker sent no logits");
      return m.logits;
    },
    async generate(n, vocab) {
      const reply = next();
      worker.postMessage({ generate: n, vocab });
      const m = await reply;
      if ("error" in m) throw new Error(m.error);
      if (!("generated" in m)) throw new Error("onnxruntime-web's worker sent no generation");
      return m.generated;
    },
    async release() {
      const reply = next();
      worker.postMessage("release");
      await reply;
      await worker.terminate();
    },
  };
}

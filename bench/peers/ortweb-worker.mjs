// One onnxruntime-web engine in its own worker thread (bench/peers/ortweb.ts). onnxruntime-web
// initialises its wasm once per module graph and fixes its thread pool then
// (`env.wasm.numThreads`; a session's `intraOpNumThreads` is ignored by the threaded build), so
// each thread count gets a worker, and so a module graph, of its own.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-web";

const { threads, prefill, decode, ids, nLayer } = workerData;
ort.env.wasm.numThreads = threads;
ort.env.wasm.simd = true;
ort.env.logLevel = "error";

const opts = { executionProviders: ["wasm"], graphOptimizationLevel: "all", executionMode: "sequential", logSeverityLevel: 3 };
const feed = (xs) => new ort.Tensor("int64", BigInt64Array.from(Array.from(xs, BigInt)), [1, xs.length]);

const t0 = performance.now();
const prefillSession = await ort.InferenceSession.create(prefill, opts);
const loadMs = performance.now() - t0;
const full = { input_ids: feed(ids) };
let decodeSession, decodeFeeds;
if (decode) {
  decodeSession = await ort.InferenceSession.create(decode, opts);
  // The cache of the first T − 1 tokens, from the prefill graph's present_* outputs.
  const present = await prefillSession.run({ input_ids: feed(ids.subarray(0, ids.length - 1)) });
  decodeFeeds = { input_ids: feed(ids.subarray(ids.length - 1)) };
  for (let l = 0; l < nLayer; l++) {
    decodeFeeds[`past_k.${l}`] = present[`present_k.${l}`];
    decodeFeeds[`past_v.${l}`] = present[`present_v.${l}`];
  }
}

const argmaxLast = (logits, vocab) => {
  const row = logits.subarray(logits.length - vocab);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

// Greedy generation as transformers.js runs it: each step's present_* fed back as past_*.
async function generate(n, vocab) {
  let t = performance.now();
  let out = await prefillSession.run(full);
  const prefillMs = performance.now() - t;
  const stepMs = [], tokens = [];
  for (let i = 0; i < n; i++) {
    const tok = argmaxLast(out.logits.data, vocab);
    tokens.push(tok);
    const f = { input_ids: feed([tok]) };
    for (let l = 0; l < nLayer; l++) {
      f[`past_k.${l}`] = out[`present_k.${l}`];
      f[`past_v.${l}`] = out[`present_v.${l}`];
    }
    t = performance.now();
    out = await decodeSession.run(f);
    stepMs.push(performance.now() - t);
  }
  return { prefillMs, stepMs, tokens };
}

parentPort.on("message", async (op) => {
  try {
    if (op === "release") {
      await prefillSession.release();
      await decodeSession?.release();
      parentPort.postMessage({ released: true });
      return;
    }
    if (typeof op === "object" && op.generate) {
      parentPort.postMessage({ generated: await generate(op.generate, op.vocab) });
      return;
    }
    const out = op === "decode" ? await decodeSession.run(decodeFeeds, ["logits"]) : await prefillSession.run(full, ["logits"]);
    const logits = out.logits.data;
    parentPort.postMessage({ logits }, [logits.buffer]);
  } catch (e) {
    parentPort.postMessage({ error: String(e?.message ?? e) });
  }
});
parentPort.postMessage({ ready: true, loadMs, version: ort.env.versions.web });

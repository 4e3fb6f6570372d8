// Benchmark (not a test; `npm run bench`): GPT-2 prefill on tfm's CPU interpreter against onnxruntime-node and TensorFlow.js (wasm, cpu), same weights, interleaved rounds, medians, effective GFLOP/s, tfm's profile by op.
//
// Workloads (bench/workload.ts): models/gpt2.tfm at GPT-2 small's shape (12 layers, 768 wide,
// 12 heads, FFN 3072, vocab 50257, batch 1, seq 128) and a small one (4 layers, 256 wide, 4
// heads, FFN 1024, vocab 1000, seq 64). Every engine gets tfm's seeded random weights; each
// peer's logits are checked against tfm's before anything is timed. The peers live in
// bench/package.json, which `npm run bench` installs into bench/node_modules; a peer that fails to
// install or load is reported and skipped.
//
// onnxruntime-web (its wasm backend, SIMD and threads) runs in Node too, each thread count in a
// worker thread of its own (bench/peers/ortweb.ts).
//
// With a KV cache (GPT-2's): one decode step after seq − 1 cached tokens for every engine, then
// generation as users run it — 128 new tokens after the prompt, greedy, back to back — for tfm
// and the peers, in ms per token and tokens per second.
//
// Run: npm run bench [-- --only small|gpt2-small] [--rounds N] [--no-decode] [--no-profile] [--json FILE]
// (--json: every timed figure machine-readably, to compare runs).
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, freemem, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CpuProgram } from "../src/backends/cpu/interpret.js";
import { optimize } from "../src/optimize.js";
import { memoryBudget } from "../src/budget.js";
import { allocate, type Tensor } from "../src/core/tensor.js";
import { defaultKernels as K, f16Kernels, halfWeights, int8Kernels, releaseWasmGemm, threadedKernels } from "../src/backends/cpu/kernels/index.js";
import { acquireGemmThreads } from "../src/backends/cpu/kernels/wasm/node-threads.js";
import { evalDim } from "../src/core/dim.js";
import { emptyStates } from "../src/generate/decoder.js";
import { gpt2Onnx } from "./peers/gpt2-onnx.js";
import { ortWebEngine } from "./peers/ortweb.js";
import { tfjsGpt2, type KvCache, type Tf, type TfjsGpt2 } from "./peers/gpt2-tfjs.js";
import { buildWorkload, decodeFlops, graphFlops, modelFile, prefillFlops, SEED, tokens, workloads, type Workload } from "./workload.js";

type Ort = typeof import("onnxruntime-node");

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = opt("--only");
const roundsOverride = opt("--rounds") ? Number(opt("--rounds")) : undefined;
const doDecode = !args.includes("--no-decode");
const doProfile = !args.includes("--no-profile");
const jsonFile = opt("--json");
/** tfm's threaded engine ("tfm Nt", beside the single-threaded "tfm"): --threads N, default the cores. */
const threadsWanted = Number(opt("--threads") ?? availableParallelism());

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A full GC before each timed run, so no engine pays for another's garbage (V8's GC threads share the cores).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/**
 * Untimed: collect garbage and let the previous engine's worker threads go idle (onnxruntime-web's
 * pool keeps a core busy some 30 ms after a run, which would slow the next engine).
 */
const settle = async () => {
  gc();
  await sleep(40);
};
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const gflop = (f: number) => (f / 1e9).toFixed(f >= 1e10 ? 1 : f >= 1e9 ? 2 : 3);
const say = (s = "") => console.log(s);

// ---- machine and peers -------------------------------------------------------------------------

const benchDir = import.meta.dirname;
const pkgVersion = (name: string): string => {
  try {
    return JSON.parse(readFileSync(resolve(benchDir, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
};

/** Jiffies busy and total over all CPUs, from /proc/stat (Linux), for what else is running. */
function cpuTimes(): [number, number] | undefined {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return [total - idle, total];
  } catch {
    return undefined;
  }
}

/** How busy the machine is while this process sleeps (other processes' work), as a line. */
async function otherLoad(when: string): Promise<string> {
  const a = cpuTimes();
  await sleep(1000);
  const b = cpuTimes();
  const busy = a && b && b[1] > a[1] ? (b[0] - a[0]) / (b[1] - a[1]) : undefined;
  const avg = `load average ${loadavg().map((x) => x.toFixed(2)).join(", ")}`;
  if (busy === undefined) return avg;
  return `other processes: CPUs ${(100 * busy).toFixed(0)}% busy over 1 s ${when} (${avg})${busy > 0.1 ? " — timings will be noisy" : ""}`;
}

function machine(): string[] {
  const cpu = cpus();
  let flags = "";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const f = new Set(/^flags\s*:(.*)$/m.exec(info)?.[1]?.trim().split(/\s+/) ?? []);
    flags = ["avx2", "fma", "avx512f"].filter((x) => f.has(x)).join(" ");
  } catch {
    /* not Linux */
  }
  return [
    `CPU: ${cpu[0]?.model ?? "unknown"} × ${cpu.length} logical cores${flags ? ` (${flags})` : ""}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free); ${process.platform}-${process.arch}; node ${process.version} (V8 ${process.versions.v8})`,
  ];
}

async function loadOrt(): Promise<Ort | string> {
  try {
    const m = (await import("onnxruntime-node")) as Ort & { default?: Ort };
    return m.InferenceSession ? m : m.default!;
  } catch (e) {
    return (e as Error).message.split("\n")[0]!;
  }
}

async function loadTf(): Promise<{ tf: Tf; backends: string[]; notes: string[] } | string> {
  try {
    const tf = (await import("@tensorflow/tfjs-core")) as unknown as Tf;
    // Production mode: no debug checks, and no banner recommending tfjs-node on the cpu backend's first use.
    tf.enableProdMode();
    const backends: string[] = [];
    const notes: string[] = [];
    try {
      await import("@tensorflow/tfjs-backend-wasm");
      if (await tf.setBackend("wasm")) {
        await tf.ready();
        backends.push("wasm");
        notes.push(`wasm: SIMD ${tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "on" : "off"}, ${tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "multithreaded" : "single-threaded (no wasm threads in Node)"}`);
      } else notes.push("wasm backend failed to initialise: skipped");
    } catch (e) {
      notes.push(`wasm backend unavailable: ${(e as Error).message.split("\n")[0]}`);
    }
    try {
      await import("@tensorflow/tfjs-backend-cpu");
      if (await tf.setBackend("cpu")) backends.push("cpu");
    } catch (e) {
      notes.push(`cpu backend unavailable: ${(e as Error).message.split("\n")[0]}`);
    }
    return { tf, backends, notes };
  } catch (e) {
    return (e as Error).message.split("\n")[0]!;
  }
}

// ---- engines ------------------------------------------------------------------------------------

interface Engine {
  readonly name: string;
  /** Threads it computes with, as words. */
  readonly threads: string;
  /** Milliseconds to get ready once the weights exist (graph/model build, session, upload). */
  readonly loadMs: number;
  prefill(): Promise<Float32Array> | Float32Array;
  /** One decode step after seq − 1 cached tokens: the logits of the last token. */
  decode?(): Promise<Float32Array> | Float32Array;
  /** Greedy generation as its users run it: the prompt into an empty cache, then `n` steps back to back, each fed the last argmax. */
  generate?(n: number): Promise<Generated> | Generated;
  dispose(): Promise<void> | void;
  /** Its logits may differ from tfm's by this fraction of their scale (int8 weights); default 1e-3. */
  readonly tolerance?: number;
}

/** A generation's timings (ms) and the tokens it made. */
interface Generated {
  readonly prefillMs: number;
  readonly stepMs: readonly number[];
  readonly tokens: readonly number[];
}

/** The argmax of the last `vocab` logits (the last position's row). */
function argmaxLast(logits: Float32Array, vocab: number): number {
  const row = logits.subarray(logits.length - vocab);
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function ortEngines(ort: Ort, w: Workload, weights: ReadonlyMap<string, Tensor>, ids: Int32Array): Promise<Engine[]> {
  const make = async (threads: number): Promise<Engine> => {
    const t0 = performance.now();
    const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential" as const, graphOptimizationLevel: "all" as const, logSeverityLevel: 3 as const };
    const prefillModel = gpt2Onnx(w.cfg, weights, "prefill");
    const prefill = await ort.InferenceSession.create(prefillModel, opts);
    const loadMs = performance.now() - t0;
    const T = ids.length;
    const feed = (xs: Int32Array) => new ort.Tensor("int64", BigInt64Array.from(Array.from(xs, BigInt)), [1, xs.length]);
    const full = { input_ids: feed(ids) };
    let decode: Engine["decode"];
    let generate: Engine["generate"];
    let decodeSession: import("onnxruntime-node").InferenceSession | undefined;
    if (doDecode) {
      decodeSession = await ort.InferenceSession.create(gpt2Onnx(w.cfg, weights, "decode"), opts);
      // The cache of the first T − 1 tokens, from the prefill graph's present_* outputs.
      const present = await prefill.run({ input_ids: feed(ids.subarray(0, T - 1)) });
      const feeds: Record<string, import("onnxruntime-node").Tensor> = { input_ids: feed(ids.subarray(T - 1)) };
      for (let l = 0; l < w.cfg.nLayer; l++) {
        feeds[`past_k.${l}`] = present[`present_k.${l}`]!;
        feeds[`past_v.${l}`] = present[`present_v.${l}`]!;
      }
      const s = decodeSession;
      decode = async () => (await s.run(feeds, ["logits"]))["logits"]!.data as Float32Array;
      // As transformers.js runs it: each step's present_* fed back as the next step's past_* (the cache concatenated, so copied, per step).
      generate = async (n) => {
        let t = performance.now();
        let out = await prefill.run({ input_ids: feed(ids) });
        const prefillMs = performance.now() - t;
        const stepMs: number[] = [], tokens: number[] = [];
        for (let i = 0; i < n; i++) {
          const tok = argmaxLast(out["logits"]!.data as Float32Array, w.cfg.vocab);
          tokens.push(tok);
          const f: Record<string, import("onnxruntime-node").Tensor> = { input_ids: feed(Int32Array.of(tok)) };
          for (let l = 0; l < w.cfg.nLayer; l++) {
            f[`past_k.${l}`] = out[`present_k.${l}`]!;
            f[`past_v.${l}`] = out[`present_v.${l}`]!;
          }
          t = performance.now();
          out = await s.run(f);
          stepMs.push(performance.now() - t);
        }
        return { prefillMs, stepMs, tokens };
      };
    }
    return {
      name: `onnxruntime ${threads}t`,
      threads: `${threads} intra-op`,
      loadMs,
      prefill: async () => (await prefill.run(full, ["logits"]))["logits"]!.data as Float32Array,
      ...(decode ? { decode } : {}),
      ...(generate ? { generate } : {}),
      dispose: async () => {
        await prefill.release();
        await decodeSession?.release();
      },
    };
  };
  // One after the other, so each session's load time is its own.
  return [await make(2), await make(1)];
}

/** onnxruntime-web's wasm backend, one engine per thread count (the cores, then 1), each in its own worker. */
async function ortWebEngines(w: Workload, weights: ReadonlyMap<string, Tensor>, ids: Int32Array): Promise<Engine[]> {
  const prefill = gpt2Onnx(w.cfg, weights, "prefill");
  const decode = doDecode ? gpt2Onnx(w.cfg, weights, "decode") : undefined;
  const counts = [...new Set([Math.min(4, availableParallelism()), 1])];
  const engines: Engine[] = [];
  for (const n of counts) {
    const e = await ortWebEngine(n, prefill, decode, ids, w.cfg.nLayer);
    engines.push({
      name: `ort-web ${n}t`,
      threads: `${n} (wasm SIMD${n > 1 ? ", threads" : ""})`,
      loadMs: e.loadMs,
      prefill: () => e.run("prefill"),
      ...(decode ? { decode: () => e.run("decode"), generate: (steps: number) => e.generate(steps, w.cfg.vocab) } : {}),
      dispose: () => e.release(),
    });
  }
  return engines;
}

async function tfjsEngine(tf: Tf, backend: string, w: Workload, weights: ReadonlyMap<string, Tensor>, ids: Int32Array): Promise<Engine> {
  await tf.setBackend(backend);
  const t0 = performance.now();
  const m: TfjsGpt2 = tfjsGpt2(tf, w.cfg, weights);
  const loadMs = performance.now() - t0;
  const use = async () => {
    if (tf.getBackend() !== backend) await tf.setBackend(backend);
  };
  let cache: KvCache | undefined;
  if (doDecode) cache = m.prefillWithCache(ids.subarray(0, ids.length - 1)).cache;
  const last = ids[ids.length - 1]!;
  return {
    name: `tfjs-${backend}`,
    threads: backend === "wasm" ? "1 (wasm, no threads in Node)" : "1 (JS)",
    loadMs,
    prefill: async () => (await use(), m.prefill(ids)),
    ...(cache
      ? {
          decode: async () => (await use(), m.decode(last, cache)),
          generate: async (n: number) => {
            await use();
            let t = performance.now();
            let r = m.prefillWithCache(ids);
            const prefillMs = performance.now() - t;
            const stepMs: number[] = [], tokens: number[] = [];
            for (let i = 0; i < n; i++) {
              const tok = argmaxLast(r.logits, w.cfg.vocab);
              tokens.push(tok);
              t = performance.now();
              const next = m.step(tok, r.cache);
              stepMs.push(performance.now() - t);
              m.disposeCache(r.cache);
              r = next;
            }
            m.disposeCache(r.cache);
            return { prefillMs, stepMs, tokens };
          },
        }
      : {}),
    dispose: async () => {
      await use();
      if (cache) m.disposeCache(cache);
      m.dispose();
    },
  };
}

// ---- comparing ------------------------------------------------------------------------------------

function agreement(ref: Float32Array, got: Float32Array, vocab: number): string {
  if (ref.length !== got.length) return `size differs: ${got.length} vs tfm's ${ref.length}`;
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ref[i]! - got[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  const rows = ref.length / vocab;
  let same = 0;
  const argmax = (a: Float32Array, o: number) => {
    let b = o;
    for (let j = o; j < o + vocab; j++) if (a[j]! > a[b]!) b = j;
    return b;
  };
  for (let r = 0; r < rows; r++) if (argmax(ref, r * vocab) === argmax(got, r * vocab)) same++;
  if (!Number.isFinite(maxAbs)) return "NOT FINITE";
  return `max |Δ| ${maxAbs.toExponential(2)} (max |logit| ${maxRef.toFixed(1)}, rel ${(maxAbs / maxRef).toExponential(1)}), argmax equal in ${same}/${rows} rows`;
}

/** Within 1e-3 of the logits' scale. */
function agrees(ref: Float32Array, got: Float32Array, tolerance = 1e-3): boolean {
  if (ref.length !== got.length) return false;
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ref[i]! - got[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  return maxAbs <= tolerance * Math.max(1, maxRef);
}

// ---- one workload ---------------------------------------------------------------------------------

async function bench(w: Workload, ort: Ort | string, tfl: Awaited<ReturnType<typeof loadTf>>): Promise<void> {
  const { cfg, seq } = w;
  const rounds = roundsOverride ?? w.rounds;
  say(`\n=== ${w.name}: ${cfg.nLayer} layers, n_embd ${cfg.nEmbd}, ${cfg.nHead} heads, FFN ${4 * cfg.nEmbd}, vocab ${cfg.vocab}, batch 1, seq ${seq} (prefill) ===`);
  const built = buildWorkload(w);
  const ids = tokens(seq, cfg.vocab);
  const t0 = performance.now();
  const optimized = optimize(built.graph).graph;
  // With the memory budget a session gives a program by default (half the machine's memory): each
  // call then checks it, as it does for a user of model.load.
  const budget = { maxMemory: memoryBudget() };
  const program = new CpuProgram(optimized, built.weights, undefined, budget);
  const programMs = performance.now() - t0;
  const pool = await acquireGemmThreads(threadsWanted);
  const threadedProgram = pool.threads > 1 ? new CpuProgram(optimized, built.weights, threadedKernels(pool.threads), budget) : undefined;
  // The same program with int8 and with f16 weights (--weights-dtype int8|f16), on 1 thread and on
  // the pool's; made before the op-by-op programs below, whose own weight layouts would fill the
  // GEMM's resident region. The f16 programs run on the weights rounded to f16, as a session's do.
  const dtypePrograms: { dtype: "int8" | "f16"; t: number; name: string; p: CpuProgram; loadMs: number }[] = [];
  let halves: Map<string, Tensor> | undefined;
  for (const dtype of ["int8", "f16"] as const) {
    for (const t of [...new Set([1, pool.threads])]) {
      const kernels = dtype === "int8" ? int8Kernels(t) : f16Kernels(t);
      if (!kernels) break;
      const t0 = performance.now();
      const p = new CpuProgram(optimized, dtype === "f16" ? (halves ??= halfWeights(built.weights)) : built.weights, kernels, budget);
      dtypePrograms.push({ dtype, t, name: kernels.name, p, loadMs: performance.now() - t0 });
    }
  }
  // The same model without the optimizer: op by op as built, and optimized but not fused.
  const asBuilt = new CpuProgram(built.graph, built.weights, undefined, { fuse: false });
  const unfusedProgram = new CpuProgram(optimized, built.weights, undefined, { fuse: false });
  say(`tfm kernels per call: ${asBuilt.schedule.kernels.length} as built, ${unfusedProgram.schedule.kernels.length} optimized op by op, ${program.schedule.kernels.length} fused`);
  // The token ids, and (where the model takes one) Hugging Face's attention_mask of ones: what a
  // run with the mask left out gets, as every peer attends to every token.
  const hasMask = optimized.inputs.some((p) => p.name === "attention_mask");
  const tfmInputs = (xs: Int32Array) => {
    const m = new Map<string, Tensor>([["input_ids", { dtype: "i32", shape: [1, xs.length], data: xs } as Tensor]]);
    if (hasMask) m.set("attention_mask", { dtype: "i32", shape: [1, xs.length], data: new Int32Array(xs.length).fill(1) } as Tensor);
    return m;
  };
  const inputs = tfmInputs(ids);
  // GPT-2 keeps its KV cache (`state`): a prefill starts from empty state; decode runs the last
  // token on the cache of the first seq − 1, as the peers' decode does (the same feeds every call).
  for (const [k, t] of emptyStates(optimized, inputs)) inputs.set(k, t);
  const states = new Set(optimized.states.map((s) => s.name));
  let tfmDecode: (() => Float32Array) | undefined;
  let tfmDecodeThreaded: (() => Float32Array) | undefined;
  const decodeOnly: Engine[] = [];
  // As generation runs it: the cache kept in place at capacity (runResident), the step taken back after each call.
  const inPlaceOf = (p: CpuProgram) => {
    const head = tfmInputs(ids.subarray(0, seq - 1));
    const token = tfmInputs(ids.subarray(seq - 1));
    p.runResident(head, { fresh: true, capacity: cfg.nPositions });
    return () => {
      p.truncateState(seq - 1);
      return p.runResident(token, { fresh: false }).outputs.get("logits")!.data as Float32Array;
    };
  };
  // Generation through the cache kept in place, as a session runs it: each call returns only the
  // last position's logits (`lastRow`), so the prompt's LM head computes only its last rows.
  const generateOn = (p: CpuProgram) => (n: number): Generated => {
    let t = performance.now();
    let out = p.runResident(tfmInputs(ids), { fresh: true, capacity: cfg.nPositions, lastRow: "logits" }).outputs.get("logits")!;
    const prefillMs = performance.now() - t;
    const stepMs: number[] = [], tokens: number[] = [];
    for (let i = 0; i < n; i++) {
      const tok = argmaxLast(out.data as Float32Array, cfg.vocab);
      tokens.push(tok);
      t = performance.now();
      out = p.runResident(tfmInputs(Int32Array.of(tok)), { fresh: false, lastRow: "logits" }).outputs.get("logits")!;
      stepMs.push(performance.now() - t);
    }
    return { prefillMs, stepMs, tokens };
  };
  if (doDecode && states.size) {
    const head = tfmInputs(ids.subarray(0, seq - 1));
    const token = tfmInputs(ids.subarray(seq - 1));
    const inPlace = inPlaceOf;
    tfmDecode = inPlace(program);
    if (threadedProgram) tfmDecodeThreaded = inPlace(threadedProgram);
    // The state passed in and out of a plain run (append as concat: the whole cache copied per step), as before the cache was kept in place.
    for (const [k, t] of emptyStates(optimized, head)) head.set(k, t);
    const cached = program.run(head).outputs;
    const feeds = new Map(token);
    for (const name of states) feeds.set(name, cached.get(name)!);
    decodeOnly.push({ name: "tfm state copied", threads: `1 (${K.name} kernels)`, loadMs: 0, prefill: () => { throw new Error("decode only"); }, decode: () => program.run(feeds).outputs.get("logits")!.data as Float32Array, dispose: () => undefined });
  }
  const dtypeEngines: Engine[] = dtypePrograms.map(({ dtype, t, name, p, loadMs }) => ({
    name: `tfm ${dtype}${t > 1 ? ` ${t}t` : ""}`,
    threads: `${t} (${name} kernels)`,
    loadMs,
    tolerance: dtype === "int8" ? 0.05 : 0.01,
    prefill: () => p.run(inputs).outputs.get("logits")!.data as Float32Array,
    ...(doDecode && states.size ? { decode: inPlaceOf(p), generate: generateOn(p) } : {}),
    dispose: () => undefined,
  }));
  say(`tfm load: check + IR ${fmtMs(built.checkMs)} ms, random weights (seed ${SEED}, ${built.weights.size} tensors) ${fmtMs(built.weightsMs)} ms, CpuProgram ${fmtMs(programMs)} ms (weights laid out for the kernel)`);

  const flops = prefillFlops(cfg, seq);
  const fromGraph = graphFlops(built.graph, new Map([["batch", 1], ["seq", seq], ["past", 0]]));
  say(`prefill FLOPs: ${gflop(flops.total)} GFLOP = ${flops.parts.map(([n, f]) => `${gflop(f)} ${n}`).join(" + ")} (2·m·n·k per matmul; tfm's IR counts ${gflop(fromGraph)}${fromGraph === flops.total ? ", equal" : ", DIFFERENT"})`);

  const engines: Engine[] = [
    {
      name: "tfm",
      threads: `1 (${K.name} kernels)`,
      loadMs: built.weightsMs + programMs,
      prefill: () => program.run(inputs).outputs.get("logits")!.data as Float32Array,
      ...(tfmDecode ? { decode: tfmDecode, generate: generateOn(program) } : {}),
      dispose: () => undefined,
    },
    ...(threadedProgram
      ? [
          {
            name: `tfm ${pool.threads}t`,
            threads: `${pool.threads} (${threadedKernels(pool.threads).name} kernels)`,
            loadMs: built.weightsMs + programMs,
            prefill: () => threadedProgram.run(inputs).outputs.get("logits")!.data as Float32Array,
            ...(tfmDecodeThreaded ? { decode: tfmDecodeThreaded, generate: generateOn(threadedProgram) } : {}),
            dispose: pool.release,
          },
        ]
      : []),
    ...dtypeEngines.map((e) => ({ ...e, loadMs: built.weightsMs + e.loadMs })),
    {
      name: "tfm unfused",
      threads: "1 (optimized graph, one kernel per node)",
      loadMs: built.weightsMs,
      prefill: () => unfusedProgram.run(inputs).outputs.get("logits")!.data as Float32Array,
      dispose: () => undefined,
    },
    {
      name: "tfm as built",
      threads: "1 (no passes, one kernel per node)",
      loadMs: built.weightsMs,
      prefill: () => asBuilt.run(inputs).outputs.get("logits")!.data as Float32Array,
      dispose: () => undefined,
    },
  ];
  if (typeof ort === "string") say(`onnxruntime-node: not run (${ort})`);
  else {
    try {
      engines.push(...(await ortEngines(ort, w, built.weights, ids)));
    } catch (e) {
      say(`onnxruntime-node: failed to load the model: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  try {
    engines.push(...(await ortWebEngines(w, built.weights, ids)));
  } catch (e) {
    say(`onnxruntime-web: not run (${(e as Error).message.split("\n")[0]}) — run \`npm run bench\`, which installs bench/package.json's peers`);
  }
  if (typeof tfl === "string") say(`tfjs: not run (${tfl})`);
  else {
    for (const b of tfl.backends) {
      if (b === "cpu" && cfg.nLayer * cfg.nEmbd > 4 * 256) {
        say("tfjs-cpu: not run at this size (about 93 s a prefill for GPT-2 small)");
        continue;
      }
      try {
        engines.push(await tfjsEngine(tfl.tf, b, w, built.weights, ids));
      } catch (e) {
        say(`tfjs-${b}: failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }

  // Correctness first: every peer's logits against tfm's. This run is also each engine's warm-up.
  say("\nlogits against tfm's (first run, also the warm-up):");
  const firstMs = new Map<string, number>();
  const first = async (e: Engine) => {
    await settle();
    const t = performance.now();
    const out = await e.prefill();
    firstMs.set(e.name, performance.now() - t);
    return out;
  };
  const ref = await first(engines[0]!);
  say(`  ${pad("tfm", 16)} reference, first run ${fmtMs(firstMs.get("tfm")!)} ms`);
  const timed: Engine[] = [engines[0]!];
  for (const e of engines.slice(1)) {
    try {
      const got = await first(e);
      const ok = agrees(ref, got, e.tolerance);
      say(`  ${pad(e.name, 16)} ${agreement(ref, got, cfg.vocab)}${ok ? "" : "  — DISAGREES: not timed"}`);
      if (ok) timed.push(e);
    } catch (e2) {
      say(`  ${pad(e.name, 16)} failed: ${(e2 as Error).message.split("\n")[0]}`);
    }
  }

  const times = await interleave(timed, (e) => e.prefill(), rounds, firstMs);
  const tfmMs = median(times.get("tfm")!);
  say(`\nprefill, median of ${rounds} interleaved rounds (${gflop(flops.total)} GFLOP; engines under ${repsBudgetMs} ms a run repeat within a round, see runs):`);
  say(`  ${pad("engine", 16)} ${pad("threads", 30)} ${lpad("median ms", 10)} ${lpad("min ms", 9)} ${lpad("runs", 5)} ${lpad("GFLOP/s", 8)} ${lpad("tfm/peer", 9)} ${lpad("load ms", 8)}`);
  for (const e of timed) {
    const ts = times.get(e.name)!;
    const m = median(ts);
    say(`  ${pad(e.name, 16)} ${pad(e.threads, 30)} ${lpad(fmtMs(m), 10)} ${lpad(fmtMs(Math.min(...ts)), 9)} ${lpad(String(ts.length), 5)} ${lpad((flops.total / m / 1e6).toFixed(2), 8)} ${lpad((tfmMs / m).toFixed(2), 9)} ${lpad(fmtMs(e.loadMs), 8)}`);
    figures.push({ workload: w.name, phase: "prefill", engine: e.name, threads: e.threads, medianMs: m, minMs: Math.min(...ts), runs: ts.length, gflops: flops.total / m / 1e6, tfmOverPeer: tfmMs / m });
  }
  say("  tfm/peer: tfm's median over the peer's (how many times longer tfm takes); load: after the weights exist, except tfm's, which includes drawing them");

  if (doDecode) await decodeStep(w, [...timed.slice(0, 1), ...decodeOnly, ...timed.slice(1)], ref);
  if (doDecode && states.size) await generation(w, timed.filter((e) => e.generate));
  if (doProfile) profile(w, program, inputs, tfmMs);
  for (const e of engines) await e.dispose();
  // The next workload starts on a fresh GEMM memory: this one's packed weights would fill its resident region.
  releaseWasmGemm();
}

/** Every timed figure, for --json. */
interface Figure {
  workload: string;
  phase: "prefill" | "decode" | "generate";
  engine: string;
  threads: string;
  medianMs: number;
  minMs: number;
  runs: number;
  gflops: number;
  /** tfm's median over this engine's (how many times longer tfm takes). */
  tfmOverPeer: number;
}
const figures: Figure[] = [];

/** A fast engine runs this many ms' worth of repetitions per round (at most 10), a slow one once. */
const repsBudgetMs = 500;

/**
 * Interleaved rounds: each round runs every engine (starting with a different one each round),
 * an engine faster than the budget several times in a row; every run is timed on its own.
 */
async function interleave(engines: Engine[], f: (e: Engine) => Promise<unknown> | unknown, rounds: number, firstMs: ReadonlyMap<string, number>): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(engines.map((e) => [e.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < engines.length; j++) {
      const e = engines[(r + j) % engines.length]!;
      const reps = Math.max(1, Math.min(10, Math.floor(repsBudgetMs / (firstMs.get(e.name) ?? repsBudgetMs))));
      for (let i = 0; i < reps; i++) {
        await settle();
        const t = performance.now();
        await f(e);
        times.get(e.name)!.push(performance.now() - t);
      }
    }
  }
  return times;
}

/** One decode step (token seq − 1 after seq − 1 cached): checked against row seq − 1 of tfm's prefill logits, then timed. */
async function decodeStep(w: Workload, timed: Engine[], ref: Float32Array): Promise<void> {
  const { cfg, seq } = w;
  const past = seq - 1;
  const f = decodeFlops(cfg, past);
  const row = ref.subarray((seq - 1) * cfg.vocab, seq * cfg.vocab);
  const engines = timed.filter((e) => e.decode);
  const ok: Engine[] = [];
  const firstMs = new Map<string, number>();
  say(`\ndecode step (1 token after ${past} cached, KV cache; ${gflop(f)} GFLOP), logits against row ${seq - 1} of tfm's prefill:`);
  for (const e of engines) {
    try {
      await settle();
      const t = performance.now();
      const got = await e.decode!();
      firstMs.set(e.name, performance.now() - t);
      say(`  ${pad(e.name, 16)} ${agreement(row, got, cfg.vocab)}`);
      if (agrees(row, got, e.tolerance)) ok.push(e);
    } catch (e2) {
      say(`  ${pad(e.name, 16)} failed: ${(e2 as Error).message.split("\n")[0]}`);
    }
  }
  const rounds = roundsOverride ?? w.rounds;
  const times = await interleave(ok, (e) => e.decode!(), rounds, firstMs);
  say(`  ${pad("engine", 16)} ${lpad("median ms", 10)} ${lpad("min ms", 9)} ${lpad("runs", 5)} ${lpad("GFLOP/s", 8)}   (${rounds} interleaved rounds)`);
  for (const e of ok) {
    const ts = times.get(e.name)!;
    const m = median(ts);
    const tfm = times.get("tfm");
    const ratio = tfm && e.name !== "tfm" ? `   tfm/peer ${(median(tfm) / m).toFixed(2)}` : "";
    say(`  ${pad(e.name, 16)} ${lpad(fmtMs(m), 10)} ${lpad(fmtMs(Math.min(...ts)), 9)} ${lpad(String(ts.length), 5)} ${lpad((f / m / 1e6).toFixed(2), 8)}${ratio}`);
    figures.push({ workload: w.name, phase: "decode", engine: e.name, threads: e.threads, medianMs: m, minMs: Math.min(...ts), runs: ts.length, gflops: f / m / 1e6, tfmOverPeer: tfm ? median(tfm) / m : NaN });
  }
}

/**
 * Generation as users run it: the prompt prefilled into an empty cache, then up to 128 new tokens
 * greedily, each step fed the last one's argmax, back to back (no settle between steps: the cache
 * grows from seq to seq + 128) — tfm through runResident (the cache kept in place), the peers as
 * transformers.js runs onnxruntime (each step's present_* fed back as past_*: the cache copied per
 * step; onnxruntime-web's loop runs in its worker, so its steps carry no message) and tfjs with its
 * cache. Two interleaved rounds per engine; the tokens are checked against tfm's.
 */
async function generation(w: Workload, engines: readonly Engine[]): Promise<void> {
  const { cfg, seq } = w;
  const n = Math.min(128, cfg.nPositions - seq);
  if (n < 2) {
    say(`\ngeneration: not run (the prompt of ${seq} tokens fills the model's ${cfg.nPositions} positions)`);
    return;
  }
  say(`\ngeneration: ${n} new tokens after a ${seq}-token prompt, greedy, steps back to back (the cache grows from ${seq} to ${seq + n} positions; tfm's prefill computes only the last position's logits, as its sessions do):`);
  say(`  ${pad("engine", 16)} ${lpad("prefill ms", 10)} ${lpad("ms/token", 9)} ${lpad("min", 7)} ${lpad("tokens/s", 9)} ${lpad("tfm/peer", 9)}  tokens as tfm's   (ms/token: median of the steps of 2 rounds; tokens/s over all ${n} steps)`);
  const runs = new Map(engines.map((e) => [e.name, { prefill: [] as number[], steps: [] as number[], total: [] as number[], tokens: [] as readonly number[] }]));
  for (let round = 0; round < 2; round++) {
    for (const e of engines) {
      await settle();
      const r = runs.get(e.name)!;
      try {
        const g = await e.generate!(n);
        r.prefill.push(g.prefillMs);
        r.steps.push(...g.stepMs);
        r.total.push(g.stepMs.reduce((a, b) => a + b, 0));
        r.tokens = g.tokens;
      } catch (e2) {
        say(`  ${pad(e.name, 16)} failed: ${(e2 as Error).message.split("\n")[0]}`);
        runs.delete(e.name);
      }
    }
  }
  const tfm = runs.get("tfm");
  for (const e of engines) {
    const r = runs.get(e.name);
    if (!r || !r.steps.length) continue;
    const m = median(r.steps);
    const ratio = tfm && e.name !== "tfm" ? (median(tfm.steps) / m).toFixed(2) : "";
    const same = tfm ? r.tokens.filter((t, i) => t === tfm.tokens[i]).length : 0;
    say(`  ${pad(e.name, 16)} ${lpad(fmtMs(median(r.prefill)), 10)} ${lpad(fmtMs(m), 9)} ${lpad(fmtMs(Math.min(...r.steps)), 7)} ${lpad((n / (median(r.total) / 1000)).toFixed(1), 9)} ${lpad(ratio, 9)}  ${same}/${n}`);
    figures.push({ workload: w.name, phase: "generate", engine: e.name, threads: e.threads, medianMs: m, minMs: Math.min(...r.steps), runs: r.steps.length, gflops: NaN, tfmOverPeer: tfm ? median(tfm.steps) / m : NaN });
  }
  if (tfm) say(`  tfm's first tokens: ${tfm.tokens.slice(0, 8).join(", ")}; int8 and f16 weights may pick other tokens`);
}

/** tfm's per-op profile (one run, or the mean of up to 5 when a run is short), and its matmuls by shape, timed one by one on the same kernels. */
function profile(w: Workload, program: CpuProgram, inputs: Map<string, Tensor>, medianMs: number): void {
  const runs = Math.max(1, Math.min(5, Math.floor(1000 / medianMs)));
  const acc = new Map<string, { ms: number; count: number }>();
  let wall = 0;
  for (let i = 0; i < runs; i++) {
    gc();
    const t0 = performance.now();
    const r = program.run(inputs, { profile: true });
    wall += performance.now() - t0;
    for (const [op, p] of r.profile!) {
      const a = acc.get(op) ?? { ms: 0, count: 0 };
      acc.set(op, { ms: a.ms + p.ms / runs, count: p.count });
    }
  }
  wall /= runs;
  const rows = [...acc].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((a, [, p]) => a + p.ms, 0);
  const shown = rows.filter(([, p], i) => i < 8 || p.ms >= 0.005 * total);
  say(`\ntfm profile by op (${runs === 1 ? "one run" : `mean of ${runs} runs`}: ${fmtMs(wall)} ms wall, ${fmtMs(total)} ms in ops; the timed median was ${fmtMs(medianMs)} ms):`);
  for (const [op, p] of shown) say(`  ${pad(op, 10)} ${lpad(fmtMs(p.ms), 9)} ms ${lpad(((100 * p.ms) / total).toFixed(1), 5)}%  ×${p.count}`);
  const rest = rows.slice(shown.length);
  if (rest.length) say(`  (${rest.map(([o]) => o).join(", ")}: ${fmtMs(rest.reduce((a, [, p]) => a + p.ms, 0))} ms together)`);

  // Matmuls by shape: the profile's matmul line, split. `transB` is the right operand laid out at load.
  const transB = (program as unknown as { transB: Map<number, Tensor> }).transB;
  const symbols = new Map([["batch", 1], ["seq", w.seq], ["past", 0]]);
  const groups = new Map<string, { a: number[]; b: number[]; laidOut: boolean; count: number }>();
  for (const node of program.graph.nodes) {
    if (node.op !== "matmul") continue;
    const [a, b] = node.inputs.map((i) => program.graph.nodes[i]!.shape.map((d) => evalDim(d, symbols)!));
    // B is [..., n, k] when the optimizer marked the matmul transB or the interpreter laid a weight out.
    const given = node.attrs.transB === true;
    const laidOut = given || transB.has(node.id);
    if (given) b!.splice(-2, 2, b!.at(-1)!, b!.at(-2)!);
    const key = `${a!.join("×")} @ ${b!.join("×")}${laidOut ? " (B laid out)" : ""}`;
    const g = groups.get(key) ?? { a: a!, b: b!, laidOut, count: 0 };
    g.count++;
    groups.set(key, g);
  }
  say(`\ntfm matmuls by shape (each shape timed once more on the same kernels, a weight packed first as at load; × count = share of a run):`);
  say(`  ${pad("[A] @ [B]", 44)} ${lpad("count", 5)} ${lpad("ms each", 9)} ${lpad("ms total", 9)} ${lpad("GFLOP/s", 8)}`);
  const fill = (t: Tensor) => {
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
    return t;
  };
  let sum = 0;
  for (const [key, g] of [...groups].sort((x, y) => y[1].count - x[1].count)) {
    const a = fill(allocate("f32", g.a));
    const n = g.b[g.b.length - 1]!, k = g.b[g.b.length - 2]!;
    const b = fill(allocate("f32", g.laidOut ? [n, k] : g.b));
    // A weight (2-D) packed once into the GEMM's memory, as the program packs the model's at load;
    // attention's operands (4-D) are packed per call, as in the model.
    if (b.shape.length === 2) g.laidOut ? K.prepareTransB?.(b) : K.prepareB?.(b);
    const run = () => (g.laidOut ? K.matmulTransB(a, b) : K.matmul(a, b));
    const out = run();
    const reps = g.a.reduce((x, y) => x * y, 1) * n < 1e7 ? 5 : 1;
    const t = performance.now();
    for (let i = 0; i < reps; i++) g.laidOut ? K.matmulTransB(a, b, out) : K.matmul(a, b, out);
    const each = (performance.now() - t) / reps;
    const fl = 2 * out.data.length * g.a[g.a.length - 1]!;
    sum += each * g.count;
    say(`  ${pad(key, 44)} ${lpad(String(g.count), 5)} ${lpad(fmtMs(each), 9)} ${lpad(fmtMs(each * g.count), 9)} ${lpad((fl / each / 1e6).toFixed(2), 8)}`);
  }
  say(`  sum ${fmtMs(sum)} ms (the profile's matmul lines: ${fmtMs((acc.get("matmul")?.ms ?? 0) + (acc.get("matmul*")?.ms ?? 0))} ms, fused kernels with their prologues and epilogues included)`);
}

// ---- main -------------------------------------------------------------------------------------------

say(`tfm benchmark: ${modelFile.replace(resolve(benchDir, "..") + "/", "")}, prefill (and one decode step for the peers)`);
for (const l of machine()) say(l);
say(await otherLoad("before starting"));
const ort = await loadOrt();
const tfl = await loadTf();
say(typeof ort === "string" ? `onnxruntime-node: unavailable (${ort}) — run \`npm run bench\`, which installs bench/package.json's peers` : `onnxruntime-node ${pkgVersion("onnxruntime-node")} (CPU execution provider, graph optimisation "all", sequential; intra-op threads 2 and 1)`);
say(`onnxruntime-web ${pkgVersion("onnxruntime-web")} (wasm backend, SIMD; ${Math.min(4, availableParallelism())} threads and 1, each in a worker thread of its own)`);
if (typeof tfl === "string") say(`@tensorflow/tfjs-core: unavailable (${tfl})`);
else say(`@tensorflow/tfjs-core ${pkgVersion("@tensorflow/tfjs-core")}, backends: ${tfl.backends.join(", ") || "none"}${tfl.notes.length ? `; ${tfl.notes.join("; ")}` : ""}`);
const started = performance.now();
for (const w of workloads) {
  if (only && w.name !== only) continue;
  await bench(w, ort, tfl);
}
say(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s; ${await otherLoad("after finishing")}`);
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ machine: machine(), date: new Date().toISOString(), figures }, null, 2) + "\n");
  say(`figures written to ${jsonFile}`);
}

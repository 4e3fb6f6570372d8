// The GEMM over worker threads (src/backends/cpu/kernels/wasm/gemm.ts, node-threads.ts): results
// bit for bit those of one thread for 1, 2 and 3 threads on awkward shapes (m = 1, m off the row
// tile, n below the thread count, k % 4 ≠ 0, several column panels, rows cut when n is small); a
// whole GPT-2 (2 layers, random weights) giving identical logits with 1 and 2 threads, prefill and
// cached steps; the workers stopped when the last session is disposed; and a process that leaves a
// threaded session open still exiting.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gemmWorkers, threadedKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { gemmNTWasm, THREAD_MIN_MACS, THREAD_MIN_MACS_FEW_ROWS } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { compile } from "../../../../src/compile.js";
import { holdThreads, randomTensor, seedFor } from "./helpers.js";

const seed = seedFor("threads.test.ts");
const data = (len: number, s: number) => randomTensor("f32", [len], s, { scale: 2 }).data;

/** Fails unless `got` and `want` hold the same bits (NaN patterns aside, none arise here). */
function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect.fail(`${what}: element ${i} is ${got[i]}, one thread gives ${want[i]}`);
}

describe("threaded GEMM", () => {
  holdThreads(3);

  it("gives the bits of one thread for 1, 2 and 3 threads on awkward shapes", () => {
    // [m, n, k]: every product is above THREAD_MIN_MACS (THREAD_MIN_MACS_FEW_ROWS for m < 4), so it is really split.
    const shapes: [number, number, number][] = [
      [1, 3072, 769], // decode: one row, columns split, k % 4 = 1
      [1, 768, 768], // decode's attention projection: split only under the few-rows threshold
      [3, 333, 301], // few rows, n off the panel, k % 4 = 1
      [1, 50257, 22], // an LM head's shape, short k
      [1, 2, 600_000], // n below the thread count
      [2, 1, 700_001], // n = 1, k % 4 = 1
      [7, 130, 1155], // m off the 4-row tile, n off the 64-column panel, k % 4 = 3
      [129, 3, 3001], // n below the thread count: rows are cut
      [130, 66, 258], // rows cut, m % 4 = 2
      [128, 768, 64],
      [5, 5000, 771],
    ];
    for (const [m, n, k] of shapes) {
      expect(m * n * k, `${m}x${n}x${k}`).toBeGreaterThanOrEqual(m < 4 ? THREAD_MIN_MACS_FEW_ROWS : THREAD_MIN_MACS);
      const A = data(m * k, seed + m), Bt = data(n * k, seed + n + 1);
      const one = new Float32Array(m * n);
      expect(gemmNTWasm(A, 0, Bt, 0, one, 0, m, n, k, 1)).toBe(true);
      for (const t of [2, 3]) {
        const C = new Float32Array(m * n).fill(NaN);
        expect(gemmNTWasm(A, 0, Bt, 0, C, 0, m, n, k, t)).toBe(true);
        expectSameBits(C, one, `${m}x${n}x${k}, ${t} threads`);
      }
    }
  });

  it("matmul and matmulTransB through threadedKernels match one thread, batched and with offsets", () => {
    const a = randomTensor("f32", [3, 33, 517], seed, { scale: 2 }), b = randomTensor("f32", [517, 301], seed + 1, { scale: 2 });
    const bt = randomTensor("f32", [3, 301, 517], seed + 2, { scale: 2 });
    for (const t of [2, 3]) {
      const K = threadedKernels(t), K1 = threadedKernels(1);
      expect(K.name).toBe(`wasm-simd-${t}t`);
      expectSameBits(K.matmul(a, b).data, K1.matmul(a, b).data, `matmul, ${t} threads`);
      expectSameBits(K.matmulTransB(a, bt).data, K1.matmulTransB(a, bt).data, `matmulTransB, ${t} threads`);
    }
  });
});

describe("threads in a session", () => {
  it("GPT-2 (2 layers, random weights) gives the same logits with 1 and 2 threads, prefill and cached steps", async () => {
    const text = readFileSync("models/gpt2.tfm", "utf8");
    const model = compile(text, { file: "models/gpt2.tfm", settings: { n_layer: 2, n_positions: 64 } });
    const one = await model.load({ random: true, seed: 3 }, { threads: 1 });
    const two = await model.load({ random: true, seed: 3 }, { threads: 2 });
    try {
      expect(gemmWorkers()).toBeGreaterThanOrEqual(1);
      const prompt = { input_ids: { data: [Array.from({ length: 19 }, (_, i) => (i * 7919) % 50257)] } };
      expectSameBits((await two.prefill(prompt))["logits"]!.data as Float32Array, (await one.prefill(prompt))["logits"]!.data as Float32Array, "prefill logits");
      for (const id of [11, 464, 50256]) {
        const step = { input_ids: { data: [[id]] } };
        expectSameBits((await two.step(step))["logits"]!.data as Float32Array, (await one.step(step))["logits"]!.data as Float32Array, `step ${id} logits`);
      }
    } finally {
      one.dispose();
      two.dispose();
    }
    // The last session holding the workers stopped them.
    expect(gemmWorkers()).toBe(0);
  }, 120_000);

  it("rejects a thread count that is not a whole number from 1 to 1024", async () => {
    const model = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "models/gpt2.tfm", settings: { n_layer: 1, n_embd: 8, n_head: 2, vocab_size: 11, n_positions: 8 } });
    for (const threads of [0, -1, 1.5, NaN, 2000, "2" as unknown as number]) {
      const e = await model.load({ random: true }, { threads }).catch((x: unknown) => x);
      expect(e, `threads ${String(threads)}`).toMatchObject({ name: "TfmError", code: "TFM6004", message: expect.stringMatching(/threads must be a whole number from 1 to 1024/) });
    }
  });

  it("lets a process with a threaded session left open exit", () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/unit/backends/cpu/threads-child.ts"], { encoding: "utf8", timeout: 60_000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^workers 2 logits 1x4x4000\n$/);
    console.log(`threaded child process exited after ${Date.now() - t0} ms`);
  }, 70_000);
});

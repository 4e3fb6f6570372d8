// Random weights drawn on several threads (src/runtime/init-threads.ts) are the bytes one thread
// draws, for any thread count. The threaded path needs the built worker module, so this test runs
// the built code (dist/, as the CLI does); from TypeScript sources it falls back to one thread.
import { describe, expect, it } from "vitest";
import type { Tensor } from "../../../src/core/tensor.js";
import { checked, weightsOf } from "./helpers.js";

type Draw = (weights: unknown, seed: number, threads: number) => Promise<Map<string, Tensor>>;
const built = "../../../dist/src/runtime/";
const { randomWeightsThreaded } = (await import(built + "init-threads.js")) as { randomWeightsThreaded: Draw };
const { randomWeights } = (await import(built + "init.js")) as { randomWeights: (w: unknown, seed: number) => Map<string, Tensor> };

const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe("random weights on several threads", () => {
  // 9.4M values (over the threaded path's threshold): normals, uniforms, constants, f16, bf16 and integer weights.
  const weights = weightsOf(
    checked(
      "model Big {\n  input ids: i32[T]\n  layer emb = Embedding(4096, 2048)\n  layer fc = Linear(2048, 256)\n  layer ln = LayerNorm(2048)\n  param half: f16[300, 7]\n  param brain: bf16[5, 3]\n  param n: i32[4]\n  output y = fc(ln(emb(ids)))\n}\n",
      "big.tfm",
    ),
  );

  it("gives the bytes one thread gives, for 2, 3 and 8 threads", async () => {
    const one = randomWeights(weights, 11);
    for (const threads of [2, 3, 8]) {
      const many = await randomWeightsThreaded(weights, 11, threads);
      expect([...many.keys()]).toEqual([...one.keys()]);
      for (const [name, t] of one) {
        const m = many.get(name)!;
        expect([m.dtype, m.shape], name).toEqual([t.dtype, t.shape]);
        expect(bytes(m).equals(bytes(t)), `${name} with ${threads} threads`).toBe(true);
      }
      expect(many.get("emb.weight")!.data.buffer).toBeInstanceOf(SharedArrayBuffer); // it did take the threaded path
    }
  });

  it("draws small models on one thread", async () => {
    const small = weightsOf(checked("model S {\n  input x: f32[n, 8]\n  layer fc = Linear(8, 8)\n  output y = fc(x)\n}\n", "s.tfm"));
    const w = await randomWeightsThreaded(small, 1, 4);
    expect(w.get("fc.weight")!.data.buffer).toBeInstanceOf(ArrayBuffer);
    expect(bytes(w.get("fc.weight")!).equals(bytes(randomWeights(small, 1).get("fc.weight")!))).toBe(true);
  });
});

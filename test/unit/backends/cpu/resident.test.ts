// The GEMM's resident region over sessions (src/backends/cpu/kernels/wasm/gemm.ts `holdResident`,
// CpuProgram.dispose): a server that disposes a session before loading the next reuses the region
// instead of filling it (once full, products would pack their weights per call); while any
// session lives its weights stay packed; a disposed program refuses to run.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { residentBytes, wasmGemmAvailable } from "../../../../src/backends/cpu/kernels/index.js";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { compile } from "../../../../src/compile.js";
import { randomWeights } from "../../../../src/runtime/init.js";

const file = "models/gpt2.tfm";
const model = compile(readFileSync(file, "utf8"), { file, settings: { n_layer: 2, n_embd: 32, n_head: 4, vocab_size: 61, n_positions: 24 } });
const ids = { input_ids: { data: [[3, 17, 42, 5, 9]] } };

describe.skipIf(!wasmGemmAvailable())("the resident region over sessions", () => {
  it("is emptied when the last session is disposed, so the next one packs its weights from its start; held while any session lives", async () => {
    expect(model.diagnostics).toEqual([]);
    expect(residentBytes()).toBe(0);
    const a = await model.load({ random: true, seed: 1 }, { threads: 1 });
    const one = residentBytes();
    expect(one).toBeGreaterThan(0);
    const logits = Array.from((await a.run(ids)).logits!.data);
    a.dispose();
    expect(residentBytes()).toBe(0);
    await expect(a.run(ids)).rejects.toMatchObject({ code: "TFM6002" });

    // A reload: the same place, the same logits.
    const b = await model.load({ random: true, seed: 1 }, { threads: 2 });
    expect(residentBytes()).toBe(one);
    expect(Array.from((await b.run(ids)).logits!.data)).toEqual(logits);
    // Two at once: both packed; disposing one keeps the other's weights where they are.
    const c = await model.load({ random: true, seed: 2 }, { threads: 1 });
    expect(residentBytes()).toBe(2 * one);
    b.dispose();
    expect(residentBytes()).toBe(2 * one);
    const other = Array.from((await c.run(ids)).logits!.data);
    expect(other).not.toEqual(logits);
    c.dispose();
    expect(residentBytes()).toBe(0);
  });

  it("a disposed CpuProgram refuses to run (TFM6002)", () => {
    const p = new CpuProgram(model.graph!, randomWeights(model.checked.instance!.weights, 3));
    p.dispose();
    const inputs = new Map([["input_ids", { dtype: "i32" as const, shape: [1, 2], data: Int32Array.of(1, 2) }]]);
    expect(() => p.run(inputs)).toThrow(expect.objectContaining({ code: "TFM6002" }));
  });
});

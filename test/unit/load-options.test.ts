// `model.load(weights, options)` (src/session.ts): every option of the wrong type or out of range
// rejects with a TfmError carrying TFM6004 and a diagnostic at the model's name, before any weight
// is read or any worker started; never a TypeError or RangeError.
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { LoadOptions } from "../../src/session.js";

const model = compile("model M(d = 2) {\n  input x: f32[n, d]\n  param w: f32[d, d]\n  output y = x @ w\n}\n", { file: "m.tfm" });

const bad: [string, Record<string, unknown>, RegExp][] = [
  ["threads -1", { threads: -1 }, /threads must be a whole number from 1 to 1024, got -1/],
  ["threads 0", { threads: 0 }, /threads/],
  ["threads 1.5", { threads: 1.5 }, /threads/],
  ["threads NaN", { threads: NaN }, /threads/],
  ["threads 2000", { threads: 2000 }, /threads/],
  ["threads as a string", { threads: "4" }, /threads must be a whole number from 1 to 1024, got "4"/],
  ["an unknown backend", { backend: "gpu" }, /backend must be "cpu" or "webgpu", got "gpu"/],
  ["fuse as a string", { fuse: "no" }, /fuse must be true or false/],
  ["checkConfig as a number", { checkConfig: 1 }, /checkConfig must be true or false/],
  ["onProgress not a function", { onProgress: 3 }, /onProgress must be a function/],
  ["onNote not a function", { onNote: "x" }, /onNote must be a function/],
  ["addPrefix not a string", { addPrefix: 3 }, /addPrefix must be a string/],
  ["stripPrefix a string", { stripPrefix: "model." }, /stripPrefix must be an array of strings/],
  ["maxMemory an object", { maxMemory: {} }, /maxMemory must be a number of bytes/],
  ["weightsDtype f8", { weightsDtype: "f8" }, /weightsDtype must be "f32", "f16" or "int8", got "f8"/],
];

describe("load options", () => {
  it.each(bad)("%s is TFM6004 with a diagnostic", async (_, options, message) => {
    const e = await model.load({ random: true }, options as LoadOptions).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: "TfmError", code: "TFM6004", message: expect.stringMatching(message) });
    const d = (e as { diagnostics: { code: string; file: string; span: { start: number; end: number } }[] }).diagnostics;
    expect(d[0]).toMatchObject({ code: "TFM6004", file: "m.tfm" });
    expect(d[0]!.span.end).toBeGreaterThan(d[0]!.span.start);
  });

  it("a seed that is not a whole number from 0 to 2^53 - 1 is TFM6004", async () => {
    for (const seed of [-1, 0.5, 2 ** 53, NaN]) await expect(model.load({ random: true, seed })).rejects.toMatchObject({ name: "TfmError", code: "TFM6004", message: expect.stringMatching(/a seed must be an integer/) });
  });

  it("random weights need random: true (random: false was read as random weights)", async () => {
    await expect(model.load({ random: false } as never)).rejects.toMatchObject({ code: "TFM6004", message: expect.stringMatching(/got random: false/) });
    await expect(model.load({ random: true, seed: "1" } as never)).rejects.toMatchObject({ code: "TFM6004", message: expect.stringMatching(/got "1"/) });
  });

  it("run options of the wrong type are TFM6004 (was a TypeError)", async () => {
    const s = await model.load({ random: true });
    const x = { x: { data: [1, 2], shape: [1, 2] } };
    for (const [opts, message] of [
      [{ capture: "y" }, /capture must be an array of patterns \(strings\), got "y"/],
      [{ capture: [3] }, /capture must be an array/],
      [{ profile: "yes" }, /profile must be true or false/],
      [null, /run options must be an object, got null/],
    ] as const) {
      await expect(s.run(x, opts as never), JSON.stringify(opts)).rejects.toMatchObject({ name: "TfmError", code: "TFM6004", message: expect.stringMatching(message) });
      await expect(s.runDetailed(x, opts as never)).rejects.toMatchObject({ code: "TFM6004" });
    }
    s.dispose();
  });

  it("exportOnnx checks the options it shares with load", async () => {
    await expect(model.exportOnnx({ random: true }, { onNote: 3 } as never)).rejects.toMatchObject({ code: "TFM6004", message: expect.stringMatching(/onNote must be a function/) });
  });

  it("valid options load and run", async () => {
    const s = await model.load({ random: true, seed: 1 }, { threads: 1, backend: "cpu", fuse: false, maxMemory: "1G", checkConfig: true });
    const out = await s.run({ x: { data: [1, 2], shape: [1, 2] } });
    expect(out["y"]!.shape).toEqual([1, 2]);
    s.dispose();
  });
});

// The memory cases of issue 15 §2 on WebGPU: refused with TFM7001 (the device's buffer limits) before
// anything is allocated, in the same words as the CPU's TFM6003 (bytes needed, the limit); the
// weights' budget (TFM6003) applies to WebGPU sessions too, as they are held on the host first.
import { describe, expect, it } from "vitest";
import { compile, TfmError } from "../../src/index.js";

describe("WebGPU: sizes over the device's limits", { timeout: 120_000 }, () => {
  it("an input whose memory plan is 13.4 GiB: TFM7001 naming the bytes and the limit", async () => {
    const model = compile("model P {\n  input x: f32[n]\n  output y = reshape(x, [n, 1]) * reshape(x, [1, n])\n}\n", { file: "p.tfm" });
    const s = await model.load({ random: true }, { backend: "webgpu" });
    try {
      const e = await s.run({ x: { data: new Float32Array(60000), shape: [60000] } }).then(() => undefined, (e: unknown) => e);
      expect(e).toBeInstanceOf(TfmError);
      expect((e as TfmError).code).toBe("TFM7001");
      expect((e as TfmError).diagnostics?.[0]?.message).toMatch(/^a value of shape \[60000, 60000\] needs 14,400,000,000 bytes \(13\.4 GiB\), over the device's largest storage buffer of [\d,]+ bytes \(\d+\.\d [MG]iB\) \(maxStorageBufferBindingSize, maxBufferSize\); refused before allocating it$/);
    } finally {
      s.dispose();
    }
  });

  it("weights over maxMemory: TFM6003 before the device is touched", async () => {
    const model = compile("model Big {\n  input x: f32[2]\n  param w: f32[65536, 65535]\n  output y = x\n}\n", { file: "big.tfm" });
    await expect(model.load({ random: true }, { backend: "webgpu", maxMemory: "1G" })).rejects.toMatchObject({ code: "TFM6003" });
  });
});

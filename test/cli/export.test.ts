// `tfm export --onnx`: the file written (inline weights, or external data beside it) loads in
// onnxruntime-node from its path and computes what `tfm run` computes; existing files are never
// replaced without --force; mistakes are usage errors or coded diagnostics.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy } from "../../src/weights/npy.js";

async function tfm(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-export-cli-"));
const tiny = ["models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2", "--set", "vocab_size=10", "--set", "n_positions=16"];
const ids = [[1, 2, 3, 4], [5, 6, 7, 8]];

async function ortLogits(path: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path);
  // GPT-2's attention_mask (all tokens real), and its state: the mask's (i32) and the KV caches, empty.
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int32", Int32Array.from(ids.flat()), [2, 4]), attention_mask: new ort.Tensor("int32", new Int32Array(8).fill(1), [2, 4]) };
  for (const name of session.inputNames.filter((n) => n.startsWith("past."))) {
    feeds[name] = name === "past.mask_cache" ? new ort.Tensor("int32", new Int32Array(0), [2, 0]) : new ort.Tensor("float32", new Float32Array(0), [2, 2, 0, 8]);
  }
  return (await session.run(feeds))["logits"]!.data as Float32Array;
}

describe("tfm export --onnx", () => {
  it("writes a model onnxruntime loads from its path, equal to tfm run; --external-data puts the weights beside it", async () => {
    const run = await tfm("run", ...tiny, "--random-weights", "--seed", "5", "--input", `input_ids=${JSON.stringify(ids)}`, "-o", join(dir, "out"));
    expect(run.err).toBe("");
    const want = readNpy(readFileSync(join(dir, "out", "logits.npy"))).data as Float32Array;
    const inline = join(dir, "inline.onnx");
    const a = await tfm("export", ...tiny, "--random-weights", "--seed", "5", "--onnx", inline);
    expect(a.err).toBe("");
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^wrote .*inline\.onnx: GPT2, \d+ ONNX nodes, \d+ initializers/);
    expect(a.out).toContain("inputs  input_ids, attention_mask, past.mask_cache, past.h.0.attn.k_cache, past.h.0.attn.v_cache");
    expect(existsSync(`${inline}.data`)).toBe(false);
    const external = join(dir, "external.onnx");
    const b = await tfm("export", ...tiny, "--random-weights", "--seed", "5", "--onnx", external, "--external-data");
    expect(b.code).toBe(0);
    expect(b.out).toContain("external.onnx.data");
    const data = statSync(`${external}.data`).size;
    expect(data).toBeGreaterThan(4 * (1 + 16 * 3 * 16 + 10 * 16)); // at least c_attn and wte, as f32
    expect(statSync(external).size).toBeLessThan(statSync(inline).size - data / 2);
    for (const path of [inline, external]) {
      const got = await ortLogits(path);
      expect(got.length).toBe(want.length);
      let max = 0;
      for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
      expect(max, path).toBeLessThanOrEqual(1e-5);
    }
  });

  it("never replaces a file without --force, and says so with TFM5210", async () => {
    const path = join(dir, "taken.onnx");
    writeFileSync(path, "mine");
    const r = await tfm("export", ...tiny, "--random-weights", "--onnx", path);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM5210]");
    expect(readFileSync(path, "utf8")).toBe("mine");
    expect((await tfm("export", ...tiny, "--random-weights", "--onnx", path, "--force")).code).toBe(0);
    expect(statSync(path).size).toBeGreaterThan(100);
  });

  it("mistakes: weights twice or not at all, a bad opset, a file with no model", async () => {
    expect((await tfm("export", ...tiny, "--onnx", join(dir, "x.onnx"))).code).toBe(2);
    const opset = await tfm("export", ...tiny, "--random-weights", "--opset", "11", "--onnx", join(dir, "y.onnx"));
    expect(opset.code).toBe(1);
    expect(opset.err).toContain("error[TFM5220]");
    expect(opset.err).toContain("opsets 13 to 21");
    expect((await tfm("export", ...tiny, "--random-weights", "--opset", "x", "--onnx", join(dir, "y.onnx"))).code).toBe(2);
    const lib = join(dir, "lib.tfm");
    writeFileSync(lib, "fn double(x: f32[...]) {\n  return x * 2.0\n}\n");
    const none = await tfm("export", lib, "--random-weights", "--onnx", join(dir, "z.onnx"));
    expect(none.code).toBe(1);
    expect(none.err).toContain("TFM2008");
    expect(existsSync(join(dir, "y.onnx")) || existsSync(join(dir, "z.onnx"))).toBe(false);
  });
});

// `tfm run` and `tfm init-weights` through the CLI: random and checkpoint weights, inputs as JSON
// and .npy, outputs as .npy, and the run-time errors (TFM6xxx).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy, writeNpy } from "../../src/weights/npy.js";

function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-run-"));
const small = ["--set", "n_layer=2", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16"];

describe("tfm run", () => {
  it("runs GPT-2 with random weights on a JSON input and writes .npy outputs", () => {
    const out = join(dir, "a");
    const r = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--seed", "3", "--input", "input_ids=[[1, 2, 3], [4, 5, 6]]", "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("model GPT2 (batch=2 seq=3)");
    expect(r.out).toContain("output logits: f32[2, 3, 50]  (f32[batch, seq, 50])");
    const logits = readNpy(readFileSync(join(out, "logits.npy")));
    expect(logits.shape).toEqual([2, 3, 50]);
    expect([...(logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it("gives the same outputs from a checkpoint written by init-weights with the same seed", () => {
    const w = join(dir, "w.safetensors");
    expect(tfm("init-weights", "models/gpt2.tfm", ...small, "--seed", "3", "-o", w).code).toBe(0);
    const ids = join(dir, "ids.npy");
    writeFileSync(ids, writeNpy("I64", [1, 3], new BigInt64Array([1n, 2n, 3n])));
    const [a, b] = ["ck", "rnd"].map((name) => join(dir, name));
    expect(tfm("run", "models/gpt2.tfm", ...small, "--weights", w, "--input", `input_ids=${ids}`, "-o", a).code).toBe(0);
    expect(tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--seed", "3", "--input", "input_ids=[[1, 2, 3]]", "-o", b).code).toBe(0);
    expect(readFileSync(join(a, "logits.npy"))).toEqual(readFileSync(join(b, "logits.npy")));
  });

  it("runs the optimized graph, or the graph as built with --no-optimize, to the same bits", () => {
    const [a, b] = ["opt", "noopt"].map((name) => join(dir, name));
    const args = ["run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]"];
    const opt = tfm(...args, "-o", a);
    const plain = tfm(...args, "-o", b, "--no-optimize");
    expect([opt.code, plain.code]).toEqual([0, 0]);
    expect(opt.out).toMatch(/, 172 IR nodes \(187 before optimizing\), /);
    expect(plain.out).toMatch(/, 187 IR nodes \(not optimized\), /);
    expect(readFileSync(join(a, "logits.npy"))).toEqual(readFileSync(join(b, "logits.npy")));
  });

  it("prints a profile by kernel, fused (kind*) or not (op)", () => {
    const r = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2]]", "--profile");
    expect(r.out).toMatch(/profile \([\d.]+ ms in kernels\):\n(\s+\w+\*?\s+[\d.]+ ms\s+[\d.]+%\s+×\d+\n)+/);
    expect(r.out).toMatch(/\n\s+attention\*\s+[\d.]+ ms\s+[\d.]+%\s+×2\n/);
    const plain = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2]]", "--profile", "--no-fuse");
    expect(plain.out).toMatch(/\n\s+matmul\s/);
    expect(plain.out).not.toMatch(/\*/);
  });

  it("reports a token id outside the vocabulary as a run-time error (TFM6001), not a crash", () => {
    const r = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 99]]");
    expect(r.code).toBe(1);
    // At the user's line that looks the ids up, not somewhere in the library.
    expect(r.err).toMatch(/models\/gpt2\.tfm:\d+:\d+: error\[TFM6001\]: gather: index 99 .* out of range .*\n.*\n.*\|\s+x = drop\(wte\(input_ids\)/);
  });

  it("reports a constant index out of range, found while loading, as TFM6001 at its line (not a crash)", () => {
    const f = join(dir, "load-time.tfm");
    writeFileSync(f, "model P {\n  input x: f32[2]\n  v3 = cast(full([1], 2.5), i32)\n  output y = take(v3, v3, 0)\n}\n");
    const r = tfm("run", f, "--random-weights", "--input", "x=[1, 2]");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/load-time\.tfm:4:14: error\[TFM6001\]: gather: index 2 .* out of range .*computed when the weights are loaded/);
  });

  it("reports a sequence longer than the positions table as a run-time error", () => {
    const ids = JSON.stringify([Array.from({ length: 20 }, (_, i) => i)]);
    const r = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", `input_ids=${ids}`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM6001]");
  });

  it("reports weights that do not fit the compiled program (TFM6002)", async () => {
    const { buildGraph, check } = await import("../../src/api.js");
    const { CpuProgram } = await import("../../src/backends/cpu/interpret.js");
    const { RunError } = await import("../../src/backends/shared/errors.js");
    const r = check(readFileSync("models/gpt2.tfm", "utf8"), "models/gpt2.tfm", { settings: new Map([["n_layer", "1"]]) });
    expect(() => new CpuProgram(buildGraph(r)!, new Map())).toThrow(RunError);
    try {
      new CpuProgram(buildGraph(r)!, new Map());
    } catch (e) {
      expect((e as InstanceType<typeof RunError>).code).toBe("TFM6002");
    }
  });

  it("needs exactly one source of weights, and inputs that fit", () => {
    expect(tfm("run", "models/gpt2.tfm", "--input", "input_ids=[[1]]").code).toBe(2);
    const bad = tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[1, 2]");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("input_ids");
  });
});

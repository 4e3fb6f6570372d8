// `tfm run` and `tfm init-weights` through the CLI: random and checkpoint weights, inputs as JSON
// and .npy, outputs as .npy, and the run-time errors (TFM6xxx).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy, writeNpy } from "../../src/weights/npy.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-run-"));
const small = ["--set", "n_layer=2", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16"];

describe("tfm run", () => {
  it("runs GPT-2 with random weights on a JSON input and writes .npy outputs", async () => {
    const out = join(dir, "a");
    const r = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--seed", "3", "--input", "input_ids=[[1, 2, 3], [4, 5, 6]]", "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("model GPT2 (batch=2 seq=3 past=0)"); // past: the positions its KV cache held (a call on its own starts empty)
    expect(r.out).toContain("output logits: f32[2, 3, 50]  (f32[batch, seq, 50])");
    const logits = readNpy(readFileSync(join(out, "logits.npy")));
    expect(logits.shape).toEqual([2, 3, 50]);
    expect([...(logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it("gives the same outputs from a checkpoint written by init-weights with the same seed", async () => {
    const w = join(dir, "w.safetensors");
    expect((await tfm("init-weights", "models/gpt2.tfm", ...small, "--seed", "3", "-o", w)).code).toBe(0);
    const ids = join(dir, "ids.npy");
    writeFileSync(ids, writeNpy("I64", [1, 3], new BigInt64Array([1n, 2n, 3n])));
    const [a, b] = ["ck", "rnd"].map((name) => join(dir, name));
    expect((await tfm("run", "models/gpt2.tfm", ...small, "--weights", w, "--input", `input_ids=${ids}`, "-o", a)).code).toBe(0);
    expect((await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--seed", "3", "--input", "input_ids=[[1, 2, 3]]", "-o", b)).code).toBe(0);
    expect(readFileSync(join(a, "logits.npy"))).toEqual(readFileSync(join(b, "logits.npy")));
  });

  it("runs the optimized graph, or the graph as built with --no-optimize, to the same bits", async () => {
    const [a, b] = ["opt", "noopt"].map((name) => join(dir, name));
    const args = ["run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]"];
    const opt = await tfm(...args, "-o", a);
    const plain = await tfm(...args, "-o", b, "--no-optimize");
    expect([opt.code, plain.code]).toEqual([0, 0]);
    expect(opt.out).toMatch(/, 198 IR nodes \(219 before optimizing\), /);
    expect(plain.out).toMatch(/, 219 IR nodes \(not optimized\), /);
    expect(readFileSync(join(a, "logits.npy"))).toEqual(readFileSync(join(b, "logits.npy")));
  });

  it("gives the same bits with --threads 1 and --threads 2, and refuses a count that is not 1 to 1024 (exit 2)", async () => {
    // vocab 5000, width 32: the LM head's product is large enough to be split over the threads.
    const args = ["models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=5000", "--set", "n_positions=16", "--random-weights", "--input", "input_ids=[[1, 2, 3, 4, 5, 6, 7, 8]]"];
    const [a, b] = ["t1", "t2"].map((name) => join(dir, name));
    expect((await tfm("run", ...args, "--threads", "1", "-o", a)).code).toBe(0);
    expect((await tfm("run", ...args, "--threads", "2", "-o", b)).code).toBe(0);
    expect(readFileSync(join(b, "logits.npy")).equals(readFileSync(join(a, "logits.npy")))).toBe(true);
    for (const bad of ["0", "x", "1.5", "2000"]) {
      const r = await tfm("run", ...args, "--threads", bad);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--threads takes a whole number from 1 to 1024, got "${bad}"`);
    }
  });

  it("prints a profile by kernel, fused (kind*) or not (op)", async () => {
    const r = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2]]", "--profile");
    expect(r.out).toMatch(/profile \([\d.]+ ms in kernels\):\n(\s+\w+\*?\s+[\d.]+ ms\s+[\d.]+%\s+×\d+\n)+/);
    expect(r.out).toMatch(/\n\s+attention\*\s+[\d.]+ ms\s+[\d.]+%\s+×2\n/);
    const plain = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 2]]", "--profile", "--no-fuse");
    expect(plain.out).toMatch(/\n\s+matmul\s/);
    expect(plain.out).not.toMatch(/\*/);
  });

  it("reports a token id outside the vocabulary as a run-time error (TFM6001), not a crash", async () => {
    const r = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, 99]]");
    expect(r.code).toBe(1);
    // At the user's line that looks the ids up, not somewhere in the library.
    expect(r.err).toMatch(/models\/gpt2\.tfm:\d+:\d+: error\[TFM6001\]: gather: index 99 .* out of range .*\n.*\n.*\|\s+x = drop\(wte\(input_ids\)/);
  });

  it("reports a negative token id as TFM6001, as torch.nn.Embedding does, not the last row", async () => {
    const r = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[[1, -1]]");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error\[TFM6001\]: gather: index -1 at position \[0, 1\] is out of range for axis 0 of size 50 \(valid: 0\.\.49\)/);
  });

  it("reports a size that is not a whole number at the user's line (TFM6002), not a stack trace", async () => {
    const cases = [
      ["arange.tfm", "model M {\n  input x: f32[n]\n  output y = arange(n / 3)\n}\n", "x=[1, 2]", "the size (n / 3) is not a whole number for n = 2: a dim must divide exactly"],
      ["reshape.tfm", "model M {\n  input x: f32[n]\n  output y = reshape(x, [n / 2, 2])\n}\n", "x=[1, 2, 3]", "the size (n / 2) is not a whole number for n = 3: a dim must divide exactly"],
      // The checker cannot prove b·t = t·t (a warning); at b = 3, t = 2 the run refuses it before any kernel (found by the fuzz shards).
      ["reshape-count.tfm", "model M {\n  input x: f32[b, t]\n  output y = reshape(x, [t, t])\n}\n", "x=[[1, 2], [3, 4], [5, 6]]", "reshape of [3, 2] (6 elements) to [2, 2] (4 elements) at b = 3, t = 2: a reshape keeps the number of elements"],
      // Sizes that go negative at the call's dims: a slice out of its dim is TFM6001 as the kernel says, a negative size TFM6002 (both were TFM6003 "needs -16 bytes").
      ["slice-bounds.tfm", "model M {\n  input x: f32[b, t]\n  output y = x[3:]\n}\n", "x=[[1, 2]]", "slice: range [3, 1) is not within axis 0 of shape [1, 2] (size 1) at b = 1, t = 2: a slice must lie within its dim"],
      ["negative.tfm", "model M {\n  input x: f32[b, t]\n  output y = zeros([t - 3])\n}\n", "x=[[1, 2]]", "the size -3 + t is -1 for t = 2: a size cannot be negative"],
    ] as const;
    for (const [name, text, input, message] of cases) {
      const f = join(dir, name);
      writeFileSync(f, text);
      const r = await tfm("run", f, "--random-weights", "--input", input);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`${f}:3:14: error[${name === "slice-bounds.tfm" ? "TFM6001" : "TFM6002"}]: ${message}`);
    }
  });

  it("reports a constant index out of range, found while loading, as TFM6001 at its line (not a crash)", async () => {
    const f = join(dir, "load-time.tfm");
    writeFileSync(f, "model P {\n  input x: f32[2]\n  v3 = cast(full([1], 2.5), i32)\n  output y = take(v3, v3, 0)\n}\n");
    const r = await tfm("run", f, "--random-weights", "--input", "x=[1, 2]");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/load-time\.tfm:4:14: error\[TFM6001\]: gather: index 2 .* out of range .*computed when the weights are loaded/);
  });

  it("runs a repeat(n, i) stack whose first copy has a weight the others lack, from random weights and from a checkpoint", async () => {
    const f = "test/fixtures/first_layer_differs.tfm";
    const w = join(dir, "first-differs.safetensors");
    expect((await tfm("init-weights", f, "--seed", "5", "-o", w)).code).toBe(0);
    const bytes = readFileSync(w);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString("utf8")) as Record<string, unknown>;
    expect(Object.keys(header).filter((k) => k !== "__metadata__").sort()).toEqual(["h.0.proj.bias", "h.0.proj.weight", "h.1.proj.weight", "h.2.proj.weight"]);
    const x = `x=${JSON.stringify([[Array.from({ length: 8 }, (_, i) => i / 8)]])}`;
    const [a, b] = ["fd-ck", "fd-rnd"].map((name) => join(dir, name));
    const rnd = await tfm("run", f, "--random-weights", "--seed", "5", "--input", x, "-o", b);
    expect(rnd.err).toBe("");
    expect(rnd.out).toContain("output y: f32[1, 1, 8]");
    expect((await tfm("run", f, "--weights", w, "--input", x, "-o", a)).code).toBe(0);
    const [ya, yb] = [a, b].map((d) => readNpy(readFileSync(join(d, "y.npy"))).data as Float32Array);
    expect([...ya!].every(Number.isFinite)).toBe(true);
    expect([...ya!]).toEqual([...yb!]);
  });

  it("reports a sequence longer than the positions table as a run-time error", async () => {
    const ids = JSON.stringify([Array.from({ length: 20 }, (_, i) => i)]);
    const r = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", `input_ids=${ids}`);
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

  it("binds `n` of an input `f32[2 * n, n]` from its bare dim: [4, 2] runs, [3, 2] is TFM5208", async () => {
    const f = join(dir, "compound.tfm");
    writeFileSync(f, "model M() {\n  input x: f32[2 * n, n]\n  output y = x + 1.0\n}\n");
    const out = join(dir, "compound");
    const r = await tfm("run", f, "--random-weights", "--input", "x=[[1, 2], [3, 4], [5, 6], [7, 8]]", "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("output y: f32[4, 2]  (f32[2 * n, n])");
    expect([...(readNpy(readFileSync(join(out, "y.npy"))).data as Float32Array)]).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const bad = await tfm("run", f, "--random-weights", "--input", "x=[[1, 2], [3, 4], [5, 6]]", "-o", join(dir, "compound-bad"));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("error[TFM5208]: input `x` expects f32[2 * n, n], but the value given has shape [3, 2]: dim 0 is 3, and it must be 4 (`2 * n`, with n = 2)");
  });

  it("a repeat stack of a block with two outputs gives every copy's second output, stacked along a new leading axis", async () => {
    const f = join(dir, "stack2.tfm");
    writeFileSync(f, "block B() {\n  input x: f32[n, 2]\n  param w: f32[2, 2]\n  y = x @ w\n  output out = y\n  output s = sum(y, -1)\n}\n\nmodel M() {\n  input x: f32[n, 2]\n  layer h = repeat(3) B()\n  y, s = h(x)\n  output last = y\n  output sums = s\n}\n");
    const out = join(dir, "stack2");
    const r = await tfm("run", f, "--random-weights", "--input", "x=[[1, 2], [3, 4]]", "-o", out);
    expect(r.err).toBe("");
    expect(r.out).toContain("output sums: f32[3, 2]  (f32[3, n])");
    const last = readNpy(readFileSync(join(out, "last.npy"))).data as Float32Array;
    const sums = readNpy(readFileSync(join(out, "sums.npy"))).data as Float32Array;
    // The last copy's row sums are the last row of `sums`; the copies before differ (own weights).
    expect(sums[4]).toBeCloseTo(last[0]! + last[1]!, 5);
    expect(sums[5]).toBeCloseTo(last[2]! + last[3]!, 5);
    expect(sums[0]).not.toBeCloseTo(sums[4]!, 5);
  });

  it("divides compile-time scalars as real numbers: x * log(100 / 8)", async () => {
    const f = join(dir, "realdiv.tfm");
    writeFileSync(f, "model M() {\n  input x: f32[2]\n  output y = x * log(100 / 8)\n}\n");
    const out = join(dir, "realdiv");
    expect((await tfm("run", f, "--random-weights", "--input", "x=[1, 2]", "-o", out)).code).toBe(0);
    const y = readNpy(readFileSync(join(out, "y.npy"))).data as Float32Array;
    expect(y[0]).toBeCloseTo(Math.log(12.5), 5);
    expect(y[1]).toBeCloseTo(2 * Math.log(12.5), 5);
  });

  it("computes builtins of compile-time scalars: x * erf(0.5) + abs(-2) (were NaN and 0)", async () => {
    const f = join(dir, "scalar-builtins.tfm");
    writeFileSync(f, "model M() {\n  input x: f32[2]\n  output y = x * erf(0.5) + abs(-2)\n}\n");
    const out = join(dir, "scalar-builtins");
    expect((await tfm("run", f, "--random-weights", "--input", "x=[1, 2]", "-o", out)).code).toBe(0);
    const y = readNpy(readFileSync(join(out, "y.npy"))).data as Float32Array;
    // Python's math.erf(0.5), and the f32 rounding of each step
    const e = Math.fround(0.5204998778130465);
    expect([...y]).toEqual([Math.fround(e + 2), Math.fround(Math.fround(2 * e) + 2)]);
  });

  it("needs exactly one source of weights, and inputs that fit", async () => {
    expect((await tfm("run", "models/gpt2.tfm", "--input", "input_ids=[[1]]")).code).toBe(2);
    const bad = await tfm("run", "models/gpt2.tfm", ...small, "--random-weights", "--input", "input_ids=[1, 2]");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("input_ids");
  });
});

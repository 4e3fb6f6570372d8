// `tfm init-weights` through the CLI's main(): writes a checkpoint the model binds, the same bytes
// for the same seed, never replaces an existing file without --force, and leaves no temp files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { humanBytes } from "../../../src/cli/summary.js";
import { bindCheckpoint } from "../../../src/runtime/bind.js";
import { readSafetensors } from "../../../src/weights/safetensors.js";
import { tiny, tinyText } from "./helpers.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-init-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, "tiny.tfm");
writeFileSync(model, tinyText);

describe("tfm init-weights", () => {
  it("writes a safetensors file that binds to the model, exit 0", async () => {
    const out = join(dir, "w.safetensors");
    const r = await tfm("init-weights", model, "--seed", "7", "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${out}: 7 tensors, 77 values, ${humanBytes(readFileSync(out).length)} (seed 7)\n`);
    const file = readSafetensors(readFileSync(out));
    expect({ ...file.metadata }).toEqual({ format: "pt", "tfm.model": "Tiny", "tfm.seed": "7" });
    expect(file.tensors.get("head.kernel")!.shape).toEqual([4, 3]); // the checkpoint layout of a `transposed` [3, 4]
    const t = tiny();
    const b = bindCheckpoint(t.instance!.weights, file, t.instance!.ignored);
    expect(b.diagnostics).toEqual([]);
  });

  it("gives the same bytes for the same seed, and different bytes for another", async () => {
    const [a, b, c] = ["a", "b", "c"].map((n) => join(dir, `${n}.safetensors`));
    expect((await tfm("init-weights", model, "--seed", "1", "-o", a!)).code).toBe(0);
    expect((await tfm("init-weights", model, "--seed", "1", "--output", b!)).code).toBe(0);
    expect((await tfm("init-weights", model, "--seed", "2", "-o", c!)).code).toBe(0);
    expect(readFileSync(a!).equals(readFileSync(b!))).toBe(true);
    expect(readFileSync(a!).equals(readFileSync(c!))).toBe(false);
  });

  it("applies --set", async () => {
    const out = join(dir, "set.safetensors");
    expect((await tfm("init-weights", model, "--set", "vocab=20", "--seed", "0", "-o", out)).code).toBe(0);
    expect(readSafetensors(readFileSync(out)).tensors.get("emb.weight")!.shape).toEqual([20, 4]);
  });

  it("refuses to overwrite an existing file without --force, and replaces it with --force", async () => {
    const out = join(dir, "keep.safetensors");
    writeFileSync(out, "precious");
    const r = await tfm("init-weights", model, "--seed", "0", "-o", out);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${out}: error[TFM5210]: ${out} already exists: not overwriting it (use --force to replace it)\n`);
    expect(readFileSync(out, "utf8")).toBe("precious");
    const f = await tfm("init-weights", model, "--seed", "0", "-o", out, "--force");
    expect(f.code).toBe(0);
    expect(readSafetensors(readFileSync(out)).tensors.size).toBe(7);
  });

  it("leaves no temp files behind", async () => {
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("reports a file it cannot write (a missing directory) with its code, exit 1", async () => {
    const out = join(dir, "no", "such", "dir", "w.safetensors");
    const r = await tfm("init-weights", model, "--seed", "0", "-o", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM5211]: cannot write");
  });

  it("reports program errors as diagnostics, exit 1", async () => {
    const bad = join(dir, "bad.tfm");
    writeFileSync(bad, "model M {\n  input x: f32[n]\n  output y = relu(xx)\n}\n");
    const r = await tfm("init-weights", bad, "--seed", "0", "-o", join(dir, "bad.safetensors"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM2001]");
  });

  it("a file without a model is an error", async () => {
    const lib = join(dir, "lib.tfm");
    writeFileSync(lib, "fn f(x: f32[n]) {\n  return x\n}\n");
    const r = await tfm("init-weights", lib, "--seed", "0", "-o", join(dir, "lib.safetensors"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("defines no `model`");
  });

  it("usage errors exit 2: a bad seed, no seed, no output", async () => {
    const out = join(dir, "usage.safetensors");
    const bad = await tfm("init-weights", model, "--seed", "-3", "-o", out);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--seed expects an integer from 0 to 2^53 - 1");
    expect((await tfm("init-weights", model, "-o", out)).code).toBe(2);
    expect((await tfm("init-weights", model, "--seed", "1")).code).toBe(2);
  });
});

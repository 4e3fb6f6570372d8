// The memory budget (TFM6003, src/backends/shared/budget.ts, src/budget.ts): the cases of issue 15 §2
// and §5 are refused with a code, no stack trace, before anything large is allocated — each run as a
// child process whose peak RSS must stay far below what the refused run would have needed (and below
// its budget). A memory bound, not a timing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, truncateSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSize } from "../../src/backends/shared/budget.js";
import { createBundle } from "../../src/bundle/api.js";
import { cpuEngine } from "../../src/bundle/engine-cpu.js";
import { modelData } from "../../src/bundle/model-data.js";
import { TfmError } from "../../src/bundle/errors.js";
import { compile } from "../../src/index.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "tfm-budget-"));
/** Peak RSS a refused run may reach: Node, tsx and the compiler, nothing of the refused sizes (1 GiB and more). */
const RSS_LIMIT_KIB = 400 * 1024;

function tfm(...argv: string[]): { status: number | null; stdout: string; stderr: string; rssKiB: number } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "test/cli/budget-child.ts", ...argv], { encoding: "utf8" });
  const m = /\nmaxrss-kib (\d+)\n$/.exec(r.stdout);
  if (!m) throw new Error(`the child printed no maxrss line: status ${r.status}\n${r.stdout}\n${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, rssKiB: Number(m[1]) };
}

function file(name: string, text: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** A .npy header for `shape` (f32 or i32) followed by `data`. */
function npy(shape: readonly number[], descr: "<f4" | "<i4", data: Uint8Array = new Uint8Array(0)): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  h += " ".repeat(63 - ((h.length + 10) % 64)) + "\n";
  const head = new Uint8Array(10 + h.length);
  head.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0, h.length & 255, h.length >> 8]);
  head.set(new TextEncoder().encode(h), 10);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

function expectRefused(r: ReturnType<typeof tfm>, message: RegExp): void {
  console.log(`refused: peak RSS ${(r.rssKiB / 1024).toFixed(0)} MiB — ${/error\[TFM\d+\]: (.{0,90})/.exec(r.stderr)?.[1] ?? r.stderr.slice(0, 90)}`);
  expect(r.stderr).toMatch(/error\[TFM6003\]/);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at .*\(|RangeError|Array buffer allocation failed|Invalid typed array length/);
  expect(r.status).toBe(1);
  expect(r.rssKiB).toBeLessThan(RSS_LIMIT_KIB);
}

const big = file("big.tfm", "model Big {\n  input x: f32[2]\n  param w: f32[65536, 65535]\n  output y = sum(w, -1)\n  output z = x\n}\n");

describe("the memory budget: refused before allocating (TFM6003), peak RSS low", { timeout: 120_000 }, () => {
  it("a 16 GiB weight with --random-weights", () => {
    const r = tfm("run", big, "--random-weights", "--input", "x=[1, 2]", "--max-memory", "4G");
    expectRefused(r, /loading the weights needs 17,179,607,040 bytes \(16\.0 GiB\) of memory \(1 weight; the largest, `w` f32\[65536, 65535\], 17,179,607,040 bytes \(16\.0 GiB\)\), over the memory budget of 4,294,967,296 bytes \(4\.0 GiB\)/);
    expect(r.stderr).toContain("big.tfm:1:7: error[TFM6003]");
  });

  it("a 16 GiB weight with init-weights: the file size and the budget checked before any value is generated", () => {
    const out = join(dir, "w.safetensors");
    const r = tfm("init-weights", big, "--seed", "0", "-o", out);
    expect(r.stderr).toMatch(/error\[TFM5017\]: the file would be about 17,179,607,\d+ bytes \(16\.0 GiB\), more than one buffer can hold .*: nothing was generated/);
    expect(r.status).toBe(1);
    expect(r.rssKiB).toBeLessThan(RSS_LIMIT_KIB);
    expect(existsSync(out)).toBe(false);
    // Under the file limit but over the budget: TFM6003.
    const mid = file("mid.tfm", "model Mid {\n  input x: f32[2]\n  param w: f32[16384, 16384]\n  output y = x\n}\n");
    const m = tfm("init-weights", mid, "--seed", "0", "-o", out, "--max-memory", "512M");
    expectRefused(m, /generating the weights needs [\d,]+ bytes \(3\.0 GiB\) of memory .* over the memory budget of 536,870,912 bytes \(512\.0 MiB\)/);
    expect(existsSync(out)).toBe(false);
  });

  it("a weight of 2^52 elements (within the 2^53 limit): TFM6003, not 'Invalid typed array length'", () => {
    const huge = file("huge.tfm", "model H {\n  input x: f32[2]\n  param w: f32[67108864, 67108864]\n  output y = x\n}\n");
    expectRefused(tfm("run", huge, "--random-weights", "--input", "x=[1, 2]"), /loading the weights needs 1\.801e\+16 bytes \(16\.0 PiB\)/);
  });

  it("an input whose memory plan is 13.4 GiB", () => {
    const plan = file("plan.tfm", "model P {\n  input x: f32[n]\n  output y = reshape(x, [n, 1]) * reshape(x, [1, n])\n}\n");
    const x = file("x60k.npy", npy([60000], "<f4", new Uint8Array(240000)));
    expectRefused(tfm("run", plan, "--random-weights", "--input", `x=${x}`, "--max-memory", "2G"), /the run at n=60000 needs 14,414,400,000 bytes \(13\.4 GiB\) of memory \(weights and inputs 240,000 bytes .*, the memory plan's 1 buffer 14,400,000,000 bytes \(13\.4 GiB\), the largest kernel transient 14,160,000 bytes \(13\.5 MiB\) in kernel k0 \(elementwise\)/);
  });

  it("an 88-byte .npy of shape (0, 1000000000) summed over axis 0 (a 4 GB output)", () => {
    const s = file("s.tfm", "model S {\n  input x: f32[a, b]\n  output y = sum(x, 0)\n}\n");
    const z = file("z.npy", npy([0, 1000000000], "<f4"));
    expectRefused(tfm("run", s, "--random-weights", "--input", `x=${z}`, "--max-memory", "1G"), /the run at a=0, b=1000000000 needs [\d,]+ bytes .* the memory plan's 1 buffer 4,000,000,000 bytes \(3\.7 GiB\)/);
  });

  it("a 50,000-token prompt to a tiny GPT: the [seq, seq] masks are counted", () => {
    const ids = new Uint8Array(50000 * 4);
    const v = new DataView(ids.buffer);
    for (let i = 0; i < 50000; i++) v.setInt32(4 * i, i % 10, true);
    const p = file("ids.npy", npy([1, 50000], "<i4", ids));
    const set = ["--set", "vocab_size=10", "--set", "n_positions=50000", "--set", "n_embd=8", "--set", "n_layer=1", "--set", "n_head=2", "--set", "use_cache=false"];
    const r = tfm("run", "models/gpt2.tfm", ...set, "--random-weights", "--input", `input_ids=${p}`, "--max-memory", "1G");
    // The padding mask's cost (models/gpt2.tfm's attention_mask): the causal && padding mask is a
    // mask (integer and boolean arithmetic on the padding mask, schedule/fuse.ts), recomputed by the
    // attention kernel that reads it: on the CPU, whole once per call, with the causal mask's aranges
    // and comparison, so that kernel's transient holds both [seq, seq] masks, 5.1 GB, and the plan
    // none (before, the plan held the `&&`, 2.5 GB, and its elementwise kernel's transient the causal
    // mask, 2.5 GB; when the causal mask was an op kernel of its own the plan held both masks). HF's
    // position ids are a cumsum of the mask, [batch, seq] (before it, an i32 count over [seq, seq]:
    // 10 GB more and a 4.7 GiB transient). The transient also counts the padding mask's values
    // two kernels absorb, computed once a call and held through it (5 bytes a position).
    expectRefused(r, /the run at batch=1, seq=50000 needs 5,109,955,508 bytes \(4\.8 GiB\) of memory .*the memory plan's 3 buffers 9,600,000 bytes .*the largest kernel transient 5,098,351,596 bytes \(4\.7 GiB\) in kernel k\d+ \(attention\)/);
    // Pointed at the line of the kernel with the largest transient, the attention reading the mask.
    expect(r.stderr).toContain("models/gpt2.tfm:35:11: error[TFM6003]");
    expect(r.stderr).toContain("causal_mask(T, past) && attention_mask");
  });

  it("tfm ir --report shows the CPU transients beside the plan: the masks at seq 70,000", () => {
    const set = ["--set", "vocab_size=10", "--set", "n_positions=70000", "--set", "n_embd=8", "--set", "n_layer=1", "--set", "n_head=2", "--set", "use_cache=false"];
    const r = tfm("ir", "models/gpt2.tfm", ...set, "--report", "--dims", "seq=70000");
    expect(r.status).toBe(0);
    // The arena holds no [seq, seq] value: the causal && padding mask is recomputed by the attention
    // kernel, whose transient on the CPU holds it and the causal mask, 9.9 GB (before, 4.9 GB of
    // arena for the `&&` and 4.9 GB of transient for the causal mask; 9.8 GB of arena when the
    // causal mask was a kernel of its own; 29.4 GB when HF's position ids were an i32 count over [seq, seq]).
    expect(r.stdout).toMatch(/\n {2}arena {15}13,440,000 bytes/);
    expect(r.stdout).toMatch(/\n {2}CPU transients {6}9,937,691,596 bytes \(\d+\.\d MiB\) +the largest kernel's, k\d+ attention/);
  });

  // Inputs were read and converted before the budget was checked (a 400 MB float64 .npy under 100M
  // peaked at 1 GB RSS, then TFM6003 at the run); now the .npy header is read first and counted.
  it("a .npy input over the budget: refused from its header, its data never read (a 1.6 GB bool array, 6.4 GB as f32)", () => {
    const s = file("sum.tfm", "model S {\n  input x: f32[a, b]\n  output y = sum(x, 1)\n}\n");
    const head = npy([40000, 40000], "<f4");
    const text = new TextDecoder("latin1").decode(head).replace("'<f4'", "'|b1'");
    const x = file("bool.npy", Uint8Array.from(text, (c) => c.charCodeAt(0)));
    truncateSync(x, head.length + 40000 * 40000); // a hole: no disk, and 1.6 GB if read
    expectRefused(tfm("run", s, "--random-weights", "--input", `x=${x}`, "--max-memory", "1G"), /input `x` needs 8,000,000,000 bytes \(7\.5 GiB\) of memory \(.*bool\.npy holds bool\(40000, 40000\): 1,600,000,000 bytes \(1\.5 GiB\) of data, then 6,400,000,000 bytes \(6\.0 GiB\) as f32\) over the memory budget of 1,073,741,824 bytes \(1\.0 GiB\); refused before allocating it/);
  });

  it("a .npy input beside weights that take the budget: the weights are counted first", () => {
    const w = file("w.tfm", "model W {\n  input x: f32[n]\n  param w: f32[4096, 4096]\n  output y = x\n  output z = sum(w, -1)\n}\n");
    const x = file("x1m.npy", npy([1 << 20], "<f4", new Uint8Array(4 << 20)));
    expectRefused(tfm("run", w, "--random-weights", "--input", `x=${x}`, "--max-memory", "64M"), /input `x` needs 4,194,304 bytes \(4\.0 MiB\) of memory .*; with the 67,108,864 bytes \(64\.0 MiB\) already needed \(the weights\) that is over the memory budget of 67,108,864 bytes/);
  });

  it("a JSON input file over the budget: refused from its size, before it is parsed", () => {
    const s = file("sum.tfm", "model S {\n  input x: f32[a, b]\n  output y = sum(x, 1)\n}\n");
    const j = file("big.json", `[${"[0],".repeat(2_000_000)}[0]]`);
    expectRefused(tfm("run", s, "--random-weights", "--input", `x=@${j}`, "--max-memory", "10M"), /input `x` needs 192,000,120 bytes \(183\.1 MiB\) of memory \(JSON of 8,000,005 bytes, parsed at up to 24 bytes per character\)/);
  });

  it("runs that fit the budget still run", () => {
    const r = tfm("run", "models/gpt2.tfm", "--set", "vocab_size=10", "--set", "n_positions=64", "--set", "n_embd=8", "--set", "n_layer=1", "--set", "n_head=2", "--random-weights", "--input", "input_ids=[[1, 2, 3]]", "--max-memory", "64M");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("output logits: f32[1, 3, 10]");
  });

  it("--max-memory takes bytes, K, M, G, T; anything else is a usage error (exit 2)", () => {
    expect([parseSize("512M"), parseSize("4G"), parseSize("1000000"), parseSize("1.5GiB"), parseSize("2kb")]).toEqual([512 * 2 ** 20, 4 * 2 ** 30, 1e6, 1.5 * 2 ** 30, 2048]);
    for (const bad of ["", "4x", "-1", "0", "G"]) expect(parseSize(bad)).toHaveProperty("error");
    const r = tfm("run", big, "--random-weights", "--input", "x=[1, 2]", "--max-memory", "4x");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--max-memory: a memory size is a number of bytes");
  });
});

describe("the memory budget in the API and in bundles", () => {
  it("load({ maxMemory }) refuses weights over it before generating them, with a TfmError and its diagnostics", async () => {
    const model = compile("model Big {\n  input x: f32[2]\n  param w: f32[65536, 65535]\n  output y = x\n}\n", { file: "big.tfm" });
    const e = await model.load({ random: true }, { maxMemory: "1G" }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(TfmError);
    expect((e as TfmError).code).toBe("TFM6003");
    expect((e as TfmError).diagnostics?.[0]?.message).toContain("over the memory budget of 1,073,741,824 bytes (1.0 GiB)");
    await expect(model.load({ random: true }, { maxMemory: -3 })).rejects.toMatchObject({ code: "TFM6003" });
  });

  it("a session's run over maxMemory rejects with TFM6003 before allocating", async () => {
    const model = compile("model P {\n  input x: f32[n]\n  output y = reshape(x, [n, 1]) * reshape(x, [1, n])\n}\n", { file: "p.tfm" });
    const s = await model.load({ random: true }, { maxMemory: 1 << 20 });
    await expect(s.run({ x: { data: new Float32Array(100), shape: [100] } })).resolves.toBeDefined();
    await expect(s.run({ x: { data: new Float32Array(60000), shape: [60000] } })).rejects.toMatchObject({ code: "TFM6003" });
  });

  it("a bundle's load({ maxMemory }) refuses weights over it before reading the checkpoint", async () => {
    const model = compile("model Big {\n  input x: f32[2]\n  param w: f32[65536, 65535]\n  output y = x\n}\n", { file: "big.tfm" });
    const bundle = createBundle(modelData(model, "cpu"), cpuEngine);
    // The bytes are not a checkpoint at all: the budget is checked first.
    const e = await bundle.load(new Uint8Array(8), { maxMemory: 2 ** 30 }).catch((e: unknown) => e);
    expect(e).toBeInstanceOf(TfmError);
    expect((e as TfmError).code).toBe("TFM6003");
    expect((e as TfmError).message).toContain("loading the weights needs 17,179,607,040 bytes (16.0 GiB) of memory (1 weight), over the memory budget of 1,073,741,824 bytes (1.0 GiB)");
    await expect(bundle.load(new Uint8Array(8), { maxMemory: 0.5 })).rejects.toMatchObject({ code: "TFM6003" });
  });

  it("a bundle's run, prefill and generate with absurd shapes: every rejection a TfmError with a code", async () => {
    const gpt = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "gpt2.tfm", settings: new Map(Object.entries({ n_layer: "1", n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "8" })) });
    const outer = compile("model P {\n  input x: f32[n]\n  output y = reshape(x, [n, 1]) * reshape(x, [1, n])\n}\n", { file: "p.tfm" });
    const ck = writeSafetensors(randomCheckpoint(gpt.checked.instance!.weights, 1));
    const g = await createBundle(modelData(gpt, "cpu"), cpuEngine).load(ck);
    const p = await createBundle(modelData(outer, "cpu"), cpuEngine).load(writeSafetensors([]));
    const ids = (shape: number[]) => ({ input_ids: { data: new Int32Array(shape.reduce((a, b) => a * b, 1)), shape } });
    const cases: [string, () => Promise<unknown>, string][] = [
      ["a shape of 10^18 elements", () => p.run({ x: { data: [1, 2], shape: [1e9, 1e9] } }), "TFM5204"],
      ["a shape past 2^53", () => p.run({ x: { data: [1], shape: [2 ** 60] } }), "TFM5204"],
      ["a negative dim", () => p.run({ x: { data: [], shape: [-1] } }), "TFM5204"],
      ["an outer product of 300,000 (360 GB)", () => p.run({ x: { data: new Float32Array(300_000), shape: [300_000] } }), "TFM6003"],
      ["a batch of 300 million", () => g.run(ids([3e8, 1])), "TFM6003"],
      ["prefill of 300 million positions", () => g.prefill(ids([1, 3e8])), "TFM8003"],
      ["prefill of a batch of 300 million", () => (g.reset(), g.prefill(ids([3e8, 1]))), "TFM6003"],
      ["step of a rank-1 input", () => (g.reset(), g.step({ input_ids: { data: [1, 2], shape: [2] } })), "TFM6002"],
      ["generate with an absurd maxNewTokens", async () => {
        g.reset();
        for await (const _ of g.generate([1, 2], { maxNewTokens: 1e12 }));
      }, "TFM8003"],
      ["generate with a NaN maxNewTokens", async () => {
        g.reset();
        for await (const _ of g.generate([1, 2], { maxNewTokens: NaN }));
      }, "TFM8002"],
    ];
    for (const [what, f, code] of cases) {
      const e = await f().then(() => undefined, (x: unknown) => x);
      expect(e, what).toBeInstanceOf(TfmError);
      expect((e as TfmError).code, `${what}: ${(e as Error).message}`).toBe(code);
    }
  }, 60_000);

  it("the bundle's CPU engine: TFM6003 as a TfmError with its code", async () => {
    const model = compile("model P {\n  input x: f32[n]\n  output y = reshape(x, [n, 1]) * reshape(x, [1, n])\n}\n", { file: "p.tfm" });
    const engine = await cpuEngine(model.graph!, new Map(), { maxMemory: 1 << 20 });
    const e = await Promise.resolve()
      .then(() => engine.run(new Map([["x", { dtype: "f32", shape: [60000], data: new Float32Array(60000) }]])))
      .catch((e: unknown) => e);
    expect(e).toBeInstanceOf(TfmError);
    expect((e as TfmError).code).toBe("TFM6003");
  });
});

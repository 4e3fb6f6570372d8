// `tfm run --capture` and `compile(..., { capture })`: captured values by layer path and bound name
// (src/ir/capture.ts). GPT-2's attention weights against PyTorch's (Hugging Face's
// `output_attentions` semantics: the softmax of the causally masked scores, per layer and head;
// test/fixtures/gpt2_attentions.py), captures leave the outputs unchanged, fused or not, and a
// pattern that matches nothing is TFM5214 with the nearest names.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { compile } from "../../src/index.js";
import { matchesCapture, selectCaptures } from "../../src/ir/capture.js";
import { readNpy } from "../../src/weights/npy.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-capture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const gpt2 = readFileSync("models/gpt2.tfm", "utf8");

describe("capture patterns", () => {
  it("globs over dotted paths", () => {
    expect(matchesCapture("h.*.attn.weights", "h.0.attn.weights")).toBe(true);
    expect(matchesCapture("h.*.attn.weights", "h.0.attn.x.weights")).toBe(false);
    expect(matchesCapture("**.weights", "h.0.attn.weights")).toBe(true);
    expect(matchesCapture("h.1?.attn.weights", "h.11.attn.weights")).toBe(true);
    expect(matchesCapture("h.1?.attn.weights", "h.1.attn.weights")).toBe(false);
    const sel = selectCaptures(["h.*.attn.weight", "h.1.attn.weights"], ["h.0.attn.weights", "h.1.attn.weights"]);
    expect(sel.names).toEqual(["h.1.attn.weights"]);
    expect(sel.unmatched).toEqual([{ pattern: "h.*.attn.weight", nearest: ["h.0.attn.weights"] }]);
  });
});

describe("names bound by tuple unpacking and by `output`", () => {
  const text = `block Half(d: int) {
  input x: f32[n, 2 * d]
  lo, hi = chunk(x, 2, dim=-1)
  output y = lo * hi
}

model M {
  input x: f32[n, 4]
  layer half = Half(2)
  a, b = chunk(x, 2, dim=-1)
  output s = half(x) + a
  output d = b - a
}
`;
  const x = { dtype: "f32" as const, shape: [2, 4], data: [1, 2, 3, 4, -5, 6, 7.5, 8] };
  it("are captured by their paths, with their values", async () => {
    const m = compile(text, { capture: ["a", "b", "half.*", "s"] });
    const s = await m.load({ random: true });
    const r = await s.run({ x });
    expect(Object.keys(r)).toEqual(["s", "d", "a", "b", "half.lo", "half.hi", "half.y"]);
    expect(Array.from(r.a!.data)).toEqual([1, 2, -5, 6]);
    expect(Array.from(r.b!.data)).toEqual([3, 4, 7.5, 8]);
    expect(Array.from(r["half.lo"]!.data)).toEqual([1, 2, -5, 6]);
    expect(Array.from(r["half.hi"]!.data)).toEqual([3, 4, 7.5, 8]);
    expect(Array.from(r["half.y"]!.data)).toEqual([3, 8, -37.5, 48]);
    expect(Array.from(r.s!.data)).toEqual([4, 10, -42.5, 54]);
    s.dispose();
  });

  it("in GPT-2: `q, k, v = chunk(...)` gives h.0.attn.q, and the block's `output y` h.0.attn.y", async () => {
    const r = await tfm("run", "models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2", "--set", "vocab_size=31", "--random-weights", "--input", "input_ids=[[1,2,3]]", "--capture", "h.0.attn.q", "--capture", "h.0.attn.y", "-o", join(dir, "tuple"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(readNpy(readFileSync(join(dir, "tuple", "h.0.attn.q.npy"))).shape).toEqual([1, 3, 16]);
    expect(readNpy(readFileSync(join(dir, "tuple", "h.0.attn.y.npy"))).shape).toEqual([1, 3, 16]);
  });
});

describe("GPT-2's attention weights", () => {
  const ref = join(dir, "ref");
  execFileSync("/usr/bin/python3", ["test/fixtures/gpt2_attentions.py", ref], { stdio: "pipe" });
  const { settings, input_ids } = JSON.parse(readFileSync(join(ref, "input_ids.json"), "utf8")) as { settings: Record<string, number>; input_ids: number[][] };
  const ids = { dtype: "i32" as const, shape: [input_ids.length, input_ids[0]!.length], data: input_ids.flat() };

  for (const fuse of [true, false]) {
    it(`equal PyTorch's (output_attentions), and change no output (${fuse ? "fused" : "unfused"})`, async () => {
      const plain = await compile(gpt2, { settings }).load(join(ref, "weights.safetensors"), { fuse });
      const model = compile(gpt2, { settings, capture: ["h.*.attn.weights"] });
      const s = await model.load(join(ref, "weights.safetensors"), { fuse });
      const [a, b] = [await plain.run({ input_ids: ids }), await s.run({ input_ids: ids })];
      expect(Object.keys(b)).toEqual(["logits", "h.0.attn.weights", "h.1.attn.weights"]);
      expect(b.logits!.data).toEqual(a.logits!.data);
      let worst = 0;
      for (const layer of [0, 1]) {
        const want = readNpy(readFileSync(join(ref, `attn.${layer}.npy`)));
        const got = b[`h.${layer}.attn.weights`]!;
        expect(got.shape).toEqual(want.shape);
        for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(Number(got.data[i]) - Number(want.data[i])));
      }
      console.log(`GPT-2 attention weights vs PyTorch (${fuse ? "fused" : "unfused"}): max abs error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-5);
      plain.dispose();
      s.dispose();
    });
  }

  it("session.run(inputs, { capture }) returns the same captures on the loaded weights", async () => {
    const s = await compile(gpt2, { settings }).load(join(ref, "weights.safetensors"));
    const fixed = await compile(gpt2, { settings, capture: ["h.*.attn.weights"] }).load(join(ref, "weights.safetensors"));
    const [a, b, plain] = [await s.run({ input_ids: ids }, { capture: ["h.*.attn.weights"] }), await fixed.run({ input_ids: ids }), await s.run({ input_ids: ids })];
    expect(Object.keys(a)).toEqual(["logits", "h.0.attn.weights", "h.1.attn.weights"]);
    expect(a["h.1.attn.weights"]!.data).toEqual(b["h.1.attn.weights"]!.data);
    expect(a.logits!.data).toEqual(plain.logits!.data);
    expect(Object.keys(plain)).toEqual(["logits"]);
    await expect(s.run({ input_ids: ids }, { capture: ["h.*.atn.weights"] })).rejects.toThrow(/TFM5214/);
    s.dispose();
    fixed.dispose();
  });

  it("tfm run --capture writes each match beside the outputs", async () => {
    const out = join(dir, "run");
    const sets = Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
    const r = await tfm("run", "models/gpt2.tfm", ...sets, "--weights", join(ref, "weights.safetensors"), "--input", `input_ids=${JSON.stringify(input_ids)}`, "--capture", "h.1.attn.weights", "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const got = readNpy(readFileSync(join(out, "h.1.attn.weights.npy")));
    const want = readNpy(readFileSync(join(ref, "attn.1.npy")));
    expect(got.shape).toEqual([2, 4, 7, 7]);
    for (let i = 0; i < want.data.length; i++) expect(Math.abs(Number(got.data[i]) - Number(want.data[i]))).toBeLessThan(1e-5);
  });

  it("a pattern that matches nothing is TFM5214 with the nearest names", async () => {
    const r = await tfm("run", "models/gpt2.tfm", "--set", "n_layer=2", "--random-weights", "--input", "input_ids=[[1,2]]", "--capture", "h.*.atn.weights");
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM5214]: --capture `h.*.atn.weights` matches no name in the model");
    expect(r.err).toContain("h.0.attn.weights");
    expect(() => compile(gpt2, { settings: { n_layer: 1 }, capture: ["nope"] }).graph).toThrow(/TFM5214/);
  });
});

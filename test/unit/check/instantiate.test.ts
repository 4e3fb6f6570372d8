import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { matchesIgnore } from "../../../src/runtime/checkpoint.js";
import { codes, run } from "../../helpers.js";

const gpt2 = readFileSync("models/gpt2.tfm", "utf8");
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe("model instantiation", () => {
  it("names GPT-2's weights exactly as Hugging Face does, with its parameter count", () => {
    const r = run(gpt2);
    expect(r.diagnostics).toEqual([]);
    const ws = r.instance!.weights;
    expect(ws.length).toBe(148);
    expect(ws.reduce((a, w) => a + numel(w.shape), 0)).toBe(124_439_808);
    const byName = new Map(ws.map((w) => [w.name, w.shape]));
    expect(byName.get("wte.weight")).toEqual([50257, 768]);
    expect(byName.get("h.0.attn.c_attn.weight")).toEqual([768, 2304]);
    expect(byName.get("h.11.mlp.c_proj.weight")).toEqual([3072, 768]);
    expect(byName.get("ln_f.bias")).toEqual([768]);
    expect(r.instance!.ignored).toContain("h.11.attn.masked_bias");
  });

  it("applies --set overrides and checks their types", () => {
    const r = run(gpt2, { n_layer: "2", n_embd: "64", n_head: "4" });
    expect(r.diagnostics).toEqual([]);
    expect(r.instance!.weights.length).toBe(4 + 12 * 2); // wte, wpe, ln_f.{weight,bias} + 12 per block
    expect(codes(gpt2, { n_layers: "2" })).toEqual([expect.stringMatching(/^TFM2013@/)]);
    expect(codes(gpt2, { n_layer: "two" })).toEqual([expect.stringMatching(/^TFM3002@/)]);
    expect(codes(gpt2, { n_layer: "2.5" })).toEqual([expect.stringMatching(/^TFM3002@/)]);
    expect(run(gpt2, { layer_norm_epsilon: "1" }).diagnostics).toEqual([]); // int widens to float
  });

  it("reports an error inside a library block at the user's line, with a trace", () => {
    const src = "model M(d = 10) {\n  input x: f32[b, t, d]\n  layer enc = TransformerEncoderLayer(d, 2, dim_feedforward=d - 11)\n  output y = enc(x)\n}\n";
    const r = run(src);
    expect(codes(src)).toEqual(["TFM3004@3:3"]);
    const d = r.diagnostics[0]!;
    expect(d.message).toBe("a dimension must be a non-negative integer, found -1");
    expect(d.related[0]!.message).toBe("the error is here");
    expect(d.related[0]!.file).toMatch(/nn\.tfm$/);
    expect(d.related.map((x) => x.message)).toEqual(["the error is here", "in `Linear` (enc.linear1), instantiated here", "in `TransformerEncoderLayer` (enc), instantiated here"]);
  });

  it("names weights by layer path, `as` and repeat index, and keeps `transposed`", () => {
    const src = `block L(n: int) {
  input x: f32[*b, n]
  param w: f32[n, 2 * n] as "kernel" transposed
  output y = x @ w
}
model M(k = 3) {
  input x: f32[t, 4]
  layer stack = repeat(k) L(4) as "blocks"
  ignore "blocks.*.extra"
  output y = x
}
`;
    const r = run(src);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TFM2017"]); // `stack` is never applied
    expect(r.instance!.weights.map((w) => [w.name, w.shape, w.transposed])).toEqual([
      ["blocks.0.kernel", [4, 8], true],
      ["blocks.1.kernel", [4, 8], true],
      ["blocks.2.kernel", [4, 8], true],
    ]);
    expect(r.instance!.ignored).toEqual(["blocks.*.extra"]);
    expect(matchesIgnore("blocks.*.extra", "blocks.7.extra")).toBe(true);
    expect(matchesIgnore("blocks.*.extra", "blocks.7.extra.x")).toBe(false);
  });

  it("reports duplicate checkpoint names, bad repeat counts and runtime dims in weights", () => {
    expect(codes("model M { input x: f32[1]\n param a: f32[1] as \"w\"\n param w: f32[1]\n output y = x }")).toEqual(["TFM2016@3:8"]);
    expect(codes("model M(n = -1) { input x: f32[1]\n layer s = repeat(n) Linear(1, 1)\n output y = s(x) }")).toEqual(["TFM3004@2:19"]);
    expect(codes("model M { input x: f32[t]\n param w: f32[t]\n output y = x * w }")).toEqual(["TFM3006@2:15"]);
    expect(codes("model M(n = 4503599627370496) { input x: f32[1]\n param w: f32[n * 4]\n output y = x }")).toEqual(["TFM3005@2:15"]);
    expect(codes("model M(n = 0) { input x: f32[1]\n param w: f32[4 / n]\n output y = x }")).toEqual(["TFM3003@2:15"]);
  });

  it("takes the branch of an `if` the parameters select", () => {
    const src = "model M(bias = false) { input x: f32[t, 2]\n layer l = Linear(2, 2, bias=bias)\n output y = l(x) }";
    expect(run(src).instance!.weights.map((w) => w.name)).toEqual(["l.weight"]);
    expect(run(src, { bias: "true" }).instance!.weights.map((w) => w.name)).toEqual(["l.weight", "l.bias"]);
  });
});

import { describe, expect, it } from "vitest";
import { addDim, constDim, divDim, equalDims, mulDim, showDim, subDim, symDim } from "../../../src/core/dim.js";
import { typeKey } from "../../../src/check/shapes/check.js";
import { showValue } from "../../../src/check/shapes/value.js";
import { codes, run } from "../../helpers.js";

const s = symDim;
const c = constDim;

describe("symbolic dims", () => {
  it("normalise, so equal expressions compare equal", () => {
    expect(showDim(addDim(mulDim(c(3), s("d")), s("d")))).toBe("4 * d");
    expect(equalDims(mulDim(s("b"), s("t")), mulDim(s("t"), s("b")))).toBe(true);
    expect(equalDims(subDim(addDim(s("t"), c(1)), c(1)), s("t"))).toBe(true);
  });

  it("decide equality: proven, provably false, or unknown", () => {
    expect(equalDims(c(768), c(512))).toBe(false);
    expect(equalDims(addDim(s("seq"), c(1)), s("seq"))).toBe(false);
    expect(equalDims(mulDim(c(2), s("seq")), s("seq"))).toBe(false); // symbols are ≥ 1
    expect(equalDims(s("src"), s("tgt"))).toBe(undefined);
    expect(equalDims(s("seq"), c(64))).toBe(undefined);
  });

  it("divide exactly or keep an obligation", () => {
    expect(divDim(c(768), c(12))).toEqual({ q: c(64), exact: true });
    expect(divDim(c(10), c(3)).exact).toBe(false);
    const hd = divDim(mulDim(c(12), s("h")), s("h"));
    expect(hd.exact).toBe(true);
    expect(showDim(hd.q)).toBe("12");
    expect(divDim(s("d"), s("h")).exact).toBe(undefined);
    expect(showDim(divDim(s("d"), s("h")).q)).toBe("(d / h)");
  });
});

const model = (body: string, params = "d = 8") => `model M(${params}) {\n${body}\n}\n`;
const shapeOf = (src: string, name: string) => {
  const r = run(src);
  const out = r.shapes!.outputs.find((o) => o.name === name);
  return out ? showValue(out.value) : undefined;
};

describe("declared types introduce their bare dims first", () => {
  // Found when tried as a new user would: `2 * n` was evaluated before `n` was bound, and silently
  // became 1 (`tfm shapes` showed f32[1, n]; `tfm run` then rejected a [4, 2] input).
  it("a model input's compound dim may name a dim introduced to its right", () => {
    const src = "model M() {\n  input x: f32[2 * n, n]\n  output y = x + 1.0\n}\n";
    expect(codes(src)).toEqual([]);
    expect(showValue(run(src).shapes!.inputs[0]!.value)).toBe("f32[2 * n, n]");
    expect(shapeOf(src, "y")).toBe("f32[2 * n, n]");
  });

  it("a block input's compound dim is checked against the dim bound to its right", () => {
    const block = "block B {\n  input x: f32[2 * n, n]\n  output y = x\n}\n";
    const ok = block + model("  input a: f32[t, 6, 3]\n  layer b = B()\n  output y = b(a[0])", "");
    expect(codes(ok)).toEqual([]);
    expect(shapeOf(ok, "y")).toBe("f32[6, 3]");
    const bad = block + model("  input a: f32[5, 3]\n  layer b = B()\n  output y = b(a)", "");
    expect(codes(bad)).toEqual(["TFM4001@8:16"]);
    expect(run(bad).diagnostics[0]!.message).toBe("`x`: expected f32[2 * n, n], found f32[5, 3]: dim 0 is 5, not 6");
  });
});

describe("shapes after an error", () => {
  it("are still recorded where the error does not reach (for hovers)", () => {
    const src = model("  input x: f32[b, d]\n  y = relu(x)\n  z = reluu(y)\n  output o = z + y", "d = 8");
    const r = run(src);
    expect(codes(src)).toEqual(["TFM2001@4:7"]);
    const at = (needle: string) => r.shapes?.types.get(typeKey("test.tfm", { start: src.indexOf(needle), end: src.indexOf(needle) + needle.length }));
    expect(at("relu(x)")).toEqual(["f32[b, 8]"]);
    expect(at("z + y")).toEqual(["?"]);
  });
});

describe("division of compile-time integers", () => {
  const typeAt = (src: string, needle: string) => run(src).shapes?.types.get(typeKey("test.tfm", { start: src.indexOf(needle), end: src.indexOf(needle) + needle.length }));

  it("is real division for scalars, as in Python (`log(100 / 8)`)", () => {
    const src = model("  input x: f32[b]\n  output y = x * log(100 / 8)", "");
    expect(codes(src)).toEqual([]);
    expect(typeAt(src, "100 / 8")).toEqual(["float 12.5"]);
    expect(shapeOf(src, "y")).toBe("f32[b]");
  });

  it("must be exact where the quotient is a dim (TFM3001 at the division), also through arithmetic", () => {
    expect(codes(model("  input x: f32[b, d / 3]\n  output y = x", "d = 8"))).toEqual(["TFM3001@2:19"]);
    expect(codes(model("  input x: f32[b, d]\n  h = d / 3\n  output y = reshape(x, [b, 3, h])", "d = 8"))).toEqual(["TFM3001@3:7"]);
    expect(codes(model("  input x: f32[b, d]\n  h = d / 3\n  output y = reshape(x, [b, 3 * h])", "d = 8"))).toEqual(["TFM3001@3:7"]);
    expect(codes(model("  input x: f32[b, d]\n  param w: f32[d, d / 3]\n  output y = x @ w", "d = 8"))).toEqual(["TFM3001@3:19"]);
    const exact = model("  input x: f32[b, d]\n  output y = reshape(x, [b, 2, d / 2])", "d = 8");
    expect(codes(exact)).toEqual([]);
    expect(shapeOf(exact, "y")).toBe("f32[b, 2, 4]");
  });
});

describe("builtins of compile-time scalars", () => {
  const typeAt = (src: string, needle: string) => run(src).shapes?.types.get(typeKey("test.tfm", { start: src.indexOf(needle), end: src.indexOf(needle) + needle.length }));

  it("compute their value, integers staying integers (`maximum(2, 3)` was `int 0`, `erf(0.5)` NaN)", () => {
    const src = model("  input x: f32[b, 8]\n  k = maximum(2, 3)\n  output y = x[:, 0:k] * erf(0.5) + abs(-2) * pow(2, -1) + minimum(1.5, 2) + pow(2, 3)", "");
    expect(codes(src)).toEqual([]);
    expect(typeAt(src, "maximum(2, 3)")).toEqual(["int 3"]);
    expect(shapeOf(src, "y")).toBe("f32[b, 3]");
    expect(typeAt(src, "abs(-2)")).toEqual(["int 2"]);
    expect(typeAt(src, "pow(2, -1)")).toEqual(["float 0.5"]);
    expect(typeAt(src, "pow(2, 3)")).toEqual(["int 8"]);
    expect(typeAt(src, "minimum(1.5, 2)")).toEqual(["float 1.5"]);
    // Python's math.erf(0.5)
    expect(typeAt(src, "erf(0.5)")).toEqual([`float ${0.5204998778130465}`]);
  });

  it("of dims known only when the model runs give an opaque dim, never a guess", () => {
    const src = model("  input x: f32[b, t]\n  k = maximum(t, 2)\n  output y = x[:, 0:k]", "");
    expect(typeAt(src, "maximum(t, 2)")).toEqual(["int (maximum(t, 2))"]);
    expect(shapeOf(src, "y")).toBe("f32[b, maximum(t, 2)]");
  });

  it("report an integer beyond 2^53 (TFM3005)", () => {
    expect(codes(model("  input x: f32[b]\n  output y = x * pow(3, 40)", ""))).toEqual(["TFM3005@3:18"]);
  });
});

describe("shape rules", () => {
  it("broadcast elementwise ops as NumPy does", () => {
    const src = model("  input x: f32[b, t, d]\n  input m: bool[t, t]\n  output y = where(m, x @ transpose(x), -inf)");
    expect(codes(src)).toEqual([]);
    expect(shapeOf(src, "y")).toBe("f32[b, t, t]");
  });

  it("match matmul batch dims and suggest a missing transpose", () => {
    expect(shapeOf(model("  input q: f32[b, h, t, d]\n  input k: f32[b, 1, t, d]\n  output y = q @ transpose(k)"), "y")).toBe("f32[b, h, t, t]");
    const bad = model("  input q: f32[t, d]\n  input w: f32[4, d]\n  output y = q @ w");
    expect(codes(bad)).toEqual(["TFM4006@4:18"]);
    expect(run(bad).diagnostics[0]!.notes).toEqual(["the last dims agree: did you mean `a @ transpose(b)`?"]);
  });

  it("check reshape element counts symbolically", () => {
    expect(shapeOf(model("  input x: f32[b, t, d]\n  output y = reshape(x, [b, t, 2, d / 2])"), "y")).toBe("f32[b, t, 2, 4]");
    expect(codes(model("  input x: f32[b, t, d]\n  output y = reshape(x, [b, t, 3, 3])"))).toEqual(["TFM4007@3:25"]);
    expect(codes(model("  input x: f32[b, t, d]\n  output y = reshape(x, [b * t, d])"))).toEqual([]);
  });

  it("expand as torch.Tensor.expand: new leading dims, size-1 dims repeated, -1 kept", () => {
    expect(shapeOf(model("  input x: f32[b, 1, t]\n  output y = expand(x, [2, b, d, t])"), "y")).toBe("f32[2, b, 8, t]");
    expect(shapeOf(model("  input x: f32[b, 1, t]\n  output y = expand(x, [b, 3, -1])"), "y")).toBe("f32[b, 3, t]");
    expect(shapeOf(model("  input x: f32[b, t]\n  output y = expand(x, [b, t])"), "y")).toBe("f32[b, t]");
    expect(codes(model("  input x: f32[b, 2, t]\n  output y = expand(x, [b, 3, t])"))).toEqual(["TFM4005@3:24"]);
    expect(codes(model("  input x: f32[b, t]\n  output y = expand(x, [t])"))).toEqual(["TFM4003@3:24"]);
    expect(codes(model("  input x: f32[b, t]\n  output y = expand(x, [-1, b, t])"))).toEqual(["TFM3004@3:24"]);
    expect(codes(model("  input x: f32[b, t]\n  input z: f32[s]\n  output y = expand(x, [b, s]) + z[0]"))).toEqual(["TFM4002@4:24"]);
    // repeat_kv (the standard library's, for grouped-query attention) through it
    expect(shapeOf(model("  input k: f32[b, 2, t, d]\n  output y = repeat_kv(k, 3)"), "y")).toBe("f32[b, 6, t, 8]");
  });

  it("reduce, index and slice", () => {
    expect(shapeOf(model("  input x: f32[b, t, d]\n  output y = sum(x[:, 0], -1, keepdim=true)"), "y")).toBe("f32[b, 1]");
    expect(shapeOf(model("  input x: f32[b, t, d]\n  output y = x[..., 2:6]"), "y")).toBe("f32[b, t, 4]");
    expect(codes(model("  input x: f32[b, t, d]\n  output y = x[:, :, 9]"))).toEqual(["TFM4012@3:22"]);
    expect(codes(model("  input x: f32[b, t, d]\n  output y = mean(x, 3)"))).toEqual(["TFM4008@3:22"]);
  });

  it("cumsum keeps shape and dtype, takes negative dims, and refuses bool and a dim out of range", () => {
    expect(shapeOf(model("  input m: i32[b, t]\n  output y = cumsum(m, -1) - 1"), "y")).toBe("i32[b, t]");
    expect(shapeOf(model("  input x: f32[b, t, d]\n  output y = cumsum(x, 0)"), "y")).toBe("f32[b, t, 8]");
    expect(codes(model("  input x: f32[b, t]\n  output y = cumsum(x, 2)"))).toEqual(["TFM4008@3:24"]);
    expect(codes(model("  input x: f32[b, t]\n  output y = cumsum(x, -3)"))).toEqual(["TFM4008@3:24"]);
    const bool = model("  input m: i32[b, t]\n  output y = cumsum(m != 0, 1)");
    expect(codes(bool)).toEqual(["TFM4004@3:21"]);
    expect(run(bool).diagnostics[0]!.message).toBe("cumsum needs a number tensor, found bool");
    expect(codes(model("  input m: i32[b, t]\n  output y = cumsum(cast(m != 0, i32), 1)"))).toEqual([]);
  });

  it("unpack chunks and check they divide", () => {
    const src = model("  input x: f32[t, 3 * d]\n  a, b, c = chunk(x, 3, dim=-1)\n  output y = a + b + c");
    expect(shapeOf(src, "y")).toBe("f32[t, 8]");
    expect(codes(model("  input x: f32[t, d]\n  a, b, c = chunk(x, 3, dim=-1)\n  output y = a + b + c"))).toEqual(["TFM4011@3:22"]);
    expect(codes(model("  input x: f32[t, 3 * d]\n  a, b = chunk(x, 3, dim=-1)\n  output y = a + b"))).toEqual(["TFM2015@3:10"]);
  });

  it("warns when shapes agree only if symbolic dims happen to be equal", () => {
    const src = model("  input s: f32[b, src_len, d]\n  input t: f32[b, tgt_len, d]\n  output y = s + t");
    expect(codes(src)).toEqual(["TFM4002@4:18"]);
    expect(run(src).diagnostics[0]!.message).toBe("cannot prove that src_len == tgt_len (broadcasting [b, src_len, 8] and [b, tgt_len, 8])");
  });

  it("checks element types", () => {
    expect(codes(model("  input ids: i32[b, t]\n  input x: f32[b, t]\n  output y = ids + x"))).toEqual(["TFM4004@4:20"]);
    expect(codes(model("  input ids: i32[b, t]\n  input x: f32[b, t]\n  output y = cast(ids, f32) + x"))).toEqual([]);
    expect(codes(model("  input x: f32[b, t]\n  output y = where(x, x, 0.0)"))).toEqual(["TFM4004@3:20"]);
  });
});

describe("layers and functions", () => {
  it("binds signature dims and packs, and reports rank errors at the argument", () => {
    const src = model("  input x: f32[t, d]\n  layer ln = LayerNorm(d)\n  layer attn = MultiheadAttention(d, 2)\n  y = ln(x)\n  output z = attn(y, y, y)");
    const cs = codes(src);
    expect(cs).toEqual(["TFM4003@6:19", "TFM4003@6:22", "TFM4003@6:25"]);
    const d = run(src).diagnostics[0]!;
    expect(d.message).toBe("`query`: expected 3 dims f32[B, T, embed_dim], found 2 dims f32[t, 8]");
    expect(d.notes).toEqual(["one dim is missing: a missing `unsqueeze`, batch dim or head split?"]);
  });

  it("reports a non-dividing head count at the user's line, through the library", () => {
    const src = model("  input x: f32[b, t, d]\n  layer attn = MultiheadAttention(d, 3)\n  output y = attn(x, x, x)");
    expect(codes(src)).toEqual(["TFM3001@4:14"]);
    expect(run(src).diagnostics[0]!.related.map((r) => r.message)).toEqual([
      "the error is here",
      "in function `split_heads`, instantiated here",
      "in block `MultiheadAttention` (attn), instantiated here",
    ]);
  });

  it("threads repeat stacks and checks each copy's output fits the next input", () => {
    const ok = model("  input x: f32[b, t, d]\n  layer h = repeat(3) TransformerEncoderLayer(d, 2, dim_feedforward=16)\n  output y = h(x)");
    expect(shapeOf(ok, "y")).toBe("f32[b, t, 8]");
    const bad = "block Grow(n: int) {\n  input x: f32[t, n]\n  output y = concat([x, x], -1)\n}\n" + model("  input x: f32[t, d]\n  layer h = repeat(2) Grow(d)\n  output y = h(x)");
    expect(codes(bad)).toEqual(["TFM4013@8:14"]);
  });

  it("records every binding's shape for hovers", () => {
    const src = model("  input ids: i32[b, t]\n  layer emb = Embedding(100, d)\n  h = emb(ids)\n  output y = h");
    const r = run(src);
    const at = src.indexOf("h = emb");
    expect(r.shapes!.types.get(typeKey("test.tfm", { start: at, end: at + 1 }))).toEqual(["f32[b, t, 8]"]);
  });

  it("checks blocks the model does not use, reporting only certain errors", () => {
    expect(codes("block U(d: int) {\n  input x: f32[t, d]\n  output z = x @ x\n}\n")).toEqual([]); // d == t is possible: no certain error
    expect(codes("block U(d: int) {\n  input x: f32[t, d]\n  output z = x @ reshape(x, [t, d, 1])[0]\n}\n")).toEqual([]);
    expect(codes("block U() {\n  input x: f32[t, 4]\n  output z = x @ x\n}\n")).toEqual([]);
    expect(codes("block U() {\n  input x: f32[5, 4]\n  output z = x @ x\n}\n")).toEqual(["TFM4006@3:18"]);
  });
});

describe("the models", () => {
  it("give their outputs the expected symbolic shapes", async () => {
    const { readFileSync } = await import("node:fs");
    const out = (f: string) => run(readFileSync(f, "utf8")).shapes!.outputs.map((o) => `${o.name}: ${showValue(o.value)}`);
    expect(out("models/gpt2.tfm")).toEqual(["logits: f32[batch, seq, 50257]"]);
    expect(out("models/bert.tfm")).toEqual(["last_hidden_state: f32[batch, seq, 768]", "pooler_output: f32[batch, 768]"]);
    expect(out("models/transformer.tfm")).toEqual(["log_probs: f32[batch, tgt_len, 32000]"]);
  });
});

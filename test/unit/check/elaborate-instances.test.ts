// The model is instantiated by the shape checker's walk of it (src/check/shapes/instances.ts):
// the layer tree, every weight with its checkpoint name, shape and dtype, the states and the
// ignore patterns, in declaration order (depth first, members in source order) whatever order the
// walk meets them in. The figures for models/ were produced by the declaration-order walk of
// src/check/instantiate.ts before the checker's walk replaced it: the checkpoint contract (the
// states counted again by it once GPT-2 and Llama kept their padding mask's history, `mask_cache`).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Instance, Instantiation } from "../../../src/check/elaborated.js";
import { show } from "../../../src/check/evaluate.js";
import { LineMap } from "../../../src/diag/span.js";
import { run } from "../../helpers.js";

const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);
const treeText = (i: Instance): string => `${i.path}:${i.block.name}(${[...i.hparams].map(([k, v]) => `${k}=${v.kind} ${show(v)}`).join(",")})[${i.children.map(treeText).join(";")}]`;
const paths = (i: Instance): string[] => [i.path, ...i.children.flatMap(paths)];

/** The instantiation of `src`, which must check without errors. */
function inst(src: string, settings: Record<string, string> = {}): Instantiation {
  const r = run(src, settings);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.instance!;
}

const models: Record<string, { weights: number; params: number; weightsHash: string; treeHash: string; ignored: number; states: number }> = {
  "additive_attention.tfm": { weights: 13, params: 6546240, weightsHash: "3d397b20b03b90b6", treeHash: "44d7f23687c220ba", ignored: 0, states: 0 },
  "bert.tfm": { weights: 199, params: 109482240, weightsHash: "372ccfe65e654299", treeHash: "6dd2310fe13fbe8e", ignored: 1, states: 0 },
  "cosine_attention.tfm": { weights: 29, params: 9258498, weightsHash: "0acf642468e8fbd5", treeHash: "2c51ecaf777b9412", ignored: 0, states: 0 },
  "figures.tfm": { weights: 0, params: 0, weightsHash: "e3b0c44298fc1c14", treeHash: "71c4c89193799d20", ignored: 0, states: 0 },
  "gpt2.tfm": { weights: 148, params: 124439808, weightsHash: "c675d8ce7c8a1020", treeHash: "e321a21f53d23cc4", ignored: 24, states: 25 },
  "llama.tfm": { weights: 201, params: 1100048384, weightsHash: "c7eb6b4ab1648305", treeHash: "d554793264fbd4d1", ignored: 22, states: 45 },
  // transformer.tfm: the same 188 weights (names, dtypes, shapes) since its decoder caches (its own blocks, in declaration order); 26 states (the target mask's history among them).
  "transformer.tfm": { weights: 188, params: 93324544, weightsHash: "939875af1d87512c", treeHash: "f85495029132492f", ignored: 0, states: 26 },
};

describe("the elaborating walk instantiates the model", () => {
  for (const [f, want] of Object.entries(models)) {
    it(`models/${f}: the instance tree and the weights (names, dtypes, shapes, order, owners) of the checkpoint contract`, () => {
      const x = inst(readFileSync(`models/${f}`, "utf8"));
      const text = x.weights.map((w) => `${w.name}:${w.dtype}[${w.shape}]${w.transposed ? "T" : ""}:${w.owner}`).join("\n");
      expect({
        weights: x.weights.length,
        params: x.weights.reduce((a, w) => a + w.shape.reduce((p, q) => p * q, 1), 0),
        weightsHash: hash(text),
        treeHash: hash(treeText(x.model)),
        ignored: x.ignored.length,
        states: x.states.length,
      }).toEqual(want);
    });
  }

  it("gpt2 with two layers: `--set` values in the tree, wte's weight used by member access too", () => {
    const x = inst(readFileSync("models/gpt2.tfm", "utf8"), { n_layer: "2" });
    expect(x.weights.filter((w) => w.name === "wte.weight")).toHaveLength(1);
    expect(x.weights.map((w) => w.name).slice(0, 3)).toEqual(["wte.weight", "wpe.weight", "h.0.ln_1.weight"]);
    expect(x.weights.at(-1)!.name).toBe("ln_f.bias");
    expect(paths(x.model).filter((p) => /^h\.\d+$/.test(p))).toEqual(["h.0", "h.1"]);
    expect(show(x.model.hparams.get("n_layer")!)).toBe("2");
  });

  it("a layer declared and never applied, or only reached through its weights, still has its instances and weights", () => {
    const src = `block L(n: int) {
  input x: f32[*b, n]
  param w: f32[n, 2 * n] as "kernel" transposed
  layer inner = Linear(n, n)
  output y = x @ w
}
model M(k = 3) {
  input x: f32[t, 4]
  layer stack = repeat(k) L(4) as "blocks"
  layer only = Linear(4, 4)
  ignore "blocks.*.extra"
  output y = x @ only.weight
}
`;
    const x = inst(src);
    expect(paths(x.model)).toEqual(["", "blocks.0", "blocks.0.inner", "blocks.1", "blocks.1.inner", "blocks.2", "blocks.2.inner", "only"]);
    expect(x.ignored).toEqual(["blocks.*.extra"]);
    expect(x.weights.map((w) => w.name)).toEqual([
      "blocks.0.kernel", "blocks.0.inner.weight", "blocks.0.inner.bias",
      "blocks.1.kernel", "blocks.1.inner.weight", "blocks.1.inner.bias",
      "blocks.2.kernel", "blocks.2.inner.weight", "blocks.2.inner.bias",
      "only.weight", "only.bias",
    ]);
  });

  it("a block applied again to the same values (memoized) gets its own instances and weights under its own path", () => {
    const src = `block Pair(d: int) {
  input x: f32[*b, d]
  layer a = Linear(d, d)
  layer c = Linear(d, d, bias=false)
  output y = c(a(x))
}
model M {
  input x: f32[t, 8]
  layer p = Pair(8) as "first.pair"
  layer q = Pair(8)
  output y = p(x) + q(x)
}
`;
    const x = inst(src);
    expect(paths(x.model)).toEqual(["", "first.pair", "first.pair.a", "first.pair.c", "q", "q.a", "q.c"]);
    expect(x.weights.map((w) => w.name)).toEqual(["first.pair.a.weight", "first.pair.a.bias", "first.pair.c.weight", "q.a.weight", "q.a.bias", "q.c.weight"]);
  });

  it("follows the branch the parameters select, each copy of `repeat(n, i)` with its own parameters, declared order over evaluation order", () => {
    const src = `block B(i: int, d: int) {
  input x: f32[*b, d]
  if i == 0 {
    param first: f32[d]
    x = x + first
  } else {
    param rest: f32[d, i]
  }
  output y = x
}
model M(n = 3, d = 4, wide = true) {
  input x: f32[t, 4]
  y0 = late(x)
  layer s = repeat(n, i) B(i, d)
  layer late = Linear(4, 4, bias=wide)
  output y = s(y0)
}
`;
    const shapes = (x: Instantiation) => x.weights.map((w) => `${w.name}${JSON.stringify(w.shape)}`);
    expect(shapes(inst(src))).toEqual(["s.0.first[4]", "s.1.rest[4,1]", "s.2.rest[4,2]", "late.weight[4,4]", "late.bias[4]"]);
    expect(shapes(inst(src, { wide: "false", n: "2" }))).toEqual(["s.0.first[4]", "s.1.rest[4,1]", "late.weight[4,4]"]);
    expect(inst(src).model.children.map((c) => `${c.path}:${[...c.hparams].map(([k, v]) => `${k}=${show(v)}`).join(",")}`)).toEqual(["s.0:i=0,d=4", "s.1:i=1,d=4", "s.2:i=2,d=4", "late:in_features=4,out_features=4,bias=true"]);
  });

  it("lists the states of the model's layers by path (GPT-2's KV caches, and the padding mask's history)", () => {
    const x = inst(readFileSync("models/gpt2.tfm", "utf8"), { n_layer: "2" });
    expect(x.states.map((s) => s.name)).toEqual(["h.0.attn.k_cache", "h.0.attn.v_cache", "h.1.attn.k_cache", "h.1.attn.v_cache", "mask_cache"]);
  });
});

/** Each diagnostic as `CODE@line:col`, its message and its related notes (`lib` for the library). */
function diagnostics(src: string) {
  const r = run(src);
  const map = new LineMap(src);
  const at = (file: string | undefined, span: { start: number }) => (file && file !== "test.tfm" ? "lib" : `${map.position(span.start).line}:${map.position(span.start).column}`);
  return r.diagnostics.map((d) => [`${d.code}@${at(d.file, d.span)}`, d.message, d.related.map((x) => `${at(x.file ?? d.file, x.span)} ${x.message}`)]);
}

// The walk meets instances in the order the model applies them; the instantiation's errors are
// reported as the declaration-order instantiation did (the figures below are its output).
describe("the instantiation's errors, from the elaborating walk", () => {
  const inner = `block Inner(d: int) {
  input x: f32[*b, d]
  param w: f32[d]
  output y = x * w
}
block Outer(d: int) {
  input x: f32[*b, d]
  layer i1 = Inner(d) as "shared"
  layer i2 = Inner(d) as "shared"
  output y = i2(x) + i1(x)
}
`;

  it("in declaration order, each with the trace of its own instance, though the model applies them the other way round", () => {
    const src = `block B(d: int) {
  input x: f32[*b, 4]
  param w: f32[d - 10]
  output y = x
}
model M {
  input x: f32[t, 4]
  layer p = B(2)
  layer q = B(3)
  output y = q(x) + p(x)
}
`;
    expect(diagnostics(src)).toEqual([
      ["TFM3004@3:16", "a dimension must be a non-negative integer, found -8", ["8:3 in `B` (p), instantiated here"]],
      ["TFM3004@3:16", "a dimension must be a non-negative integer, found -7", ["9:3 in `B` (q), instantiated here"]],
    ]);
  });

  it("two weights with one checkpoint name: the second in declaration order is the error, in every instance", () => {
    const src = `${inner}model M {
  input x: f32[t, 4]
  layer o = Outer(4)
  layer o2 = Outer(4)
  output y = o2(x) + o(x)
}
`;
    expect(diagnostics(src)).toEqual([
      ["TFM2016@3:9", "two weights have the checkpoint name `o.shared.w`", ["3:3 the other weight is declared here", "9:3 in `Inner` (o.shared), instantiated here", "14:3 in `Outer` (o), instantiated here"]],
      ["TFM2016@3:9", "two weights have the checkpoint name `o2.shared.w`", ["3:3 the other weight is declared here", "9:3 in `Inner` (o2.shared), instantiated here", "15:3 in `Outer` (o2), instantiated here"]],
    ]);
  });

  it("a layer never applied is instantiated and checked all the same; its errors replace the shape checker's", () => {
    const src = `${inner}model M(n = -1) {
  input x: f32[t, 4]
  layer o = Outer(4)
  layer bad = repeat(n) Linear(4, 4)
  output y = o(x)
}
`;
    expect(diagnostics(src)).toEqual([
      ["TFM2016@3:9", "two weights have the checkpoint name `o.shared.w`", ["3:3 the other weight is declared here", "9:3 in `Inner` (o.shared), instantiated here", "14:3 in `Outer` (o), instantiated here"]],
      ["TFM2017@15:9", "layer `bad` is never used", []],
      ["TFM3004@15:22", "repeat count must be an integer from 0 to 10000, found -1", []],
    ]);
  });

  it("two layers at one checkpoint path applied to the same value (memoized): both instantiated, their weights collide", () => {
    const src = `block P(d: int) {
  input x: f32[*b, d]
  layer a = Linear(d, d)
  output y = a(x)
}
model M {
  input x: f32[t, 8]
  layer p = P(8) as "q"
  layer q = P(8)
  output y = p(x) + q(x)
}
`;
    expect(diagnostics(src)).toEqual([
      ["TFM2016@3:3", "two weights have the checkpoint name `q.a.weight`", ["lib the error is here", "lib the other weight is declared here", "3:3 in `Linear` (q.a), instantiated here", "9:3 in `P` (q), instantiated here"]],
      ["TFM2016@3:3", "two weights have the checkpoint name `q.a.bias`", ["lib the error is here", "lib the other weight is declared here", "3:3 in `Linear` (q.a), instantiated here", "9:3 in `P` (q), instantiated here"]],
    ]);
  });
});

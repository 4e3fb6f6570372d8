// The model's instances, weights and states come from the elaborating walk of the shape checker
// (src/check/shapes/instances.ts). They must be exactly what the declaration-order instantiation
// (src/check/instantiate.ts) gives: the same tree, the same weights in the same order with the
// same names, shapes, dtypes and declarations, the same states and ignore patterns.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { instantiate, type Instance, type Instantiation } from "../../../src/check/instantiate.js";
import { show } from "../../../src/check/evaluate.js";
import { DiagnosticSink } from "../../../src/diag/diagnostic.js";
import { run } from "../../helpers.js";

const tree = (i: Instance): unknown => ({ path: i.path, block: i.block.name, hparams: [...i.hparams].map(([k, v]) => `${k}=${v.kind} ${show(v)}`), children: i.children.map(tree) });
const facts = (x: Instantiation) => ({
  tree: tree(x.model),
  weights: x.weights.map((w) => ({ name: w.name, dtype: w.dtype, shape: w.shape, transposed: w.transposed, file: w.file, owner: w.owner, decl: w.decl.span.start })),
  ignored: x.ignored,
  states: x.states.map((s) => ({ name: s.name, file: s.file, decl: s.decl.span.start })),
});

/** The walk's instantiation of `src`, beside the one `instantiate` makes of it. */
function both(src: string, settings: Record<string, string> = {}) {
  const r = run(src, settings);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const sink = new DiagnosticSink("test.tfm");
  const values = new Map([...(r.instance?.model.hparams ?? [])]);
  const old = instantiate(r.resolution!, r.model!, values, "test.tfm", sink);
  expect(sink.items).toEqual([]);
  return { walk: facts(r.instance!), old: facts(old!), r };
}

describe("the elaborating walk instantiates the model", () => {
  for (const f of readdirSync("models").filter((f) => f.endsWith(".tfm"))) {
    it(`models/${f}: the same instances, weights, states and ignore patterns as declaration order gives`, () => {
      const { walk, old } = both(readFileSync(`models/${f}`, "utf8"));
      expect(walk).toEqual(old);
    });
  }

  it("gpt2 with two layers: `--set` values in the tree, wte's weight used by member access too", () => {
    const { walk, old, r } = both(readFileSync("models/gpt2.tfm", "utf8"), { n_layer: "2" });
    expect(walk).toEqual(old);
    expect(r.instance!.weights.filter((w) => w.name === "wte.weight")).toHaveLength(1);
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
    const { walk, old } = both(src);
    expect(walk).toEqual(old);
    expect(walk.weights.map((w) => w.name)).toEqual([
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
    const { walk, old } = both(src);
    expect(walk).toEqual(old);
    expect(walk.weights.map((w) => w.name)).toEqual(["first.pair.a.weight", "first.pair.a.bias", "first.pair.c.weight", "q.a.weight", "q.a.bias", "q.c.weight"]);
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
    for (const settings of [{}, { wide: "false", n: "2" }]) {
      const { walk, old } = both(src, settings);
      expect(walk).toEqual(old);
    }
    expect(both(src).walk.weights.map((w) => `${w.name}${JSON.stringify(w.shape)}`)).toEqual(["s.0.first[4]", "s.1.rest[4,1]", "s.2.rest[4,2]", "late.weight[4,4]", "late.bias[4]"]);
  });

  it("lists the states of the model's layers by path (GPT-2's KV caches)", () => {
    const { walk, old } = both(readFileSync("models/gpt2.tfm", "utf8"), { n_layer: "2" });
    expect(walk.states).toEqual(old.states);
    expect(walk.states.map((s) => s.name)).toEqual(["h.0.attn.k_cache", "h.0.attn.v_cache", "h.1.attn.k_cache", "h.1.attn.v_cache"]);
  });
});

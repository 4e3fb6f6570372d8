// The oracle of the shape properties, checked on its own: the concrete evaluator
// (concrete-shapes.ts) against shapes PyTorch gives for the same calls (each expectation below is
// what torch 2.x returns, written down by hand), and the reader of the checker's dim strings.
import { describe, expect, it } from "vitest";
import { Evaluator, isTensor, ShapeError, type Tensor } from "./concrete-shapes.js";
import { evalDimText, parseType } from "./shapes-oracle.js";
import type { DType, Expr, Layer, Sub } from "./shapes-program.js";

/** Evaluates `e` with the given named tensors (f32 unless given as [dtype, shape]). */
function shapeOf(e: Expr, env: Record<string, number[] | [DType, number[]]>, layers: Layer[] = []): Tensor | Tensor[] {
  const ev = new Evaluator({ params: [], layers }, {});
  for (const [k, v] of Object.entries(env)) ev.env.set(k, typeof v[0] === "string" ? { dtype: v[0] as DType, shape: v[1] as number[] } : { dtype: "f32", shape: v as number[] });
  const out = ev.eval(e);
  return isTensor(out) ? out : [...out.tuple];
}
const sh = (e: Expr, env: Record<string, number[] | [DType, number[]]>, layers: Layer[] = []) => {
  const t = shapeOf(e, env, layers);
  return Array.isArray(t) ? t.map((x) => x.shape) : t.shape;
};
const fails = (e: Expr, env: Record<string, number[] | [DType, number[]]>, layers: Layer[] = []) => {
  try {
    shapeOf(e, env, layers);
    return undefined;
  } catch (err) {
    if (err instanceof ShapeError) return err.kind;
    throw err;
  }
};
const v = (name: string) => ({ k: "var" as const, name });
const mm = (a: string, b: string): Expr => ({ k: "matmul", a, b, infix: true });
const ix = (x: string, ...subs: Sub[]): Expr => ({ k: "index", x, subs });

describe("concrete shape evaluator (the oracle), against PyTorch", () => {
  it("torch.matmul: 1-D operands, batch broadcasting, inner dims", () => {
    expect(sh(mm("a", "b"), { a: [3], b: [3] })).toEqual([]); // dot product
    expect(sh(mm("a", "b"), { a: [2, 3], b: [3] })).toEqual([2]);
    expect(sh(mm("a", "b"), { a: [3], b: [4, 3, 5] })).toEqual([4, 5]);
    expect(sh(mm("a", "b"), { a: [2, 1, 3, 4], b: [5, 4, 6] })).toEqual([2, 5, 3, 6]);
    expect(fails(mm("a", "b"), { a: [2, 3], b: [4, 5] })).toBe("dim");
    expect(fails(mm("a", "b"), { a: [2, 2, 3], b: [3, 3, 4] })).toBe("dim"); // batch 2 vs 3
  });

  it("broadcasting (torch.add) and scalars", () => {
    expect(sh({ k: "bin", op: "+", a: v("a"), b: v("b") }, { a: [4, 1, 3], b: [2, 1] })).toEqual([4, 2, 3]);
    expect(sh({ k: "bin", op: "*", a: v("a"), b: { k: "float", v: 2 } }, { a: [4, 3] })).toEqual([4, 3]);
    expect(fails({ k: "bin", op: "+", a: v("a"), b: v("b") }, { a: [3], b: [4] })).toBe("dim");
    expect(shapeOf({ k: "bin", op: "/", a: v("a"), b: v("a") }, { a: ["i32", [2]] })).toEqual({ dtype: "f32", shape: [2] }); // true division
    expect(shapeOf({ k: "bin", op: "<", a: v("a"), b: { k: "float", v: 0.5 } }, { a: [2, 2] })).toEqual({ dtype: "bool", shape: [2, 2] });
    expect(sh({ k: "where", c: "m", a: v("a"), b: { k: "float", v: 0 } }, { m: ["bool", [5, 1]], a: [1, 7] })).toEqual([5, 7]);
  });

  it("layout: transpose, permute, reshape, unsqueeze, squeeze", () => {
    expect(sh({ k: "transpose", x: "a" }, { a: [2, 3, 4] })).toEqual([2, 4, 3]);
    expect(sh({ k: "transpose", x: "a", dims: [0, -1] }, { a: [2, 3, 4] })).toEqual([4, 3, 2]);
    expect(fails({ k: "transpose", x: "a" }, { a: [3] })).toBe("axis"); // x.transpose(-2, -1) on 1-D
    expect(sh({ k: "permute", x: "a", dims: [2, 0, -2] }, { a: [2, 3, 4] })).toEqual([4, 2, 3]);
    expect(fails({ k: "permute", x: "a", dims: [0, 0, 1] }, { a: [2, 3, 4] })).toBe("axis");
    expect(sh({ k: "reshape", x: "a", shape: [{ k: "lit", v: 6 }, { k: "lit", v: 4 }] }, { a: [2, 3, 4] })).toEqual([6, 4]);
    expect(fails({ k: "reshape", x: "a", shape: [{ k: "lit", v: 5 }] }, { a: [2, 3] })).toBe("dim");
    expect(sh({ k: "unsqueeze", x: "a", dim: -1 }, { a: [2, 3] })).toEqual([2, 3, 1]);
    expect(sh({ k: "unsqueeze", x: "a", dim: 0 }, { a: [2, 3] })).toEqual([1, 2, 3]);
    expect(sh({ k: "squeeze", x: "a", dim: 1 }, { a: [2, 1, 3] })).toEqual([2, 3]);
  });

  it("joining and splitting: concat, stack, chunk", () => {
    expect(sh({ k: "concat", xs: ["a", "b"], dim: 1 }, { a: [2, 3], b: [2, 5] })).toEqual([2, 8]);
    expect(fails({ k: "concat", xs: ["a", "b"], dim: 1 }, { a: [2, 3], b: [4, 5] })).toBe("dim");
    expect(sh({ k: "stack", xs: ["a", "a", "a"], dim: -1 }, { a: [2, 3] })).toEqual([2, 3, 3]);
    expect(sh({ k: "chunk", x: "a", n: 3, dim: -1 }, { a: [2, 9] })).toEqual([[2, 3], [2, 3], [2, 3]]);
    expect(fails({ k: "chunk", x: "a", n: 2 }, { a: [5] })).toBe("divide"); // tfm: equal parts only
  });

  it("take, reductions, indexing and slicing (Python's clamping)", () => {
    expect(sh({ k: "take", x: "w", idx: "i" }, { w: [10, 4], i: ["i32", [2, 3]] })).toEqual([2, 3, 4]); // embedding lookup
    expect(sh({ k: "take", x: "w", idx: "i", dim: 1 }, { w: [5, 6], i: ["i32", [2, 3]] })).toEqual([5, 2, 3]);
    expect(sh({ k: "reduce", fn: "sum", x: "a" }, { a: [2, 3, 4] })).toEqual([2, 3]);
    expect(sh({ k: "reduce", fn: "max", x: "a", dim: 1, keepdim: true }, { a: [2, 3, 4] })).toEqual([2, 1, 4]);
    expect(shapeOf({ k: "reduce", fn: "argmax", x: "a", dim: 0 }, { a: [2, 3] })).toEqual({ dtype: "i32", shape: [3] });
    expect(sh(ix("a", { k: "all" }, { k: "at", i: 0 }), { a: [2, 3, 4] })).toEqual([2, 4]);
    expect(sh(ix("a", { k: "rest" }, { k: "slice", start: 1, end: 3 }), { a: [2, 3, 4] })).toEqual([2, 3, 2]);
    expect(sh(ix("a", { k: "slice", start: -10 }), { a: [3, 4] })).toEqual([3, 4]);
    expect(sh(ix("a", { k: "slice", end: 5 }), { a: [3] })).toEqual([3]);
    expect(sh(ix("a", { k: "slice", start: 2, end: 1 }), { a: [3] })).toEqual([0]);
    expect(sh(ix("a", { k: "slice", start: -2 }), { a: [5] })).toEqual([2]);
    expect(fails(ix("a", { k: "at", i: 3 }), { a: [3] })).toBe("other");
  });

  it("the standard library: heads, attention, layers", () => {
    expect(sh({ k: "split_heads", x: "a", n: 3 }, { a: [2, 5, 12] })).toEqual([2, 3, 5, 4]);
    expect(fails({ k: "split_heads", x: "a", n: 5 }, { a: [2, 5, 12] })).toBe("divide");
    expect(sh({ k: "merge_heads", x: "a" }, { a: [2, 3, 5, 4] })).toEqual([2, 5, 12]);
    expect(sh({ k: "sdpa", q: "q", key: "k", v: "v" }, { q: [2, 7, 8], k: [2, 9, 8], v: [2, 9, 6] })).toEqual([2, 7, 6]);
    expect(sh({ k: "causal_mask", n: { k: "lit", v: 4 } }, {})).toEqual([4, 4]);
    const layers: Layer[] = [
      { name: "lin", kind: "Linear", args: [8, 3] },
      { name: "emb", kind: "Embedding", args: [100, 16] },
      { name: "mha", kind: "MultiheadAttention", args: [8, 2] },
    ];
    expect(sh({ k: "apply", layer: "lin", args: ["x"] }, { x: [2, 5, 8] }, layers)).toEqual([2, 5, 3]);
    expect(fails({ k: "apply", layer: "lin", args: ["x"] }, { x: [2, 5, 7] }, layers)).toBe("dim");
    expect(sh({ k: "apply", layer: "emb", args: ["i"] }, { i: ["i32", [2, 5]] }, layers)).toEqual([2, 5, 16]);
    expect(sh({ k: "apply", layer: "mha", args: ["q", "m", "m"] }, { q: [2, 5, 8], m: [2, 9, 8] }, layers)).toEqual([2, 5, 8]);
    expect(fails({ k: "apply", layer: "mha", args: ["q", "q", "q"] }, { q: [5, 8] }, layers)).toBe("rank");
  });

  it("reads the checker's dim strings, quotient atoms included", () => {
    const at = { b: 3, t: 4, s: 6 };
    expect(evalDimText("2 * b + t", at)).toBe(10);
    expect(evalDimText("-1 + t", at)).toBe(3);
    expect(evalDimText("3 - b", at)).toBe(0);
    expect(evalDimText("(s + t / 2)", at)).toBe(5); // the checker's atom for (s + t) / 2
    expect(evalDimText("(b * t / 2) * s", at)).toBe(36);
    expect(evalDimText("(t / 3)", at)).toBeNaN(); // not exact
    expect(parseType("f32[b, (s + t / 2), 4]")).toEqual({ dtype: "f32", dims: ["b", "(s + t / 2)", "4"] });
    expect(parseType("(f32[2], f32[2])")).toBeUndefined();
  });
});

// Random IR graphs for the optimizer's property test (passes.test.ts), built directly with
// GraphBuilder over concrete shapes and rich in what the passes rewrite: identities (dropout, x·1,
// 1·x, x/1, x − 0, x + (−0), but also x + (+0), which must stay), same-type casts, reshapes and
// expands, reshape and permute chains, where(c, x, x), transposes into matmul (of weights and of
// activations), products of one operand by several weights or weight slices (q, k, v),
// constant-only subexpressions, reductions and cumsums, repeated computations and dead nodes.
// The inputs hold −0, NaN and ±∞, so a rewrite that is not exact shows up bit for bit.
import type { Tensor } from "../../src/core/tensor.js";
import { constDim } from "../../src/core/dim.js";
import { GraphBuilder, type Attrs, type Graph } from "../../src/ir/graph.js";
import type { Op } from "../../src/ir/ops.js";
import { randomTensor } from "../unit/backends/cpu/helpers.js";
import { Chooser } from "./shapes-gen.js";

type DType = "f32" | "i32" | "bool";
interface Val {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface RandomGraph {
  readonly graph: Graph;
  readonly weights: Map<string, Tensor>;
  readonly inputs: Map<string, Tensor>;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** NumPy broadcasting, or undefined. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

class Gen {
  readonly b = new GraphBuilder("R");
  readonly vals: Val[] = [];
  readonly weights = new Map<string, Tensor>();
  readonly inputs = new Map<string, Tensor>();

  constructor(readonly c: Chooser, private readonly seed: number) {}

  add(op: Op, inputs: readonly Val[], attrs: Attrs, dtype: DType, shape: readonly number[], keep = true): Val {
    const v = { id: this.b.add(op, inputs.map((i) => i.id), attrs, dtype, shape.map(constDim)), dtype, shape };
    if (keep) this.vals.push(v);
    return v;
  }

  input(name: string, dtype: DType, shape: number[]): Val {
    const v = this.add("input", [], { name }, dtype, shape);
    this.b.inputs.push({ name, node: v.id });
    this.inputs.set(name, randomTensor(dtype, shape, this.seed + this.inputs.size + 1, { scale: 2, special: 0.15, range: 3 }));
    return v;
  }

  weight(name: string, shape: number[]): Val {
    this.weights.set(name, randomTensor("f32", shape, this.seed + 100 + this.weights.size, { scale: 1 }));
    return this.add("weight", [], { name }, "f32", shape);
  }

  konst(value: number | boolean, dtype: DType): Val {
    return this.add("const", [], { value }, dtype, [], false);
  }

  pick(dtype?: DType, filter: (v: Val) => boolean = () => true): Val | undefined {
    const vs = this.vals.filter((v) => (!dtype || v.dtype === dtype) && filter(v));
    // Mostly the latest values, so that rewrites meet each other in chains.
    if (!vs.length) return undefined;
    return this.c.chance(60) ? vs[Math.max(0, vs.length - 1 - this.c.int(3))]! : this.c.pick(vs);
  }

  /** A broadcast partner of `shape`: itself, with some dims 1, with leading dims dropped, or 0-d. */
  partnerShape(shape: readonly number[]): number[] {
    const c = this.c;
    const k = c.int(4);
    if (k === 0) return [...shape];
    if (k === 1) return shape.map((d) => (c.chance(50) ? 1 : d));
    if (k === 2) return shape.slice(c.int(shape.length + 1));
    return [];
  }

  /** A value broadcastable against `x`: an existing one, a constant or an expanded constant. */
  partner(x: Val): Val {
    const c = this.c;
    const same = this.pick(x.dtype, (v) => broadcast(v.shape, x.shape) !== undefined && v.id !== x.id);
    if (same && c.chance(40)) return same;
    const value = x.dtype === "f32" ? c.pick([1, 1, 1, 0, -0, -0, 2, 0.5, -1, NaN, Infinity]) : x.dtype === "i32" ? c.pick([0, 1, 1, 2, -1]) : c.chance(50);
    const k = this.konst(value, x.dtype);
    if (c.chance(60)) return k;
    return this.add("expand", [k], {}, x.dtype, this.partnerShape(x.shape), false);
  }

  step(): void {
    const c = this.c;
    const kind = c.pick(kinds);
    const x = this.pick(c.chance(80) ? "f32" : undefined);
    if (!x) return;
    switch (kind) {
      case "unary":
        if (x.dtype === "f32") this.add(c.pick(["neg", "exp", "tanh", "abs", "sqrt"] as const), [x], {}, "f32", x.shape);
        else if (x.dtype === "bool") this.add("not", [x], {}, "bool", x.shape);
        else this.add("neg", [x], {}, "i32", x.shape);
        return;
      case "binary": {
        if (x.dtype === "bool") {
          const y = this.partner(x);
          return void this.add(c.pick(["and", "or"] as const), [x, y], {}, "bool", broadcast(x.shape, y.shape)!);
        }
        const y = this.partner(x);
        const [a, b2] = c.chance(50) ? [x, y] : [y, x];
        const shape = broadcast(a.shape, b2.shape)!;
        const op = c.pick(x.dtype === "f32" ? (["add", "sub", "mul", "div", "add", "mul", "maximum"] as const) : (["add", "sub", "mul"] as const));
        if (op === "div") return void this.add("div", [a, b2], {}, "f32", shape);
        if (c.chance(15)) return void this.add(c.pick(["lt", "eq", "ge"] as const), [a, b2], {}, "bool", shape);
        this.add(op, [a, b2], {}, x.dtype, shape);
        return;
      }
      case "dropout":
        this.add("dropout", [x], { p: 0.1 }, x.dtype, x.shape);
        return;
      case "cast": {
        const to: DType = c.chance(50) ? x.dtype : c.pick(["f32", "i32", "bool"] as const);
        this.add("cast", [x], {}, to, x.shape);
        return;
      }
      case "reshape": {
        const n = numel(x.shape);
        const targets = [[...x.shape], [n], [1, n], [...x.shape, 1], x.shape.length >= 2 ? [x.shape[0]!, numel(x.shape.slice(1))] : [n, 1]];
        this.add("reshape", [x], {}, x.dtype, c.pick(targets));
        return;
      }
      case "permute": {
        if (x.shape.length < 2) return;
        const perm = c.chance(40) ? [...Array(x.shape.length).keys()].map((i, _, a) => (i >= a.length - 2 ? 2 * a.length - 3 - i : i)) : c.shuffle([...Array(x.shape.length).keys()]);
        this.add("permute", [x], { perm }, x.dtype, perm.map((i) => x.shape[i]!));
        return;
      }
      case "expand":
        this.add("expand", [x], {}, x.dtype, c.chance(50) ? x.shape : [2, ...x.shape]);
        return;
      case "where": {
        const m = this.pick("bool", (v) => broadcast(v.shape, x.shape) !== undefined) ?? this.konst(c.chance(50), "bool");
        const mx = broadcast(m.shape, x.shape)!;
        const p = this.partner(x);
        const y = c.chance(50) || !broadcast(mx, p.shape) ? x : p;
        this.add("where", [m, x, y], {}, x.dtype, broadcast(mx, y.shape)!);
        return;
      }
      case "matmul":
        return this.matmul(x);
      case "qkv":
        return this.qkv(x);
      case "constants": {
        const [p, q] = [this.konst(c.pick([1, 2, -0, 0.1, 3]), "f32"), this.konst(c.pick([1, -1, 0, 0.5]), "f32")];
        const k = this.add(c.pick(["add", "mul", "div", "sub", "maximum"] as const), [p, q], {}, "f32", [], false);
        const e = c.chance(50) ? this.add(c.pick(["exp", "neg", "sqrt"] as const), [k], {}, "f32", [], false) : this.add("cast", [this.add("cast", [k], {}, "i32", [], false)], {}, "f32", [], false);
        if (x.dtype === "f32") this.add("mul", [x, e], {}, "f32", x.shape);
        return;
      }
      case "repeat": {
        // The same computation once more: an exact copy of an earlier node.
        const old = this.b.node(this.pick(undefined, (v) => this.b.node(v.id).inputs.length > 0)?.id ?? x.id);
        if (old.op === "input" || old.op === "weight") return;
        this.vals.push({ id: this.b.add(old.op, old.inputs, old.attrs, old.dtype, old.shape), dtype: old.dtype as DType, shape: this.vals.find((v) => v.id === old.id)?.shape ?? x.shape });
        return;
      }
      case "reduce":
        if (x.shape.length && x.dtype !== "bool") {
          const axis = c.int(x.shape.length);
          const keepdim = c.chance(50);
          this.add(c.pick(["sum", "max", "mean"] as const), [x], { axis, keepdim }, x.dtype === "i32" ? "i32" : "f32", keepdim ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis));
        }
        return;
      case "scan":
        if (x.shape.length && x.dtype !== "bool") this.add("cumsum", [x], { axis: c.int(x.shape.length) }, x.dtype, x.shape);
        return;
    }
  }

  /**
   * Two to four products of x by load-time matrices of one shape: separate weights, or slices of
   * one weight (torch's in_proj_weight), used as stored or transposed.
   */
  private qkv(x: Val): void {
    const c = this.c;
    if (x.dtype !== "f32" || x.shape.length < 1) return;
    const k = x.shape[x.shape.length - 1]!;
    const [n, parts, transposed, sliced] = [c.range(1, 4), c.range(2, 4), c.chance(60), c.chance(50)];
    const fused = sliced ? this.weight(`w${this.weights.size}`, transposed ? [n * parts, k] : [k, n * parts]) : undefined;
    for (let i = 0; i < parts; i++) {
      const axis = transposed ? 0 : 1;
      const shape = transposed ? [n, k] : [k, n];
      const w = fused ? this.add("slice", [fused], { axis, start: constDim(i * n), end: constDim((i + 1) * n) }, "f32", shape, false) : this.weight(`w${this.weights.size}`, shape);
      const b = transposed ? this.add("permute", [w], { perm: [1, 0] }, "f32", [k, n], false) : w;
      this.add("matmul", [x, b], {}, "f32", [...x.shape.slice(0, -1), n]);
    }
  }

  /** x @ bᵀ with b a weight or a value, transposed by a permute (sometimes two). */
  private matmul(x: Val): void {
    const c = this.c;
    if (x.dtype !== "f32" || x.shape.length < 1) return;
    const k = x.shape[x.shape.length - 1]!;
    let b: Val;
    if (c.chance(50)) {
      const n = c.range(1, 5);
      b = this.add("permute", [this.weight(`w${this.weights.size}`, [n, k])], { perm: [1, 0] }, "f32", [k, n]);
    } else {
      // An activation of x's shape (rank ≥ 2), transposed in its last two dims: x @ yᵀ.
      const y = this.pick("f32", (v) => v.shape.length >= 2 && v.shape.join() === x.shape.join()) ?? (x.shape.length >= 2 ? x : undefined);
      if (!y) return;
      const r = y.shape.length;
      const swap = [...Array(r).keys()].map((i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
      const sh = (s: readonly number[], p: readonly number[]) => p.map((i) => s[i]!);
      if (c.chance(30) && r >= 3) {
        // permute(permute(y, p), p⁻¹∘swap): a composition that simplify merges into the swap.
        const p = c.shuffle([...Array(r).keys()]);
        const inner = this.add("permute", [y], { perm: p }, "f32", sh(y.shape, p), false);
        const inv = p.map((_, i) => p.indexOf(i));
        const outer = swap.map((i) => inv[i]!);
        b = this.add("permute", [inner], { perm: outer }, "f32", sh(inner.shape, outer), false);
      } else b = this.add("permute", [y], { perm: swap }, "f32", sh(y.shape, swap), false);
    }
    const bs = b.shape;
    const batch = broadcast(x.shape.slice(0, -2), bs.slice(0, -2));
    if (!batch) return;
    const shape = [...batch, ...(x.shape.length >= 2 ? [x.shape[x.shape.length - 2]!] : []), bs[bs.length - 1]!];
    this.add("matmul", [x, b], {}, "f32", shape);
  }
}

const kinds = [
  "unary", "binary", "binary", "binary", "binary", "dropout", "cast", "reshape", "reshape", "permute", "permute", "expand",
  "where", "matmul", "matmul", "qkv", "constants", "repeat", "repeat", "reduce", "scan",
] as const;

/** A random graph of about `steps` ops over inputs of one random shape, with its inputs and weights. */
export function randomGraph(seed: number, steps: number): RandomGraph {
  const c = new Chooser(seed);
  const g = new Gen(c, seed);
  const shape = [c.range(1, 3), c.range(1, 6), c.range(1, 6)];
  g.input("x", "f32", shape);
  g.input("y", "f32", c.chance(50) ? shape : shape.slice(1));
  g.input("m", "bool", shape.map((d) => (c.chance(30) ? 1 : d)));
  g.input("i", "i32", shape);
  for (let s = 0; s < steps; s++) g.step();
  const made = g.vals.filter((v) => g.b.node(v.id).op !== "input");
  const outs = made.length ? [made[made.length - 1]!, ...made.filter(() => c.chance(25))] : [g.vals[0]!];
  [...new Set(outs)].forEach((v, i) => g.b.outputs.push({ name: `out${i}`, node: v.id }));
  return { graph: g.b.finish(), weights: g.weights, inputs: g.inputs };
}

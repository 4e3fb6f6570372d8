// An independent, concrete shape evaluator for the programs of shapes-program.ts: every dim is a
// plain integer (the symbols b, t, s get values first), and every operation's shape is computed
// from the NumPy / PyTorch rules as documented (docs/LANGUAGE.md §10, §11), not from
// src/check/shapes. It is the oracle of the shape property tests; the CPU runtime will replace it.
//
// Where the language is stricter than PyTorch, this follows the language: tensors of different
// element types do not mix (no implicit promotion between tensors), `squeeze` needs a dim of size
// 1, `chunk` needs the dim to divide evenly, `mean` needs a float tensor, and attention functions
// take the same batch dims for q, k and v (their `*batch` pack) rather than broadcasting them.
import type { Assignment, DimExpr, DType, Expr, Layer, Operand, Program, Sub } from "./shapes-program.js";

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
}
export type Val = Tensor | { readonly tuple: readonly Tensor[] };

/**
 * Why a program is ill-shaped. `dim`: two sizes that had to agree (or broadcast) do not, `a` and
 * `b` are the two sizes; `divide`: `a` is not a multiple of `b`; `rank`: a wrong number of dims;
 * `dtype`: a wrong element type; `axis`: an axis out of range or a bad permutation; `other`:
 * anything else (an index out of bounds, a wrong number of arguments). `gap` names a known checker
 * bug the failure runs into (shapes-bugs.test.ts), so the tests can tell it apart.
 */
export type FailKind = "dim" | "divide" | "rank" | "dtype" | "axis" | "other";

export class ShapeError extends Error {
  constructor(readonly kind: FailKind, message: string, readonly a?: number, readonly b?: number, readonly gap?: string) {
    super(message);
  }
}

const fail = (kind: FailKind, message: string, a?: number, b?: number, gap?: string): never => {
  throw new ShapeError(kind, message, a, b, gap);
};

/** Whether a dim expression divides a value that depends on a symbol (`t / 2`). */
const hasSym = (e: DimExpr): boolean => e.k === "sym" || (e.k === "op" && (hasSym(e.a) || hasSym(e.b)));
const symbolicDivision = (e: DimExpr): boolean => e.k === "op" && ((e.op === "/" && hasSym(e.a)) || symbolicDivision(e.a) || symbolicDivision(e.b));

// ---- helpers ------------------------------------------------------------------------------------

export const isTensor = (v: Val): v is Tensor => !("tuple" in v);
const show = (s: readonly number[]) => `[${s.join(", ")}]`;

/** A scalar operand is a 0-d tensor that adapts its type to the tensor it meets ("weak"). */
interface Elt extends Tensor {
  readonly weak: boolean;
}

/** An axis in [-n, n) made non-negative (PyTorch's wrap-around for negative dims). */
function axis(d: number, n: number): number {
  if (d < -n || d >= n) fail("axis", `axis ${d} out of range for ${n}`);
  return d < 0 ? d + n : d;
}

/** NumPy broadcasting: right-aligned, each dim equal or 1. */
export function broadcast(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let size = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (size !== 1 && size !== d) fail("dim", `cannot broadcast ${shapes.map(show).join(" and ")}`, size, d);
      size = d;
    }
    out.push(size);
  }
  return out;
}

/** The dtype of an elementwise arithmetic result (PyTorch promotion, minus tensor-tensor mixing). */
function arithType(xs: readonly Elt[]): DType {
  if (xs.some((x) => x.dtype === "bool")) fail("dtype", "arithmetic on bool");
  const strong = xs.filter((x) => !x.weak);
  if (strong.some((x) => x.dtype !== strong[0]!.dtype)) fail("dtype", `mixed element types ${strong.map((x) => x.dtype).join(", ")}`);
  return xs.some((x) => x.dtype === "f32") ? "f32" : "i32";
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function needRank(t: Tensor, ok: (r: number) => boolean, what: string): void {
  if (!ok(t.shape.length)) fail("rank", `${what}: got ${t.shape.length} dims ${show(t.shape)}`);
}
function needType(t: Tensor, ok: readonly DType[], what: string): void {
  if (!ok.includes(t.dtype)) fail("dtype", `${what}: got ${t.dtype}`);
}
function same(a: number, b: number, what: string): void {
  if (a !== b) fail("dim", `${what}: ${a} vs ${b}`, a, b);
}

/** torch.matmul: 1-D operands get a dim added and removed again; batch dims broadcast. */
function matmul(a: Tensor, b: Tensor): Tensor {
  needType(a, ["f32"], "matmul");
  needType(b, ["f32"], "matmul");
  needRank(a, (r) => r >= 1, "matmul");
  needRank(b, (r) => r >= 1, "matmul");
  const A = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const B = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  same(A[A.length - 1]!, B[B.length - 2]!, "matmul inner dims");
  const batch = broadcast(A.slice(0, -2), B.slice(0, -2));
  const rows = a.shape.length === 1 ? [] : [A[A.length - 2]!];
  const cols = b.shape.length === 1 ? [] : [B[B.length - 1]!];
  return { dtype: "f32", shape: [...batch, ...rows, ...cols] };
}

/** Python's slice clamping: `x[start:end]` on a dim of size n. */
function sliceLen(n: number, start: number | undefined, end: number | undefined, clamped: () => void): number {
  if ([start, end].some((i) => i !== undefined && (i < -n || i > n))) clamped();
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const a = start === undefined ? 0 : clamp(start);
  const b = end === undefined ? n : clamp(end);
  if (a > b) clamped(); // empty: the length is clamped to 0
  return Math.max(0, b - a);
}

function index(x: Tensor, subs: readonly Sub[], clamped: () => void): Tensor {
  const r = x.shape.length;
  const named = subs.filter((s) => s.k !== "rest").length;
  if (subs.filter((s) => s.k === "rest").length > 1) fail("other", "two ...");
  if (named > r) fail("rank", `${named} subscripts for ${r} dims`);
  const out: number[] = [];
  let k = 0;
  for (const s of subs) {
    if (s.k === "rest") {
      out.push(...x.shape.slice(k, k + r - named));
      k += r - named;
      continue;
    }
    const n = x.shape[k++]!;
    if (s.k === "all") out.push(n);
    else if (s.k === "slice") out.push(sliceLen(n, s.start, s.end, clamped));
    else if (s.i < -n || s.i >= n) fail("other", `index ${s.i} out of bounds for ${n}`);
  }
  out.push(...x.shape.slice(k));
  return { dtype: x.dtype, shape: out };
}

// ---- the evaluator ------------------------------------------------------------------------------

export class Evaluator {
  readonly env = new Map<string, Val>();
  private readonly layers = new Map<string, Layer>();
  /**
   * Whether a slice needed clamping: a bound outside its dim, or a start after the end (PyTorch
   * clamps both; the checker does not for symbolic dims, see shapes-bugs.test.ts).
   */
  clamped = false;
  /** The symbols the inputs' types introduce (only bare names do); undefined: all of `symbols`. */
  private introduced?: Set<string>;

  constructor(readonly program: Pick<Program, "params" | "layers">, readonly symbols: Assignment) {
    for (const l of program.layers) this.declare(l);
  }

  /** Declares a layer (the generator declares them as it goes). */
  declare(l: Layer): void {
    this.layers.set(l.name, l);
  }

  dim(e: DimExpr): number {
    switch (e.k) {
      case "sym": {
        if (this.introduced && !this.introduced.has(e.name)) return fail("other", `${e.name} is not a dim of any input`);
        const v = this.symbols[e.name];
        if (v === undefined) return fail("other", `no value for ${e.name}`);
        return v;
      }
      case "param": {
        const p = this.program.params.find((q) => q.name === e.name);
        if (!p) return fail("other", `no parameter ${e.name}`);
        return p.value;
      }
      case "lit":
        return e.v;
      case "op": {
        const [a, b] = [this.dim(e.a), this.dim(e.b)];
        if (e.op === "+") return a + b;
        if (e.op === "-") return a - b;
        if (e.op === "*") return a * b;
        if (b === 0 || a % b !== 0) fail("divide", `${a} / ${b} is not exact`, a, b);
        return a / b;
      }
    }
  }

  tensor(name: string): Tensor {
    const v = this.env.get(name);
    if (!v) return fail("other", `unbound ${name}`);
    if (!isTensor(v)) return fail("other", `${name} is a tuple`);
    return v;
  }

  private elt(o: Operand): Elt {
    if (o.k === "var") return { ...this.tensor(o.name), weak: false };
    return { dtype: o.k === "float" ? "f32" : "i32", shape: [], weak: true };
  }

  private dims(ds: readonly DimExpr[]): number[] {
    const out = ds.map((d) => this.dim(d));
    if (out.some((n) => n < 0)) fail("other", `negative size in ${show(out)}`);
    return out;
  }

  /** Runs one expression; throws ShapeError if it is ill-shaped. */
  eval(e: Expr): Val {
    switch (e.k) {
      case "alias":
        return this.tensor(e.x);
      case "unary": {
        const x = this.tensor(e.x);
        needType(x, ["f32", "i32"], e.fn);
        return { dtype: e.fn === "abs" ? x.dtype : "f32", shape: x.shape };
      }
      case "neg": {
        const x = this.tensor(e.x);
        needType(x, ["f32", "i32"], "unary -");
        return x;
      }
      case "not": {
        const x = this.tensor(e.x);
        needType(x, ["bool"], "!");
        return x;
      }
      case "bin": {
        const [a, b] = [this.elt(e.a), this.elt(e.b)];
        if (a.weak && b.weak) fail("other", "two scalars");
        const shape = broadcast(a.shape, b.shape);
        if (e.op === "&&" || e.op === "||") {
          if (a.dtype !== "bool" || b.dtype !== "bool") fail("dtype", `${e.op} needs bools`);
          return { dtype: "bool", shape };
        }
        if (e.op !== "+" && e.op !== "-" && e.op !== "*" && e.op !== "/") return { dtype: "bool", shape }; // comparisons promote any types, as in PyTorch
        const t = arithType([a, b]);
        return { dtype: e.op === "/" ? "f32" : t, shape }; // `/` is true division
      }
      case "call2": {
        const [a, b] = [this.elt(e.a), this.elt(e.b)];
        if (a.weak && b.weak) fail("other", "two scalars");
        return { dtype: arithType([a, b]), shape: broadcast(a.shape, b.shape) };
      }
      case "where": {
        const c = this.tensor(e.c);
        needType(c, ["bool"], "where condition");
        const [a, b] = [this.elt(e.a), this.elt(e.b)];
        return { dtype: arithType([a, b]), shape: broadcast(c.shape, a.shape, b.shape) };
      }
      case "matmul":
        return matmul(this.tensor(e.a), this.tensor(e.b));
      case "transpose": {
        const x = this.tensor(e.x);
        const r = x.shape.length;
        const [i, j] = [axis(e.dims?.[0] ?? -2, r), axis(e.dims?.[1] ?? -1, r)];
        const s = [...x.shape];
        [s[i], s[j]] = [s[j]!, s[i]!];
        return { dtype: x.dtype, shape: s };
      }
      case "permute": {
        const x = this.tensor(e.x);
        const r = x.shape.length;
        if (e.dims.length !== r) fail("rank", `permute of ${r} dims with ${e.dims.length} axes`);
        const p = e.dims.map((d) => axis(d, r));
        if (new Set(p).size !== r) fail("axis", "permute repeats an axis");
        return { dtype: x.dtype, shape: p.map((d) => x.shape[d]!) };
      }
      case "reshape": {
        const x = this.tensor(e.x);
        const s = this.dims(e.shape);
        const [n, m] = [numel(x.shape), numel(s)];
        if (n !== m) fail("dim", `reshape ${show(x.shape)} to ${show(s)}: ${n} vs ${m}`, n, m, e.shape.some(symbolicDivision) ? "reshape-division" : undefined);
        return { dtype: x.dtype, shape: s };
      }
      case "unsqueeze": {
        const x = this.tensor(e.x);
        const s = [...x.shape];
        s.splice(axis(e.dim, s.length + 1), 0, 1);
        return { dtype: x.dtype, shape: s };
      }
      case "squeeze": {
        const x = this.tensor(e.x);
        const i = axis(e.dim, x.shape.length);
        same(x.shape[i]!, 1, "squeeze");
        return { dtype: x.dtype, shape: x.shape.filter((_, k) => k !== i) };
      }
      case "concat":
      case "stack": {
        const xs = e.xs.map((n) => this.tensor(n));
        const first = xs[0]!;
        const r = first.shape.length;
        for (const x of xs) {
          if (x.dtype !== first.dtype) fail("dtype", `${e.k} of ${first.dtype} and ${x.dtype}`);
          if (x.shape.length !== r) fail("rank", `${e.k} of ${r} and ${x.shape.length} dims`);
        }
        if (e.k === "stack") {
          const i = axis(e.dim ?? 0, r + 1);
          for (const x of xs) x.shape.forEach((d, k) => same(d, first.shape[k]!, "stack"));
          const s = [...first.shape];
          s.splice(i, 0, xs.length);
          return { dtype: first.dtype, shape: s };
        }
        const i = axis(e.dim ?? 0, r);
        for (const x of xs) x.shape.forEach((d, k) => k !== i && same(d, first.shape[k]!, "concat"));
        return { dtype: first.dtype, shape: first.shape.map((d, k) => (k === i ? xs.reduce((sum, x) => sum + x.shape[i]!, 0) : d)) };
      }
      case "chunk": {
        const x = this.tensor(e.x);
        const i = axis(e.dim ?? 0, x.shape.length);
        const n = x.shape[i]!;
        if (e.n < 1 || n % e.n !== 0) fail("divide", `chunk ${n} into ${e.n}`, n, e.n);
        const part: Tensor = { dtype: x.dtype, shape: x.shape.map((d, k) => (k === i ? n / e.n : d)) };
        return { tuple: Array.from({ length: e.n }, () => part) };
      }
      case "take": {
        const [x, ix] = [this.tensor(e.x), this.tensor(e.idx)];
        needType(ix, ["i32"], "take indices");
        const i = axis(e.dim ?? 0, x.shape.length);
        return { dtype: x.dtype, shape: [...x.shape.slice(0, i), ...ix.shape, ...x.shape.slice(i + 1)] };
      }
      case "reduce": {
        const x = this.tensor(e.x);
        needType(x, ["f32", "i32"], e.fn);
        if (e.fn === "mean" && x.dtype !== "f32") fail("dtype", "mean of an integer tensor (torch.mean needs a float tensor)", undefined, undefined, "mean-int");
        const i = axis(e.dim ?? -1, x.shape.length);
        const shape = e.keepdim ? x.shape.map((d, k) => (k === i ? 1 : d)) : x.shape.filter((_, k) => k !== i);
        return { dtype: e.fn === "argmax" ? "i32" : x.dtype, shape };
      }
      case "cumsum": {
        const x = this.tensor(e.x);
        needType(x, ["f32", "i32"], "cumsum");
        axis(e.dim, x.shape.length);
        return { dtype: x.dtype, shape: x.shape };
      }
      case "cast":
        return { dtype: e.dtype, shape: this.tensor(e.x).shape };
      case "arange":
        return { dtype: "i32", shape: this.dims([e.n]) };
      case "fill":
        return { dtype: e.dtype ?? "f32", shape: this.dims(e.shape) };
      case "index":
        return index(this.tensor(e.x), e.subs, () => (this.clamped = true));
      // ---- the standard library, from the PyTorch functions it mirrors ----
      case "std": {
        const x = this.tensor(e.x);
        if (e.dim !== undefined && e.fn !== "softmax" && e.fn !== "log_softmax") fail("other", `${e.fn} takes no dim`);
        needType(x, ["f32"], e.fn);
        if (e.fn === "softmax" || e.fn === "log_softmax") axis(e.dim ?? -1, x.shape.length);
        return x;
      }
      case "masked_softmax": {
        const [x, m] = [this.tensor(e.x), this.tensor(e.mask)];
        needType(x, ["f32"], "masked_softmax");
        needType(m, ["bool"], "masked_softmax mask");
        const shape = broadcast(x.shape, m.shape);
        axis(-1, shape.length);
        return { dtype: "f32", shape };
      }
      case "causal_mask": {
        const n = this.dims([e.n])[0]!;
        return { dtype: "bool", shape: [n, n] };
      }
      case "split_heads": {
        const x = this.tensor(e.x);
        needType(x, ["f32"], "split_heads");
        needRank(x, (r) => r === 3, "split_heads");
        const [B, T, D] = x.shape as [number, number, number];
        if (D % e.n !== 0) fail("divide", `split_heads: ${D} / ${e.n}`, D, e.n);
        return { dtype: "f32", shape: [B, e.n, T, D / e.n] };
      }
      case "merge_heads": {
        const x = this.tensor(e.x);
        needType(x, ["f32"], "merge_heads");
        needRank(x, (r) => r === 4, "merge_heads");
        const [B, H, T, Dh] = x.shape as [number, number, number, number];
        return { dtype: "f32", shape: [B, T, H * Dh] };
      }
      case "sdpa": {
        const [q, k, v] = [this.tensor(e.q), this.tensor(e.key), this.tensor(e.v)];
        for (const t of [q, k, v]) needType(t, ["f32"], "attention");
        for (const t of [q, k, v]) needRank(t, (r) => r >= 2, "attention");
        const mask = e.mask === undefined ? undefined : this.tensor(e.mask);
        return attention(q, k, v, mask);
      }
      case "apply":
        return this.apply(e.layer, e.args.map((a) => this.tensor(a)));
    }
  }

  /** The layers, from the torch.nn modules they mirror. */
  private apply(name: string, args: readonly Tensor[]): Tensor {
    const l = this.layers.get(name);
    if (!l) return fail("other", `no layer ${name}`);
    const x = args[0]!;
    const last = (t: Tensor, n: number, what: string) => {
      needRank(t, (r) => r >= 1, what);
      same(t.shape[t.shape.length - 1]!, n, `${what} features`);
    };
    switch (l.kind) {
      case "Linear": {
        needType(x, ["f32"], "Linear");
        last(x, l.args[0]!, "Linear");
        return { dtype: "f32", shape: [...x.shape.slice(0, -1), l.args[1]!] };
      }
      case "LayerNorm":
      case "FeedForward": {
        needType(x, ["f32"], l.kind);
        last(x, l.args[0]!, l.kind);
        return x;
      }
      case "Embedding": {
        needType(x, ["i32"], "Embedding ids");
        return { dtype: "f32", shape: [...x.shape, l.args[1]!] };
      }
      case "MultiheadAttention":
      case "TransformerEncoderLayer": {
        // nn.MultiheadAttention(batch_first=True): query [B, T, E], key and value [B, S, E].
        const [E, H] = [l.args[0]!, l.args[1]!];
        const [q, k, v] = l.kind === "MultiheadAttention" ? [args[0]!, args[1]!, args[2]!] : [x, x, x];
        const mask = l.kind === "MultiheadAttention" ? args[3] : args[1];
        for (const t of [q, k, v]) {
          needType(t, ["f32"], l.kind);
          needRank(t, (r) => r === 3, l.kind);
          same(t.shape[2]!, E, `${l.kind} embed_dim`);
        }
        same(k.shape[0]!, q.shape[0]!, "batch");
        same(v.shape[0]!, q.shape[0]!, "batch");
        same(v.shape[1]!, k.shape[1]!, "key/value length");
        if (E % H !== 0) fail("divide", `embed_dim ${E} / num_heads ${H}`, E, H);
        const split = (t: Tensor): Tensor => ({ dtype: "f32", shape: [t.shape[0]!, H, t.shape[1]!, E / H] });
        const heads = attention(split(q), split(k), split(v), mask);
        needRank(heads, (r) => r === 4, "merge_heads");
        const [B, Hh, T, Dh] = heads.shape as [number, number, number, number];
        const y = { dtype: "f32" as const, shape: [B, T, Hh * Dh] };
        same(y.shape[2]!, E, "out_proj features");
        if (l.kind === "TransformerEncoderLayer") y.shape.forEach((d, i) => same(d, x.shape[i]!, "residual"));
        return y;
      }
    }
  }

  /** Runs the whole program: inputs, then every step. Throws ShapeError at the first bad step. */
  run(p: Program): Map<string, Val> {
    this.introduced = new Set(p.inputs.flatMap((i) => i.dims.flatMap((d) => (d.k === "sym" ? [d.name] : []))));
    for (const i of p.inputs) this.env.set(i.name, { dtype: i.dtype, shape: this.dims(i.dims) });
    p.steps.forEach((s, n) => {
      let v: Val;
      try {
        v = this.eval(s.expr);
      } catch (e) {
        if (e instanceof ShapeError) (e as { step?: number }).step = n;
        throw e;
      }
      this.bind(s.targets, v);
    });
    return this.env;
  }

  bind(targets: readonly string[], v: Val): void {
    if (targets.length === 1) {
      if (!isTensor(v)) fail("other", "a tuple bound to one name");
      this.env.set(targets[0]!, v);
      return;
    }
    if (isTensor(v) || v.tuple.length !== targets.length) return fail("other", "unpacking count");
    targets.forEach((t, i) => this.env.set(t, v.tuple[i]!));
  }
}

/** softmax(q·kᵀ/√d, restricted to the mask)·v: F.scaled_dot_product_attention's shapes. */
function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined): Tensor {
  const [r] = [q.shape.length];
  if (k.shape.length !== r || v.shape.length !== r) fail("rank", "q, k, v ranks differ");
  for (let i = 0; i < r - 2; i++) {
    same(k.shape[i]!, q.shape[i]!, "attention batch dims");
    same(v.shape[i]!, q.shape[i]!, "attention batch dims");
  }
  same(k.shape[r - 1]!, q.shape[r - 1]!, "q·kᵀ inner dims");
  same(v.shape[r - 2]!, k.shape[r - 2]!, "key and value lengths");
  let scores: number[] = [...q.shape.slice(0, -1), k.shape[r - 2]!];
  if (mask) {
    if (mask.dtype !== "bool") fail("dtype", "mask must be bool");
    scores = broadcast(scores, mask.shape);
  }
  return matmul({ dtype: "f32", shape: scores }, v);
}

/** The program's values under one assignment of its symbols (throws ShapeError if ill-shaped). */
export function evaluate(p: Program, symbols: Assignment): Map<string, Val> {
  return new Evaluator(p, symbols).run(p);
}

/** Whether running the program clamps a slice (a bound outside its dim, or start after end). */
export function clampsSlices(p: Program, symbols: Assignment): boolean {
  const ev = new Evaluator(p, symbols);
  try {
    ev.run(p);
  } catch {
    /* only the clamping matters here */
  }
  return ev.clamped;
}

/** The first failure under `symbols`, with the step it happened at; undefined if well-shaped. */
export function failure(p: Program, symbols: Assignment): (ShapeError & { step?: number }) | undefined {
  try {
    evaluate(p, symbols);
    return undefined;
  } catch (e) {
    if (e instanceof ShapeError) return e;
    throw e;
  }
}

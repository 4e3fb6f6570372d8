// One shape rule per builtin function, in a table keyed by the builtin's name: TypeScript checks
// that every builtin has its rule. Rules follow NumPy/PyTorch semantics (broadcasting, negative
// axes, matmul batch dims) and report through the context, at the argument that is wrong.
import type { Code } from "../../diag/codes.js";
import { pastDim, type BuiltinName } from "../builtins.js";
import { addDim, constDim, constValue, divDim, equalDims, mulDim, showDim, showShape, symbolsOf, symDim, type Dim } from "../../core/dim.js";
import { erf, exp, tanh } from "../../core/math.js";
import { asTensor, isFloat, showValue, tensor, unknown, type DType, type SVal } from "./value.js";

export interface RuleCtx {
  /** Reports an error (or the code's own severity) at argument `arg`, or at the whole call. */
  report(code: Code, message: string, opts?: { arg?: number; notes?: string[] }): void;
  /** Requires a == b: silent when proven, a warning when undecidable, an error when provably false. */
  same(a: Dim, b: Dim, what: string, arg?: number, notes?: string[]): boolean;
}

export type Rule = (args: readonly SVal[], ctx: RuleCtx) => SVal;

const shapeOf = (v: SVal) => asTensor(v)?.shape ?? [];

/** The most parts `chunk` makes (as many as a repeat has copies): each part is a value the checker and the IR hold. */
const maxChunks = 10_000;

/** The tensor (or scalar as 0-d tensor) at argument i, or undefined after reporting. */
function tensorArg(args: readonly SVal[], i: number, ctx: RuleCtx, what = "a tensor") {
  const v = args[i]!;
  if (v.kind === "unknown") return undefined;
  const t = asTensor(v);
  if (!t) ctx.report("TFM4010", `expected ${what}, found ${showValue(v)}`, { arg: i });
  return t;
}

/** A compile-time integer at argument i (an axis or a count), or undefined after reporting. */
function constArg(args: readonly SVal[], i: number, ctx: RuleCtx): number | undefined {
  const v = args[i]!;
  if (v.kind === "unknown") return undefined;
  const n = v.kind === "int" ? constValue(v.dim) : undefined;
  if (n === undefined) ctx.report("TFM4010", `expected a compile-time integer, found ${showValue(v)}`, { arg: i });
  return n;
}

/** Normalises a possibly negative axis for a tensor of rank `rank` (PyTorch's rules). */
export function axis(d: number | undefined, rank: number, ctx: RuleCtx, arg: number, extra = 0): number | undefined {
  if (d === undefined) return undefined;
  const n = rank + extra;
  if (d < -n || d >= n) {
    ctx.report("TFM4008", `dim ${d} is out of range for a tensor with ${rank} dims (valid: ${-n} to ${n - 1})`, { arg });
    return undefined;
  }
  return d < 0 ? d + n : d;
}

/** NumPy broadcasting of several shapes; dims must be equal or 1. */
export function broadcast(shapes: readonly (readonly Dim[])[], ctx: RuleCtx, args?: readonly number[]): Dim[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let k = 0; k < rank; k++) {
    let d: Dim | undefined;
    for (let i = 0; i < shapes.length; i++) {
      const s = shapes[i]!;
      const x = s[s.length - rank + k];
      if (!x || constValue(x) === 1) continue;
      if (!d) { d = x; continue; }
      const eq = equalDims(d, x);
      if (eq === false) {
        ctx.report("TFM4005", `shapes ${shapes.map(showShape).join(" and ")} do not broadcast: ${showDim(d)} vs ${showDim(x)} at dim ${k - rank}`, { arg: args?.[i] });
        return undefined;
      }
      if (eq === undefined) ctx.same(d, x, `broadcasting ${shapes.map(showShape).join(" and ")}`, args?.[i]);
    }
    out.push(d ?? constDim(1));
  }
  return out;
}

/** The result dtype of an elementwise op: tensors must agree; scalars take the tensor's type. */
export function promote(ts: readonly { dtype: DType; weak: boolean }[], ctx: RuleCtx, args?: readonly number[]): DType {
  const strong = ts.filter((t) => !t.weak);
  const first = strong[0];
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (!t.weak && first && t.dtype !== first.dtype) {
      ctx.report("TFM4004", `element types differ: ${first.dtype} and ${t.dtype}`, { arg: args?.[i], notes: [`convert one of them, e.g. \`cast(x, ${first.dtype})\``] });
      return first.dtype;
    }
  }
  if (first) return ts.some((t) => t.weak && t.dtype === "f32") && !isFloat(first.dtype) && first.dtype !== "bool" ? "f32" : first.dtype;
  return ts.some((t) => t.dtype === "f32") ? "f32" : ts.some((t) => t.dtype === "i32") ? "i32" : "bool";
}

/**
 * The elementwise result of several operands, or a scalar when all are scalars: `scalar` names
 * the builtin and computes its value, known where every operand's is (see `scalarResult`).
 */
export function elementwise(args: readonly SVal[], idx: readonly number[], ctx: RuleCtx, dtype?: DType, scalar?: ScalarFn): SVal {
  const ts = idx.map((i) => tensorArg(args, i, ctx));
  if (ts.some((t) => !t)) return unknown;
  const shape = broadcast(ts.map((t) => t!.shape), ctx, idx);
  if (!shape) return unknown;
  const dt = dtype ?? promote(ts as { dtype: DType; weak: boolean }[], ctx, idx);
  if (ts.every((t) => t!.weak)) return scalarResult(idx.map((i) => args[i]!), dt, ctx, scalar);
  return tensor(dt, shape);
}

/** A builtin on compile-time numbers: its name (for the opaque dim of symbolic operands) and its value. */
export interface ScalarFn {
  readonly name: string;
  readonly f: (xs: readonly number[]) => number;
}

/**
 * An elementwise builtin of scalars only. Known operands give the value: an integer where the
 * operands are integers and the result is one (`maximum(2, 3)`, `abs(-2)`, `pow(2, 3)`; a
 * fraction such as `pow(2, -1)` is a real number, as in Python). Integers known only when the
 * model runs (`maximum(seq, 2)`) give an opaque dim named after the call, as `seq % 2` does;
 * real numbers not known give a number of unknown value. Never a made-up value.
 */
function scalarResult(xs: readonly SVal[], dt: DType, ctx: RuleCtx, scalar: ScalarFn | undefined): SVal {
  if (dt === "bool" || !scalar) return dt === "bool" ? { kind: "bool" } : { kind: "float" };
  const vals = xs.map((v) => (v.kind === "int" ? constValue(v.dim) : v.kind === "float" ? v.value : undefined));
  const ints = xs.every((v) => v.kind === "int");
  if (vals.some((v) => v === undefined)) {
    if (!ints) return { kind: "float" };
    return { kind: "int", dim: symDim(`${scalar.name}(${xs.map((v) => showDim((v as { dim: Dim }).dim)).join(", ")})`) };
  }
  const v = scalar.f(vals as number[]);
  if (!ints || !Number.isInteger(v)) return { kind: "float", value: v };
  if (!Number.isSafeInteger(v)) {
    ctx.report("TFM3005", `${scalar.name}(${vals.join(", ")}) is beyond 2^53 - 1, the largest exact integer`);
    return unknown;
  }
  return { kind: "int", dim: constDim(v) };
}

const scalarFn = (name: string, f: (xs: readonly number[]) => number): ScalarFn => ({ name, f });

const floatUnary = (f: (x: number) => number): Rule => (args, ctx) => {
  const v = args[0]!;
  if (v.kind === "int" || v.kind === "float") {
    const x = v.kind === "int" ? constValue(v.dim) : v.value;
    return x === undefined ? { kind: "float" } : { kind: "float", value: f(x) };
  }
  const t = tensorArg(args, 0, ctx);
  if (!t) return unknown;
  return tensor(isFloat(t.dtype) ? t.dtype : "f32", t.shape);
};

function reduce(dtype?: DType, floatOnly = false): Rule {
  return (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const a = t && axis(constArg(args, 1, ctx), t.shape.length, ctx, 1);
    if (!t || a === undefined) return unknown;
    if (floatOnly && !isFloat(t.dtype)) {
      ctx.report("TFM4004", `mean needs a float tensor, found ${t.dtype}`, { arg: 0, notes: ["convert it first: `mean(cast(x, f32), ...)`"] });
      return unknown;
    }
    const keep = args[2]!.kind === "bool" && (args[2] as { value?: boolean }).value === true;
    const shape = keep ? t.shape.map((d, i) => (i === a ? constDim(1) : d)) : t.shape.filter((_, i) => i !== a);
    return tensor(dtype ?? t.dtype, shape);
  };
}

function dimsArg(args: readonly SVal[], i: number, ctx: RuleCtx): Dim[] | undefined {
  const v = args[i]!;
  if (v.kind === "unknown") return undefined;
  if (v.kind !== "list" || v.items.some((x) => x.kind !== "int" && x.kind !== "unknown")) {
    ctx.report("TFM4010", `expected a list of dims like [batch, seq], found ${showValue(v)}`, { arg: i });
    return undefined;
  }
  if (v.items.some((x) => x.kind === "unknown")) return undefined;
  return v.items.map((x) => (x as { dim: Dim }).dim);
}

const numel = (s: readonly Dim[]) => s.reduce((a, b) => mulDim(a, b), constDim(1));

/**
 * reshape's `-1`, as in PyTorch: at most one, the element count divided by the other dims' — as
 * dims divide with `/`: exact, or a TFM4009 warning when that holds only for some values of the
 * symbols (`[b, t, 12]` to `[b, t, 3, -1]` infers 4; to `[b, 5, -1]` infers 12·t / 5 and warns).
 */
function inferDim(from: readonly Dim[], to: readonly Dim[], ctx: RuleCtx): Dim[] | undefined {
  const holes = to.flatMap((d, i) => (constValue(d) === -1 ? [i] : []));
  const shown = `reshape of ${showShape(from)} to [${to.map(showDim).join(", ")}]`;
  if (holes.length > 1) {
    ctx.report("TFM4015", `${shown} has ${holes.length} dims of -1; at most one can be inferred`, { arg: 1 });
    return undefined;
  }
  const [total, rest] = [numel(from), numel(to.filter((_, i) => i !== holes[0]))];
  const { q, exact } = divDim(total, rest);
  const write = "write the dim, e.g. `d_model / n_head`";
  if (exact === false) {
    ctx.report("TFM4015", `cannot infer the -1 in ${shown}: ${showDim(total)} elements are not a multiple of ${showDim(rest)}`, { arg: 1, notes: [write] });
    return undefined;
  }
  if (exact === undefined) {
    const symbols = [...new Set([...symbolsOf(total), ...symbolsOf(rest)])].join(", ");
    ctx.report("TFM4009", `cannot prove that ${showDim(rest)} divides ${showDim(total)}, the element count the -1 in ${shown} is inferred from`, { arg: 1, notes: [`this holds only for values of ${symbols} where ${showDim(total)} is a multiple of ${showDim(rest)}`, `or ${write}`] });
  }
  return to.map((d, i) => (i === holes[0] ? q : d));
}

function tensorList(args: readonly SVal[], i: number, ctx: RuleCtx) {
  const v = args[i]!;
  if (v.kind === "unknown") return undefined;
  if (v.kind !== "list" || v.items.length === 0) {
    ctx.report("TFM4010", `expected a non-empty list of tensors, found ${showValue(v)}`, { arg: i });
    return undefined;
  }
  const ts = v.items.map((x) => asTensor(x));
  if (ts.some((t) => !t)) {
    if (!v.items.some((x) => x.kind === "unknown")) ctx.report("TFM4010", `expected a list of tensors, found ${showValue(v)}`, { arg: i });
    return undefined;
  }
  return ts as { dtype: DType; shape: readonly Dim[]; weak: boolean }[];
}

function fill(args: readonly SVal[], ctx: RuleCtx, shapeArg: number, dtypeArg: number): SVal {
  const shape = dimsArg(args, shapeArg, ctx);
  const dt = args[dtypeArg]!;
  if (!shape || dt.kind !== "dtype") return unknown;
  return tensor(dt.name, shape);
}

export const rules: Record<BuiltinName, Rule> = {
  exp: floatUnary(exp),
  log: floatUnary(Math.log),
  sqrt: floatUnary(Math.sqrt),
  rsqrt: floatUnary((x) => 1 / Math.sqrt(x)),
  tanh: floatUnary(tanh),
  erf: floatUnary(erf),
  sigmoid: floatUnary((x) => 1 / (1 + exp(-x))),
  abs: (args, ctx) => elementwise(args, [0], ctx, undefined, scalarFn("abs", ([x]) => Math.abs(x!))),
  sin: floatUnary(Math.sin),
  cos: floatUnary(Math.cos),
  pow: (args, ctx) => elementwise(args, [0, 1], ctx, undefined, scalarFn("pow", ([x, y]) => x! ** y!)),
  maximum: (args, ctx) => elementwise(args, [0, 1], ctx, undefined, scalarFn("maximum", ([x, y]) => Math.max(x!, y!))),
  minimum: (args, ctx) => elementwise(args, [0, 1], ctx, undefined, scalarFn("minimum", ([x, y]) => Math.min(x!, y!))),
  where: (args, ctx) => {
    const c = tensorArg(args, 0, ctx, "a bool mask");
    if (c && c.dtype !== "bool") ctx.report("TFM4004", `a mask must be bool, found ${c.dtype}`, { arg: 0, notes: ["compare to get a mask, e.g. `m != 0`"] });
    const ts = [1, 2].map((i) => tensorArg(args, i, ctx));
    if (!c || ts.some((t) => !t)) return unknown;
    const shape = broadcast([c.shape, ts[0]!.shape, ts[1]!.shape], ctx, [0, 1, 2]);
    if (!shape) return unknown;
    return tensor(promote(ts as { dtype: DType; weak: boolean }[], ctx, [1, 2]), shape);
  },
  matmul: (args, ctx) => matmul(args, ctx),
  transpose: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    if (!t) return unknown;
    const a = axis(constArg(args, 1, ctx), t.shape.length, ctx, 1);
    const b = axis(constArg(args, 2, ctx), t.shape.length, ctx, 2);
    if (a === undefined || b === undefined) return unknown;
    const s = [...t.shape];
    [s[a], s[b]] = [s[b]!, s[a]!];
    return tensor(t.dtype, s);
  },
  permute: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const dims = dimsArg(args, 1, ctx)?.map(constValue);
    if (!t || !dims) return unknown;
    const r = t.shape.length;
    const norm = dims.map((d) => (d === undefined ? undefined : d < 0 ? d + r : d));
    if (norm.length !== r || new Set(norm).size !== r || norm.some((d) => d === undefined || d < 0 || d >= r)) {
      ctx.report("TFM4008", `permute needs each of the ${r} dims exactly once, got [${dims.join(", ")}]`, { arg: 1 });
      return unknown;
    }
    return tensor(t.dtype, norm.map((d) => t.shape[d!]!));
  },
  reshape: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const shape = dimsArg(args, 1, ctx);
    if (!t || !shape) return unknown;
    if (shape.some((d) => constValue(d) === -1)) {
      const inferred = inferDim(t.shape, shape, ctx); // keeps the element count by construction
      return inferred ? tensor(t.dtype, inferred) : unknown;
    }
    const [a, b] = [numel(t.shape), numel(shape)];
    const eq = equalDims(a, b);
    if (eq === false) {
      ctx.report("TFM4007", `cannot reshape ${showShape(t.shape)} (${showDim(a)} elements) to ${showShape(shape)} (${showDim(b)} elements)`, { arg: 1 });
      return unknown;
    }
    if (eq === undefined) ctx.same(a, b, `the element counts of ${showShape(t.shape)} and ${showShape(shape)}`, 1);
    return tensor(t.dtype, shape);
  },
  unsqueeze: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const a = t && axis(constArg(args, 1, ctx), t.shape.length, ctx, 1, 1);
    if (!t || a === undefined) return unknown;
    const s = [...t.shape];
    s.splice(a, 0, constDim(1));
    return tensor(t.dtype, s);
  },
  squeeze: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const a = t && axis(constArg(args, 1, ctx), t.shape.length, ctx, 1);
    if (!t || a === undefined) return unknown;
    if (!ctx.same(t.shape[a]!, constDim(1), `squeezing dim ${a} of ${showShape(t.shape)}`, 1)) return unknown;
    return tensor(t.dtype, t.shape.filter((_, i) => i !== a));
  },
  expand: (args, ctx) => expand(args, ctx),
  concat: (args, ctx) => join(args, ctx, false),
  append: (args, ctx) => {
    const [cache, x] = [tensorArg(args, 0, ctx), tensorArg(args, 1, ctx)];
    if (!cache || !x) return unknown;
    const a = pastAxis(cache.shape);
    if (a === undefined) return unknown; // not a state: reported by the resolver
    if (x.shape.length !== cache.shape.length) {
      ctx.report("TFM4003", `the state has ${cache.shape.length} dims ${showShape(cache.shape)}, and what is appended ${x.shape.length}: ${showShape(x.shape)}`, { arg: 1 });
      return unknown;
    }
    if (x.dtype !== cache.dtype) {
      ctx.report("TFM4004", `the state holds ${cache.dtype}, and what is appended is ${x.dtype}`, { arg: 1 });
      return unknown;
    }
    for (let i = 0; i < x.shape.length; i++) {
      if (i !== a && !ctx.same(cache.shape[i]!, x.shape[i]!, `dim ${i} of the state ${showShape(cache.shape)} and of what is appended`, 1)) return unknown;
    }
    return tensor(cache.dtype, cache.shape.map((d, i) => (i === a ? addDim(d, x.shape[a]!) : d)));
  },
  once: (args, ctx) => {
    const [state, x] = [tensorArg(args, 0, ctx), tensorArg(args, 1, ctx)];
    if (!state || !x) return unknown;
    if (pastAxis(state.shape) !== undefined) return unknown; // a state that grows: reported by the resolver
    if (x.shape.length !== state.shape.length) {
      ctx.report("TFM4003", `the state has ${state.shape.length} dims ${showShape(state.shape)}, and what is written ${x.shape.length}: ${showShape(x.shape)}`, { arg: 1 });
      return unknown;
    }
    if (x.dtype !== state.dtype) {
      ctx.report("TFM4004", `the state holds ${state.dtype}, and what is written is ${x.dtype}`, { arg: 1 });
      return unknown;
    }
    for (let i = 0; i < x.shape.length; i++) {
      if (!ctx.same(state.shape[i]!, x.shape[i]!, `dim ${i} of the state ${showShape(state.shape)} and of what is written`, 1)) return unknown;
    }
    return tensor(state.dtype, state.shape);
  },
  stack: (args, ctx) => join(args, ctx, true),
  chunk: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const n = constArg(args, 1, ctx);
    const a = t && axis(constArg(args, 2, ctx), t.shape.length, ctx, 2);
    if (!t || n === undefined || a === undefined) return unknown;
    if (n < 1 || n > maxChunks) {
      ctx.report("TFM3004", n < 1 ? `chunk count must be at least 1, found ${n}` : `chunk count must be at most ${maxChunks}, found ${n}`, { arg: 1 });
      return unknown;
    }
    const { q, exact } = divDim(t.shape[a]!, constDim(n));
    if (exact === false) {
      ctx.report("TFM4011", `dim ${a} of ${showShape(t.shape)} has size ${showDim(t.shape[a]!)}, which ${n} chunks cannot split evenly`, { arg: 1 });
      return unknown;
    }
    if (exact === undefined) ctx.report("TFM4009", `cannot prove that ${n} divides ${showDim(t.shape[a]!)}`, { arg: 1 });
    const part = tensor(t.dtype, t.shape.map((d, i) => (i === a ? q : d)));
    return { kind: "tuple", items: Array.from({ length: n }, () => part) };
  },
  take: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const ix = tensorArg(args, 1, ctx, "integer indices");
    const a = t && axis(constArg(args, 2, ctx), t.shape.length, ctx, 2);
    if (!t || !ix || a === undefined) return unknown;
    if (ix.dtype !== "i32" && ix.dtype !== "i64") {
      ctx.report("TFM4004", `indices must be integers, found ${ix.dtype}`, { arg: 1 });
      return unknown;
    }
    return tensor(t.dtype, [...t.shape.slice(0, a), ...ix.shape, ...t.shape.slice(a + 1)]);
  },
  sum: reduce(),
  mean: reduce(undefined, true),
  max: reduce(),
  min: reduce(),
  argmax: reduce("i32"),
  cumsum: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const a = t && axis(constArg(args, 1, ctx), t.shape.length, ctx, 1);
    if (!t || a === undefined) return unknown;
    if (t.dtype === "bool") {
      ctx.report("TFM4004", "cumsum needs a number tensor, found bool", { arg: 0, notes: ["convert it first: `cumsum(cast(x, i32), dim)`"] });
      return unknown;
    }
    return tensor(t.dtype, t.shape);
  },
  cast: (args, ctx) => {
    const t = tensorArg(args, 0, ctx);
    const dt = args[1]!;
    if (!t || dt.kind !== "dtype") return unknown;
    return tensor(dt.name, t.shape);
  },
  arange: (args, ctx) => {
    const n = args[0]!;
    if (n.kind === "unknown") return unknown;
    if (n.kind !== "int") {
      ctx.report("TFM4010", `arange needs an integer length, found ${showValue(n)}`, { arg: 0 });
      return unknown;
    }
    const c = constValue(n.dim);
    if (c !== undefined && c < 0) {
      ctx.report("TFM3004", `arange length must not be negative, found ${c}`, { arg: 0 });
      return unknown;
    }
    return tensor("i32", [n.dim]);
  },
  zeros: (args, ctx) => fill(args, ctx, 0, 1),
  ones: (args, ctx) => fill(args, ctx, 0, 1),
  full: (args, ctx) => fill(args, ctx, 0, 2),
  dropout: (args, ctx) => {
    const p = args[1]!;
    if (p.kind === "float" && p.value !== undefined && !(p.value >= 0 && p.value < 1)) ctx.report("TFM3004", `dropout probability must be in [0, 1), found ${p.value}`, { arg: 1 });
    return tensorArg(args, 0, ctx) ? args[0]! : unknown;
  },
};

/** The axis a state grows along: the one dim that is `past`. */
export function pastAxis(shape: readonly Dim[]): number | undefined {
  const i = shape.findIndex((d) => equalDims(d, symDim(pastDim)) === true);
  return i < 0 ? undefined : i;
}

/**
 * torch.Tensor.expand: x's dims align with the shape's last ones; each is kept (equal, or -1) or,
 * if of size 1, repeated; the shape's extra leading dims are new (and may not be -1).
 */
function expand(args: readonly SVal[], ctx: RuleCtx): SVal {
  const t = tensorArg(args, 0, ctx);
  const to = dimsArg(args, 1, ctx);
  if (!t || !to) return unknown;
  const lead = to.length - t.shape.length;
  const shown = `expand of ${showShape(t.shape)} to [${to.map(showDim).join(", ")}]`;
  if (lead < 0) {
    ctx.report("TFM4003", `${shown}: the shape has fewer dims than the tensor`, { arg: 1 });
    return unknown;
  }
  const out: Dim[] = [];
  for (let i = 0; i < to.length; i++) {
    const d = to[i]!;
    const c = constValue(d);
    const from = i >= lead ? t.shape[i - lead]! : undefined;
    if (c === -1 && from) {
      out.push(from);
      continue;
    }
    if (c !== undefined && c < 0) {
      ctx.report("TFM3004", `${shown}: ${from ? "a size must be -1 (keep) or" : "a new leading dim must be"} a non-negative integer, found ${c}`, { arg: 1 });
      return unknown;
    }
    if (from && constValue(from) !== 1) {
      const eq = equalDims(from, d);
      if (eq === false) {
        ctx.report("TFM4005", `${shown}: dim ${i - lead} of the tensor has size ${showDim(from)}, which expands only to itself (dims of size 1 expand)`, { arg: 1 });
        return unknown;
      }
      if (eq === undefined) ctx.same(from, d, shown, 1);
    }
    out.push(d);
  }
  return tensor(t.dtype, out);
}

function join(args: readonly SVal[], ctx: RuleCtx, isStack: boolean): SVal {
  const ts = tensorList(args, 0, ctx);
  if (!ts) return unknown;
  const r = ts[0]!.shape.length;
  const a = axis(constArg(args, 1, ctx), r, ctx, 1, isStack ? 1 : 0);
  if (a === undefined) return unknown;
  for (const t of ts) {
    if (t.shape.length !== r) {
      ctx.report("TFM4003", `all tensors must have ${r} dims; found ${showShape(t.shape)}`, { arg: 0 });
      return unknown;
    }
    for (let i = 0; i < r; i++) {
      if (!isStack && i === a) continue;
      if (!ctx.same(ts[0]!.shape[i]!, t.shape[i]!, `dim ${i} of the tensors to ${isStack ? "stack" : "concat"}`, 0)) return unknown;
    }
  }
  const dtype = promote(ts, ctx);
  if (isStack) {
    const s = [...ts[0]!.shape];
    s.splice(a, 0, constDim(ts.length));
    return tensor(dtype, s);
  }
  const total = ts.reduce((sum, t) => addDim(sum, t.shape[a]!), constDim(0));
  return tensor(dtype, ts[0]!.shape.map((d, i) => (i === a ? total : d)));
}

/** PyTorch's matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast. */
function matmul(args: readonly SVal[], ctx: RuleCtx): SVal {
  const a = tensorArg(args, 0, ctx);
  const b = tensorArg(args, 1, ctx);
  if (!a || !b) return unknown;
  if (a.shape.length === 0 || b.shape.length === 0) {
    ctx.report("TFM4003", "matmul needs tensors with at least 1 dim; use `*` to scale by a number", { arg: a.shape.length === 0 ? 0 : 1 });
    return unknown;
  }
  if (!isFloat(a.dtype) || !isFloat(b.dtype)) {
    ctx.report("TFM4004", `matmul needs float tensors, found ${a.dtype} @ ${b.dtype}`, { arg: isFloat(a.dtype) ? 1 : 0 });
    return unknown;
  }
  const dtype = promote([a, b], ctx, [0, 1]);
  const as = a.shape.length === 1 ? [constDim(1), a.shape[0]!] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0]!, constDim(1)] : b.shape;
  const k1 = as[as.length - 1]!;
  const k2 = bs[bs.length - 2]!;
  const eq = equalDims(k1, k2);
  const notes: string[] = [];
  if (eq !== true && equalDims(k1, bs[bs.length - 1]!) === true) notes.push("the last dims agree: did you mean `a @ transpose(b)`?");
  else if (eq !== true && equalDims(as[as.length - 2]!, k2) === true) notes.push("did you mean `transpose(a) @ b`?");
  if (eq === false) {
    ctx.report("TFM4006", `matmul of ${showShape(a.shape)} and ${showShape(b.shape)}: inner dims ${showDim(k1)} and ${showDim(k2)} differ`, { arg: 1, notes });
    return unknown;
  }
  if (eq === undefined) ctx.same(k1, k2, `the inner dims of ${showShape(a.shape)} @ ${showShape(b.shape)}`, 1, notes);
  const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)], ctx, [0, 1]);
  if (!batch) return unknown;
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [as[as.length - 2]!]), ...(b.shape.length === 1 ? [] : [bs[bs.length - 1]!])];
  return tensor(dtype, shape);
}

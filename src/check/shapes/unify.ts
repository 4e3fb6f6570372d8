// Binding an argument to a declared tensor type (`x: f32[*batch, T, d_model]`): checks dtype and
// rank, binds fresh dims (T) and packs (*batch) in the callee's scope, and checks the rest.
import type { Code } from "../../diag/codes.js";
import type * as A from "../../syntax/ast.js";
import { equalDims, showDim, showShape, symDim, type Dim } from "../../core/dim.js";
import { asTensor, showValue, tensor, type SVal } from "./value.js";
import type { Scope } from "./scope.js";
import type { LocalSym } from "../symbols.js";

/** The local symbol a dim's name or a pack's name declares or refers to (the resolver's table); undefined for a global or an unresolved name. */
export type LocalOf = (n: A.Name | A.Ident) => LocalSym | undefined;

export interface UnifyCtx {
  readonly local: LocalOf;
  /** Evaluates a dim expression of the declared type in the callee's scope. */
  dim(e: A.Expr): Dim | undefined;
  mismatch(code: Code, message: string, notes?: string[]): void;
  undecided(a: Dim, b: Dim, what: string): void;
}

const variadic = (d: A.Dim) => d.kind === "Ellipsis" || d.kind === "Pack";

export function showType(t: A.TensorType, show: (e: A.Expr) => string): string {
  return `${t.dtype}[${t.dims.map((d) => (d.kind === "Ellipsis" ? "..." : d.kind === "Pack" ? `*${d.name.name}` : show(d))).join(", ")}]`;
}

/** Binds `v` to the declared type `t` in `scope`; false after reporting a mismatch. */
export function unify(t: A.TensorType, v: SVal, scope: Scope, ctx: UnifyCtx, typeText: string): boolean {
  if (v.kind === "unknown") {
    bindFresh(t, scope, ctx.local);
    return true;
  }
  const actual = asTensor(v);
  if (!actual) {
    ctx.mismatch("TFM4010", `expected a tensor ${typeText}, found ${showValue(v)}`);
    bindFresh(t, scope, ctx.local);
    return false;
  }
  if (actual.dtype !== t.dtype && !(actual.weak && actual.shape.length === 0 && (t.dtype !== "bool") === (actual.dtype !== "bool"))) {
    ctx.mismatch("TFM4004", `expected ${typeText}, found ${showValue(v)}: element types differ`, [`convert it with \`cast(x, ${t.dtype})\``]);
    bindFresh(t, scope, ctx.local);
    return false;
  }
  const shape = actual.shape;
  const vi = t.dims.findIndex(variadic);
  const fixed = t.dims.length - (vi < 0 ? 0 : 1);
  if (vi < 0 ? shape.length !== fixed : shape.length < fixed) {
    const notes: string[] = [];
    if (shape.length + 1 === fixed) notes.push("one dim is missing: a missing `unsqueeze`, batch dim or head split?");
    if (shape.length === fixed + 1) notes.push("one dim too many: a missing `squeeze`, or heads not merged?");
    ctx.mismatch("TFM4003", `expected ${vi < 0 ? "" : "at least "}${fixed} dims ${typeText}, found ${shape.length} dims ${showValue(v)}`, notes);
    bindFresh(t, scope, ctx.local);
    return false;
  }
  const tail = vi < 0 ? 0 : t.dims.length - vi - 1;
  const packLen = shape.length - fixed;
  const axis = (i: number) => (vi >= 0 && i > vi ? shape.length - tail + (i - vi - 1) : i);
  // Bare names not yet bound are bound first, wherever they stand, so a compound dim may use a
  // name introduced to its right (`f32[2 * n, n]`); every other dim is then checked in order.
  const binding = new Set<number>();
  t.dims.forEach((d, i) => {
    const s = unbound(d, scope, ctx.local);
    if (s && d.kind === "Name") {
      scope.define(s, { kind: "int", dim: shape[axis(i)]! });
      binding.add(i);
    } else if (s) {
      scope.define(s, { kind: "list", items: shape.slice(vi, vi + packLen).map((x) => ({ kind: "int" as const, dim: x })) });
      binding.add(i);
    }
  });
  let ok = true;
  t.dims.forEach((d, i) => {
    if (!ok || binding.has(i) || d.kind === "Ellipsis") return;
    if (d.kind === "Pack") {
      const dims = shape.slice(vi, vi + packLen);
      const sym = ctx.local(d.name);
      const prior = sym && scope.lookup(sym);
      const same = prior?.kind === "list" && prior.items.length === dims.length && prior.items.every((x, k) => x.kind === "int" && equalDims(x.dim, dims[k]!) === true);
      if (prior?.kind === "list" && !same) {
        const before = prior.items.map((x) => (x.kind === "int" ? x.dim : undefined)).filter((x): x is Dim => !!x);
        ctx.mismatch("TFM4001", `*${d.name.name} is ${showShape(before)} elsewhere in this signature, but ${showShape(dims)} here`);
        ok = false;
      }
      return;
    }
    const k = axis(i);
    const a = shape[k]!;
    const want = ctx.dim(d);
    if (!want) return;
    const eq = equalDims(want, a);
    if (eq === false) {
      ctx.mismatch("TFM4001", `expected ${typeText}, found ${showValue(v)}: dim ${k} is ${showDim(a)}, not ${showDim(want)}`);
      ok = false;
    } else if (eq === undefined) ctx.undecided(want, a, `dim ${k} of ${typeText}`);
  });
  return ok;
}

/** The local symbol a bare dim name or a pack declares, when it has no value yet in `scope`. */
function unbound(d: A.Dim, scope: Scope, local: LocalOf): LocalSym | undefined {
  const s = d.kind === "Name" ? local(d) : d.kind === "Pack" ? local(d.name) : undefined;
  return s && !scope.lookup(s) ? s : undefined;
}

/** After a mismatch, fresh names still get (opaque) values so the body can be checked on. */
function bindFresh(t: A.TensorType, scope: Scope, local: LocalOf): void {
  for (const d of t.dims) {
    const s = unbound(d, scope, local);
    if (s) scope.define(s, { kind: "unknown" });
  }
}

/**
 * A model input's value: bare names not yet bound become symbols (`batch`, `seq`), all of them
 * first, so that compound dims may name symbols introduced to their right (`f32[2 * n, n]`). A
 * dim with no value (an error reported where it was evaluated) is an opaque symbol, never a guess.
 */
export function symbolicInput(t: A.TensorType, scope: Scope, local: LocalOf, dim: (e: A.Expr) => Dim | undefined, reportVariadic: (d: A.Dim) => void): SVal {
  const variadicDim = t.dims.find(variadic);
  if (variadicDim) {
    reportVariadic(variadicDim);
    return { kind: "unknown" };
  }
  for (const d of t.dims) {
    const s = d.kind === "Name" ? unbound(d, scope, local) : undefined;
    if (s) scope.define(s, { kind: "int", dim: symDim(s.name) });
  }
  const shape = t.dims.map((d) => (d.kind === "Ellipsis" || d.kind === "Pack" ? opaqueDim : dim(d) ?? opaqueDim));
  return tensor(t.dtype, shape);
}

/** The size of a dim whose expression has no value: a fresh symbol, so nothing downstream is reported about it. */
const opaqueDim = symDim("(unknown)");

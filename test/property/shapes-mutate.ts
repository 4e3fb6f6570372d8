// Ill-shaped mutations of generated programs, for the no-silent-acceptance property
// (shapes-mutations.test.ts). Each mutation is one local change of the kind people make when
// porting a PyTorch model; whether the result is really ill-shaped, and how, is decided afterwards
// by the concrete evaluator (shapes-oracle.ts `classify`), not assumed.
import { evaluate, isTensor } from "./concrete-shapes.js";
import type { Chooser } from "./shapes-gen.js";
import { printDim, uses, type Assignment, type DimExpr, type Expr, type Program, type Step } from "./shapes-program.js";

export const mutationKinds = [
  "swap-input-dims", // x: f32[b, t, d] → f32[b, d, t]
  "drop-input-dim", // feed a 2-D tensor where a 3-D one is needed: x: f32[b, t, d] → f32[t, d]
  "input-dtype", // f32 ↔ i32
  "drop-transpose", // `k2 = transpose(k)` → `k2 = k`, preferably before a matmul
  "reshape-target", // one dim of a reshape target: +1, ×2, or another symbol
  "concat-dim", // the dim of a concat or stack
  "axis", // any axis argument: transpose, permute, (un)squeeze, chunk, take, reductions, softmax
  "heads", // a head count that does not divide the model dim: split_heads, MultiheadAttention, ...
  "layer-features", // Linear / LayerNorm / FeedForward in_features off by one
  "rewire", // an argument replaced by another binding of the same element type
  "matmul-swap", // a @ b → b @ a
] as const;
export type MutationKind = (typeof mutationKinds)[number];

export interface Mutation {
  readonly kind: MutationKind;
  readonly description: string;
  readonly program: Program;
}

const lit = (v: number): DimExpr => ({ k: "lit", v });
const op = (o: "+" | "*", a: DimExpr, b: DimExpr): DimExpr => ({ k: "op", op: o, a, b });

function renameSyms(e: DimExpr, from: string, to: string): DimExpr {
  if (e.k === "sym") return e.name === from ? { k: "sym", name: to } : e;
  if (e.k === "op") return { ...e, a: renameSyms(e.a, from, to), b: renameSyms(e.b, from, to) };
  return e;
}
const symsOf = (e: DimExpr): string[] => (e.k === "sym" ? [e.name] : e.k === "op" ? [...symsOf(e.a), ...symsOf(e.b)] : []);

/** Replaces step i's expression. */
const withStep = (p: Program, i: number, expr: Expr): Program => ({ ...p, steps: p.steps.map((s, k) => (k === i ? { ...s, expr } : s)) });

/** The ranks of every name under the first assignment (the program is well-shaped). */
function ranks(p: Program, a: Assignment): Map<string, number> {
  const env = evaluate(p, a);
  return new Map([...env].flatMap(([k, v]) => (isTensor(v) ? [[k, v.shape.length] as const] : [])));
}

/** One random mutation of each kind that applies to `p`. */
export function mutations(p: Program, asg: readonly Assignment[], c: Chooser): Mutation[] {
  const out: Mutation[] = [];
  const rank = ranks(p, asg[0]!);
  const lastDim = (name: string) => {
    const v = evaluate(p, asg[0]!).get(name);
    return v && isTensor(v) ? v.shape[v.shape.length - 1] : undefined;
  };
  const sites = <T>(xs: T[]): T | undefined => (xs.length ? c.pick(xs) : undefined);
  const stepsWith = (pred: (s: Step) => boolean) => p.steps.map((s, i) => [s, i] as const).filter(([s]) => pred(s));

  // swap two dims of an input type
  {
    const inp = sites(p.inputs.filter((i) => i.dims.length >= 2 && new Set(i.dims.map(printDim)).size > 1));
    if (inp) {
      let [i, j] = [0, 0];
      while (printDim(inp.dims[i]!) === printDim(inp.dims[j]!)) [i, j] = [c.int(inp.dims.length), c.int(inp.dims.length)];
      const dims = [...inp.dims];
      [dims[i], dims[j]] = [dims[j]!, dims[i]!];
      out.push({ kind: "swap-input-dims", description: `input ${inp.name}: swap dims ${i} and ${j}`, program: { ...p, inputs: p.inputs.map((x) => (x === inp ? { ...x, dims } : x)) } });
    }
  }
  // drop the leading dim of an input (feed 2-D where 3-D is needed)
  {
    const inp = sites(p.inputs.filter((i) => i.dims.length >= 2 && p.steps.some((s) => uses(s.expr).includes(i.name))));
    if (inp) out.push({ kind: "drop-input-dim", description: `input ${inp.name}: drop dim 0`, program: { ...p, inputs: p.inputs.map((x) => (x === inp ? { ...x, dims: x.dims.slice(1) } : x)) } });
  }
  // change an input's element type
  {
    const inp = sites(p.inputs.filter((i) => i.dtype !== "bool" && p.steps.some((s) => uses(s.expr).includes(i.name))));
    if (inp) {
      const dtype = inp.dtype === "f32" ? "i32" : "f32";
      out.push({ kind: "input-dtype", description: `input ${inp.name}: ${inp.dtype} → ${dtype}`, program: { ...p, inputs: p.inputs.map((x) => (x === inp ? { ...x, dtype } : x)) } });
    }
  }
  // drop a transpose, preferring one whose result feeds a matmul or attention
  {
    const ts = stepsWith((s) => s.expr.k === "transpose");
    const feeding = ts.filter(([s]) => p.steps.some((u) => (u.expr.k === "matmul" || u.expr.k === "sdpa") && uses(u.expr).includes(s.targets[0]!)));
    const site = sites(feeding.length ? feeding : ts);
    if (site) {
      const [s, i] = site;
      out.push({ kind: "drop-transpose", description: `${s.targets[0]} = transpose(...) → alias`, program: withStep(p, i, { k: "alias", x: (s.expr as { x: string }).x }) });
    }
  }
  // change one dim of a reshape target
  {
    const site = sites(stepsWith((s) => s.expr.k === "reshape" && s.expr.shape.length > 0));
    if (site) {
      const [s, i] = site;
      const e = s.expr as Extract<Expr, { k: "reshape" }>;
      const j = c.int(e.shape.length);
      const d = e.shape[j]!;
      const syms = symsOf(d);
      const variants: [string, DimExpr][] = [["+1", op("+", d, lit(1))], ["×2", op("*", d, lit(2))]];
      if (syms.length) {
        const from = c.pick(syms);
        const to = c.pick(["b", "t", "s"].filter((x) => x !== from));
        variants.push([`${from}→${to}`, renameSyms(d, from, to)]);
      }
      if (d.k === "lit") variants.push(["→t", { k: "sym", name: "t" }]);
      const [what, nd] = c.pick(variants);
      const shape = e.shape.map((x, k) => (k === j ? nd : x));
      out.push({ kind: "reshape-target", description: `${s.targets[0]}: reshape target dim ${j} ${what}`, program: withStep(p, i, { ...e, shape }) });
    }
  }
  // change the dim of a concat or stack
  {
    const site = sites(stepsWith((s) => s.expr.k === "concat" || s.expr.k === "stack"));
    if (site) {
      const [s, i] = site;
      const e = s.expr as Extract<Expr, { k: "concat" | "stack" }>;
      const r = (rank.get(e.xs[0]!) ?? 1) + (e.k === "stack" ? 1 : 0);
      const dim = c.range(-r - 1, r);
      out.push({ kind: "concat-dim", description: `${s.targets[0]}: ${e.k} dim ${e.dim ?? 0} → ${dim}`, program: withStep(p, i, { ...e, dim }) });
    }
  }
  // a wrong axis
  {
    const withAxis = stepsWith((s) => ["transpose", "permute", "unsqueeze", "squeeze", "chunk", "take", "reduce", "cumsum"].includes(s.expr.k) || (s.expr.k === "std" && (s.expr.fn === "softmax" || s.expr.fn === "log_softmax")));
    const site = sites(withAxis);
    if (site) {
      const [s, i] = site;
      const e = s.expr;
      const x = uses(e)[0]!;
      const r = rank.get(x) ?? 1;
      const ax = () => c.range(-r - 1, r);
      let m: Expr | undefined;
      if (e.k === "transpose") m = { ...e, dims: [ax(), ax()] };
      else if (e.k === "permute") {
        const dims = [...e.dims];
        dims[c.int(dims.length)] = ax();
        m = { ...e, dims };
      } else if (e.k === "unsqueeze" || e.k === "squeeze" || e.k === "take" || e.k === "chunk") m = { ...e, dim: ax() };
      else if (e.k === "reduce" || e.k === "std" || e.k === "cumsum") m = { ...e, dim: ax() };
      if (m) out.push({ kind: "axis", description: `${s.targets[0]}: ${e.k} axis changed`, program: withStep(p, i, m) });
    }
  }
  // a head count that does not divide the model dim
  {
    const heads = stepsWith((s) => s.expr.k === "split_heads");
    const mhas = p.layers.filter((l) => l.kind === "MultiheadAttention" || l.kind === "TransformerEncoderLayer");
    const pickHead = (D: number) => c.pick([2, 3, 4, 5, 7].filter((n) => D % n !== 0).concat(D + 1));
    if (heads.length && (!mhas.length || c.chance(50))) {
      const [s, i] = c.pick(heads);
      const e = s.expr as Extract<Expr, { k: "split_heads" }>;
      const D = lastDim(e.x) ?? 1;
      const n = pickHead(D);
      out.push({ kind: "heads", description: `${s.targets[0]}: split_heads(…, ${e.n}) → ${n} (last dim ${D})`, program: withStep(p, i, { ...e, n }) });
    } else if (mhas.length) {
      const l = c.pick(mhas);
      const H = pickHead(l.args[0]!);
      out.push({ kind: "heads", description: `${l.name} = ${l.kind}(${l.args[0]}, ${l.args[1]} → ${H})`, program: { ...p, layers: p.layers.map((x) => (x === l ? { ...x, args: x.args.map((a, k) => (k === 1 ? H : a)) } : x)) } });
    }
  }
  // in_features off by one
  {
    const ls = p.layers.filter((l) => l.kind === "Linear" || l.kind === "LayerNorm" || l.kind === "FeedForward");
    if (ls.length) {
      const l = c.pick(ls);
      const n = l.args[0]! + c.pick([1, -1].filter((k) => l.args[0]! + k >= 1));
      out.push({ kind: "layer-features", description: `${l.name} = ${l.kind}(${l.args[0]} → ${n}, …)`, program: { ...p, layers: p.layers.map((x) => (x === l ? { ...x, args: x.args.map((a, k) => (k === 0 ? n : a)) } : x)) } });
    }
  }
  // an argument replaced by another binding of the same element type
  {
    const env = evaluate(p, asg[0]!);
    const dtypeOf = (n: string) => {
      const v = env.get(n);
      return v && isTensor(v) ? v.dtype : undefined;
    };
    const site = sites(stepsWith((s) => uses(s.expr).length > 0 && s.expr.k !== "alias"));
    if (site) {
      const [s, i] = site;
      const from = c.pick(uses(s.expr));
      const defined = [...p.inputs.map((x) => x.name), ...p.steps.slice(0, i).flatMap((x) => x.targets)];
      const to = sites(defined.filter((n) => n !== from && dtypeOf(n) === dtypeOf(from)));
      if (to) out.push({ kind: "rewire", description: `${s.targets.join(", ")}: ${from} → ${to}`, program: withStep(p, i, rename(s.expr, from, to)) });
    }
  }
  // a @ b → b @ a
  {
    const site = sites(stepsWith((s) => s.expr.k === "matmul" && s.expr.a !== s.expr.b));
    if (site) {
      const [s, i] = site;
      const e = s.expr as Extract<Expr, { k: "matmul" }>;
      out.push({ kind: "matmul-swap", description: `${s.targets[0]}: ${e.a} @ ${e.b} → ${e.b} @ ${e.a}`, program: withStep(p, i, { ...e, a: e.b, b: e.a }) });
    }
  }
  return out;
}

/** Every read of `from` in e replaced by `to` (JSON round trip: expressions are plain data). */
function rename(e: Expr, from: string, to: string): Expr {
  return JSON.parse(JSON.stringify(e), (k, v) => ((k === "x" || k === "a" || k === "b" || k === "c" || k === "q" || k === "key" || k === "v" || k === "idx" || k === "mask" || k === "name") && v === from ? to : Array.isArray(v) && (k === "xs" || k === "args") ? v.map((y: unknown) => (y === from ? to : y)) : v)) as Expr;
}

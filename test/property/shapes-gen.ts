// Random well-shaped programs for the shape property tests. Generation tracks CONCRETE shapes:
// every candidate binding is run through the concrete evaluator (concrete-shapes.ts) under
// several assignments of the symbolic dims at once (one small, two large and "generic"), and
// only bindings that are well-shaped under all of them are kept. Two dims count as equal only if
// they are equal under every assignment, which for the low-degree integer polynomials that
// shapes are made of means (with overwhelming probability) equal as polynomials: the generator
// never relies on a coincidence such as t == s.
//
// Random choices come from seeds, one for the parameters and inputs and one per binding, which
// fast-check generates and shrinks (fewer seeds: fewer bindings).
import fc from "fast-check";
import { Evaluator, isTensor, ShapeError, type Val } from "./concrete-shapes.js";
import {
  arithOps, cmpOps, logicOps, unaryFns,
  uses, type Assignment, type DimExpr, type DType, type Expr, type Input, type Layer, type Operand, type Program, type Step, type Sub,
} from "./shapes-program.js";

// ---- choices ------------------------------------------------------------------------------------

/**
 * Random choices from a seed (mulberry32). Each binding of a program draws from its own seed, so
 * fast-check shrinks a program binding by binding: dropping a seed drops a binding, and a smaller
 * seed gives another, usually simpler, binding.
 */
export class Chooser {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  private next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** 0 ≤ n < bound. */
  int(bound: number): number {
    return bound <= 1 ? 0 : Math.floor(this.next() * bound);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
  /** A random order of xs (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

// ---- cases --------------------------------------------------------------------------------------

/** What fast-check generates: seeds for the header and each binding, and the symbols' values. */
export interface Case {
  /** Seed of the parameters and inputs. */
  readonly header: number;
  /** One seed per binding (a binding with no well-shaped candidate is skipped). */
  readonly steps: readonly number[];
  /** Small values (2..8), the sizes a runtime test would use. */
  readonly small: readonly [number, number, number];
  /** Offsets of the two large, generic assignments. */
  readonly g1: readonly [number, number, number];
  readonly g2: readonly [number, number, number];
}

/** Cases for fast-check: up to `maxSteps` bindings. */
export function caseArbitrary(maxSteps = 14): fc.Arbitrary<Case> {
  const off = fc.tuple(fc.nat(40), fc.nat(40), fc.nat(40));
  return fc.record({
    header: fc.nat(),
    steps: fc.array(fc.nat(), { minLength: 1, maxLength: maxSteps }),
    small: fc.tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 2, max: 8 })),
    g1: off,
    g2: off,
  });
}

export const symbols = ["b", "t", "s"] as const;

/**
 * The assignments a case evaluates under. The large ones keep b < t < s far apart (and from the
 * small constants of programs), so that distinct polynomials differ in at least one of them.
 */
export function assignments(c: Case): Assignment[] {
  const mk = (v: readonly number[]): Assignment => ({ b: v[0]!, t: v[1]!, s: v[2]! });
  return [mk(c.small), mk([53 + c.g1[0], 128 + c.g1[1], 331 + c.g1[2]]), mk([601 + c.g2[0], 1223 + c.g2[1], 2477 + c.g2[2]])];
}

// ---- dims known by their values under every assignment ----------------------------------------

type Vals = readonly number[];
const key = (v: Vals) => v.join(",");
const allEqual = (v: Vals) => v.every((x) => x === v[0]);

/**
 * Finds a printable expression for a dim known only by its values: literals for constants, the
 * symbols, and sums, differences, products and exact quotients of expressions found before.
 */
export class DimTable {
  private readonly known = new Map<string, DimExpr | null>();
  private readonly entries: { v: Vals; e: DimExpr }[] = [];
  constructor(private readonly asg: readonly Assignment[]) {
    for (const s of symbols) this.add(asg.map((a) => a[s]!), { k: "sym", name: s });
  }
  add(v: Vals, e: DimExpr): void {
    if (this.known.get(key(v))) return;
    this.known.set(key(v), e);
    if (!allEqual(v)) this.entries.push({ v, e });
  }
  find(v: Vals): DimExpr | undefined {
    if (allEqual(v)) return v[0]! >= 0 ? { k: "lit", v: v[0]! } : undefined;
    const hit = this.known.get(key(v));
    if (hit !== undefined) return hit ?? undefined;
    const lits = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ v: v.map(() => n), e: { k: "lit", v: n } as DimExpr }));
    const ops = ["+", "-", "*", "/"] as const;
    const apply = (op: (typeof ops)[number], a: number, b: number) =>
      op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : b !== 0 && a % b === 0 ? a / b : NaN;
    for (const x of this.entries) {
      for (const y of [...this.entries, ...lits]) {
        for (const op of ops) {
          if (v.every((want, i) => apply(op, x.v[i]!, y.v[i]!) === want)) {
            const e: DimExpr = { k: "op", op, a: x.e, b: y.e };
            this.add(v, e);
            return e;
          }
        }
      }
    }
    this.known.set(key(v), null);
    return undefined;
  }
}

// ---- the generator ------------------------------------------------------------------------------

interface Info {
  readonly name: string;
  readonly dtype: DType;
  readonly rank: number;
  /** dims[i] = the values of dim i under each assignment. */
  readonly dims: readonly Vals[];
}

interface Candidate {
  readonly expr: Expr;
  readonly targets?: number; // > 1 for chunk
  readonly layer?: Omit<Layer, "name">;
}

const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((k) => n % k === 0);

export interface Generated {
  readonly program: Program;
  readonly assignments: readonly Assignment[];
}

export interface GenOptions {
  /**
   * Also generate slices whose bounds may fall outside the dim (PyTorch clamps them). Off by
   * default: the checker gets those wrong (see shapes-bugs.test.ts), and the property would stop
   * at them every run. TFM_SHAPES_GAPS=1 turns it on.
   */
  readonly outOfRangeSlices?: boolean;
}

export function generate(c: Case, opts: GenOptions = {}): Generated {
  return new Gen(c, opts).run();
}

class Gen {
  private c: Chooser;
  private readonly asg: Assignment[];
  private readonly evs: Evaluator[];
  private readonly table: DimTable;
  private readonly params: { name: string; value: number }[] = [];
  private readonly inputs: Input[] = [];
  private readonly layers: Layer[] = [];
  private readonly steps: Step[] = [];
  private readonly vars: string[] = [];
  private n = 0;

  constructor(private readonly cs: Case, private readonly opts: GenOptions) {
    this.c = new Chooser(cs.header);
    this.asg = assignments(cs);
    this.table = new DimTable(this.asg);
    this.evs = [];
  }

  private info(name: string): Info {
    const ts = this.evs.map((ev) => ev.tensor(name));
    const t0 = ts[0]!;
    return { name, dtype: t0.dtype, rank: t0.shape.length, dims: t0.shape.map((_, i) => ts.map((t) => t.shape[i]!)) };
  }

  run(): Generated {
    const c = this.c;
    const nh = c.range(1, 4);
    const d = nh * c.range(1, 6);
    const voc = c.range(2, 40);
    this.params.push({ name: "d", value: d }, { name: "nh", value: nh }, { name: "voc", value: voc });
    const program = { params: this.params, layers: this.layers };
    this.evs.push(...this.asg.map((a) => new Evaluator(program, a)));

    const sym = (name: string): DimExpr => ({ k: "sym", name });
    const dP: DimExpr = { k: "param", name: "d" };
    this.addInput({ name: "x", dtype: "f32", dims: [sym("b"), sym("t"), dP] });
    if (c.chance(40)) this.addInput({ name: "ids", dtype: "i32", dims: [sym("b"), sym("t")] });
    if (c.chance(35)) this.addInput({ name: "mem", dtype: "f32", dims: [sym("b"), sym("s"), dP] });
    const extra = c.int(3);
    const pool: DimExpr[] = [sym("b"), sym("t"), sym("s"), dP, { k: "param", name: "nh" }, { k: "lit", v: 1 }, { k: "lit", v: 1 }, { k: "lit", v: c.range(2, 5) }];
    for (let i = 0; i < extra; i++) {
      const dtype: DType = c.pick(["f32", "f32", "f32", "f32", "i32", "bool"] as const);
      const rank = c.range(1, 4);
      this.addInput({ name: `in${i}`, dtype, dims: Array.from({ length: rank }, () => c.pick(pool)) });
    }

    for (const seed of this.cs.steps) {
      this.c = new Chooser(seed);
      this.step();
    }
    if (this.steps.length === 0) this.accept({ expr: { k: "unary", fn: "exp", x: "x" } });

    const used = new Set(this.steps.flatMap((s) => uses(s.expr)));
    const outputs = this.steps.flatMap((s) => s.targets).filter((t) => !used.has(t));
    return {
      program: { params: [...this.params], inputs: [...this.inputs], layers: [...this.layers], steps: [...this.steps], outputs },
      assignments: this.asg,
    };
  }

  private addInput(i: Input): void {
    this.inputs.push(i);
    for (const ev of this.evs) ev.env.set(i.name, { dtype: i.dtype, shape: i.dims.map((d) => ev.dim(d)) });
    this.vars.push(i.name);
  }

  /** Evaluates a candidate under every assignment; the values if all are well-shaped. */
  private tryEval(cand: Candidate): Val[] | undefined {
    const layer = cand.layer ? ({ ...cand.layer, name: `L${this.layers.length + 1}` } as Layer) : undefined;
    const expr = layer && cand.expr.k === "apply" ? { ...cand.expr, layer: layer.name } : cand.expr;
    const out: Val[] = [];
    for (const ev of this.evs) {
      if (layer) ev.declare(layer);
      try {
        const v = ev.eval(expr);
        const tensors = isTensor(v) ? [v] : v.tuple;
        if (!isTensor(v) && v.tuple.length !== (cand.targets ?? 1)) return undefined;
        if (isTensor(v) && (cand.targets ?? 1) !== 1) return undefined;
        // Keep sizes modest and never empty: the runtime will run these programs.
        if (tensors.some((t) => t.shape.some((n) => n < 1) || t.shape.reduce((a, b) => a * b, 1) > 2 ** 40)) return undefined;
        out.push(v);
      } catch (e) {
        if (e instanceof ShapeError) return undefined;
        throw e;
      }
    }
    return out;
  }

  private accept(cand: Candidate, vals?: Val[]): void {
    const vs = vals ?? this.tryEval(cand);
    if (!vs) throw new Error(`generator bug: ${JSON.stringify(cand.expr)} is ill-shaped`);
    let expr = cand.expr;
    if (cand.layer) {
      const layer = { ...cand.layer, name: `L${this.layers.length + 1}` } as Layer;
      this.layers.push(layer);
      for (const ev of this.evs) ev.declare(layer);
      if (expr.k === "apply") expr = { ...expr, layer: layer.name };
    }
    const targets = Array.from({ length: cand.targets ?? 1 }, () => `v${++this.n}`);
    this.evs.forEach((ev, i) => ev.bind(targets, vs[i]!));
    this.steps.push({ targets, expr });
    this.vars.push(...targets);
  }

  /** One binding: an operation kind at random, then a well-shaped candidate of that kind. */
  private step(): void {
    // Mostly build on the latest bindings, so that programs are chains rather than fans.
    const recent = new Set(this.vars.slice(-3));
    const focus = this.c.chance(65);
    for (let attempt = 0; attempt < 8; attempt++) {
      const kind = this.c.pick(kinds);
      let cands = this.c.shuffle(this.propose(kind));
      if (focus && attempt < 5) cands = cands.filter((cand) => uses(cand.expr).some((u) => recent.has(u)));
      cands = cands.slice(0, 40);
      for (const cand of cands) {
        const vals = this.tryEval(cand);
        if (vals) {
          this.accept(cand, vals);
          return;
        }
      }
    }
  }

  // ---- proposals ----------------------------------------------------------------------------

  private all(): Info[] {
    return this.vars.map((v) => this.info(v));
  }

  private operand(x: Info): Operand {
    return { k: "var", name: x.name };
  }

  private scalar(dtype: DType): Operand {
    const c = this.c;
    return dtype === "i32" && c.chance(60) ? { k: "int", v: c.range(1, 3) } : { k: "float", v: c.pick([0.5, 2.0, 1.0, 1e-5]) };
  }

  /** An axis of a rank-r tensor: in range, sometimes negative. */
  private axis(r: number, extra = 0): number {
    const n = r + extra;
    const a = this.c.int(Math.max(1, n));
    return this.c.chance(40) ? a - n : a;
  }

  /** Printable expressions for every dim of x, or undefined. */
  private exprs(x: Info): DimExpr[] | undefined {
    const out: DimExpr[] = [];
    for (const d of x.dims) {
      const e = this.table.find(d);
      if (!e) return undefined;
      out.push(e);
    }
    return out;
  }

  private propose(kind: Kind): Candidate[] {
    const c = this.c;
    const vars = this.all();
    const f32 = vars.filter((v) => v.dtype === "f32");
    const num = vars.filter((v) => v.dtype !== "bool");
    const bools = vars.filter((v) => v.dtype === "bool");
    const ints = vars.filter((v) => v.dtype === "i32");
    const pairs = (xs: Info[], ys: Info[]) => xs.flatMap((a) => ys.map((b) => [a, b] as const));
    const constLast = (x: Info) => x.rank >= 1 && allEqual(x.dims[x.rank - 1]!);
    const lastOf = (x: Info) => x.dims[x.rank - 1]![0]!;
    switch (kind) {
      case "unary":
        return num.map((x) => ({ expr: { k: "unary", fn: c.pick(unaryFns), x: x.name } }));
      case "std":
        return f32.map((x) => {
          const fn = c.pick(["relu", "gelu", "gelu_tanh", "softmax", "log_softmax"] as const);
          const dim = (fn === "softmax" || fn === "log_softmax") && c.chance(50) ? this.axis(x.rank) : undefined;
          return { expr: { k: "std", fn, x: x.name, ...(dim === undefined ? {} : { dim }) } };
        });
      case "neg":
        return num.map((x) => ({ expr: { k: "neg", x: x.name } }));
      case "not":
        return bools.map((x) => ({ expr: { k: "not", x: x.name } }));
      case "arith":
      case "cmp":
      case "call2": {
        const out: Candidate[] = [];
        const mk = (a: Operand, b: Operand): Expr =>
          kind === "arith" ? { k: "bin", op: c.pick(arithOps), a, b } : kind === "cmp" ? { k: "bin", op: c.pick(cmpOps), a, b } : { k: "call2", fn: c.pick(["pow", "maximum", "minimum"] as const), a, b };
        for (const [a, b] of pairs(num, num)) if (a.dtype === b.dtype || kind === "cmp") out.push({ expr: mk(this.operand(a), this.operand(b)) });
        for (const a of num) out.push({ expr: c.chance(70) ? mk(this.operand(a), this.scalar(a.dtype)) : mk(this.scalar(a.dtype), this.operand(a)) });
        return out;
      }
      case "logic":
        return pairs(bools, bools).map(([a, b]) => ({ expr: { k: "bin", op: c.pick(logicOps), a: this.operand(a), b: this.operand(b) } }));
      case "where": {
        const out: Candidate[] = [];
        for (const m of bools) {
          for (const [a, b] of pairs(num, num)) if (a.dtype === b.dtype) out.push({ expr: { k: "where", c: m.name, a: this.operand(a), b: this.operand(b) } });
          for (const a of num) out.push({ expr: { k: "where", c: m.name, a: this.operand(a), b: c.chance(50) ? { k: "float", v: 0.0 } : this.scalar(a.dtype) } });
        }
        return out;
      }
      case "matmul":
        return pairs(f32, f32).map(([a, b]) => ({ expr: { k: "matmul", a: a.name, b: b.name, infix: c.chance(70) } }));
      case "transpose":
        return vars.filter((x) => x.rank >= 2).map((x) => ({ expr: { k: "transpose", x: x.name, ...(c.chance(40) ? {} : { dims: [this.axis(x.rank), this.axis(x.rank)] as const }) } }));
      case "permute":
        return vars.filter((x) => x.rank >= 2).map((x) => ({ expr: { k: "permute", x: x.name, dims: c.shuffle([...Array(x.rank).keys()]).map((d) => (c.chance(25) ? d - x.rank : d)) } }));
      case "reshape":
        return vars.flatMap((x) => {
          const es = this.exprs(x);
          return es ? this.reshapes(x, es).map((shape) => ({ expr: { k: "reshape", x: x.name, shape } as Expr })) : [];
        });
      case "unsqueeze":
        return vars.map((x) => ({ expr: { k: "unsqueeze", x: x.name, dim: this.axis(x.rank, 1) } }));
      case "squeeze":
        return vars.flatMap((x) => x.dims.flatMap((d, i) => (d.every((n) => n === 1) ? [{ expr: { k: "squeeze", x: x.name, dim: c.chance(40) ? i - x.rank : i } as Expr }] : [])));
      case "concat":
      case "stack": {
        const out: Candidate[] = [];
        for (const x of vars.filter((v) => v.rank >= 1 || kind === "stack")) {
          const dim = this.axis(x.rank, kind === "stack" ? 1 : 0);
          const a = dim < 0 ? dim + x.rank + (kind === "stack" ? 1 : 0) : dim;
          const fits = vars.filter((y) => y.dtype === x.dtype && y.rank === x.rank && y.dims.every((d, i) => (kind === "concat" && i === a) || key(d) === key(x.dims[i]!)));
          const n = c.range(2, 3);
          const xs = [x.name, ...Array.from({ length: n - 1 }, () => c.pick(fits).name)];
          out.push({ expr: { k: kind, xs, ...(c.chance(20) && dim === 0 ? {} : { dim }) } });
        }
        return out;
      }
      case "chunk":
        return vars.flatMap((x) =>
          x.dims.flatMap((d, i) => {
            const ns = [2, 3, 4].filter((n) => d.every((v) => v % n === 0));
            if (!ns.length) return [];
            const n = c.pick(ns);
            const dim = c.chance(40) ? i - x.rank : i;
            return [{ expr: { k: "chunk", x: x.name, n, ...(dim === 0 && c.chance(50) ? {} : { dim }) } as Expr, targets: n }];
          }),
        );
      case "take":
        return pairs(vars.filter((x) => x.rank >= 1), ints).map(([x, ix]) => {
          const dim = this.axis(x.rank);
          return { expr: { k: "take", x: x.name, idx: ix.name, ...(dim === 0 && c.chance(50) ? {} : { dim }) } };
        });
      case "reduce":
        return num.filter((x) => x.rank >= 1).map((x) => {
          const fn = c.pick(x.dtype === "f32" ? (["sum", "mean", "max", "min", "argmax"] as const) : (["sum", "max", "min", "argmax"] as const));
          const dim = c.chance(70) ? this.axis(x.rank) : undefined;
          const keepdim = dim !== undefined && c.chance(60) ? c.chance(60) : undefined;
          return { expr: { k: "reduce", fn, x: x.name, ...(dim === undefined ? {} : { dim }), ...(keepdim === undefined ? {} : { keepdim }) } };
        });
      case "cumsum":
        return num.filter((x) => x.rank >= 1).map((x) => ({ expr: { k: "cumsum", x: x.name, dim: this.axis(x.rank) } }));
      case "cast":
        return vars.map((x) => ({ expr: { k: "cast", x: x.name, dtype: c.pick((["f32", "i32", "bool"] as const).filter((t) => t !== x.dtype)) } }));
      case "arange":
      case "causal_mask": {
        const dims = this.knownDims();
        return dims.map((n) => ({ expr: kind === "arange" ? { k: "arange", n } : { k: "causal_mask", n } }));
      }
      case "fill":
        return vars.flatMap((x) => {
          const es = this.exprs(x);
          if (!es) return [];
          const fn = c.pick(["zeros", "ones", "full"] as const);
          const dtype = c.chance(50) ? undefined : c.pick(["f32", "i32", "bool"] as const);
          return [{ expr: { k: "fill", fn, shape: es.filter(() => c.chance(80)), ...(dtype ? { dtype } : {}) } as Expr }];
        });
      case "index":
        return vars.filter((x) => x.rank >= 1).map((x) => ({ expr: { k: "index", x: x.name, subs: this.subscripts(x) } }));
      case "masked_softmax":
        return pairs(f32, bools).map(([x, m]) => ({ expr: { k: "masked_softmax", x: x.name, mask: m.name } }));
      case "split_heads":
        return f32.filter((x) => x.rank === 3 && constLast(x)).map((x) => ({ expr: { k: "split_heads", x: x.name, n: c.pick(divisors(lastOf(x))) } }));
      case "merge_heads":
        return f32.filter((x) => x.rank === 4).map((x) => ({ expr: { k: "merge_heads", x: x.name } }));
      case "sdpa": {
        const out: Candidate[] = [];
        const qs = f32.filter((x) => x.rank >= 2);
        for (const q of qs) {
          const same = qs.filter((y) => y.rank === q.rank && y.dims.slice(0, -2).every((d, i) => key(d) === key(q.dims[i]!)));
          const k = c.chance(50) ? q : c.pick(same.filter((y) => key(y.dims[y.rank - 1]!) === key(q.dims[q.rank - 1]!)));
          const vs = same.filter((y) => key(y.dims[y.rank - 2]!) === key(k.dims[k.rank - 2]!));
          const v = c.chance(50) ? k : c.pick(vs);
          const mask = bools.length && c.chance(40) ? c.pick(bools).name : undefined;
          out.push({ expr: { k: "sdpa", q: q.name, key: k.name, v: v.name, ...(mask ? { mask } : {}) } });
        }
        return out;
      }
      case "Linear":
      case "LayerNorm":
      case "FeedForward":
        return f32.filter(constLast).map((x) => {
          const D = lastOf(x);
          const reuse = this.layers.filter((l) => l.kind === kind && l.args[0] === D);
          const apply = (layer: string): Expr => ({ k: "apply", layer, args: [x.name] });
          if (reuse.length && c.chance(30)) return { expr: apply(c.pick(reuse).name) };
          const args = kind === "LayerNorm" ? [D] : [D, c.pick([1, 2, 3, 5, 8, D, 2 * D])];
          return { expr: apply(""), layer: { kind, args, ...(kind === "Linear" && c.chance(25) ? { noBias: true } : {}) } };
        });
      case "Embedding":
        return ints.map((x) => ({ expr: { k: "apply", layer: "", args: [x.name] }, layer: { kind: "Embedding", args: [this.params[2]!.value, c.pick([1, 2, 4, 6, this.params[0]!.value])] } }));
      case "MultiheadAttention":
      case "TransformerEncoderLayer":
        return f32.filter((x) => x.rank === 3 && constLast(x)).map((q) => {
          const E = lastOf(q);
          const H = c.pick(divisors(E));
          const mask = bools.length && c.chance(40) ? [c.pick(bools).name] : [];
          if (kind === "TransformerEncoderLayer") return { expr: { k: "apply", layer: "", args: [q.name, ...mask] }, layer: { kind, args: [E, H, c.pick([2, 4, 2 * E])] } };
          const kv = f32.filter((y) => y.rank === 3 && key(y.dims[0]!) === key(q.dims[0]!) && key(y.dims[2]!) === key(q.dims[2]!));
          const k = c.chance(50) ? q : c.pick(kv);
          return { expr: { k: "apply", layer: "", args: [q.name, k.name, k.name, ...mask] }, layer: { kind, args: [E, H] } };
        });
    }
  }

  /** Dims worth naming in arange / causal_mask: symbols, parameters and dims of bindings. */
  private knownDims(): DimExpr[] {
    const out: DimExpr[] = [{ k: "sym", name: "t" }, { k: "sym", name: "b" }, { k: "param", name: "d" }];
    for (const x of this.all()) for (const d of x.dims) {
      const e = this.table.find(d);
      if (e && d.every((n) => n >= 1)) out.push(e);
    }
    return out;
  }

  /** Reshape targets: merge two neighbours, split one dim (heads), flatten, add or drop a 1. */
  private reshapes(x: Info, es: DimExpr[]): DimExpr[][] {
    const c = this.c;
    const mul = (a: DimExpr, b: DimExpr): DimExpr => ({ k: "op", op: "*", a, b });
    const out: DimExpr[][] = [];
    for (let i = 0; i + 1 < es.length; i++) out.push([...es.slice(0, i), mul(es[i]!, es[i + 1]!), ...es.slice(i + 2)]);
    x.dims.forEach((d, i) => {
      const ks = [2, 3, 4, this.params[1]!.value].filter((k) => k > 1 && d.every((v) => v % k === 0));
      if (!ks.length) return;
      const k = c.pick(ks);
      const parts: DimExpr[] = [{ k: "lit", v: k }, allEqual(d) ? { k: "lit", v: d[0]! / k } : { k: "op", op: "/", a: es[i]!, b: { k: "lit", v: k } }];
      if (c.chance(30)) parts.reverse();
      out.push([...es.slice(0, i), ...parts, ...es.slice(i + 1)]);
    });
    if (es.length) out.push([es.reduce((a, b) => mul(a, b))]);
    const at = c.int(es.length + 1);
    out.push([...es.slice(0, at), { k: "lit", v: 1 }, ...es.slice(at)]);
    return out;
  }

  /** Subscripts valid under every assignment: in-range indices and non-empty slices. */
  private subscripts(x: Info): Sub[] {
    const c = this.c;
    const subs: Sub[] = [];
    const n = c.range(1, x.rank);
    const restAt = c.chance(25) ? c.int(n + 1) : -1;
    for (let i = 0; i < n; i++) {
      if (i === restAt) subs.push({ k: "rest" });
      // Subscripts after `...` count from the last dim.
      const dim = restAt >= 0 && i >= restAt ? x.rank - (n - i) : i;
      const m = Math.min(...x.dims[dim]!);
      const form = c.int(3);
      if (form === 0) subs.push({ k: "all" });
      else if (form === 1) {
        const at = c.int(m);
        subs.push({ k: "at", i: c.chance(30) ? at - m : at });
      } else if (this.opts.outOfRangeSlices && c.chance(50)) {
        const r = () => (c.chance(30) ? undefined : c.range(-2 * m - 2, 2 * m + 2));
        const [start, end] = [r(), r()];
        subs.push({ k: "slice", ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }) });
      } else {
        // start in [0, m-1] or [-m, -1]; end after it, within the dim, or open.
        const a = c.int(m);
        const len = c.range(1, m - a);
        const start = c.chance(30) ? undefined : a === 0 && c.chance(50) ? undefined : c.chance(30) ? a - m : a;
        const endAbs = a + len;
        // A negative end counts from the end of EVERY assignment's dim, so only use it for constant dims.
        const end = c.chance(30) || endAbs === m ? (endAbs === m ? undefined : endAbs) : allEqual(x.dims[dim]!) && c.chance(40) ? endAbs - m : endAbs;
        subs.push({ k: "slice", ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }) });
      }
    }
    if (restAt === n) subs.push({ k: "rest" });
    return subs;
  }
}

type Kind = (typeof kinds)[number];
// Weighted by repetition.
const kinds = [
  "unary", "unary", "std", "std", "neg", "not", "arith", "arith", "arith", "arith", "cmp", "cmp", "logic", "call2", "where", "where",
  "matmul", "matmul", "matmul", "transpose", "transpose", "permute", "reshape", "reshape", "reshape", "unsqueeze", "unsqueeze",
  "squeeze", "concat", "concat", "stack", "chunk", "chunk", "take", "reduce", "reduce", "reduce", "cumsum", "cast", "arange", "fill", "index", "index", "index",
  "masked_softmax", "causal_mask", "causal_mask", "split_heads", "split_heads", "merge_heads", "merge_heads", "sdpa", "sdpa",
  "Linear", "Linear", "LayerNorm", "Embedding", "MultiheadAttention", "FeedForward", "TransformerEncoderLayer",
] as const;

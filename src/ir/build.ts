// Lowers the elaborated program to the IR: each typed operation the checker recorded, in order,
// becomes nodes (src/check/elaborated.ts), so the IR's shapes are exactly the checked ones and the
// checker never runs twice. Builtins lower to primitive ops through `lower`, one entry per builtin.
import type { BuiltinName } from "../check/builtins.js";
import { addDim, constDim, constValue, mulDim, subDim, type Dim } from "../core/dim.js";
import type { IndexSub, TypedOp } from "../check/elaborated.js";
import { asTensor, type DType, type SVal } from "../check/shapes/value.js";
import type * as A from "../syntax/ast.js";
import { GraphBuilder, type Attrs, type Graph } from "./graph.js";
import type { BinaryOp as IrBinary, Op } from "./ops.js";
import { pruned, type Phase } from "./phases.js";

const binaryOps: Record<Exclude<A.BinaryOp, "@">, IrBinary> = {
  "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod",
  "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "&&": "and", "||": "or",
};

/** dtype and shape of a checked value as a node (scalars are 0-d). */
function typeOf(v: SVal): { dtype: DType; shape: readonly Dim[] } {
  const t = asTensor(v);
  if (!t) throw new Error(`IR: no tensor type for a ${v.kind}`);
  return { dtype: t.dtype, shape: t.shape };
}

/**
 * The model `name`'s graph from its typed operations. `capture` picks, from the paths of the names
 * bound in the model (`h.0.attn.weights`, in order, the last binding of each), those whose values
 * become extra output ports of their path: the passes and fusion keep outputs (src/ir/capture.ts).
 * `phase` says which call of a model with states written once (`once`) the graph is (phases.ts):
 * `call` (the default) is one call from empty state.
 */
export function lowerOps(name: string, ops: readonly TypedOp[], capture?: (names: readonly string[]) => readonly string[], phase: Phase = "call"): Graph {
  const e = new IrEmitter(name, phase);
  for (const op of ops) e.lower(op);
  if (phase !== "call") return pruned(e.g.finish(), phase === "encode" ? e.onceOutputs : undefined);
  if (capture) {
    for (const n of capture([...e.names.keys()])) {
      const node = e.names.get(n);
      if (node !== undefined && !e.g.outputs.some((p) => p.name === n)) e.g.outputs.push({ name: n, node });
    }
  }
  return e.g.finish();
}

const refOf = (v: SVal): number | undefined => ("ref" in v ? v.ref : undefined);

export class IrEmitter {
  readonly g: GraphBuilder;
  private readonly consts = new Map<string, number>();
  /** The node of each elaborated value, by its ref. */
  private readonly nodes = new Map<number, number>();
  /** The node of each name bound in the model, by its path (the last binding wins). */
  readonly names = new Map<string, number>();
  /** The states written once (`once`), by the ref of their value: their paths. */
  private readonly onceStates = new Map<number, string>();
  /** `encode`: the states written once, as the output ports of their paths. */
  readonly onceOutputs: string[] = [];

  constructor(name: string, private readonly phase: Phase = "call") {
    this.g = new GraphBuilder(name);
  }

  lower(op: TypedOp): void {
    this.g.site = op.site;
    switch (op.kind) {
      case "input": return this.input(op.name, op.out);
      case "weight": return this.weight(op.name, op.transposed, op.out);
      case "state": return this.state(op.name, op.axis, op.out);
      case "output": return this.output(op.name, op.value);
      case "name": {
        const ref = refOf(op.value);
        const id = ref === undefined ? undefined : this.nodes.get(ref);
        if (id !== undefined) this.names.set(op.name, id);
        return;
      }
      case "unary": return this.unary(op.op, op.x, op.out);
      case "binary": return this.binary(op.op, op.a, op.b, op.out);
      case "builtin": return void lower[op.name](this, op.args, op.out);
      case "index": return this.index(op.x, op.subs, op.out);
      default: {
        const never: never = op;
        return never;
      }
    }
  }

  /** The node computing `v`; compile-time scalars become (shared) constants. */
  node(v: SVal): number {
    const ref = refOf(v);
    if (ref !== undefined) {
      const id = this.nodes.get(ref);
      if (id === undefined) throw new Error(`IR: value ${ref} is used before the operation that computes it`);
      return id;
    }
    switch (v.kind) {
      case "int": return this.constant(constValue(v.dim) ?? v.dim, "i32");
      case "float": return this.constant(v.value ?? NaN, "f32");
      case "bool": return this.constant(v.value ?? false, "bool");
      default: throw new Error(`IR: a ${v.kind} value has no node`);
    }
  }

  constant(value: number | boolean | Dim, dtype: DType): number {
    // -0 and 0 are different constants (x - 0 is x; x - -0 is x + 0).
    const key = `${dtype}:${typeof value === "object" ? JSON.stringify([...value.terms]) : Object.is(value, -0) ? "-0" : String(value)}`;
    let id = this.consts.get(key);
    if (id === undefined) this.consts.set(key, (id = this.g.add("const", [], { value }, dtype, [])));
    return id;
  }

  /** `v`'s node converted to `dtype` if needed; compile-time scalars become constants of `dtype`. */
  as(v: SVal, dtype: DType): number {
    if (refOf(v) === undefined) {
      const known = v.kind === "int" ? constValue(v.dim) : v.kind === "float" || v.kind === "bool" ? v.value : undefined;
      if (known !== undefined) return this.constant(dtype === "bool" ? Boolean(known) : Number(known), dtype);
    }
    const id = this.node(v);
    const n = this.g.node(id);
    return n.dtype === dtype ? id : this.g.add("cast", [id], {}, dtype, n.shape);
  }

  /** Adds the node computing `result` (an elaborated value) and returns `result`. */
  emit(result: SVal, op: Op, inputs: readonly number[], attrs: Attrs = {}): SVal {
    const { dtype, shape } = typeOf(result);
    return this.bind(result, this.g.add(op, inputs, attrs, dtype, shape));
  }

  bind(result: SVal, id: number): SVal {
    const ref = refOf(result);
    if (ref === undefined) throw new Error("IR: an operation's result has no ref");
    this.nodes.set(ref, id);
    return result;
  }

  private input(name: string, v: SVal): void {
    const out = this.emit(v, "input", [], { name });
    this.g.inputs.push({ name, node: this.node(out) });
  }

  /**
   * A state's value at the start of the call: an input port, named by its path. A state written
   * once (no `past` axis) is an input only in the `step` phase, an ordinary one: the calls from
   * empty state never read it (`once` is its value there).
   */
  private state(name: string, axis: number, v: SVal): void {
    if (axis < 0) {
      const ref = refOf(v);
      if (ref !== undefined) this.onceStates.set(ref, name);
      if (this.phase === "step") this.input(name, v);
      return;
    }
    this.input(name, v);
    this.g.states.push({ name, axis });
  }

  /**
   * `once(state, x)`: x on a call from empty state (`call`, `encode`: in `encode` also the output
   * port of the state's path), the state's input on a later call (`step`), so that what computes
   * x is dead there.
   */
  once(state: SVal, x: SVal, result: SVal): SVal {
    const ref = refOf(state);
    const name = ref === undefined ? undefined : this.onceStates.get(ref);
    if (name === undefined) throw new Error("IR: once of a value that is not a state written once");
    if (this.phase === "step") return this.bind(result, this.node(state));
    const id = this.as(x, typeOf(result).dtype);
    if (this.phase === "encode") {
      this.g.outputs.push({ name, node: id });
      this.onceOutputs.push(name);
    }
    return this.bind(result, id);
  }

  /** `append(cache, x)`: the state's next value, an output port of its name. */
  append(cache: SVal, x: SVal, result: SVal): SVal {
    const node = this.g.node(this.node(cache));
    const state = this.g.states.find((s) => s.name === node.attrs.name && node.op === "input");
    if (!state) throw new Error("IR: append to a value that is not a state");
    const out = this.emit(result, "append", [this.node(cache), this.as(x, node.dtype)], { axis: state.axis });
    this.g.outputs.push({ name: state.name, node: this.node(out) });
    return out;
  }

  private weight(name: string, transposed: boolean, v: SVal): void {
    const { dtype, shape } = typeOf(v);
    this.bind(v, this.g.weight(name, transposed, dtype, shape));
  }

  private output(name: string, v: SVal): void {
    this.g.outputs.push({ name, node: this.node(v) });
  }

  private unary(op: A.UnaryOp, x: SVal, result: SVal): void {
    this.emit(result, op === "-" ? "neg" : "not", [this.as(x, typeOf(result).dtype)]);
  }

  private binary(op: A.BinaryOp, a: SVal, b: SVal, result: SVal): void {
    if (op === "@") {
      this.emit(result, "matmul", [this.node(a), this.node(b)]);
      return;
    }
    const out = typeOf(result).dtype;
    const logical = op === "&&" || op === "||";
    const comparison = ["==", "!=", "<", "<=", ">", ">="].includes(op);
    const operand = logical ? "bool" : comparison ? common(a, b) : out;
    this.emit(result, binaryOps[op], [this.as(a, operand), this.as(b, operand)]);
  }

  private index(x: SVal, subs: readonly IndexSub[], result: SVal): void {
    const t = typeOf(x);
    const rank = t.shape.length;
    const named = subs.filter((s) => s.t !== "rest").length;
    let id = this.node(x);
    let shape = [...t.shape];
    let k = 0;
    const bound = (v: SVal | undefined, size: Dim, dflt: Dim): Dim => {
      if (!v || v.kind !== "int") return dflt;
      const c = constValue(v.dim);
      // A negative index counts from the end: size + c, symbolic when the size is.
      const d = c !== undefined && c < 0 ? addDim(size, constDim(c)) : v.dim;
      const n = constValue(size);
      const cd = constValue(d);
      return n !== undefined && cd !== undefined ? constDim(Math.max(0, Math.min(cd, n))) : d;
    };
    for (const s of subs) {
      if (s.t === "rest") {
        k += rank - named;
        continue;
      }
      const size = shape[k]!;
      const [start, end] = s.t === "at" ? [bound(s.v, size, constDim(0)), undefined] : [bound(s.start, size, constDim(0)), bound(s.end, size, size)];
      const stop = end ?? addOne(start);
      shape = shape.map((d, i) => (i === k ? subDim(stop, start) : d));
      id = this.g.add("slice", [id], { axis: k, start, end: stop }, t.dtype, shape);
      k++;
    }
    const r = typeOf(result);
    if (r.shape.length !== shape.length) id = this.g.add("reshape", [id], {}, r.dtype, r.shape);
    this.bind(result, id);
  }
}

// Through dim.ts's arithmetic, so the results are in its normal form (sorted, no zero terms).
const addOne = (d: Dim): Dim => addDim(d, constDim(1));

/** The dtype both sides of a comparison are brought to. */
function common(a: SVal, b: SVal): DType {
  const [x, y] = [asTensor(a)!, asTensor(b)!];
  if (!x.weak) return y.weak || x.dtype === y.dtype ? x.dtype : "f32";
  if (!y.weak) return y.dtype;
  return x.dtype === "f32" || y.dtype === "f32" ? "f32" : x.dtype;
}

type Lowering = (e: IrEmitter, args: readonly SVal[], result: SVal) => SVal;

const intArg = (v: SVal | undefined): number => (v?.kind === "int" ? constValue(v.dim) ?? 0 : 0);
const axisOf = (v: SVal | undefined, rank: number): number => {
  const a = intArg(v);
  return a < 0 ? a + rank : a;
};
const rankOf = (v: SVal) => typeOf(v).shape.length;

const unary = (op: Op): Lowering => (e, [x], r) => e.emit(r, op, [e.as(x!, typeOf(r).dtype)]);
const binary = (op: Op): Lowering => (e, [a, b], r) => e.emit(r, op, [e.as(a!, typeOf(r).dtype), e.as(b!, typeOf(r).dtype)]);
const reduce = (op: Op): Lowering => (e, [x, dim, keep], r) => e.emit(r, op, [e.node(x!)], { axis: axisOf(dim, rankOf(x!)), keepdim: keep?.kind === "bool" && keep.value === true });
const reshape: Lowering = (e, [x], r) => e.emit(r, "reshape", [e.node(x!)]);
const fill = (value: (args: readonly SVal[], e: IrEmitter, dtype: DType) => number): Lowering => (e, args, r) => {
  const { dtype } = typeOf(r);
  return e.emit(r, "expand", [value(args, e, dtype)]);
};

/** Every builtin as primitive ops. */
export const lower: Record<BuiltinName, Lowering> = {
  exp: unary("exp"),
  log: unary("log"),
  sqrt: unary("sqrt"),
  rsqrt: unary("rsqrt"),
  tanh: unary("tanh"),
  erf: unary("erf"),
  sigmoid: unary("sigmoid"),
  abs: unary("abs"),
  sin: unary("sin"),
  cos: unary("cos"),
  pow: binary("pow"),
  maximum: binary("maximum"),
  minimum: binary("minimum"),
  where: (e, [c, a, b], r) => e.emit(r, "where", [e.as(c!, "bool"), e.as(a!, typeOf(r).dtype), e.as(b!, typeOf(r).dtype)]),
  matmul: (e, [a, b], r) => e.emit(r, "matmul", [e.node(a!), e.node(b!)]),
  transpose: (e, [x, d0, d1], r) => {
    const n = rankOf(x!);
    const perm = Array.from({ length: n }, (_, i) => i);
    const [i, j] = [axisOf(d0, n), axisOf(d1, n)];
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    return e.emit(r, "permute", [e.node(x!)], { perm });
  },
  permute: (e, [x, dims], r) => {
    const n = rankOf(x!);
    const perm = dims?.kind === "list" ? dims.items.map((d) => axisOf(d, n)) : [];
    return e.emit(r, "permute", [e.node(x!)], { perm });
  },
  reshape,
  unsqueeze: reshape,
  squeeze: reshape,
  expand: (e, [x], r) => e.emit(r, "expand", [e.as(x!, typeOf(r).dtype)]),
  concat: (e, [xs, dim], r) => {
    const items = xs?.kind === "list" ? xs.items : [];
    return e.emit(r, "concat", items.map((x) => e.as(x, typeOf(r).dtype)), { axis: axisOf(dim, rankOf(r)) });
  },
  stack: (e, [xs, dim], r) => {
    const items = xs?.kind === "list" ? xs.items : [];
    const { dtype, shape } = typeOf(r);
    const axis = axisOf(dim, shape.length);
    const one = shape.map((d, i) => (i === axis ? constDim(1) : d));
    const parts = items.map((x) => e.g.add("reshape", [e.as(x, dtype)], {}, dtype, one));
    return e.emit(r, "concat", parts, { axis });
  },
  chunk: (e, [x, , dim], r) => {
    if (r.kind !== "tuple") return r;
    const axis = axisOf(dim, rankOf(x!));
    const id = e.node(x!);
    return {
      kind: "tuple",
      items: r.items.map((part, i) => {
        const size = typeOf(part).shape[axis]!;
        return e.emit(part, "slice", [id], { axis, start: mulDim(constDim(i), size), end: mulDim(constDim(i + 1), size) });
      }),
    };
  },
  append: (e, [cache, x], r) => e.append(cache!, x!, r),
  once: (e, [state, x], r) => e.once(state!, x!, r),
  take: (e, [x, ix, dim], r) => e.emit(r, "gather", [e.node(x!), e.as(ix!, "i32")], { axis: axisOf(dim, rankOf(x!)) }),
  sum: reduce("sum"),
  mean: reduce("mean"),
  max: reduce("max"),
  min: reduce("min"),
  argmax: reduce("argmax"),
  cumsum: (e, [x, dim], r) => e.emit(r, "cumsum", [e.node(x!)], { axis: axisOf(dim, rankOf(x!)) }),
  cast: (e, [x], r) => e.emit(r, "cast", [e.node(x!)]),
  arange: (e, _args, r) => e.emit(r, "arange", []),
  zeros: fill((_a, e, dtype) => e.constant(0, dtype)),
  ones: fill((_a, e, dtype) => e.constant(1, dtype)),
  full: fill((args, e, dtype) => e.as(args[1]!, dtype)),
  dropout: (e, [x, p], r) => e.emit(r, "dropout", [e.node(x!)], { p: p?.kind === "float" ? p.value ?? 0 : 0 }),
};

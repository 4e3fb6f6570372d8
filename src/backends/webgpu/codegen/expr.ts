// The value of a graph node at one element, as WGSL statements: the heart of every kernel. A kernel
// asks for `value(node, idx)` with idx one u32 expression per dim of the node; the emitter walks
// the node's inputs back to the kernel's leaves (buffers it reads, or values another part of the
// kernel computed: a matmul's accumulator, a row's reduction), turning views into index
// arithmetic (reshape, permute, slice, expand), broadcasting into dropped or zeroed indices, and
// each elementwise op into its WGSL (scalar.ts). Every value is bound to a generated `let` and
// memoized per (node, index), so a value used twice (x in x·x·x) is computed once.
//
// The rules are one table keyed by op: a new op does not compile until it says how it evaluates
// at an element (or that it cannot: matmul and reductions are whole kernels, never expressions).
import { addDim, constDim, constValue, showDim, symDim, type Dim } from "../../../core/dim.js";
import type { Graph, Node } from "../../../ir/graph.js";
import type { BinaryOp, Op, UnaryOp } from "../../../ir/ops.js";
import { addU, delinearize, isOne, linearize, type SizeTable } from "./sizes.js";
import { binaryWgsl, castWgsl, unaryWgsl } from "./scalar.js";
import { literal, scalarType } from "./wgsl.js";

/** Statements at one nesting level, with the values already computed there (and in enclosing levels). */
export class Block {
  readonly lines: string[] = [];
  private readonly memo = new Map<string, string>();
  constructor(readonly indent: string, private readonly parent?: Block) {}

  child(): Block {
    return new Block(this.indent + "  ", this);
  }

  find(key: string): string | undefined {
    return this.memo.get(key) ?? this.parent?.find(key);
  }

  remember(key: string, name: string): void {
    this.memo.set(key, name);
  }

  line(s: string): void {
    this.lines.push(this.indent + s);
  }

  /** A child block's lines, already indented, inside `head { ... }`. */
  nest(head: string, inner: Block): void {
    this.line(`${head} {`);
    this.lines.push(...inner.lines);
    this.line("}");
  }

  text(): string {
    return this.lines.join("\n");
  }
}

/** How a kernel provides a node it does not compute from its inputs: returns the value at idx. */
export type Leaf = (b: Block, idx: readonly string[]) => string;

/** The size symbol of the first word of a slot's values (bound by the program per run). */
export const errorBase = (slot: number): string => `@errors:${slot}`;

/**
 * Gather nodes that can fail, each with a slot in the run's error buffer: word 2·slot holds the
 * position of the first bad index (0xffffffff when none; atomicMin over the positions), and from
 * word `@errors:slot` on (errorBase: after every slot's two words and the earlier slots' values,
 * bound per run) one word per position of the indices, where a thread that meets a bad index
 * stores it. The value of the first bad index is then the word at that base plus its position:
 * race-free (every thread reading that position stores the same value), in the gather's own
 * dispatch, whichever buffer the indices were in, or none (indices computed in the kernel).
 */
export class ErrorSlots {
  readonly nodes: number[] = [];
  slot(node: number): number {
    const i = this.nodes.indexOf(node);
    if (i >= 0) return i;
    this.nodes.push(node);
    return this.nodes.length - 1;
  }
}

export class Emitter {
  private next = 0;
  /** Error slots this kernel writes (so it binds the error buffer). */
  readonly usedSlots = new Set<number>();

  constructor(readonly g: Graph, readonly sizes: SizeTable, readonly leaves: ReadonlyMap<number, Leaf>, readonly errors: ErrorSlots) {}

  /**
   * A new name: a short lowercase prefix and a number. The names kernels write themselves (`gi`,
   * `row`, `kbase`, `in0`, ...) never end in a digit after one of these prefixes, so never clash.
   */
  fresh(prefix = "t"): string {
    return `${prefix}${this.next++}`;
  }

  /** Binds `expr` to a new `let` in `b`. */
  bind(b: Block, expr: string): string {
    if (/^[a-z]+[0-9]*$/.test(expr) || /^\(?-?[0-9.e+-]+[fiu]\)?$/.test(expr) || expr === "true" || expr === "false") return expr;
    const name = this.fresh();
    b.line(`let ${name} = ${expr};`);
    return name;
  }

  /** The value of node `id` at `idx` (one u32 expression per dim of the node). */
  value(b: Block, id: number, idx: readonly string[]): string {
    const key = `${id}@${idx.join(",")}`;
    const known = b.find(key);
    if (known !== undefined) return known;
    const leaf = this.leaves.get(id);
    const node = this.g.nodes[id]!;
    const v = leaf ? leaf(b, idx) : rules[node.op](this, b, node, idx);
    const name = this.bind(b, v);
    b.remember(key, name);
    return name;
  }

  /** The value of `node`'s input `k` at the index of `node`'s element idx, broadcasting as NumPy. */
  operand(b: Block, node: Node, k: number, idx: readonly string[]): string {
    const x = this.g.nodes[node.inputs[k]!]!;
    return this.value(b, x.id, broadcastIndex(x.shape, idx));
  }

  ref(d: Dim): string {
    return this.sizes.ref(d);
  }
}

/** The index into an operand of `shape` of the broadcast result's element idx (aligned at the last dim). */
export function broadcastIndex(shape: readonly Dim[], idx: readonly string[]): string[] {
  const off = idx.length - shape.length;
  return shape.map((d, i) => (isOne(d) ? "0u" : idx[off + i]!));
}

type Rule = (e: Emitter, b: Block, node: Node, idx: readonly string[]) => string;

const notAnExpression = (what: string): Rule => (_e, _b, node) => {
  throw new Error(`webgpu codegen: %${node.id} (${node.op}) is ${what}, not an element expression`);
};

const sameDim = (a: Dim, b: Dim) => showDim(a) === showDim(b);

const unary: Rule = (e, b, node, idx) => {
  const x = e.g.nodes[node.inputs[0]!]!;
  return unaryWgsl[node.op as UnaryOp](e.operand(b, node, 0, idx), scalarType(x.dtype));
};

const binary: Rule = (e, b, node, idx) => {
  const x = e.g.nodes[node.inputs[0]!]!;
  if (scalarType(x.dtype) === "f32") {
    // An operand that is a literal ±0: a compiler that assumes no NaN, no ∞ and no signed zeros
    // (SwiftShader) folds `x * 0.0` to 0, `x + 0.0` to x and `0.0 - x` to -x; the CPU's results are
    // computed on the bits instead (no float op to fold): NaN for NaN and ±∞ times 0, and the IEEE zeros.
    const zero = (k: number) => {
      const c = e.g.nodes[node.inputs[k]!]!;
      return isZeroLiteral(c) ? (Object.is(c.attrs.value, -0) ? "-0" : "+0") : undefined;
    };
    const [z0, z1] = [zero(0), zero(1)];
    const other = (k: number) => e.operand(b, node, k, idx);
    if (node.op === "mul" && (z0 || z1)) return `tfm_mulzero(${other(z1 ? 0 : 1)}, ${(z1 ?? z0) === "-0" ? "0x80000000u" : "0u"})`;
    if (node.op === "add" && (z0 === "+0" || z1 === "+0")) return `tfm_addzero(${other(z1 === "+0" ? 0 : 1)})`;
    if (node.op === "sub" && z1 === "-0") return `tfm_addzero(${other(0)})`;
    if (node.op === "sub" && z0 === "+0") return `tfm_zerosub(${other(1)})`;
  }
  return binaryWgsl[node.op as BinaryOp](e.operand(b, node, 0, idx), e.operand(b, node, 1, idx), scalarType(x.dtype));
};

/** A constant ±0 written into the kernel as a literal (a compile-time constant to the WGSL compiler). */
const isZeroLiteral = (n: Node): boolean => n.op === "const" && n.attrs.value === 0 && n.shape.every(isOne);

const rules: Record<Op, Rule> = {
  input: notAnExpression("a model input (a kernel leaf)"),
  weight: notAnExpression("a weight (a kernel leaf)"),
  const: (e, _b, node) => {
    const v = node.attrs.value!;
    const t = scalarType(node.dtype);
    if (typeof v !== "object") return literal(t, v);
    const s = e.ref(v); // a size known at run time
    return t === "f32" ? `f32(${s})` : t === "i32" ? `i32(${s})` : `(${s} != 0u)`;
  },
  arange: (_e, _b, _node, idx) => `i32(${idx[0]})`,
  neg: unary, not: unary, exp: unary, log: unary, sqrt: unary, rsqrt: unary, tanh: unary, erf: unary, sigmoid: unary, abs: unary, sin: unary, cos: unary,
  add: binary, sub: binary, mul: binary, div: binary, mod: binary, pow: binary, maximum: binary, minimum: binary,
  eq: binary, ne: binary, lt: binary, le: binary, gt: binary, ge: binary, and: binary, or: binary,
  cast: (e, b, node, idx) => castWgsl(e.operand(b, node, 0, idx), scalarType(e.g.nodes[node.inputs[0]!]!.dtype), scalarType(node.dtype)),
  where: (e, b, node, idx) => `select(${e.operand(b, node, 2, idx)}, ${e.operand(b, node, 1, idx)}, ${e.operand(b, node, 0, idx)})`,
  matmul: notAnExpression("a matmul (a kernel of its own)"),
  sum: notAnExpression("a reduction"),
  mean: notAnExpression("a reduction"),
  max: notAnExpression("a reduction"),
  min: notAnExpression("a reduction"),
  argmax: notAnExpression("a reduction"),
  cumsum: notAnExpression("a scan (a kernel of its own)"),
  reshape: (e, b, node, idx) => {
    const x = e.g.nodes[node.inputs[0]!]!;
    const from = x.shape, to = node.shape;
    // Dims equal at the front and at the back keep their index; only the middle is re-split.
    let p = 0;
    while (p < from.length && p < to.length && sameDim(from[p]!, to[p]!)) p++;
    let q = 0;
    while (q < from.length - p && q < to.length - p && sameDim(from[from.length - 1 - q]!, to[to.length - 1 - q]!)) q++;
    const midTo = to.slice(p, to.length - q), midFrom = from.slice(p, from.length - q);
    const flat = e.bind(b, linearize(e.sizes, idx.slice(p, to.length - q), midTo));
    const inner = delinearize(e.sizes, flat, midFrom);
    return e.value(b, x.id, [...idx.slice(0, p), ...inner, ...idx.slice(to.length - q)]);
  },
  permute: (e, b, node, idx) => {
    const perm = node.attrs.perm!;
    const inIdx = new Array<string>(perm.length);
    perm.forEach((p, i) => (inIdx[p] = idx[i]!));
    return e.value(b, node.inputs[0]!, inIdx);
  },
  slice: (e, b, node, idx) => {
    const ax = node.attrs.axis!;
    return e.value(b, node.inputs[0]!, idx.map((i, k) => (k === ax ? addU(i, e.ref(node.attrs.start!)) : i)));
  },
  expand: (e, b, node, idx) => e.value(b, node.inputs[0]!, broadcastIndex(e.g.nodes[node.inputs[0]!]!.shape, idx)),
  dropout: (e, b, node, idx) => e.value(b, node.inputs[0]!, idx),
  concat: (e, b, node, idx) => {
    // if (i < end₀) { piece 0 } else if (i < end₁) { piece 1 } ... else { last piece }
    const ax = node.attrs.axis!;
    const out = e.fresh("c");
    b.line(`var ${out}: ${scalarType(node.dtype)};`);
    const pieces = node.inputs.map((id) => e.g.nodes[id]!);
    let start = constDim(0);
    pieces.forEach((x, j) => {
      const end = addDim(start, x.shape[ax]!);
      const last = j === pieces.length - 1;
      const cond = `(${idx[ax]} < ${e.ref(end)})`;
      b.line(j === 0 ? (last ? "{" : `if ${cond} {`) : last ? "} else {" : `} else if ${cond} {`);
      const inner = b.child();
      const i = constValue(start) === 0 ? idx[ax]! : `(${idx[ax]} - ${e.ref(start)})`;
      inner.line(`${out} = ${e.value(inner, x.id, idx.map((v, k) => (k === ax ? i : v)))};`);
      b.lines.push(...inner.lines);
      start = end;
    });
    b.line("}");
    return out;
  },
  append: (e, b, node, idx) => rules.concat(e, b, node, idx),
  gather: (e, b, node, idx) => {
    const [x, ind] = [e.g.nodes[node.inputs[0]!]!, e.g.nodes[node.inputs[1]!]!];
    const ax = node.attrs.axis!;
    const ri = ind.shape.length;
    const at = idx.slice(ax, ax + ri);
    const v = e.value(b, ind.id, at);
    const size = e.ref(x.shape[ax]!);
    // As the CPU's gather: an index outside [0, size), negative ones too, is an error (TFM6001).
    const ok = e.bind(b, `(${v} >= 0i && u32(${v}) < ${size})`);
    const slot = e.errors.slot(node.id);
    e.usedSlots.add(slot);
    const q = e.fresh();
    b.line(`if (!${ok}) { let ${q} = ${linearize(e.sizes, at, ind.shape)}; atomicMin(&err[${2 * slot}], ${q}); atomicStore(&err[${e.ref(symDim(errorBase(slot)))} + ${q}], bitcast<u32>(${v})); }`);
    const i = e.bind(b, `select(0u, u32(${v}), ${ok})`);
    return e.value(b, x.id, [...idx.slice(0, ax), i, ...idx.slice(ax + ri)]);
  },
};

// The program representation the shape property tests generate, and its printer to .tfm text.
// One program is a model with compile-time parameters, inputs with symbolic dims (b, t, s),
// layer declarations and a sequence of bindings, each applying ONE operation to earlier names
// and literals. The text handed to the checker is printed from this representation, and the
// independent concrete evaluator (concrete-shapes.ts) runs the same representation, so the
// two see the same program.

export type DType = "f32" | "i32" | "bool";

/** An integer expression: a reshape target, `arange(n)`, a dim of an input type, ... */
export type DimExpr =
  | { readonly k: "sym"; readonly name: string } // a symbolic dim introduced by an input type
  | { readonly k: "param"; readonly name: string } // a model parameter
  | { readonly k: "lit"; readonly v: number }
  | { readonly k: "op"; readonly op: "+" | "-" | "*" | "/"; readonly a: DimExpr; readonly b: DimExpr };

/** An operand of an elementwise operation: a binding, or a scalar literal (which broadcasts). */
export type Operand = { readonly k: "var"; readonly name: string } | { readonly k: "float"; readonly v: number } | { readonly k: "int"; readonly v: number };

/** One subscript of `x[...]`. */
export type Sub = { readonly k: "all" } | { readonly k: "rest" } | { readonly k: "at"; readonly i: number } | { readonly k: "slice"; readonly start?: number; readonly end?: number };

export const unaryFns = ["exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "abs", "sin", "cos"] as const;
export type UnaryFn = (typeof unaryFns)[number];
export const arithOps = ["+", "-", "*", "/"] as const;
export const cmpOps = ["<", "<=", ">", ">=", "==", "!="] as const;
export const logicOps = ["&&", "||"] as const;
export type BinOp = (typeof arithOps)[number] | (typeof cmpOps)[number] | (typeof logicOps)[number];
export type ReduceFn = "sum" | "mean" | "max" | "min" | "argmax";
/** Standard-library functions of one f32 tensor (and an optional axis). */
export type StdFn = "relu" | "gelu" | "gelu_tanh" | "softmax" | "log_softmax";

export type Expr =
  | { readonly k: "alias"; readonly x: string }
  | { readonly k: "unary"; readonly fn: UnaryFn; readonly x: string }
  | { readonly k: "neg"; readonly x: string }
  | { readonly k: "not"; readonly x: string }
  | { readonly k: "bin"; readonly op: BinOp; readonly a: Operand; readonly b: Operand }
  | { readonly k: "call2"; readonly fn: "pow" | "maximum" | "minimum"; readonly a: Operand; readonly b: Operand }
  | { readonly k: "where"; readonly c: string; readonly a: Operand; readonly b: Operand }
  | { readonly k: "matmul"; readonly a: string; readonly b: string; readonly infix: boolean }
  | { readonly k: "transpose"; readonly x: string; readonly dims?: readonly [number, number] }
  | { readonly k: "permute"; readonly x: string; readonly dims: readonly number[] }
  | { readonly k: "reshape"; readonly x: string; readonly shape: readonly DimExpr[] }
  | { readonly k: "unsqueeze" | "squeeze"; readonly x: string; readonly dim: number }
  | { readonly k: "concat" | "stack"; readonly xs: readonly string[]; readonly dim?: number }
  | { readonly k: "chunk"; readonly x: string; readonly n: number; readonly dim?: number }
  | { readonly k: "take"; readonly x: string; readonly idx: string; readonly dim?: number }
  | { readonly k: "reduce"; readonly fn: ReduceFn; readonly x: string; readonly dim?: number; readonly keepdim?: boolean }
  | { readonly k: "cumsum"; readonly x: string; readonly dim: number }
  | { readonly k: "cast"; readonly x: string; readonly dtype: DType }
  | { readonly k: "arange"; readonly n: DimExpr }
  | { readonly k: "fill"; readonly fn: "zeros" | "ones" | "full"; readonly shape: readonly DimExpr[]; readonly dtype?: DType }
  | { readonly k: "index"; readonly x: string; readonly subs: readonly Sub[] }
  | { readonly k: "std"; readonly fn: StdFn; readonly x: string; readonly dim?: number }
  | { readonly k: "masked_softmax"; readonly x: string; readonly mask: string }
  | { readonly k: "causal_mask"; readonly n: DimExpr }
  | { readonly k: "split_heads"; readonly x: string; readonly n: number }
  | { readonly k: "merge_heads"; readonly x: string }
  | { readonly k: "sdpa"; readonly q: string; readonly key: string; readonly v: string; readonly mask?: string }
  | { readonly k: "apply"; readonly layer: string; readonly args: readonly string[] };

export type LayerKind = "Linear" | "LayerNorm" | "Embedding" | "MultiheadAttention" | "FeedForward" | "TransformerEncoderLayer";

/**
 * A layer declaration. `args` are the block's compile-time arguments, all integers:
 * Linear(in, out), LayerNorm(n), Embedding(num, dim), MultiheadAttention(embed, heads),
 * FeedForward(d_model, d_ff), TransformerEncoderLayer(d_model, nhead, dim_feedforward).
 */
export interface Layer {
  readonly name: string;
  readonly kind: LayerKind;
  readonly args: readonly number[];
  /** Linear only: `bias=false`. */
  readonly noBias?: boolean;
}

export interface Input {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly DimExpr[];
}

export interface Step {
  /** One name, or several for `a, b = chunk(...)`. */
  readonly targets: readonly string[];
  readonly expr: Expr;
}

export interface Program {
  /** Model parameters with their (default) values. */
  readonly params: readonly { readonly name: string; readonly value: number }[];
  readonly inputs: readonly Input[];
  readonly layers: readonly Layer[];
  readonly steps: readonly Step[];
  /** Bindings (or inputs) output with `output name`. */
  readonly outputs: readonly string[];
}

/** Symbol values for one run: `b`, `t`, `s` → sizes. */
export type Assignment = Readonly<Record<string, number>>;

// ---- printing ---------------------------------------------------------------------------------

export function printDim(e: DimExpr): string {
  switch (e.k) {
    case "sym":
    case "param":
      return e.name;
    case "lit":
      return String(e.v);
    case "op":
      return `(${printDim(e.a)} ${e.op} ${printDim(e.b)})`;
  }
}

const printDims = (ds: readonly DimExpr[]) => `[${ds.map(printDim).join(", ")}]`;

function printOperand(o: Operand): string {
  switch (o.k) {
    case "var":
      return o.name;
    case "float":
      return Number.isInteger(o.v) ? o.v.toFixed(1) : String(o.v);
    case "int":
      return String(o.v);
  }
}

/** An axis argument: `-1` is the unary minus applied to 1, which the language accepts. */
const ax = (n: number) => String(n);

function printSub(s: Sub): string {
  switch (s.k) {
    case "all":
      return ":";
    case "rest":
      return "...";
    case "at":
      return String(s.i);
    case "slice":
      return `${s.start ?? ""}:${s.end ?? ""}`;
  }
}

export function printExpr(e: Expr): string {
  switch (e.k) {
    case "alias":
      return e.x;
    case "unary":
      return `${e.fn}(${e.x})`;
    case "neg":
      return `-${e.x}`;
    case "not":
      return `!${e.x}`;
    case "bin":
      return `${printOperand(e.a)} ${e.op} ${printOperand(e.b)}`;
    case "call2":
      return `${e.fn}(${printOperand(e.a)}, ${printOperand(e.b)})`;
    case "where":
      return `where(${e.c}, ${printOperand(e.a)}, ${printOperand(e.b)})`;
    case "matmul":
      return e.infix ? `${e.a} @ ${e.b}` : `matmul(${e.a}, ${e.b})`;
    case "transpose":
      return e.dims ? `transpose(${e.x}, ${ax(e.dims[0])}, ${ax(e.dims[1])})` : `transpose(${e.x})`;
    case "permute":
      return `permute(${e.x}, [${e.dims.map(ax).join(", ")}])`;
    case "reshape":
      return `reshape(${e.x}, ${printDims(e.shape)})`;
    case "unsqueeze":
    case "squeeze":
      return `${e.k}(${e.x}, ${ax(e.dim)})`;
    case "concat":
    case "stack":
      return `${e.k}([${e.xs.join(", ")}]${e.dim === undefined ? "" : `, dim=${ax(e.dim)}`})`;
    case "chunk":
      return `chunk(${e.x}, ${e.n}${e.dim === undefined ? "" : `, dim=${ax(e.dim)}`})`;
    case "take":
      return `take(${e.x}, ${e.idx}${e.dim === undefined ? "" : `, ${ax(e.dim)}`})`;
    case "reduce": {
      const args = [e.x];
      if (e.dim !== undefined) args.push(ax(e.dim));
      if (e.keepdim !== undefined) args.push(`keepdim=${e.keepdim}`);
      return `${e.fn}(${args.join(", ")})`;
    }
    case "cumsum":
      return `cumsum(${e.x}, ${ax(e.dim)})`;
    case "cast":
      return `cast(${e.x}, ${e.dtype})`;
    case "arange":
      return `arange(${printDim(e.n)})`;
    case "fill": {
      const args = [printDims(e.shape)];
      if (e.fn === "full") args.push("0.5");
      if (e.dtype) args.push(e.fn === "full" ? `dtype=${e.dtype}` : e.dtype);
      return `${e.fn}(${args.join(", ")})`;
    }
    case "index":
      return `${e.x}[${e.subs.map(printSub).join(", ")}]`;
    case "std":
      return e.dim === undefined ? `${e.fn}(${e.x})` : `${e.fn}(${e.x}, ${ax(e.dim)})`;
    case "masked_softmax":
      return `masked_softmax(${e.x}, ${e.mask})`;
    case "causal_mask":
      return `causal_mask(${printDim(e.n)})`;
    case "split_heads":
      return `split_heads(${e.x}, ${e.n})`;
    case "merge_heads":
      return `merge_heads(${e.x})`;
    case "sdpa":
      return `scaled_dot_product_attention(${[e.q, e.key, e.v, ...(e.mask ? [e.mask] : [])].join(", ")})`;
    case "apply":
      return `${e.layer}(${e.args.join(", ")})`;
  }
}

function printLayer(l: Layer): string {
  const args = l.args.map(String);
  if (l.kind === "TransformerEncoderLayer") args[2] = `dim_feedforward=${l.args[2]}`;
  if (l.kind === "Linear" && l.noBias) args.push("bias=false");
  return `layer ${l.name} = ${l.kind}(${args.join(", ")})`;
}

/** The program as .tfm text: one member per line, so positions are easy to read in reports. */
export function printProgram(p: Program, header: readonly string[] = []): string {
  const lines = [...header.map((h) => `# ${h}`)];
  lines.push(`model P(${p.params.map((q) => `${q.name} = ${q.value}`).join(", ")}) {`);
  for (const i of p.inputs) lines.push(`  input ${i.name}: ${i.dtype}${printDims(i.dims)}`);
  for (const l of p.layers) lines.push(`  ${printLayer(l)}`);
  for (const s of p.steps) lines.push(`  ${s.targets.join(", ")} = ${printExpr(s.expr)}`);
  for (const o of p.outputs) lines.push(`  output ${o}`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** The names an expression reads. */
export function uses(e: Expr): string[] {
  const ops = (...os: Operand[]) => os.flatMap((o) => (o.k === "var" ? [o.name] : []));
  switch (e.k) {
    case "alias": case "unary": case "neg": case "not": case "transpose": case "permute": case "reshape":
    case "unsqueeze": case "squeeze": case "chunk": case "reduce": case "cumsum": case "cast": case "index": case "std":
    case "split_heads": case "merge_heads":
      return [e.x];
    case "bin": case "call2":
      return ops(e.a, e.b);
    case "where":
      return [e.c, ...ops(e.a, e.b)];
    case "matmul":
      return [e.a, e.b];
    case "concat": case "stack":
      return [...e.xs];
    case "take":
      return [e.x, e.idx];
    case "arange": case "fill": case "causal_mask":
      return [];
    case "masked_softmax":
      return [e.x, e.mask];
    case "sdpa":
      return [e.q, e.key, e.v, ...(e.mask ? [e.mask] : [])];
    case "apply":
      return [...e.args];
  }
}

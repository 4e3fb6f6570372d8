// A fused kernel's rows compiled to JavaScript. fused.ts computes a kernel block by block; without
// this, every node of a block is one call of a primitive kernel (kernels/), which makes a new array
// for its value and walks it through code shared by every dtype: a GELU epilogue on GPT-2's
// [128, 3072] is nine passes over 1.5 MB with nine allocations. Here the nodes between two
// matmuls (a *phase*) become one generated function that walks the block row by row: per row, a
// loop per reduction (its operand's expression inlined), a loop per value that must be kept (read
// twice, read by a matmul or a later phase, or an output of the kernel), and every other value
// inlined into the one expression that reads it — but tanh and erf (`rowFunctions`), which get a
// loop of their own over a row of scratch. Values live in locals, a row of L1-resident
// scratch, or the kernel's output buffer; nothing is allocated per block.
//
// Exactness. Each node's result is rounded to its dtype exactly as the primitive kernel's store
// rounds it (f32: Math.fround of the double result; i32: ToInt32, `| 0`; bool: 0 or 1), reductions
// accumulate in double in the same order as kernels/reduce.ts, and each op is written as its
// kernel computes it (kernels/unary.ts, binary.ts, where.ts, erf.ts, math.ts). So a compiled block gives
// the bits the interpreted block gives; the fused tests compare the two with the unfused run.
//
// The generated source depends only on the kernel's nodes and on which values are one column wide
// (a row's scalar) at this call; widths and strides are arguments, so decode steps whose key length
// grows reuse one function. Functions are cached by their source. Where the host forbids `Function`
// (a page whose Content-Security-Policy lacks 'unsafe-eval'), nothing is compiled and fused.ts
// evaluates blocks node by node as before.
import type { Graph, Node } from "../../ir/graph.js";
import { ops, type BinaryOp, type ReduceOp, type UnaryOp } from "../../ir/ops.js";
import type { Kernel } from "../../schedule/kernel.js";
import { arrayFor, runtimeDType, type DType, type Tensor, type TensorData } from "../../core/tensor.js";
import { erf, exp, tanh } from "../../core/math.js";
import { rowScratch, tanhRow } from "./kernels/wasm/rowmath.js";
import { wasmPhase, type PhaseFn, type PhaseSpec } from "./rowwasm.js";

/** A kernel compiled for one pattern of widths. */
export interface RowProgram {
  /** Slot of each value the phases read or write (externals and kept nodes), and of every own node. */
  readonly slot: ReadonlyMap<number, number>;
  /** The values read from outside the kernel (inputs, absorbed views, constants), by slot. */
  readonly external: readonly number[];
  /** The own nodes kept in a buffer: the kernel's outputs, matmul operands and results, values read twice or later. */
  readonly kept: readonly Node[];
  /** Phases in order; after phase p, matmul p (if any) runs on the block. */
  readonly phases: readonly { readonly run: PhaseFn; readonly matmul?: Node }[];
}

type Expr = string;

const f32 = (e: Expr) => `Math.fround(${e})`;
/** The rounding of a result to its dtype, as a store into its typed array does. */
const round: Record<DType, (e: Expr) => Expr> = { f32, i32: (e) => `((${e}) | 0)`, bool: (e) => e };

/** Each unary op's value in double (before rounding), as kernels/unary.ts computes it. */
const unaryExpr: Record<UnaryOp, (a: Expr) => Expr> = {
  neg: (a) => `-(${a})`,
  abs: (a) => `Math.abs(${a})`,
  not: (a) => `(${a} === 0 ? 1 : 0)`,
  exp: (a) => `exp(${a})`,
  log: (a) => `Math.log(${a})`,
  sqrt: (a) => `Math.sqrt(${a})`,
  rsqrt: (a) => `1 / Math.sqrt(${a})`,
  tanh: (a) => `tanh(${a})`,
  erf: (a) => `erf(${a})`,
  sigmoid: (a) => `1 / (1 + exp(-(${a})))`,
  sin: (a) => `Math.sin(${a})`,
  cos: (a) => `Math.cos(${a})`,
};

/** Each binary op's value in double, as kernels/binary.ts computes it (i32 `mul` is Math.imul there too). */
const binaryExpr: Record<BinaryOp, (a: Expr, b: Expr, int: boolean) => Expr> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b, int) => (int ? `Math.imul(${a}, ${b})` : `(${a} * ${b})`),
  div: (a, b) => `(${a} / ${b})`,
  mod: (a, b) => `(${a} % ${b})`,
  pow: (a, b) => `Math.pow(${a}, ${b})`,
  maximum: (a, b) => `Math.max(${a}, ${b})`,
  minimum: (a, b) => `Math.min(${a}, ${b})`,
  eq: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  ne: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
  lt: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  le: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  gt: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  ge: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  and: (a, b) => `(${a} !== 0 && ${b} !== 0 ? 1 : 0)`,
  or: (a, b) => `(${a} !== 0 || ${b} !== 0 ? 1 : 0)`,
};

/** f32 → i32 as kernels/unary.ts's cast: truncation toward zero, saturating; NaN → 0. */
function saturate(v: number): number {
  return v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : v | 0;
}

/** A cast's value, rounded (kernels/unary.ts `cast`). */
function castExpr(a: Expr, from: DType, to: DType): Expr {
  if (to === "bool") return `(${a} !== 0 ? 1 : 0)`;
  if (to === "i32" && from === "f32") return `sat(${a})`;
  return to === "f32" && from === "i32" ? f32(a) : a;
}

/**
 * The functions a phase computes over a whole row at once, in place on a row of scratch
 * (`rowScratch`; f32 in, f32 out: each x becomes fround(f(x)), f src/core/math.ts's), not inline in
 * the expression that reads them. GPT-2's GELU with tanh inlined ran at 30 ns an element; split
 * into a loop for tanh's operand, tanh over the row (in WebAssembly SIMD where it runs:
 * kernels/wasm/rowmath.ts, the same bits) and a loop for the rest, at 17 (the small benchmark
 * model's four GELUs: 10.2 → 4.6 ms a run). exp stays inline: a softmax computes it only where the
 * mask lets it through.
 */
const rowFunctions: Record<string, (t: Float32Array, w: number) => void> = {
  tanh: tanhRow,
  erf: (t, w) => {
    for (let j = 0; j < w; j++) t[j] = erf(t[j]!);
  },
};

const compiled = new Map<string, PhaseFn>();
let canCompile = true;
let wanted = true;
let wasm = true;

/** Turns compilation off (every fused block node by node, as the primitive kernels compute it) or back on; for tests and benchmarks. */
export function setCompileRows(on: boolean): void {
  wanted = on;
}

/** Turns the phases' WebAssembly form (rowwasm.ts) off (every phase in JavaScript) or back on; for tests and benchmarks. */
export function setWasmRows(on: boolean): void {
  wasm = on;
}

/** A phase's function: in WebAssembly SIMD where all its ops have a lane form there, else its JavaScript `source`. */
function phaseFunction(source: string, spec: PhaseSpec): PhaseFn | undefined {
  if (!wanted) return undefined;
  const js = compile(source);
  return (wasm && wasmPhase(spec, source, js)) || js;
}

function compile(source: string): PhaseFn | undefined {
  const hit = compiled.get(source);
  if (hit || !canCompile) return hit;
  try {
    const fn = new Function("erf", "exp", "tanh", "sat", "T", "F", source)(erf, exp, tanh, saturate, rowScratch, rowFunctions) as PhaseFn;
    compiled.set(source, fn);
    return fn;
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    canCompile = false; // a Content-Security-Policy without 'unsafe-eval': evaluate node by node
    return undefined;
  }
}

/**
 * Compiles kernel `k` of `graph`, whose own (non-absorbed) nodes are `own`, for this pattern of
 * widths: `wide(id)` tells whether a value (own or external) has more than one column at this
 * call. Returns undefined for a kernel it does not compile (an op that is not elementwise, a
 * reduction or a row-wise matmul): fused.ts evaluates those node by node.
 */
export function compileRows(k: Kernel, graph: Graph, own: readonly Node[], wide: (id: number) => boolean): RowProgram | undefined {
  const node = (id: number) => graph.nodes[id]!;
  const mine = new Set(own.map((n) => n.id));
  const outputs = new Set(k.outputs);
  // Phases: a matmul ends one; its result is read from the next.
  const phaseOf = new Map<number, number>();
  let phase = 0;
  for (const n of own) {
    const cls = ops[n.op].class;
    if (n.op === "matmul") {
      if (mine.has(n.inputs[1]!)) return undefined; // its right operand is read whole: never a block's value
      phaseOf.set(n.id, phase++);
    } else if (cls === "unary" || cls === "binary" || cls === "where") phaseOf.set(n.id, phase);
    else if (cls === "reduce") {
      const axis = n.attrs["axis"];
      if (!n.attrs["keepdim"] || (axis !== -1 && axis !== node(n.inputs[0]!).shape.length - 1)) return undefined;
      phaseOf.set(n.id, phase);
    } else return undefined;
  }
  // Which own values are kept in a buffer; the rest are inlined into their one reader.
  const reads = new Map<number, number>();
  const keep = new Set<number>();
  /** The phase from which a node's value can be read (a matmul's: the next one). */
  const produced = (id: number) => phaseOf.get(id)! + (node(id).op === "matmul" ? 1 : 0);
  for (const n of own) {
    for (const i of n.inputs) {
      if (!mine.has(i)) continue;
      reads.set(i, (reads.get(i) ?? 0) + 1);
      if (n.op === "matmul" || produced(i) !== phaseOf.get(n.id)) keep.add(i);
    }
    if (n.op === "matmul" || outputs.has(n.id)) keep.add(n.id);
  }
  for (const [id, count] of reads) if (count > 1 && wide(id)) keep.add(id);
  // Own values read outside the phase that computes them (a matmul, a later phase, the kernel's outputs).
  const needed = new Set<number>(outputs);
  for (const n of own) for (const i of n.inputs) if (mine.has(i) && (n.op === "matmul" || phaseOf.get(n.id) !== phaseOf.get(i))) needed.add(i);

  // Slots: externals first, then every own node.
  const slot = new Map<number, number>();
  const external: number[] = [];
  for (const n of own) {
    for (const i of n.inputs) {
      if (mine.has(i) || slot.has(i)) continue;
      if (n.op === "matmul" && i === n.inputs[1]) continue; // read whole by the matmul, not by a phase
      slot.set(i, slot.size);
      external.push(i);
    }
  }
  for (const n of own) slot.set(n.id, slot.size);
  const kept = own.filter((n) => keep.has(n.id));

  const phases: { run: PhaseFn; matmul?: Node }[] = [];
  for (let p = 0; p <= phase; p++) {
    const body = own.filter((n) => n.op !== "matmul" && phaseOf.get(n.id) === p);
    const matmul = own.find((n) => n.op === "matmul" && phaseOf.get(n.id) === p);
    if (body.length) {
      const earlier = (id: number) => node(id).op === "matmul" || phaseOf.get(id)! < p;
      const spec: PhaseSpec = { body, node, slot, mine: (id) => mine.has(id), earlier, keep: (id) => keep.has(id), wide, needed: (id) => needed.has(id) };
      const fn = phaseFunction(renderPhase(body, p), spec);
      if (!fn) return undefined;
      phases.push({ run: fn, ...(matmul ? { matmul } : {}) });
    } else phases.push({ run: () => undefined, ...(matmul ? { matmul } : {}) });
  }
  return { slot, external, kept, phases };

  /** The source of phase p's function. */
  function renderPhase(body: readonly Node[], p: number): string {
    const used = new Set<number>();
    const pre: string[] = []; // per row, before the nodes: the row offsets and scalar reads
    const lines: string[] = [];
    /** Whether an own value was computed before this phase (by a matmul, or an earlier phase): it is read from its buffer. */
    const earlier = (id: number) => node(id).op === "matmul" || phaseOf.get(id)! < p;
    /** A value read from its slot's data at column j (or the row's one column). */
    const load = (id: number): Expr => {
      const s = slot.get(id)!;
      used.add(s);
      return wide(id) ? `d${s}[o${s} + j]` : `r${s}`;
    };
    /** A value as an expression at column j, in this phase. */
    const expr = (id: number): Expr => {
      if (!mine.has(id) || earlier(id)) return load(id);
      if (!wide(id)) return `v${slot.get(id)}`; // a row's scalar computed earlier in this row
      if (keep.has(id)) return load(id);
      return value(node(id));
    };
    /** The width of the loop over j being written (its slot's `w`). */
    let width = "";
    let rows = 0;
    /** A node's value, rounded to its dtype, from its operands' expressions. */
    const value = (n: Node): Expr => {
      const dt = runtimeDType[n.dtype];
      const cls = ops[n.op].class;
      const x = n.inputs.map(expr);
      if (n.op === "cast") return castExpr(x[0]!, runtimeDType[node(n.inputs[0]!).dtype], dt);
      if (n.op in rowFunctions && dt === "f32" && width && wide(n.inputs[0]!)) {
        // Its operand for the whole row first, then the function over that row (`rowFunctions`).
        const t = `t${rows++}`;
        lines.push(`const ${t} = T(${rows - 1}, ${width}); for (let j = 0; j < ${width}; j++) ${t}[j] = ${x[0]}; F.${n.op}(${t}, ${width});`);
        return `${t}[j]`;
      }
      if (cls === "unary") return round[dt](unaryExpr[n.op as UnaryOp](x[0]!));
      if (cls === "where") return `(${x[0]} !== 0 ? ${x[1]} : ${x[2]})`;
      const int = n.op === "mul" && runtimeDType[node(n.inputs[0]!).dtype] === "i32";
      return round[dt](binaryExpr[n.op as BinaryOp](x[0]!, x[1]!, int));
    };
    for (const n of body) {
      const s = slot.get(n.id)!;
      const store = keep.has(n.id);
      if (store) used.add(s);
      if (ops[n.op].class === "reduce") {
        const input = n.inputs[0]!;
        const xs = slot.get(input)!;
        used.add(xs);
        width = `w${xs}`;
        lines.push(reduction(n, s, input, expr, xs));
      } else if (!wide(n.id)) {
        width = "";
        lines.push(`const v${s} = ${value(n)};`);
      } else if (store) {
        width = `w${s}`;
        lines.push(`for (let j = 0; j < w${s}; j++) d${s}[o${s} + j] = ${value(n)};`);
      } else continue;
      if (store && !wide(n.id)) lines.push(`d${s}[o${s}] = v${s};`);
    }
    for (const s of [...used].sort((a, b) => a - b)) {
      pre.push(`const o${s} = i * rs${s};`);
      const id = [...slot].find(([, v]) => v === s)![0];
      if (!wide(id) && (!mine.has(id) || earlier(id))) pre.push(`const r${s} = d${s}[o${s}];`);
    }
    const head = [...used].sort((a, b) => a - b).map((s) => `const d${s} = D[${s}], rs${s} = RS[${s}], w${s} = W[${s}];`);
    return `"use strict";\nreturn function phase(D, RS, W, R) {\n${head.join("\n")}\nfor (let i = 0; i < R; i++) {\n${[...pre, ...lines].join("\n")}\n}\n};`;
  }

  /** A reduction over the row of `input` (kernels/reduce.ts's order: ascending, accumulated in double). */
  function reduction(n: Node, s: number, input: number, expr: (id: number) => Expr, xs: number): string {
    const dt = runtimeDType[n.dtype];
    const v = `v${s}`;
    const op = n.op as ReduceOp;
    if (!wide(input)) {
      const x = expr(input);
      if (op === "sum") return `const ${v} = ${round[dt](`0 + ${x}`)};`;
      if (op === "mean") return `const ${v} = ${round[dt](`(0 + ${x}) / 1`)};`;
      return `const ${v} = ${op === "argmax" ? "0" : x};`;
    }
    const loop = `for (let j = 0; j < w${xs}; j++)`;
    const x = expr(input);
    if (op === "sum" || op === "mean") return `let s${s} = 0; ${loop} s${s} += ${x}; const ${v} = ${round[dt](op === "mean" ? `s${s} / w${xs}` : `s${s}`)};`;
    // max/min/argmax as reduce.ts: the first element, then a strictly better one or a NaN (kept).
    const better = op === "min" ? "<" : ">";
    const m = `m${s}`;
    if (op === "argmax") return `let ${m} = 0, ${v} = 0; ${loop} { const x = ${x}; if (j === 0 || x ${better} ${m} || x !== x) { ${m} = x; ${v} = j; } if (${m} !== ${m}) break; }`;
    return `let ${v} = 0; ${loop} { const x = ${x}; if (j === 0 || x ${better} ${v} || x !== x) ${v} = x; if (${v} !== ${v}) break; }`;
  }
}

/** Scratch for a kept value: `rows` rows of its width. */
export function scratch(n: Node, rows: number, width: number): TensorData {
  return arrayFor(runtimeDType[n.dtype], rows * width);
}

/** A matmul operand or result in a slot's data, as the [rows, cols] tensor the GEMM takes. */
export function slotTensor(dtype: DType, data: TensorData, rows: number, cols: number): Tensor {
  return { dtype, shape: [rows, cols], data: data.subarray(0, rows * cols) } as Tensor;
}

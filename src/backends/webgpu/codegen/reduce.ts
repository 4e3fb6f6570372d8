// Reductions: an op kernel reducing one axis, and the workgroup reduction of one row that rows
// kernels (rows.ts) and matmul prologues share. Over the last axis (inner size 1) a workgroup
// reduces one row: its threads stride over the row, then combine their partial results in
// workgroup memory (a tree, log₂ 256 steps). Over another axis each thread reduces one output
// element in order. Semantics as the CPU's (src/backends/cpu/kernels/reduce.ts): max and min
// propagate NaN, argmax is the first maximum or the first NaN; sums accumulate in f32 (the CPU
// sums in double: the difference is within the conformance tolerance, see docs/WEBGPU.md).
import { constValue, type Dim } from "../../../core/dim.js";
import type { DType } from "../../../check/shapes/value.js";
import type { Graph, Node } from "../../../ir/graph.js";
import type { ReduceOp } from "../../../ir/ops.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { Block, Emitter } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody, type RunCheck, THREADS } from "./kernel.js";
import { delinearize, lit, numelDim } from "./sizes.js";
import { f32Lit, i32Lit, kernelSource, scalarType, toStorage } from "./wgsl.js";

const reductions = new Set(["sum", "mean", "max", "min", "argmax"]);
export const isReduction = (n: Node): boolean => reductions.has(n.op);

/** The type a reduction accumulates in: bool as u32 (0/1). */
const accType = (d: DType) => {
  const t = scalarType(d);
  return t === "bool" ? "u32" : t;
};
const asAcc = (d: DType, v: string) => (scalarType(d) === "bool" ? `select(0u, 1u, ${v})` : v);

type Acc = "f32" | "i32" | "u32";

/** The lowest (for max, argmax) or highest (for min) value of an accumulator type. */
function extreme(low: boolean, t: Acc): string {
  if (t === "f32") return f32Lit(low ? -Infinity : Infinity);
  if (t === "i32") return low ? i32Lit(-2147483648) : i32Lit(2147483647);
  return low ? "0u" : "1u";
}

const add = (_t: Acc, a: string, v: string) => `${a} + ${v}`;
const maxOf = (t: Acc, a: string, v: string) => (t === "f32" ? `tfm_max(${a}, ${v})` : `max(${a}, ${v})`);
const minOf = (t: Acc, a: string, v: string) => (t === "f32" ? `tfm_min(${a}, ${v})` : `min(${a}, ${v})`);

/**
 * Each reduction's starting value and how it folds a value in (argmax keeps the greatest value too,
 * and its index by `better`). mean divides the sum by the axis's size at the end.
 */
const folds: Record<ReduceOp, { readonly identity: (t: Acc) => string; readonly combine: (t: Acc, a: string, v: string) => string }> = {
  sum: { identity: (t) => (t === "f32" ? "0.0f" : "0i"), combine: add },
  mean: { identity: (t) => (t === "f32" ? "0.0f" : "0i"), combine: add },
  max: { identity: (t) => extreme(true, t), combine: maxOf },
  min: { identity: (t) => extreme(false, t), combine: minOf },
  argmax: { identity: (t) => extreme(true, t), combine: maxOf },
};
const identity = (op: ReduceOp, t: Acc): string => folds[op].identity(t);
const combine = (op: ReduceOp, t: Acc, a: string, v: string): string => folds[op].combine(t, a, v);

/** argmax: whether (v at j) beats (a at aj): a first NaN wins, else the greater, ties to the lower index. */
function better(t: Acc, v: string, j: string, a: string, aj: string): string {
  const plain = `(${v} > ${a} || (${v} == ${a} && ${j} < ${aj}))`;
  if (t !== "f32") return plain;
  return `((tfm_isnan(${v}) && (!tfm_isnan(${a}) || ${j} < ${aj})) || (!tfm_isnan(${v}) && !tfm_isnan(${a}) && ${plain}))`;
}

/** A kernel's workgroup arrays (the reductions' scratch, row statistics, staged rows), declared once. */
export class Shared {
  private readonly decls = new Map<string, { text: string; bytes: number }>();
  /** The reductions' scratch array of this element type (or their argmax indices). */
  need(t: "f32" | "i32" | "u32" | "idx"): string {
    return this.array(t === "idx" ? "redj" : `red${t[0]}`, t === "idx" ? "u32" : t, THREADS);
  }
  /** A workgroup array `name: array<type, length>` of 4-byte elements. */
  array(name: string, type: string, length: number): string {
    this.decls.set(name, { text: `var<workgroup> ${name}: array<${type}, ${length}>;`, bytes: length * 4 });
    return name;
  }
  get bytes(): number {
    return [...this.decls.values()].reduce((a, d) => a + d.bytes, 0);
  }
  text(): string[] {
    return [...this.decls.values()].map((d) => d.text);
  }
}

/** The type a reduction accumulates in (bool as u32), and a value of that type as the node's value. */
export const accumulatorType = (d: DType): "f32" | "i32" | "u32" => accType(d);

/**
 * Emits, into `b`, the reduction of a row of `r` elements whose element j is `at(block, j)`, by
 * `group` threads (lanes lid % group; the workgroup's threads form THREADS / group such groups,
 * each reducing its own row); returns the name of the result, the same in every thread of the
 * group. Every thread of the workgroup must reach it (it has barriers).
 */
export function rowReduction(e: Emitter, b: Block, sh: Shared, op: ReduceOp, dtype: DType, r: string, at: (inner: Block, j: string) => string, group = THREADS): string {
  const t = accType(dtype);
  const red = sh.need(t);
  const acc = e.fresh("a");
  const j = e.fresh("j");
  const arg = op === "argmax";
  const accJ = arg ? e.fresh("a") : "";
  const lane = group === THREADS ? "lid" : `(lid % ${lit(group)})`;
  b.line(`var ${acc}: ${t} = ${identity(op, t)};`);
  if (arg) b.line(`var ${accJ}: u32 = 0xffffffffu;`);
  const body = b.child();
  const v = asAcc(dtype, at(body, j));
  if (arg) body.line(`if (${better(t, v, j, acc, accJ)}) { ${acc} = ${v}; ${accJ} = ${j}; }`);
  else body.line(`${acc} = ${combine(op, t, acc, v)};`);
  b.nest(`for (var ${j} = ${lane}; ${j} < ${r}; ${j} = ${j} + ${lit(group)})`, body);
  const redJ = arg ? sh.need("idx") : "";
  b.line(`${red}[lid] = ${acc};`);
  if (arg) b.line(`${redJ}[lid] = ${accJ};`);
  b.line("workgroupBarrier();");
  const s = e.fresh("s");
  const step = b.child();
  const inner = step.child();
  if (arg) {
    const [x, xj, y, yj] = [`${red}[lid]`, `${redJ}[lid]`, `${red}[lid + ${s}]`, `${redJ}[lid + ${s}]`];
    inner.line(`if (${better(t, y, yj, x, xj)}) { ${x} = ${y}; ${xj} = ${yj}; }`);
  } else inner.line(`${red}[lid] = ${combine(op, t, `${red}[lid]`, `${red}[lid + ${s}]`)};`);
  step.nest(`if (${lane} < ${s})`, inner);
  step.line("workgroupBarrier();");
  b.nest(`for (var ${s} = ${lit(group / 2)}; ${s} > 0u; ${s} = ${s} >> 1u)`, step);
  const first = group === THREADS ? "0" : `lid - ${lane}`;
  const out = e.fresh("r");
  if (arg) b.line(`let ${out} = i32(${redJ}[${first}]);`);
  else if (op === "mean") b.line(`let ${out} = ${red}[${first}] / ${t === "f32" ? `f32(${r})` : `i32(${r})`};`);
  else b.line(`let ${out} = ${red}[${first}];`);
  b.line("workgroupBarrier();"); // the arrays may be reused by the next reduction
  return t === "u32" && !arg ? `(${out} != 0u)` : out;
}

/** The host's checks that the max, min and argmax among `nodes` do not reduce an empty axis (the CPU's TFM6001). */
export function emptyAxisChecks(g: Graph, nodes: readonly number[]): RunCheck[] {
  return nodes.flatMap((id) => {
    const n = g.nodes[id]!;
    if (n.op !== "max" && n.op !== "min" && n.op !== "argmax") return [];
    const x = g.nodes[n.inputs[0]!]!;
    const ax = n.attrs.axis! < 0 ? n.attrs.axis! + x.shape.length : n.attrs.axis!;
    return [{ node: id, empty: x.shape[ax]!, rest: numelDim(x.shape.filter((_, i) => i !== ax)) }];
  });
}

/** An op kernel reducing one axis of its input. */
export function reduceKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const f = new Frame(ctx, k);
  const node = f.node(k.anchor!);
  const x = f.node(node.inputs[0]!);
  const op = node.op as ReduceOp;
  const ax = node.attrs.axis! < 0 ? node.attrs.axis! + x.shape.length : node.attrs.axis!;
  const outer = x.shape.slice(0, ax), after = x.shape.slice(ax + 1);
  const r = x.shape[ax]!;
  const e = f.emitter;
  const b = newBody();
  const sh = new Shared();
  const outShape = numelDim(node.shape);
  const xIdx = (o: readonly string[], j: string, a: readonly string[]) => [...o, j, ...a];
  const check = emptyAxisChecks(ctx.g, [node.id]);
  const out = f.out(node.id);
  let grid: { size: Dim; per: number }[];
  if (constValue(numelDim(after)) === 1) {
    // One workgroup per row.
    b.line(`if (wg >= ${ctx.sizes.ref(outShape)}) { return; }`);
    const o = delinearize(ctx.sizes, "wg", outer).map((s) => e.bind(b, s));
    const res = rowReduction(e, b, sh, op, x.dtype, ctx.sizes.ref(r), (inner, j) => e.value(inner, x.id, xIdx(o, j, after.map(() => "0u"))));
    b.nest("if (lid == 0u)", blockOf(b, `${out}[wg] = ${toStorage(node.dtype, res)};`));
    grid = [{ size: outShape, per: 1 }];
  } else {
    // One thread per output element, reducing in order.
    b.line(`let gi = wg * ${lit(THREADS)} + lid;`);
    b.line(`if (gi >= ${ctx.sizes.ref(outShape)}) { return; }`);
    const oi = delinearize(ctx.sizes, "gi", [...outer, ...after]).map((s) => e.bind(b, s));
    const o = oi.slice(0, outer.length), a = oi.slice(outer.length);
    const t = accType(x.dtype);
    const acc = e.fresh("a"), accJ = e.fresh("a"), j = e.fresh("j");
    const arg = op === "argmax";
    b.line(`var ${acc}: ${t} = ${identity(op, t)};`);
    if (arg) b.line(`var ${accJ}: u32 = 0xffffffffu;`);
    const body = b.child();
    const v = asAcc(x.dtype, e.value(body, x.id, xIdx(o, j, a)));
    if (arg) body.line(`if (${better(t, v, j, acc, accJ)}) { ${acc} = ${v}; ${accJ} = ${j}; }`);
    else body.line(`${acc} = ${combine(op, t, acc, v)};`);
    b.nest(`for (var ${j} = 0u; ${j} < ${ctx.sizes.ref(r)}; ${j} = ${j} + 1u)`, body);
    const res = arg ? `i32(${accJ})` : op === "mean" ? `${acc} / ${t === "f32" ? "f32" : "i32"}(${ctx.sizes.ref(r)})` : t === "u32" ? `(${acc} != 0u)` : acc;
    b.line(`${out}[gi] = ${toStorage(node.dtype, res)};`);
    grid = [{ size: outShape, per: THREADS }];
  }
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, sh.text(), String(THREADS), b.text()),
    binds,
    grid,
    workgroupBytes: sh.bytes,
    invocations: THREADS,
    checks: check,
  };
}

function blockOf(parent: Block, line: string): Block {
  const c = parent.child();
  c.line(line);
  return c;
}

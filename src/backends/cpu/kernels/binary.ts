// Elementwise binary ops with NumPy broadcasting.
//
// Every op has one row function with three loops: both operands advancing, `b` fixed (a scalar
// or a broadcast dim), `a` fixed. A call picks the row function once, then:
//   - same shape: one row over everything;
//   - one operand a single element (0-d, or all dims 1): one row with it fixed;
//   - trailing broadcast ([B, T, D] + [D], or [D] + [B, T, D]): rows of D, the small operand
//     restarting at 0;
//   - anything else: the coalesced strided walk of broadcast.ts, one row per innermost run.
// Inside a row there is no call, no closure and no allocation; values are computed in double and
// rounded once on the store (exact for + - * / of f32 operands, as in f32 arithmetic).
//
// dtypes (the IR inserts casts; kernels never promote): both operands have the same dtype.
//   add sub mul mod pow maximum minimum: f32 or i32 → same (i32 wraps modulo 2³²; mod by 0 is 0)
//   div: f32 or i32 → f32 (true division)
//   eq ne lt le gt ge: any → bool        and or: bool → bool
// mod truncates toward zero (C's fmod, JavaScript's %), unlike NumPy's floored `%`.
import type { BinaryOp } from "../../../ir/ops.js";
import { KernelError } from "../../../core/errors.js";
import { type DType, numel, sameShape, type Tensor, type TensorData } from "../../../core/tensor.js";
import { broadcastRows, broadcastShapes } from "./broadcast.js";
import { checkInputs, output } from "./util.js";

type Arr = TensorData;
/** o[oi + j] = f(a[ai + j·sa], b[bi + j·sb]) for j < n, with (sa, sb) one of (1, 1), (1, 0), (0, 1). */
type Row = (a: Arr, ai: number, sa: number, b: Arr, bi: number, sb: number, o: Arr, oi: number, n: number) => void;

// Each row function: (1, 1) both advance; sb = 0: b fixed; else a fixed. With n = 1 any branch is right.
const rows: Record<BinaryOp | "mulInt", Row> = {
  add: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! + b[bi + j]!;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! + y; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x + b[bi + j]!; }
  },
  sub: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! - b[bi + j]!;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! - y; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x - b[bi + j]!; }
  },
  mul: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! * b[bi + j]!;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! * y; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x * b[bi + j]!; }
  },
  // i32 products can exceed 2^53, where a double product loses the low bits the wrap keeps.
  mulInt: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = Math.imul(a[ai + j]!, b[bi + j]!);
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = Math.imul(a[ai + j]!, y); }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = Math.imul(x, b[bi + j]!); }
  },
  div: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! / b[bi + j]!;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! / y; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x / b[bi + j]!; }
  },
  mod: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! % b[bi + j]!;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! % y; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x % b[bi + j]!; }
  },
  pow: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = Math.pow(a[ai + j]!, b[bi + j]!);
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = Math.pow(a[ai + j]!, y); }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = Math.pow(x, b[bi + j]!); }
  },
  // Math.max/min propagate NaN, as numpy.maximum/minimum do.
  maximum: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = Math.max(a[ai + j]!, b[bi + j]!);
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = Math.max(a[ai + j]!, y); }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = Math.max(x, b[bi + j]!); }
  },
  minimum: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = Math.min(a[ai + j]!, b[bi + j]!);
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = Math.min(a[ai + j]!, y); }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = Math.min(x, b[bi + j]!); }
  },
  eq: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] === b[bi + j] ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] === y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x === b[bi + j] ? 1 : 0; }
  },
  ne: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] !== b[bi + j] ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] !== y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x !== b[bi + j] ? 1 : 0; }
  },
  lt: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! < b[bi + j]! ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! < y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x < b[bi + j]! ? 1 : 0; }
  },
  le: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! <= b[bi + j]! ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! <= y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x <= b[bi + j]! ? 1 : 0; }
  },
  gt: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! > b[bi + j]! ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! > y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x > b[bi + j]! ? 1 : 0; }
  },
  ge: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! >= b[bi + j]! ? 1 : 0;
    else if (sb === 0) { const y = b[bi]!; for (let j = 0; j < n; j++) o[oi + j] = a[ai + j]! >= y ? 1 : 0; }
    else { const x = a[ai]!; for (let j = 0; j < n; j++) o[oi + j] = x >= b[bi + j]! ? 1 : 0; }
  },
  // bool data is 0/1, but test for non-zero anyway so a stray byte cannot produce a 2.
  and: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] !== 0 && b[bi + j] !== 0 ? 1 : 0;
    else if (sb === 0) { const y = b[bi] !== 0; for (let j = 0; j < n; j++) o[oi + j] = y && a[ai + j] !== 0 ? 1 : 0; }
    else { const x = a[ai] !== 0; for (let j = 0; j < n; j++) o[oi + j] = x && b[bi + j] !== 0 ? 1 : 0; }
  },
  or: (a, ai, sa, b, bi, sb, o, oi, n) => {
    if (sa === sb) for (let j = 0; j < n; j++) o[oi + j] = a[ai + j] !== 0 || b[bi + j] !== 0 ? 1 : 0;
    else if (sb === 0) { const y = b[bi] !== 0; for (let j = 0; j < n; j++) o[oi + j] = y || a[ai + j] !== 0 ? 1 : 0; }
    else { const x = a[ai] !== 0; for (let j = 0; j < n; j++) o[oi + j] = x || b[bi + j] !== 0 ? 1 : 0; }
  },
};

/** Each op's dtype rule: arithmetic keeps f32 or i32, div gives f32, comparisons bool, logic takes and gives bool. */
type Rule = "arithmetic" | "division" | "comparison" | "logic";
const rules: Record<BinaryOp, Rule> = {
  add: "arithmetic", sub: "arithmetic", mul: "arithmetic", mod: "arithmetic", pow: "arithmetic", maximum: "arithmetic", minimum: "arithmetic",
  div: "division",
  eq: "comparison", ne: "comparison", lt: "comparison", le: "comparison", gt: "comparison", ge: "comparison",
  and: "logic", or: "logic",
};

/** The result dtype of `op` on operands of `dtype`; throws for operands the op does not take. */
export function binaryResultDType(op: BinaryOp, a: Tensor, b: Tensor): DType {
  if (!Object.hasOwn(rules, op)) throw new KernelError("binary", `unknown op ${JSON.stringify(op)}`);
  if (a.dtype !== b.dtype) throw new KernelError(op, `operands have different dtypes (${a.dtype} and ${b.dtype}); the IR must cast one of them`);
  const dt = a.dtype;
  const rule = rules[op];
  if (rule === "comparison") return "bool";
  if (rule === "logic") {
    if (dt !== "bool") throw new KernelError(op, `operands must be bool, got ${dt}`);
    return "bool";
  }
  if (dt === "bool") throw new KernelError(op, "operands must be f32 or i32, got bool (cast them first)");
  return rule === "division" ? "f32" : dt;
}

/** Whether `small` equals the trailing dims of `big` (after dropping small's leading 1s). */
function isTrailing(small: readonly number[], big: readonly number[]): boolean {
  let s = 0;
  while (s < small.length && small[s] === 1) s++;
  const len = small.length - s;
  if (len > big.length) return false;
  const off = big.length - len;
  for (let i = 0; i < len; i++) if (small[s + i] !== big[off + i]) return false;
  return true;
}

export function binary(op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  checkInputs(op, a, b);
  const dtype = binaryResultDType(op, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const o = output(op, dtype, shape, out, [a, b], true);
  const total = numel(shape);
  if (total === 0) return o;
  const row = op === "mul" && a.dtype === "i32" ? rows.mulInt : rows[op];
  const x = a.data, y = b.data, r = o.data;
  const na = numel(a.shape), nb = numel(b.shape);

  if (na === total && nb === total) {
    row(x, 0, 1, y, 0, 1, r, 0, total); // same shape (or equal up to leading 1s)
  } else if (nb === 1 && na === total) {
    row(x, 0, 1, y, 0, 0, r, 0, total);
  } else if (na === 1 && nb === total) {
    row(x, 0, 0, y, 0, 1, r, 0, total);
  } else if (na === total && isTrailing(b.shape, shape)) {
    for (let off = 0; off < total; off += nb) row(x, off, 1, y, 0, 1, r, off, nb);
  } else if (nb === total && isTrailing(a.shape, shape)) {
    for (let off = 0; off < total; off += na) row(x, 0, 1, y, off, 1, r, off, na);
  } else {
    const w = broadcastRows(op, shape, [a.shape, b.shape]);
    const n = w.n, sa = w.step[0]!, sb = w.step[1]!, off = w.off;
    for (let i = 0, oi = 0; i < w.count; i++, oi += n) {
      row(x, off[0]!, sa, y, off[1]!, sb, r, oi, n);
      w.next();
    }
  }
  return o;
}

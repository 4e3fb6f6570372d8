// Elementwise unary ops and casts. The output has the input's shape, so every op is one
// contiguous loop; the op is chosen once per call (a switch outside the loop), and each case's
// loop body is the bare expression, computed in double precision and rounded once on the store.
//
// dtypes: neg and abs take f32 or i32 and keep it (i32 wraps: neg(-2³¹) = -2³¹, as NumPy);
// not takes bool; the float functions take f32 (the IR casts integers first).
import type { UnaryOp } from "../../../ir/ops.js";
import { KernelError } from "../../../core/errors.js";
import { type DType, numel, type Tensor } from "../../../core/tensor.js";
import { erfInto } from "./erf.js";
import { checkInputs, output, requireDType } from "./util.js";

const floatOps = new Set<UnaryOp>(["exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "sin", "cos"]);

/** The result dtype of a unary op on `dtype`; throws for a dtype the op does not take. */
export function unaryResultDType(op: UnaryOp, x: Tensor): DType {
  if (op === "not") requireDType(op, x, ["bool"]);
  else if (op === "neg" || op === "abs") requireDType(op, x, ["f32", "i32"]);
  else if (floatOps.has(op)) requireDType(op, x, ["f32"]);
  else throw new KernelError("unary", `unknown op ${JSON.stringify(op)}`);
  return x.dtype;
}

export function unary(op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  checkInputs(op, x);
  const dtype = unaryResultDType(op, x);
  const o = output(op, dtype, x.shape, out, [x], true);
  const n = numel(x.shape);
  const a = x.data;
  const r = o.data;
  switch (op) {
    case "neg": for (let i = 0; i < n; i++) r[i] = -a[i]!; break;
    case "abs": for (let i = 0; i < n; i++) r[i] = Math.abs(a[i]!); break;
    case "not": for (let i = 0; i < n; i++) r[i] = a[i] === 0 ? 1 : 0; break;
    case "exp": for (let i = 0; i < n; i++) r[i] = Math.exp(a[i]!); break;
    case "log": for (let i = 0; i < n; i++) r[i] = Math.log(a[i]!); break;
    case "sqrt": for (let i = 0; i < n; i++) r[i] = Math.sqrt(a[i]!); break;
    case "rsqrt": for (let i = 0; i < n; i++) r[i] = 1 / Math.sqrt(a[i]!); break;
    case "tanh": for (let i = 0; i < n; i++) r[i] = Math.tanh(a[i]!); break;
    case "erf": erfInto(a as Float32Array, r as Float32Array, n); break;
    case "sigmoid": for (let i = 0; i < n; i++) r[i] = 1 / (1 + Math.exp(-a[i]!)); break;
    case "sin": for (let i = 0; i < n; i++) r[i] = Math.sin(a[i]!); break;
    case "cos": for (let i = 0; i < n; i++) r[i] = Math.cos(a[i]!); break;
  }
  return o;
}

const I32_MAX = 2147483647;
const I32_MIN = -2147483648;

/**
 * Converts to `dtype`. f32 → i32 truncates toward zero and saturates at the i32 range (NaN → 0);
 * → bool is x != 0 (NaN → true); bool → number is 0 or 1; i32 → f32 rounds to nearest.
 * Casting to the same dtype copies.
 */
export function cast(x: Tensor, dtype: DType, out?: Tensor): Tensor {
  checkInputs("cast", x);
  if (dtype !== "f32" && dtype !== "i32" && dtype !== "bool") throw new KernelError("cast", `unknown target dtype ${JSON.stringify(dtype)}`);
  const o = output("cast", dtype, x.shape, out, [x], true);
  const n = numel(x.shape);
  const a = x.data;
  const r = o.data;
  if (dtype === "bool") {
    for (let i = 0; i < n; i++) r[i] = a[i] !== 0 ? 1 : 0;
  } else if (dtype === "i32" && x.dtype === "f32") {
    for (let i = 0; i < n; i++) {
      const v = a[i]!;
      r[i] = v >= I32_MAX ? I32_MAX : v <= I32_MIN ? I32_MIN : v; // the store truncates; NaN stores 0
    }
  } else {
    // i32 → f32 (rounded by the store), bool → f32/i32, and same-dtype copies.
    if (r !== a) for (let i = 0; i < n; i++) r[i] = a[i]!;
  }
  return o;
}

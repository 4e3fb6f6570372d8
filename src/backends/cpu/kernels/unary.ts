// Elementwise unary ops and casts. The output has the input's shape, so every op is one
// contiguous loop; the op is chosen once per call (a table keyed by op, `Record<UnaryOp, …>`, so a
// new op does not compile until it has its loop), and each loop body is the bare expression,
// computed in double precision and rounded once on the store. exp and tanh (sigmoid through exp) are
// ./math.ts's, not the engine's Math.exp and Math.tanh: the same bits on every engine, and faster.
//
// dtypes: neg and abs take f32 or i32 and keep it (i32 wraps: neg(-2³¹) = -2³¹, as NumPy);
// not takes bool; the float functions take f32 (the IR casts integers first).
import type { UnaryOp } from "../../../ir/ops.js";
import { KernelError } from "../../../core/errors.js";
import { type DType, numel, type Tensor, type TensorData } from "../../../core/tensor.js";
import { erfInto } from "./erf.js";
import { exp, tanh } from "../../../core/math.js";
import { checkInputs, output, requireDType } from "./util.js";

type Arr = TensorData;

/** Each op: the dtypes it takes (the result keeps it), and its loop r[i] = f(a[i]) for i < n. */
interface UnaryKernel {
  readonly takes: readonly DType[];
  readonly loop: (a: Arr, r: Arr, n: number) => void;
}

const float = (loop: UnaryKernel["loop"]): UnaryKernel => ({ takes: ["f32"], loop });

const kernels: Record<UnaryOp, UnaryKernel> = {
  neg: { takes: ["f32", "i32"], loop: (a, r, n) => { for (let i = 0; i < n; i++) r[i] = -a[i]!; } },
  abs: { takes: ["f32", "i32"], loop: (a, r, n) => { for (let i = 0; i < n; i++) r[i] = Math.abs(a[i]!); } },
  not: { takes: ["bool"], loop: (a, r, n) => { for (let i = 0; i < n; i++) r[i] = a[i] === 0 ? 1 : 0; } },
  exp: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = exp(a[i]!); }),
  log: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = Math.log(a[i]!); }),
  sqrt: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = Math.sqrt(a[i]!); }),
  rsqrt: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = 1 / Math.sqrt(a[i]!); }),
  tanh: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = tanh(a[i]!); }),
  erf: float((a, r, n) => erfInto(a as Float32Array, r as Float32Array, n)),
  sigmoid: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = 1 / (1 + exp(-a[i]!)); }),
  sin: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = Math.sin(a[i]!); }),
  cos: float((a, r, n) => { for (let i = 0; i < n; i++) r[i] = Math.cos(a[i]!); }),
};

/** The result dtype of a unary op on `dtype`; throws for a dtype the op does not take. */
export function unaryResultDType(op: UnaryOp, x: Tensor): DType {
  if (!Object.hasOwn(kernels, op)) throw new KernelError("unary", `unknown op ${JSON.stringify(op)}`);
  requireDType(op, x, kernels[op].takes);
  return x.dtype;
}

export function unary(op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  checkInputs(op, x);
  const dtype = unaryResultDType(op, x);
  const o = output(op, dtype, x.shape, out, [x], true);
  kernels[op].loop(x.data, o.data, numel(x.shape));
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

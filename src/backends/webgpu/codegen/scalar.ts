// The WGSL of each elementwise op on one element, keyed by op (adding a unary or binary op does
// not compile until it has WGSL here). Operands are kernel values (f32, i32 or WGSL bool); the
// operand dtype picks the variant, as in the CPU kernels (src/backends/cpu/kernels/unary.ts,
// binary.ts), which are the semantics: see wgsl.ts for the helpers and docs/WEBGPU.md for the
// known differences (transcendental functions to a few ulp, f32 mod, sums in f32).
import type { BinaryOp, UnaryOp } from "../../../ir/ops.js";
import type { RtType } from "./wgsl.js";

/** A unary op on `x` of type `t`. */
export const unaryWgsl: Record<UnaryOp, (x: string, t: RtType) => string> = {
  neg: (x) => `(-(${x}))`,
  not: (x) => `(!${x})`,
  exp: (x) => `tfm_exp(${x})`,
  log: (x) => `tfm_log(${x})`,
  sqrt: (x) => `tfm_sqrt(${x})`,
  rsqrt: (x) => `(1.0f / tfm_sqrt(${x}))`,
  tanh: (x) => `tfm_tanh(${x})`,
  erf: (x) => `tfm_erf(${x})`,
  sigmoid: (x) => `tfm_sigmoid(${x})`,
  abs: (x) => `abs(${x})`,
  sin: (x) => `tfm_sin(${x})`,
  cos: (x) => `tfm_cos(${x})`,
};

/** bool operands of an ordering comparison compare as 0/1. */
const ord = (x: string, t: RtType) => (t === "bool" ? `select(0u, 1u, ${x})` : x);

/** A binary op on `a` and `b`, both of type `t` (the operands' type, not the result's). */
export const binaryWgsl: Record<BinaryOp, (a: string, b: string, t: RtType) => string> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b, t) => (t === "f32" ? `(${a} / ${b})` : `tfm_divi(${a}, ${b})`),
  mod: (a, b, t) => (t === "f32" ? `tfm_fmod(${a}, ${b})` : `(${a} % ${b})`),
  pow: (a, b, t) => (t === "f32" ? `tfm_pow(${a}, ${b})` : `tfm_powi(${a}, ${b})`),
  maximum: (a, b, t) => (t === "f32" ? `tfm_max(${a}, ${b})` : `max(${a}, ${b})`),
  minimum: (a, b, t) => (t === "f32" ? `tfm_min(${a}, ${b})` : `min(${a}, ${b})`),
  eq: (a, b) => `(${a} == ${b})`,
  ne: (a, b, t) => (t === "f32" ? `tfm_ne(${a}, ${b})` : `(${a} != ${b})`),
  lt: (a, b, t) => `(${ord(a, t)} < ${ord(b, t)})`,
  le: (a, b, t) => `(${ord(a, t)} <= ${ord(b, t)})`,
  gt: (a, b, t) => `(${ord(a, t)} > ${ord(b, t)})`,
  ge: (a, b, t) => `(${ord(a, t)} >= ${ord(b, t)})`,
  and: (a, b) => `(${a} && ${b})`,
  or: (a, b) => `(${a} || ${b})`,
};

/** Converts `x` of type `from` to `to` as the CPU's cast: f32 → i32 truncates and saturates, → bool is x != 0. */
export function castWgsl(x: string, from: RtType, to: RtType): string {
  if (from === to) return x;
  if (to === "bool") return from === "f32" ? `tfm_nonzero(${x})` : `(${x} != 0i)`;
  if (from === "bool") return to === "f32" ? `select(0.0f, 1.0f, ${x})` : `select(0i, 1i, ${x})`;
  return to === "i32" ? `tfm_f2i(${x})` : `f32(${x})`;
}

// WGSL text shared by every kernel: element types and how each dtype lives in a buffer, literals
// that keep their exact bits, the helper functions that give the CPU interpreter's semantics where
// WGSL's builtins differ or leave them open (NaN, erf, pow, float → int), and the kernel's frame:
// its bindings and entry point. Every identifier here is fixed or generated (`in0`, `t3`): user
// text (node or weight names) never reaches WGSL.
import type { DType } from "../../../check/shapes/value.js";
import { runtimeDType } from "../../../core/tensor.js";
import { erfCoefficients } from "./erf.js";

export type RtType = "f32" | "i32" | "bool";

/** The type a value of this dtype has inside a kernel. */
export const scalarType = (d: DType): RtType => runtimeDType[d as keyof typeof runtimeDType];

/** The element type of a buffer holding values of this dtype: bool is stored as u32 (0 or 1). */
export const storageType = (d: DType): "f32" | "i32" | "u32" => {
  const t = scalarType(d);
  return t === "bool" ? "u32" : t;
};

/** A buffer element (an expression of the storage type) as a kernel value. */
export const fromStorage = (d: DType, e: string): string => (scalarType(d) === "bool" ? `(${e} != 0u)` : e);

/** A kernel value as a buffer element. */
export const toStorage = (d: DType, e: string): string => (scalarType(d) === "bool" ? `select(0u, 1u, ${e})` : e);

const f32Bits = new Uint32Array(1);
const f32View = new Float32Array(f32Bits.buffer);

/**
 * An f32 literal with exactly the bits of fround(v): -0 and subnormals as bit patterns; infinities
 * and NaN through a function call (`tfm_bits`), since a constant expression may not be infinite
 * or NaN in WGSL while a run-time value may.
 */
export function f32Lit(v: number): string {
  f32View[0] = v;
  const r = f32View[0]!;
  const hex = `0x${f32Bits[0]!.toString(16)}u`;
  if (!Number.isFinite(r)) return `tfm_bits(${hex})`;
  if (Object.is(r, -0) || (r !== 0 && Math.abs(r) < 1.1754943508222875e-38)) return `bitcast<f32>(${hex})`;
  // JavaScript prints the shortest decimal that reads back as this double, which is the f32 value exactly.
  return r < 0 ? `(${String(r)}f)` : `${String(r)}f`;
}

export function i32Lit(v: number): string {
  const x = v | 0;
  return x === -2147483648 ? "i32(-2147483647 - 1)" : x < 0 ? `(${x}i)` : `${x}i`;
}

export function literal(t: RtType, v: number | boolean): string {
  if (t === "bool") return v ? "true" : "false";
  return t === "f32" ? f32Lit(Number(v)) : i32Lit(Number(v));
}

/**
 * Helper functions, included in a kernel when its body calls them. Their semantics are the CPU
 * kernels' (src/backends/cpu/kernels/): NaN tested on the bits (a compiler may not assume
 * `x != x`), max/min propagate NaN, float → i32 truncates and saturates (NaN → 0).
 */
const helpers: Record<string, string> = {
  tfm_isnan: "fn tfm_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }",
  tfm_bits: "fn tfm_bits(b: u32) -> f32 { return bitcast<f32>(b); }",
  tfm_nan: "fn tfm_nan() -> f32 { return tfm_bits(0x7fc00000u); }",
  tfm_max: "fn tfm_max(a: f32, b: f32) -> f32 { if (tfm_isnan(a) || tfm_isnan(b)) { return tfm_nan(); } return select(b, a, a > b); }",
  tfm_min: "fn tfm_min(a: f32, b: f32) -> f32 { if (tfm_isnan(a) || tfm_isnan(b)) { return tfm_nan(); } return select(b, a, a < b); }",
  tfm_f2i: [
    "fn tfm_f2i(x: f32) -> i32 {",
    "  if (tfm_isnan(x)) { return 0i; }",
    "  if (x >= 2147483647.0f) { return 2147483647i; }",
    "  if (x <= -2147483648.0f) { return i32(-2147483647 - 1); }",
    "  return i32(x);",
    "}",
  ].join("\n"),
  tfm_nonzero: "fn tfm_nonzero(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) != 0u; }",
  // tanh: an odd Taylor polynomial near 0 (where 1 - e^-2x loses digits), 1 - 2/(e^2x + 1) in the
  // middle, ±1 beyond 10 (tanh(10) rounds to 1 in f32); no intermediate overflows.
  tfm_tanh: [
    "fn tfm_tanh(x: f32) -> f32 {",
    "  let a = abs(x);",
    "  if (a < 0.125f) { let s = x * x; return x * (1.0f + s * (-0.33333333333f + s * (0.13333333333f + s * (-0.053968253968f + s * 0.021869488536f)))); }",
    "  if (a >= 10.0f) { return select(-1.0f, 1.0f, x > 0.0f); }",
    "  let t = exp(-2.0f * a);",
    "  let r = (1.0f - t) / (1.0f + t);",
    "  return select(r, -r, x < 0.0f);",
    "}",
  ].join("\n"),
  // sin, cos: WGSL only promises 2⁻¹¹ absolute error, on [-π, π]. Cephes' sinf/cosf instead: the
  // argument reduced by π/4 in three exact parts (Cody–Waite) to [-π/4, π/4], then a polynomial;
  // about 1e-7 for |x| < 8192, the builtin beyond (where f32 has few fractional bits anyway).
  tfm_sin: [
    "fn tfm_sin(x: f32) -> f32 {",
    "  let a = abs(x);",
    "  if (!(a < 8192.0f)) { return sin(x); }",
    "  var j = u32(a * 1.27323954473516f);",
    "  j = j + (j & 1u);",
    "  let y = f32(j);",
    "  let z = ((a - y * 0.78515625f) - y * 2.4187564849853515625e-4f) - y * 3.77489497744594108e-8f;",
    "  let zz = z * z;",
    "  let q = j & 7u;",
    "  var r: f32;",
    "  if (q == 2u || q == 6u) { r = tfm_cospoly(zz); } else { r = tfm_sinpoly(z, zz); }",
    "  if (q >= 4u) { r = -r; }",
    "  return select(r, -r, x < 0.0f);",
    "}",
  ].join("\n"),
  tfm_cos: [
    "fn tfm_cos(x: f32) -> f32 {",
    "  let a = abs(x);",
    "  if (!(a < 8192.0f)) { return cos(x); }",
    "  var j = u32(a * 1.27323954473516f);",
    "  j = j + (j & 1u);",
    "  let y = f32(j);",
    "  let z = ((a - y * 0.78515625f) - y * 2.4187564849853515625e-4f) - y * 3.77489497744594108e-8f;",
    "  let zz = z * z;",
    "  let q = j & 7u;",
    "  var r: f32;",
    "  if (q == 2u || q == 6u) { r = tfm_sinpoly(z, zz); } else { r = tfm_cospoly(zz); }",
    "  if (q == 2u || q == 4u) { r = -r; }",
    "  return r;",
    "}",
  ].join("\n"),
  tfm_sinpoly: "fn tfm_sinpoly(z: f32, zz: f32) -> f32 { return ((-1.9515295891e-4f * zz + 8.3321608736e-3f) * zz - 1.6666654611e-1f) * zz * z + z; }",
  tfm_cospoly: "fn tfm_cospoly(zz: f32) -> f32 { return ((2.443315711809948e-5f * zz - 1.388731625493765e-3f) * zz + 4.166664568298827e-2f) * zz * zz - 0.5f * zz + 1.0f; }",
  // exp(NaN) is NaN (SwiftShader's exp gives +∞): a select, no branch, so a hot loop stays straight.
  tfm_exp: "fn tfm_exp(x: f32) -> f32 { return select(exp(x), x, tfm_isnan(x)); }",
  // x · (±0) on the bits (no float op a compiler could fold): NaN for NaN and ±∞, else a zero with the sign of the product.
  tfm_mulzero: "fn tfm_mulzero(x: f32, sign: u32) -> f32 { let b = bitcast<u32>(x); return select(bitcast<f32>((b & 0x80000000u) ^ sign), tfm_nan(), (b & 0x7fffffffu) >= 0x7f800000u); }",
  // x + 0 is x but for -0 + 0 = +0; 0 - x is -x but for 0 - (±0) = +0.
  tfm_addzero: "fn tfm_addzero(x: f32) -> f32 { let b = bitcast<u32>(x); return bitcast<f32>(select(b, 0u, b == 0x80000000u)); }",
  tfm_zerosub: "fn tfm_zerosub(x: f32) -> f32 { let b = bitcast<u32>(x); return bitcast<f32>(select(b ^ 0x80000000u, 0u, (b & 0x7fffffffu) == 0u)); }",
  tfm_sigmoid: "fn tfm_sigmoid(x: f32) -> f32 { if (tfm_isnan(x)) { return x; } return 1.0f / (1.0f + exp(-x)); }",
  // log and sqrt outside their domain are indeterminate in WGSL (SwiftShader's log(-x) is log|x|):
  // NaN as IEEE says, and log(±0) = -∞.
  tfm_log: "fn tfm_log(x: f32) -> f32 { if (tfm_isnan(x) || x < 0.0f) { return tfm_nan(); } if (x == 0.0f) { return tfm_bits(0xff800000u); } return log(x); }",
  tfm_sqrt: "fn tfm_sqrt(x: f32) -> f32 { if (tfm_isnan(x) || x < 0.0f) { return tfm_nan(); } return sqrt(x); }",
  // a != b is true when either is NaN (IEEE); SwiftShader compiles it as an ordered comparison.
  tfm_ne: "fn tfm_ne(a: f32, b: f32) -> bool { return tfm_isnan(a) || tfm_isnan(b) || a != b; }",
  // erf: the CPU's algorithm (src/backends/cpu/kernels/erf.ts) in f32: the Maclaurin series for
  // |x| ≤ 2, Laplace's continued fraction for 2 < |x| < 6, ±1 beyond.
  tfm_erf: "", // filled below from the CPU's coefficients
  // pow as Math.pow: x⁰ = 1 (even NaN⁰), NaN otherwise propagates; integer exponents by repeated
  // squaring (exact signs for negative bases); a negative base with a fractional exponent is NaN.
  tfm_pow: [
    "fn tfm_pow(a: f32, b: f32) -> f32 {",
    "  if (b == 0.0f) { return 1.0f; }",
    "  if (tfm_isnan(a) || tfm_isnan(b)) { return tfm_nan(); }",
    "  let isInt = b == trunc(b);",
    "  if (isInt && abs(b) <= 64.0f) {",
    "    var e = u32(abs(b));",
    "    var base = a;",
    "    var r = 1.0f;",
    "    loop {",
    "      if ((e & 1u) == 1u) { r = r * base; }",
    "      e = e >> 1u;",
    "      if (e == 0u) { break; }",
    "      base = base * base;",
    "    }",
    "    return select(r, 1.0f / r, b < 0.0f);",
    "  }",
    "  if (a < 0.0f) {",
    "    if (!isInt) { return tfm_nan(); }",
    "    let m = exp2(b * log2(-a));",
    "    let odd = abs(b) < 16777216.0f && (i32(abs(b)) & 1i) == 1i;",
    "    return select(m, -m, odd);",
    "  }",
    "  if (a == 0.0f) { return select(0.0f, tfm_bits(0x7f800000u), b < 0.0f); }",
    "  return exp2(b * log2(a));",
    "}",
  ].join("\n"),
  // i32 pow wraps like the CPU's store of Math.pow (exact below 2^53); a negative exponent gives
  // 1/aᵇ truncated: 1 for a = 1, ±1 for a = -1, 0 otherwise.
  tfm_powi: [
    "fn tfm_powi(a: i32, b: i32) -> i32 {",
    "  if (b < 0i) { if (a == 1i) { return 1i; } if (a == -1i) { return select(1i, -1i, (b & 1i) == 1i); } return 0i; }",
    "  var e = u32(b);",
    "  var base = a;",
    "  var r = 1i;",
    "  loop {",
    "    if (e == 0u) { break; }",
    "    if ((e & 1u) == 1u) { r = r * base; }",
    "    e = e >> 1u;",
    "    base = base * base;",
    "  }",
    "  return r;",
    "}",
  ].join("\n"),
  // fmod: WGSL's f32 % (a - b·trunc(a/b)), with fmod's results for infinite divisors.
  tfm_fmod: "fn tfm_fmod(a: f32, b: f32) -> f32 { if ((bitcast<u32>(b) & 0x7fffffffu) == 0x7f800000u && (bitcast<u32>(a) & 0x7fffffffu) < 0x7f800000u) { return a; } return a % b; }",
  // i32 division as the CPU's double division rounded to f32 (exact when both fit in 24 bits).
  tfm_divi: "fn tfm_divi(a: i32, b: i32) -> f32 { return f32(a) / f32(b); }",
};

helpers.tfm_erf = (() => {
  const c = erfCoefficients();
  const horner = c.map((v) => `s = s * t + ${f32Lit(v)};`).join(" ");
  return [
    "fn tfm_erf(x: f32) -> f32 {",
    "  let ax = abs(x);",
    `  if (ax <= 2.0f) { let t = x * x; var s = 0.0f; ${horner} return x * s; }`,
    "  if (ax < 6.0f) {",
    "    var f = ax;",
    "    for (var k = 20; k > 0; k = k - 1) { f = ax + (0.5f * f32(k)) / f; }",
    `    let r = 1.0f - (exp(-ax * ax) * ${f32Lit(0.5641895835477563)}) / f;`,
    "    return select(r, -r, x < 0.0f);",
    "  }",
    "  if (tfm_isnan(x)) { return x; }",
    "  return select(1.0f, -1.0f, x < 0.0f);",
    "}",
  ].join("\n");
})();

/** The helper functions `body` calls, and those they call, in dependency order. */
export function helpersFor(body: string): string {
  const used = new Set<string>();
  const visit = (text: string) => {
    for (const m of text.matchAll(/\b(tfm_[a-z0-9]+)\(/g)) {
      const name = m[1]!;
      if (used.has(name) || !(name in helpers)) continue;
      visit(helpers[name]!.replace(`fn ${name}(`, ""));
      used.add(name);
    }
  };
  visit(body);
  return [...used].map((n) => helpers[n]).join("\n");
}

/** A storage binding of a kernel: read-only inputs, read-write outputs. */
export interface Binding {
  readonly name: string;
  readonly type: string;
  readonly access: "read" | "read_write";
}

/**
 * A kernel without its sizes uniform (binding 0, declared once the whole program's table is known,
 * by compile.ts): the storage bindings from 1 in order, workgroup variables, the helpers it uses
 * and its entry point `main`, with `wg` the workgroup's linear index over a 1-, 2- or 3-D grid.
 */
export function kernelSource(bindings: readonly Binding[], shared: readonly string[], workgroupSize: string, body: string): string {
  const decls = bindings.map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`);
  const main = [
    `@compute @workgroup_size(${workgroupSize})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
    "  let wg = (wid.z * nwg.y + wid.y) * nwg.x + wid.x;",
    body,
    "}",
  ].join("\n");
  const fns = helpersFor(body + shared.join("\n"));
  return [...decls, ...shared, ...(fns ? [fns] : []), main].join("\n") + "\n";
}

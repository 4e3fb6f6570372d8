// exp, tanh and erf in double precision by IEEE-754 +, −, ×, ÷ alone: the scalar functions of the
// CPU kernels (exp, tanh, sigmoid, softmax, erf; the fused kernels compiled by
// src/backends/cpu/rowcode.ts) and of the shape checker's compile-time values, so `erf(0.5)`
// folded when compiling is what the kernel computes. JavaScript leaves Math.exp and
// Math.tanh to the engine (V8 calls fdlibm out of line; GPT-2's GELU spends most of its time in
// Math.tanh); these are short polynomials V8 inlines into the loops, and they give the same bits
// on every engine, so a CPU bundle in a browser computes what tfm computes in Node.
//
//   exp(x) = 2^m · 2^(j/32) · e^r, where n = round(32x / ln 2) = 32m + j and r = x − n·ln(2)/32 (ln 2
//            split in two as fdlibm does, so n·LN2_32_HI is exact), |r| ≤ ln(2)/64; e^r by its Taylor
//            series to r⁶ (the first omitted term is 3.5e-18), 2^(j/32) from a table of correctly
//            rounded constants, 2^m from a table of powers of two. Overflow gives Infinity,
//            underflow 0 (through the subnormals), NaN stays NaN.
//   tanh(x) = its odd Taylor series to x¹⁵ for |x| < 1/8 (the next term is below 1e-18; exact in sign
//            and at ±0), else ±(1 − 2/(exp(2|x|) + 1)), and ±1 from |x| > 19.1 (where tanh rounds to 1).
//
// Both stay within a few units in the last place of double (test/unit/backends/cpu/math.test.ts
// measures them against Math.exp and Math.tanh), far below f32's rounding: the kernels round to
// f32, where they and the engine's functions agree on nearly every value.

export const LOG2E_32 = 46.16624130844683; // 32 / ln 2
/** ln(2)/32 = LN2_32_HI + LN2_32_LO (fdlibm's split of ln 2, divided by 32): n·LN2_32_HI is exact for |n| < 2²⁰. */
export const LN2_32_HI = 6.93147180369123816490e-1 / 32;
export const LN2_32_LO = 1.90821492927058770002e-10 / 32;
const EXP_MAX = 709.782712893384; // ln(MAX_VALUE)
const EXP_MIN = -745.1332191019412; // below it, e^x is under half the smallest subnormal

/** 2^(j/32) for j < 32, correctly rounded (computed to 60 digits). */
export const POW2_32 = new Float64Array([
  1.0, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237, 1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
  1.189207115002721, 1.215247359980469, 1.241857812073484, 1.2690509571917332, 1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.383909881963832,
  1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228, 1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.645755478153965,
  1.681792830507429, 1.718619298122478, 1.7562521603732995, 1.7947090750031072, 1.8340080864093424, 1.8741676341103, 1.9152065613971474, 1.9571441241754002,
]);

/** 2^m for −1022 ≤ m ≤ 1023, at m + 1022 (exact: repeated doubling). */
const POW2 = (() => {
  const t = new Float64Array(2046);
  for (let m = -1022, v = 2 ** -1022; m <= 1023; m++, v *= 2) t[m + 1022] = v;
  return t;
})();

/** e^x in double. */
export function exp(x: number): number {
  if (!(x > EXP_MIN && x < EXP_MAX)) return x !== x ? NaN : x > 0 ? Infinity : 0;
  const n = Math.floor(x * LOG2E_32 + 0.5);
  const r = x - n * LN2_32_HI - n * LN2_32_LO;
  // 1 + r + r²/2! + … + r⁶/6! (1/k! correctly rounded)
  const p = (((((1.388888888888889e-3 * r + 8.333333333333333e-3) * r + 4.1666666666666664e-2) * r + 1.6666666666666666e-1) * r + 0.5) * r + 1) * r + 1;
  const m = n >> 5;
  const q = POW2_32[n & 31]! * p;
  // Below 2^-1022 (subnormal results) and at m = 1024 (just under MAX_VALUE): scale in two steps.
  if (m < -1022) return q * POW2[m + 1022 + 64]! * 5.421010862427522e-20; // × 2^-64
  if (m > 1023) return q * 2 * POW2[m - 1 + 1022]!;
  return q * POW2[m + 1022]!;
}

/** tanh(x) in double. */
export function tanh(x: number): number {
  const a = x < 0 ? -x : x;
  if (a < 0.125) {
    if (a === 0) return x; // ±0
    // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − 1382x¹¹/155925 + 21844x¹³/6081075 − 929569x¹⁵/638512875
    const t = x * x;
    return x + x * t * (((((((-0.0014558343870513183 * t + 0.003592128036572481) * t - 0.008863235529902197) * t + 0.021869488536155203) * t - 0.05396825396825397) * t + 0.13333333333333333) * t - 0.3333333333333333));
  }
  if (!(a <= 19.1)) return x !== x ? NaN : x < 0 ? -1 : 1;
  const r = 1 - 2 / (exp(2 * a) + 1);
  return x < 0 ? -r : r;
}

// erf: the error function, accurate to about 1e-11 absolute in double precision (so the f32 result is
// within rounding, ≤ 6e-8, of the true value). Two classical expansions, no fitted constants:
//
//   |x| ≤ 2:  the Maclaurin series  erf(x) = 2/√π · Σₙ (-1)ⁿ x²ⁿ⁺¹ / (n! (2n+1)),  n = 0..24.
//             The first omitted term bounds the error: 2/√π · 2⁵³ / (25!·53) ≈ 3e-12. The
//             largest term at x = 2 is about 2.4, so cancellation costs under one digit.
//   |x| > 2:  Laplace's continued fraction  erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
//             evaluated bottom-up at a fixed depth of 20; at x = 2 the truncation error is ≈ 5e-12
//             and it shrinks quickly as x grows.
//   |x| ≥ 6:  ±1 (erfc(6) ≈ 2e-17).
//
// Measured against Python's math.erf (test/unit/backends/cpu/erf.test.ts).

export const ERF_TERMS = 25;
const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
export const INV_SQRT_PI = 0.5641895835477563; // 1/√π
export const ERF_CF_DEPTH = 20;

/** cₙ = 2/√π · (-1)ⁿ / (n! (2n+1)), highest first for Horner's rule. */
export const erfCoeffs: Float64Array = (() => {
  const c = new Float64Array(ERF_TERMS);
  let fact = 1;
  for (let n = 0; n < ERF_TERMS; n++) {
    if (n > 0) fact *= n;
    c[ERF_TERMS - 1 - n] = (TWO_OVER_SQRT_PI * (n % 2 === 0 ? 1 : -1)) / (fact * (2 * n + 1));
  }
  return c;
})();

/** erf of one number (double precision). */
export function erf(x: number): number {
  const ax = x < 0 ? -x : x;
  if (ax <= 2) {
    const t = x * x;
    let s = 0;
    for (let i = 0; i < ERF_TERMS; i++) s = s * t + erfCoeffs[i]!;
    return x * s;
  }
  if (ax < 6) {
    let f = ax;
    for (let k = ERF_CF_DEPTH; k > 0; k--) f = ax + (0.5 * k) / f;
    const r = 1 - (exp(-ax * ax) * INV_SQRT_PI) / f;
    return x < 0 ? -r : r;
  }
  if (x !== x) return NaN;
  return x < 0 ? -1 : 1;
}

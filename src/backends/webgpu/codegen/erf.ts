// The coefficients of the CPU's erf series (src/backends/cpu/kernels/erf.ts), for the WGSL erf:
// cₙ = 2/√π · (-1)ⁿ / (n! (2n+1)), n = 0..24, highest first for Horner's rule. Computed the same
// way in double, then rounded to f32 when written into WGSL.
const SERIES_TERMS = 25;
const TWO_OVER_SQRT_PI = 1.1283791670955126;

export function erfCoefficients(): number[] {
  const c = new Array<number>(SERIES_TERMS);
  let fact = 1;
  for (let n = 0; n < SERIES_TERMS; n++) {
    if (n > 0) fact *= n;
    c[SERIES_TERMS - 1 - n] = (TWO_OVER_SQRT_PI * (n % 2 === 0 ? 1 : -1)) / (fact * (2 * n + 1));
  }
  return c;
}

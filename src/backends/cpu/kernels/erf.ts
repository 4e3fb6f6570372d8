// erf over an array: the scalar erf of src/core/math.ts (its expansions and error bounds are
// described there), inlined into the loop.

import { ERF_CF_DEPTH, erfCoeffs, exp, INV_SQRT_PI, ERF_TERMS } from "../../../core/math.js";

export { erf } from "../../../core/math.js";

/** o[i] = erf(x[i]) for i < n: the same code as `erf`, inlined into the loop. */
export function erfInto(x: Float32Array, o: Float32Array, n: number): void {
  const c = erfCoeffs;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const av = v < 0 ? -v : v;
    let r: number;
    if (av <= 2) {
      const t = v * v;
      let s = 0;
      for (let j = 0; j < ERF_TERMS; j++) s = s * t + c[j]!;
      r = v * s;
    } else if (av < 6) {
      let f = av;
      for (let k = ERF_CF_DEPTH; k > 0; k--) f = av + (0.5 * k) / f;
      r = 1 - (exp(-av * av) * INV_SQRT_PI) / f;
      if (v < 0) r = -r;
    } else {
      r = v !== v ? NaN : v < 0 ? -1 : 1;
    }
    o[i] = r;
  }
}

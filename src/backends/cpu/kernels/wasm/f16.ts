// f16 weights on the CPU (`weightsDtype: "f16"`): a weight's panels kept as IEEE binary16, half the
// bytes of f32 in the resident region and half of what a decode step streams, read back as f32 by
// the GEMM's own kernels (gemm.ts, generated with `half`) and summed in f32 as ever.
//
// Layout. The f32 panels' (gemm.ts): panel q holds Bt[8q + c, p] at [q][p][c], now two bytes an
// element, so a k step of a panel is one 16-byte vector of 8 halves. Each value is the f16 nearest
// the weight, ties to even (src/core/f16.ts: PyTorch's `.half()` and WebGPU's f16 weights round so).
//
// Reading. Lanes of a vector's halves are sign-extended to i32 (i32x4.extend_{low,high}_i16x8_s),
// shifted left by 13 — the f16's exponent and mantissa land on an f32's low exponent bits and
// mantissa — and masked to 0x8fffe000 (the sign bit kept, the sign's copies in bits 28–30 cleared),
// then multiplied as f32 by 2^112, which rebiases the exponent (15 → 127). That is exact for every
// finite f16, subnormals and signed zeros included; an f16 infinity or NaN would come out finite,
// so a weight with a value past f16's range (|x| ≥ 65520, or not finite) is not packed as f16 at
// all: its products read f32 panels (of its values rounded all the same, ±∞ there, where the
// session rounds the weights first: kernels/index.ts `halfWeights`). Four instructions per 4
// weights, against the f32 kernel's one load: a decode step's products, which read each weight once,
// are bound by these on one thread (slower than f32's there) and by memory on two (faster).
//
// Numerics. The kernels read exactly f32(f16(w)) and then do what the f32 kernels do, in the same
// order: a product by f16 weights has the bits of the f32 GEMM on the weights rounded to f16 (for
// any tiling and thread count, test/unit/backends/cpu/f16.test.ts). From 16 rows of A on, the driver
// converts each panel's k block (KC × 8 halves) once into a per-thread scratch and runs the f32
// kernels on it, so a prefill pays the conversion once per block rather than once per row tile.
import { f16OfF32Bits } from "../../../../core/f16.js";
import { Body, I32, V128, whileLoop, Op } from "./emit.js";

/** 0x8fffe000: the sign bit, and the f16's 15 bits of exponent and mantissa after the shift. */
const MASK = 0x8fffe000 | 0;
/** The f32 bits of 2^112. */
const REBIAS = 0x77800000;

/** The locals the reading of halves needs: a vector, the mask and 2^112 (set once, at the function's start). */
export interface HalfLocals {
  readonly w: number;
  readonly mask: number;
  readonly rebias: number;
}

export function halfLocals(f: Body): HalfLocals {
  const h = { w: f.local(V128), mask: f.local(V128), rebias: f.local(V128) };
  f.i32x4Const([MASK, MASK, MASK, MASK]).set(h.mask);
  f.i32x4Const([REBIAS, REBIAS, REBIAS, REBIAS]).set(h.rebias);
  return h;
}

/** The 8 halves at `ptr` + `offset` as two f32x4: lanes 0–3 into lo, 4–7 into hi (exact, as above). */
export function loadHalves(f: Body, ptr: number, offset: number, h: HalfLocals, lo: number, hi: number): void {
  f.get(ptr).v128Load(offset).set(h.w);
  f.get(h.w).i32x4ExtendLowI16x8S().i32(13).i32x4Shl().get(h.mask).v128And().get(h.rebias).f32x4Mul().set(lo);
  f.get(h.w).i32x4ExtendHighI16x8S().i32(13).i32x4Shl().get(h.mask).v128And().get(h.rebias).f32x4Mul().set(hi);
}

/** cvt16(src, dst, count): `count` vectors of 8 halves at src as 8 f32 each at dst (32 bytes a vector). */
export function convertKernel(): Body {
  const f = new Body(3);
  const [src, dst, count] = [0, 1, 2];
  const end = f.local(I32), lo = f.local(V128), hi = f.local(V128);
  const h = halfLocals(f);
  f.get(src).get(count).i32(4).op(Op.i32Shl).op(Op.i32Add).set(end);
  whileLoop(f, () => f.get(src).get(end).op(Op.i32LtU), () => {
    loadHalves(f, src, 0, h, lo, hi);
    f.get(dst).get(lo).v128Store(0);
    f.get(dst).get(hi).v128Store(16);
    f.get(src).i32(16).op(Op.i32Add).set(src);
    f.get(dst).i32(32).op(Op.i32Add).set(dst);
  });
  return f;
}

// ---- the host side: packing ----------------------------------------------------------------------

/** Whether f16 bits are an infinity or a NaN (what the kernels cannot read). */
const notFinite = (h: number): boolean => (h & 0x7c00) === 0x7c00;

/**
 * Bt [n, k] as f16 panels of `nr` columns into `out` ([q][p][c], zero past n). False (out partly
 * written) where a value has no finite f16.
 */
export function halfPanels(Bt: Float32Array, n: number, k: number, nr: number, out: Uint16Array): boolean {
  const bits = new Uint32Array(Bt.buffer, Bt.byteOffset, n * k);
  out.fill(0);
  for (let j = 0; j < n; j++) {
    const base = Math.floor(j / nr) * k * nr + (j % nr), row = j * k;
    for (let p = 0; p < k; p++) {
      const h = f16OfF32Bits(bits[row + p]!);
      if (notFinite(h)) return false;
      out[base + p * nr] = h;
    }
  }
  return true;
}

/** B [k, n] (row-major: the transpose of halfPanels' Bt) into the same panels, read in B's row order. */
export function halfPanelsNN(B: Float32Array, k: number, n: number, nr: number, out: Uint16Array): boolean {
  const bits = new Uint32Array(B.buffer, B.byteOffset, k * n);
  out.fill(0);
  for (let p = 0; p < k; p++) {
    const row = p * n;
    for (let j = 0; j < n; j++) {
      const h = f16OfF32Bits(bits[row + j]!);
      if (notFinite(h)) return false;
      out[(Math.floor(j / nr) * k + p) * nr + (j % nr)] = h;
    }
  }
  return true;
}

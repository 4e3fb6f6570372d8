// The int8 GEMM (`--weights-dtype int8`): weights quantized per output column at load, the left
// operand per row at each product, multiplied in integers by i32x4.dot_i16x8_s (pmaddwd: 8
// multiply-adds an instruction, against 8 for the f32 kernel's four), generated as functions of
// gemm.ts's module.
//
// Layout. A weight Bt [n, k] becomes int8 panels of NR = 8 columns over k rounded up to even (kp):
// for each pair of k steps (p, p + 1), 16 bytes [c0p, c0p+1, c1p, c1p+1, ..., c7p, c7p+1]; zero past n
// and k. Its scales (f32, one per column, zero past n) follow. A's rows are quantized into int16 at
// each call ([m, kp], 2 bytes an element) with a scale per row.
//
// Kernel. Per pair of k steps: one v128.load of the panel's 16 bytes, widened to two i16x8 (columns
// 0–3 and 4–7, two k each); per row of A, its two int16 at p, p + 1 splat as an i32 and dot-multiplied
// with both (i32x4.dot_i16x8_s: lane c gets a[p]·q[c, p] + a[p+1]·q[c, p+1]), summed in i32x4.
// k goes in blocks of KC = 512: |a| ≤ 32767 and |q| ≤ 127, so a block's sum stays below 2³¹
// (32767 · 127 · 512 = 2,130,641,408), exact; each block's sum is converted to f32 and added to C.
//
// Numerics, exactly (test/unit/backends/cpu/int8.test.ts computes the same in JavaScript):
//   w_s[j] = fround(max_p |Bt[j, p]| / 127),  q[j, p] = floor(Bt[j, p] / w_s[j] + 1/2)  (0 where w_s = 0)
//   a_s[i] = fround(max_p |A[i, p]| / 32767), a[i, p] = floor(A[i, p] / a_s[i] + 1/2)  (0 where a_s = 0)
//   S_b = Σ_{p in block b} a[i, p]·q[j, p]  (exact, in i32);  acc = f32 sum of the S_b in block order
//   C[i, j] = fround(fround(acc · w_s[j]) · a_s[i])
// Each C[i, j] depends on row i of A, row j of Bt and k alone: the same bits for any tiling, row
// block and thread count.
import { Body, I32, Op, V128, whileLoop } from "./emit.js";

/** Columns per panel (as the f32 panels). */
const NR = 8;
/** Rows of A per tile. */
export const MR8 = 4;
/** k per block (even): a block's integer sums cannot overflow i32. */
const KC = 512;
/** Panels per step of the one-row kernel. */
const GP = 4;
/** Bytes of a panel per pair of k steps. */
const PAIR = 2 * NR;

/**
 * The two i16x8 (columns 0–3 and 4–7) of one pair of k steps of a panel at `ptr`, into lo and hi,
 * through w.
 */
function loadPair(f: Body, ptr: number, w: number, lo: number, hi: number): void {
  f.get(ptr).v128Load(0).set(w);
  f.get(w).i16x8ExtendLowI8x16S().set(lo);
  f.get(w).i16x8ExtendHighI8x16S().set(hi);
}

/** s += dot(x, v) in i32x4. */
function dotAdd(f: Body, s: number, x: number, v: number): void {
  f.get(s).get(x).get(v).i32x4DotI16x8S().i32x4Add().set(s);
}

/** The block's i32 sums, as f32, stored to C at `ptr` (+ `offset`) or added to what it holds. */
function flush(f: Body, ptr: number, offset: number, sum: number, accumulate: number, tmp: number): void {
  f.get(sum).f32x4ConvertI32x4S().set(tmp);
  f.block().get(accumulate).op(Op.i32Eqz).brIf(0);
  f.get(ptr).v128Load(offset).get(tmp).f32x4Add().set(tmp);
  f.op(Op.end);
  f.get(ptr).get(tmp).v128Store(offset);
}

/**
 * kern(a, b, c, kc, lda, ldc, acc): for r < rows, C[r, 0..NR) (acc ? += : =) f32(Σ_{p < kc} A[r, p]·P[p, ..])
 * with A in int16 (rows lda bytes apart), P a panel at pair 0 of the block, kc even.
 */
export function int8Kernel(rows: number): Body {
  const f = new Body(7);
  const [a, b, c, kc, lda, ldc, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const bp = f.local(I32), end = f.local(I32);
  const ar = Array.from({ length: rows }, () => f.local(I32));
  const acc = Array.from({ length: rows }, () => [f.local(V128), f.local(V128)]);
  const [w, lo, hi, x] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  ar.forEach((v, r) => f.get(a).get(lda).i32(r).op(Op.i32Mul).op(Op.i32Add).set(v));
  f.get(b).set(bp);
  // end = b + (kc / 2) · PAIR
  f.get(b).get(kc).i32(PAIR / 2).op(Op.i32Mul).op(Op.i32Add).set(end);
  for (const row of acc) for (const v of row) f.v128Zero().set(v);
  whileLoop(f, () => f.get(bp).get(end).op(Op.i32LtU), () => {
    loadPair(f, bp, w, lo, hi);
    ar.forEach((p, r) => {
      f.get(p).v128Load32Splat(0).set(x);
      dotAdd(f, acc[r]![0]!, x, lo);
      dotAdd(f, acc[r]![1]!, x, hi);
      f.get(p).i32(4).op(Op.i32Add).set(p);
    });
    f.get(bp).i32(PAIR).op(Op.i32Add).set(bp);
  });
  const cr = f.local(I32);
  acc.forEach((row, r) => {
    f.get(c).get(ldc).i32(r).op(Op.i32Mul).op(Op.i32Add).set(cr);
    row.forEach((v, h) => flush(f, cr, 16 * h, v, accumulate, w));
  });
  return f;
}

/**
 * gemv(a, b, c, kc, ps, acc): one row of A (int16) against GP panels ps bytes apart from b: C[0, 0 ..
 * GP · NR) (acc ? += : =) the block's sums, GP · 2 independent i32x4 sums.
 */
export function int8Gemv(): Body {
  const f = new Body(6);
  const [a, b, c, kc, ps, accumulate] = [0, 1, 2, 3, 4, 5];
  const ap = f.local(I32), end = f.local(I32);
  const bp = Array.from({ length: GP }, () => f.local(I32));
  const acc = Array.from({ length: GP * 2 }, () => f.local(V128));
  const [w, lo, hi, x] = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.get(a).set(ap);
  // end = a + kc · 2 (int16 A)
  f.get(a).get(kc).i32(1).op(Op.i32Shl).op(Op.i32Add).set(end);
  bp.forEach((v, g) => f.get(b).get(ps).i32(g).op(Op.i32Mul).op(Op.i32Add).set(v));
  for (const v of acc) f.v128Zero().set(v);
  whileLoop(f, () => f.get(ap).get(end).op(Op.i32LtU), () => {
    f.get(ap).v128Load32Splat(0).set(x);
    bp.forEach((p, g) => {
      loadPair(f, p, w, lo, hi);
      dotAdd(f, acc[2 * g]!, x, lo);
      dotAdd(f, acc[2 * g + 1]!, x, hi);
      f.get(p).i32(PAIR).op(Op.i32Add).set(p);
    });
    f.get(ap).i32(4).op(Op.i32Add).set(ap);
  });
  acc.forEach((v, i) => flush(f, c, 16 * i, v, accumulate, w));
  return f;
}

/**
 * gemmq8(a, b, c, m, n, k, ldc, ws, as): C = a_s · (A_q · Q_bᵀ) · w_s for m rows of int16 A at a
 * (k even, k · 2 bytes a row), the ceil(n / NR) int8 panels at b (k · NR bytes each), C's rows ldc
 * bytes apart at c (whole panels written), the column scales at ws and the row scales at as.
 * Functions base .. base + MR8 − 1 are the kernels of MR8, ..., 1 rows; base + MR8 is the gemv.
 */
export function int8Driver(base: number): Body {
  const f = new Body(9);
  const [a, b, c, m, n, k, ldc, ws, as] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const lda = f.local(I32), p0 = f.local(I32), kc = f.local(I32), acc = f.local(I32);
  const q = f.local(I32), panels = f.local(I32), bq = f.local(I32), i = f.local(I32), ai = f.local(I32), ci = f.local(I32);
  f.get(k).i32(1).op(Op.i32Shl).set(lda);
  f.get(n).i32(NR - 1).op(Op.i32Add).i32(3).op(Op.i32ShrU).set(panels);
  f.i32(0).set(p0);
  whileLoop(f, () => f.get(p0).get(k).op(Op.i32LtS), () => {
    // kc = min(KC, k − p0); acc = p0 > 0
    f.get(k).get(p0).op(Op.i32Sub).set(kc);
    f.block().get(kc).i32(KC).op(Op.i32LeS).brIf(0).i32(KC).set(kc).op(Op.end);
    f.get(p0).i32(0).op(Op.i32GtS).set(acc);
    f.i32(0).set(q);
    // m = 1: GP panels a call while GP remain
    f.block().get(m).i32(1).op(Op.i32Sub).brIf(0);
    whileLoop(f, () => f.get(q).i32(GP).op(Op.i32Add).get(panels).op(Op.i32LeS), () => {
      f.get(a).get(p0).i32(1).op(Op.i32Shl).op(Op.i32Add);
      f.get(b).get(q).get(k).op(Op.i32Mul).get(p0).op(Op.i32Add).i32(NR).op(Op.i32Mul).op(Op.i32Add);
      f.get(c).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add);
      f.get(kc).get(k).i32(NR).op(Op.i32Mul).get(acc).call(base + MR8);
      f.get(q).i32(GP).op(Op.i32Add).set(q);
    });
    f.op(Op.end);
    whileLoop(f, () => f.get(q).get(panels).op(Op.i32LtS), () => {
      // bq = b + (q · k + p0) · NR; ai = a + p0 · 2; ci = c + q · NR · 4
      f.get(b).get(q).get(k).op(Op.i32Mul).get(p0).op(Op.i32Add).i32(NR).op(Op.i32Mul).op(Op.i32Add).set(bq);
      f.get(a).get(p0).i32(1).op(Op.i32Shl).op(Op.i32Add).set(ai);
      f.get(c).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(ci);
      f.i32(0).set(i);
      const call = (fn: number) => f.get(ai).get(bq).get(ci).get(kc).get(lda).get(ldc).get(acc).call(base + fn);
      whileLoop(f, () => f.get(i).i32(MR8).op(Op.i32Add).get(m).op(Op.i32LeS), () => {
        call(0);
        f.get(i).i32(MR8).op(Op.i32Add).set(i);
        f.get(ai).get(lda).i32(MR8).op(Op.i32Mul).op(Op.i32Add).set(ai);
        f.get(ci).get(ldc).i32(MR8).op(Op.i32Mul).op(Op.i32Add).set(ci);
      });
      for (let r = MR8 - 1; r >= 1; r--) {
        f.block().get(m).get(i).op(Op.i32Sub).i32(r).op(Op.i32Sub).op(Op.i32Eqz).op(Op.i32Eqz).brIf(0);
        call(MR8 - r);
        f.op(Op.end);
      }
      f.get(q).i32(1).op(Op.i32Add).set(q);
    });
    f.get(p0).i32(KC).op(Op.i32Add).set(p0);
  });
  // C[i, j] = (C[i, j] · ws[j]) · as[i], row by row over whole panels (C's rows are padded to them).
  const v = f.local(V128), sa = f.local(V128);
  f.get(c).set(ci);
  f.get(as).set(ai);
  f.i32(0).set(i);
  whileLoop(f, () => f.get(i).get(m).op(Op.i32LtS), () => {
    f.get(ai).v128Load32Splat(0).set(sa);
    f.i32(0).set(q);
    whileLoop(f, () => f.get(q).get(panels).op(Op.i32LtS), () => {
      // bq = ci + q · NR · 4 (this row's panel q); p0 = ws + q · NR · 4
      f.get(ci).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(bq);
      f.get(ws).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(p0);
      for (let h = 0; h < 2; h++) {
        f.get(bq).v128Load(16 * h).get(p0).v128Load(16 * h).f32x4Mul().get(sa).f32x4Mul().set(v);
        f.get(bq).get(v).v128Store(16 * h);
      }
      f.get(q).i32(1).op(Op.i32Add).set(q);
    });
    f.get(ci).get(ldc).op(Op.i32Add).set(ci);
    f.get(ai).i32(4).op(Op.i32Add).set(ai);
    f.get(i).i32(1).op(Op.i32Add).set(i);
  });
  return f;
}

// ---- the host side: quantizing -------------------------------------------------------------------

/** k rounded up to even. */
export const evenK = (k: number): number => k + (k & 1);

/**
 * Bt [n, k] (at bOff) as int8 panels into `q` (np · kp bytes, np = n rounded up to whole panels) and
 * its column scales into `scales` (np floats), as the layout above says.
 */
export function quantizeWeight(Bt: Float32Array, bOff: number, n: number, k: number, q: Int8Array, scales: Float32Array): void {
  const kp = evenK(k);
  q.fill(0);
  scales.fill(0);
  for (let j = 0; j < n; j++) {
    const row = bOff + j * k;
    let max = 0;
    for (let p = 0; p < k; p++) max = Math.max(max, Math.abs(Bt[row + p]!));
    const scale = Math.fround(max / 127);
    scales[j] = scale;
    if (!(scale > 0 && scale < Infinity)) continue;
    // panel j / NR, column j % NR: byte (j / NR) · kp · NR + (p / 2) · PAIR + (j % NR) · 2 + p % 2
    const base = Math.floor(j / NR) * kp * NR + (j % NR) * 2;
    for (let p = 0; p < k; p++) q[base + (p >> 1) * PAIR + (p & 1)] = ((Bt[row + p]! / scale + 128.5) | 0) - 128; // floor(v + 1/2), |v| ≤ 127.00001
  }
}

/**
 * B [k, n] (at bOff, row-major: the transpose of quantizeWeight's Bt) into the same panels and
 * scales quantizeWeight makes of Bᵀ, the same bytes: each column's max |B[·, j]| (a maximum, so in
 * any order) and then every element, in B's row order, with no transposed copy.
 */
export function quantizeWeightNN(B: Float32Array, bOff: number, k: number, n: number, q: Int8Array, scales: Float32Array): void {
  const kp = evenK(k);
  q.fill(0);
  scales.fill(0);
  const max = new Float64Array(n);
  for (let p = 0; p < k; p++) {
    const row = bOff + p * n;
    for (let j = 0; j < n; j++) max[j] = Math.max(max[j]!, Math.abs(B[row + j]!));
  }
  const base = new Int32Array(n);
  const ok = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const scale = Math.fround(max[j]! / 127);
    scales[j] = scale;
    ok[j] = scale > 0 && scale < Infinity ? 1 : 0;
    base[j] = Math.floor(j / NR) * kp * NR + (j % NR) * 2;
  }
  for (let p = 0; p < k; p++) {
    const row = bOff + p * n, at = (p >> 1) * PAIR + (p & 1);
    for (let j = 0; j < n; j++) if (ok[j]) q[base[j]! + at] = ((B[row + j]! / scales[j]! + 128.5) | 0) - 128;
  }
}

/** Rows of A [rows, k] (at aOff) as int16 [rows, kp] into `out`, their scales into `scales`. */
export function quantizeRows(A: Float32Array, aOff: number, rows: number, k: number, out: Int16Array, scales: Float32Array): void {
  const kp = evenK(k);
  for (let i = 0; i < rows; i++) {
    const row = aOff + i * k, o = i * kp;
    let max = 0;
    for (let p = 0; p < k; p++) max = Math.max(max, Math.abs(A[row + p]!));
    const scale = Math.fround(max / 32767);
    scales[i] = scale;
    if (!(scale > 0 && scale < Infinity)) {
      out.fill(0, o, o + kp);
      continue;
    }
    for (let p = 0; p < k; p++) out[o + p] = ((A[row + p]! / scale + 32768.5) | 0) - 32768; // floor(v + 1/2), |v| ≤ 32767.0001
    if (kp > k) out[o + k] = 0;
  }
}

// C = A · Btᵀ in WebAssembly SIMD: the GEMM core of matmul and matmulTransB when the host can run
// it (see `wasmGemmAvailable`), generated as bytes by ./emit.ts and instantiated synchronously.
//
// Layout. Bt ([n, k], k-contiguous) is packed into panels of NR = 8 columns: panel q holds
// Bt[8q + c, p] at [q][p][c], k × 8 floats, zero past n. A weight (an array the CPU program marked
// resident: never written after load) is packed once — at load, by `packWeight`, or else at its
// first product — into a region at the start of the module's memory (up to 1 GiB), and read from
// there by every later call: no per-call copy of B. A weight B read as [k, n] (by matmul, not
// transposed: `packWeightNN`, `gemmNNPacked`) is packed into the same panels straight from B — a
// panel's row P[q][p][0..8) is B[p, 8q .. 8q + 8), 8 contiguous floats (the module's `packnn`) —
// so the CPU program makes no transposed copy of it. Any other Bt is packed per call into scratch
// after that region (raw copies of a few panels' rows at a time, then the module's `pack`).
// A's rows are copied in as they are ([m, k]), and C comes back from rows padded to whole panels.
//
// The micro-kernel computes an MR × NR = 4 × 8 tile of C in 8 f32x4 accumulators: per k step it
// loads two vectors of the panel and, for each of the 4 rows, splats A[i, p] (v128.load32_splat)
// and multiply-adds it into the row's two accumulators (k unrolled by 4, constant offsets). Edge
// rows use 3-, 2- and 1-row kernels built by the same generator; edge columns are the panel's
// zero padding. The driver walks k in blocks of KC (when m is large enough to reuse them), then
// panels, then row tiles: a KC × 8 slice of the panel (16 KiB) stays in L1 while A's KC-column
// block (m × KC floats) streams from L2; between k blocks the tile's sums go through C.
// A 6 × 8 tile (12 sums: fewer loads per multiply-add) was measured and is no faster on x64 V8:
// V8 keeps xmm15 as its scratch and each multiply needs a temporary before its add, so 12 sums
// + 2 B vectors + the splat + the product need 16 and one sum spills (a load and a store per k
// step); on the GPT-2 prefill shapes (m = 128, one thread) it gave 34–36 GFLOP/s as 4 × 8 does.
//
// Numerics. Every C[i, j] is one f32 sum in ascending p: s = 0; s = s + A[i, p]·Bt[j, p] (each
// product rounded to f32, then the sum) — storing s to C between k blocks and loading it back is
// exact. So C[i, j] depends only on row i of A, row j of Bt and k: not on the tile, the row block,
// the panel, the k block, m, n or the thread that computed it, and fused kernels that compute row
// blocks match the unfused product bit for bit; a plain sequential f32 loop gives the same bits.
// Asked for (`TFM_WASM_FMA=1`, or `setGemmFma(true)`) where the engine validates relaxed SIMD,
// the multiply-add is f32x4.relaxed_madd instead (`gemmUsesFma`): a fused multiply-add on
// hardware with FMA (one rounding per step), in the same order, so results are still identical
// for every thread count and tiling on one machine, but differ in the last bits from the plain
// path and may differ between machines. It is off by default so that Node and browser bundles
// give the same bits (on this project's AMD Zen 5 it gained nothing measurable: 128-bit FMA and
// multiply + add have the same peak there). Node 20 validates relaxed SIMD only under
// `node --experimental-wasm-relaxed-simd`; Node ≥ 22 and current browsers do.
//
// The module imports its memory: a shared one (with a maximum) where the host has SharedArrayBuffer
// and wasm threads, so that workers can run the same module on it (see "threads" below), else a
// plain one. JS views of it are re-made after every growth (`memory.buffer` is re-read).
import { gemmNNSmallF32, gemmNT, type GemmNN, type GemmNT } from "../matmul.js";
import { Body, I32, moduleBytes, Op, V128, whileLoop, type Func, type MemoryImport } from "./emit.js";
import { convertKernel, halfLocals, halfPanels, halfPanelsNN, loadHalves } from "./f16.js";
import { evenK, int8Driver, int8Gemv, int8Kernel, MR8, quantizeRows, quantizeWeight, quantizeWeightNN } from "./int8.js";
import { nnSmallKernel, ntSmallKernel } from "./small.js";

/** Rows of A per tile. */
const MR = 4;
/** f32x4 vectors per tile row: NR = 4 · NRV columns (one packed panel). */
const NRV = 2;
/** Columns per packed panel of Bt. */
export const NR = 4 * NRV;
/** k block (multiple of 4): a KC × NR slice of a panel stays in L1 while the rows of A pass over it. */
const KC = 512;
/** k is blocked only from this many rows of A on (fewer: the panel is read once, straight through). */
const KC_MIN_M = 16;
/** Panels per step of the one-row kernel (m = 1: GEMV, as in decoding): GP · NRV independent sums. */
const GP = 4;

/**
 * kern(a, b, c, kc, lda, ldc, acc): C[r, 0..NR) (acc ? += : =) Σ_{p < kc} A[r, p] · P[p, 0..NR) for
 * r < rows, with byte pointers a (A's first row, rows lda bytes apart), b (a panel at row p = 0,
 * NR floats a row), c (C's first row, ldc bytes apart). One k step a loop iteration: unrolled, V8
 * hoists every load of the iteration and spills the accumulators.
 */
function kernel(rows: number, fma: boolean, half = false): Body {
  const f = new Body(7);
  // Bytes of a panel per k step: NR floats, or NR halves (./f16.ts).
  const PB = NR * (half ? 2 : 4);
  const [a, b, c, kc, lda, ldc, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const bp = f.local(I32), end = f.local(I32);
  const ar = Array.from({ length: rows }, () => f.local(I32));
  const acc = Array.from({ length: rows }, () => Array.from({ length: NRV }, () => f.local(V128)));
  const x = f.local(V128);
  const y = Array.from({ length: NRV }, () => f.local(V128));
  const h = half ? halfLocals(f) : undefined;
  const rowPtr = (base: number, ld: number, r: number) => f.get(base).get(ld).i32(r).op(Op.i32Mul).op(Op.i32Add);
  ar.forEach((v, r) => rowPtr(a, lda, r).set(v));
  f.get(b).set(bp);
  // end = b + kc · PB
  f.get(b).get(kc).i32(PB).op(Op.i32Mul).op(Op.i32Add).set(end);
  for (const row of acc) for (const v of row) f.v128Zero().set(v);
  // if (accumulate) load the tile's sums so far from C
  f.block().get(accumulate).op(Op.i32Eqz).brIf(0);
  acc.forEach((row, r) => row.forEach((v, q) => rowPtr(c, ldc, r).v128Load(16 * q).set(v)));
  f.op(Op.end);
  const step = (u: number) => {
    if (h) loadHalves(f, bp, u * PB, h, y[0]!, y[1]!);
    else y.forEach((v, q) => f.get(bp).v128Load(u * PB + 16 * q).set(v));
    ar.forEach((p, r) => {
      f.get(p).v128Load32Splat(4 * u).set(x);
      for (let q = 0; q < NRV; q++) {
        const s = acc[r]![q]!;
        if (fma) f.get(x).get(y[q]!).get(s).f32x4RelaxedMadd().set(s);
        else f.get(s).get(x).get(y[q]!).f32x4Mul().f32x4Add().set(s);
      }
    });
  };
  const loop = (limit: number, unroll: number) => {
    f.block().loop();
    f.get(bp).get(limit).op(Op.i32LtU).op(Op.i32Eqz).brIf(1);
    for (let u = 0; u < unroll; u++) step(u);
    f.get(bp).i32(unroll * PB).op(Op.i32Add).set(bp);
    for (const p of ar) f.get(p).i32(unroll * 4).op(Op.i32Add).set(p);
    f.br(0).op(Op.end).op(Op.end);
  };
  loop(end, 1);
  acc.forEach((row, r) => row.forEach((v, q) => rowPtr(c, ldc, r).get(v).v128Store(16 * q)));
  return f;
}

/**
 * gemv(a, b, c, kc, ps, acc): C[0, 0 .. GP · NR) (acc ? += : =) Σ_{p < kc} A[0, p] · P_q[p, ..] over GP
 * panels ps bytes apart from b: one row of A against several panels at once, so that GP · NRV
 * independent sums hide the add latency (one row and one panel would have only NRV).
 */
function gemvKernel(fma: boolean, half = false): Body {
  const f = new Body(6);
  const PB = NR * (half ? 2 : 4);
  const [a, b, c, kc, ps, accumulate] = [0, 1, 2, 3, 4, 5];
  const ap = f.local(I32), end = f.local(I32);
  const bp = Array.from({ length: GP }, () => f.local(I32));
  const acc = Array.from({ length: GP * NRV }, () => f.local(V128));
  const x = f.local(V128);
  const y = Array.from({ length: NRV }, () => f.local(V128));
  const h = half ? halfLocals(f) : undefined;
  f.get(a).set(ap);
  f.get(a).get(kc).i32(2).op(Op.i32Shl).op(Op.i32Add).set(end);
  bp.forEach((v, g) => f.get(b).get(ps).i32(g).op(Op.i32Mul).op(Op.i32Add).set(v));
  for (const v of acc) f.v128Zero().set(v);
  f.block().get(accumulate).op(Op.i32Eqz).brIf(0);
  acc.forEach((v, i) => f.get(c).v128Load(16 * i).set(v));
  f.op(Op.end);
  f.block().loop();
  f.get(ap).get(end).op(Op.i32LtU).op(Op.i32Eqz).brIf(1);
  f.get(ap).v128Load32Splat(0).set(x);
  bp.forEach((p, g) => {
    if (h) loadHalves(f, p, 0, h, y[0]!, y[1]!);
    for (let q = 0; q < NRV; q++) {
      const s = acc[g * NRV + q]!;
      if (!h) f.get(p).v128Load(16 * q).set(y[q]!);
      if (fma) f.get(x).get(y[q]!).get(s).f32x4RelaxedMadd().set(s);
      else f.get(s).get(x).get(y[q]!).f32x4Mul().f32x4Add().set(s);
    }
  });
  f.get(ap).i32(4).op(Op.i32Add).set(ap);
  for (const p of bp) f.get(p).i32(PB).op(Op.i32Add).set(p);
  f.br(0).op(Op.end).op(Op.end);
  acc.forEach((v, i) => f.get(c).get(v).v128Store(16 * i));
  return f;
}

/** Panels per call of the two-row kernel (m = 2: a step of two tokens). */
const GP_FEW = 2;
/** The module's index of the two-row kernel: after the f32 kernels and the one-row kernel. */
const FEW = MR + 1;

/**
 * two(a, b, c, kc, ps, lda, ldc, acc): C[r, 0 .. GP_FEW · NR) (acc ? += : =) Σ_{p < kc} A[r, p] ·
 * P_g[p, ..] for r < 2 over GP_FEW panels ps bytes apart from b: as the one-row kernel, more
 * independent sums than one panel gives (2 · NRV), each B vector loaded once for both rows. Each
 * C[i, j] is the same sequential sum as in `kernel`. Two rows by 12 of GPT-2 small's [3072, 768]
 * weights, 1 thread, alternating runs: 7.2–9.2 ms with the two-row kernel a panel, 6.2–7.1 with
 * this (one row: 4.6–6.3). Three rows over two panels (12 sums: V8 spills) were slower than the
 * three-row kernel: 11.3 against 8.6 ms.
 */
function twoRowKernel(fma: boolean): Body {
  const rows = 2;
  const f = new Body(8);
  const PB = NR * 4;
  const [a, b, c, kc, ps, lda, ldc, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7];
  const end = f.local(I32), bp = f.local(I32);
  const ar = Array.from({ length: rows }, () => f.local(I32));
  const acc = Array.from({ length: rows }, () => Array.from({ length: GP_FEW * NRV }, () => f.local(V128)));
  const x = Array.from({ length: rows }, () => f.local(V128));
  const y = f.local(V128);
  const rowPtr = (base: number, ld: number, r: number) => f.get(base).get(ld).i32(r).op(Op.i32Mul).op(Op.i32Add);
  ar.forEach((v, r) => rowPtr(a, lda, r).set(v));
  f.get(b).set(bp);
  f.get(b).get(kc).i32(PB).op(Op.i32Mul).op(Op.i32Add).set(end);
  for (const row of acc) for (const v of row) f.v128Zero().set(v);
  f.block().get(accumulate).op(Op.i32Eqz).brIf(0);
  acc.forEach((row, r) => row.forEach((v, i) => rowPtr(c, ldc, r).v128Load(16 * i).set(v)));
  f.op(Op.end);
  f.block().loop();
  f.get(bp).get(end).op(Op.i32LtU).op(Op.i32Eqz).brIf(1);
  ar.forEach((p, r) => f.get(p).v128Load32Splat(0).set(x[r]!));
  for (let g = 0; g < GP_FEW; g++) {
    for (let q = 0; q < NRV; q++) {
      // panel g's vector q at this k step: bp + g · ps + 16q
      f.get(bp);
      if (g) f.get(ps).i32(g).op(Op.i32Mul).op(Op.i32Add);
      f.v128Load(16 * q).set(y);
      acc.forEach((row, r) => {
        const s = row[g * NRV + q]!;
        if (fma) f.get(x[r]!).get(y).get(s).f32x4RelaxedMadd().set(s);
        else f.get(s).get(x[r]!).get(y).f32x4Mul().f32x4Add().set(s);
      });
    }
  }
  for (const p of ar) f.get(p).i32(4).op(Op.i32Add).set(p);
  f.get(bp).i32(PB).op(Op.i32Add).set(bp);
  f.br(0).op(Op.end).op(Op.end);
  acc.forEach((row, r) => row.forEach((v, i) => rowPtr(c, ldc, r).get(v).v128Store(16 * i)));
  return f;
}

/**
 * pack(src, dst, panels, k): the first `panels` whole panels of a Bt copied in raw ([n, k] at src)
 * into dst ([q][p][c], k × NR floats a panel), for p < k − k % 4 (the host packs the rest): per
 * step, 4 floats of each of the panel's 8 rows, transposed 4×4 by shuffles into 4 rows of 8.
 */
function packKernel(): Body {
  const f = new Body(4);
  const [src, dst, panels, k] = [0, 1, 2, 3];
  const lda = f.local(I32), q = f.local(I32), p = f.local(I32), k4 = f.local(I32), o = f.local(I32);
  const rp = Array.from({ length: NR }, () => f.local(I32));
  const v = Array.from({ length: NR }, () => f.local(V128));
  const t = Array.from({ length: 4 }, () => f.local(V128));
  f.get(k).i32(2).op(Op.i32Shl).set(lda);
  f.get(k).i32(~3).op(Op.i32And).set(k4);
  f.i32(0).set(q);
  whileLoop(f, () => f.get(q).get(panels).op(Op.i32LtS), () => {
    // rp[c] = src + (q · NR + c) · lda; o = dst + q · k · NR · 4
    rp.forEach((r, c) => f.get(src).get(q).i32(NR).op(Op.i32Mul).i32(c).op(Op.i32Add).get(lda).op(Op.i32Mul).op(Op.i32Add).set(r));
    f.get(dst).get(q).get(k).op(Op.i32Mul).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(o);
    f.i32(0).set(p);
    whileLoop(f, () => f.get(p).get(k4).op(Op.i32LtS), () => {
      rp.forEach((r, c) => f.get(r).v128Load(0).set(v[c]!));
      for (let h = 0; h < NR / 4; h++) {
        const [a, b, c, d] = [v[4 * h]!, v[4 * h + 1]!, v[4 * h + 2]!, v[4 * h + 3]!];
        f.get(a).get(b).f32x4Shuffle([0, 4, 1, 5]).set(t[0]!);
        f.get(c).get(d).f32x4Shuffle([0, 4, 1, 5]).set(t[1]!);
        f.get(a).get(b).f32x4Shuffle([2, 6, 3, 7]).set(t[2]!);
        f.get(c).get(d).f32x4Shuffle([2, 6, 3, 7]).set(t[3]!);
        // row u of the 4 × 4 block: lane u of rows 4h .. 4h + 3, stored at o + u · NR · 4 + h · 16
        f.get(o).get(t[0]!).get(t[1]!).f32x4Shuffle([0, 1, 4, 5]).v128Store(16 * h);
        f.get(o).get(t[0]!).get(t[1]!).f32x4Shuffle([2, 3, 6, 7]).v128Store(NR * 4 + 16 * h);
        f.get(o).get(t[2]!).get(t[3]!).f32x4Shuffle([0, 1, 4, 5]).v128Store(2 * NR * 4 + 16 * h);
        f.get(o).get(t[2]!).get(t[3]!).f32x4Shuffle([2, 3, 6, 7]).v128Store(3 * NR * 4 + 16 * h);
      }
      for (const r of rp) f.get(r).i32(16).op(Op.i32Add).set(r);
      f.get(o).i32(4 * NR * 4).op(Op.i32Add).set(o);
      f.get(p).i32(4).op(Op.i32Add).set(p);
    });
    f.get(q).i32(1).op(Op.i32Add).set(q);
  });
  return f;
}

/**
 * packnn(src, dst, rows, panels, n, k): `rows` rows of a B [k, n] copied in raw (n floats a row at
 * src) into the first `panels` whole panels at dst (dst at the panels' row p of the first of those
 * rows: P[q][p][c] = B[p, q · NR + c], k × NR floats a panel): a panel's row is NR contiguous
 * floats of B's row, so two vectors copied each, no transposition.
 */
function packNNKernel(): Body {
  const f = new Body(6);
  const [src, dst, rows, panels, n, k] = [0, 1, 2, 3, 4, 5];
  const r = f.local(I32), q = f.local(I32), s = f.local(I32), d = f.local(I32), ps = f.local(I32);
  f.get(k).i32(NR * 4).op(Op.i32Mul).set(ps);
  f.i32(0).set(r);
  whileLoop(f, () => f.get(r).get(rows).op(Op.i32LtS), () => {
    // s = src + r · n · 4; d = dst + r · NR · 4
    f.get(src).get(r).get(n).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(s);
    f.get(dst).get(r).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(d);
    f.i32(0).set(q);
    whileLoop(f, () => f.get(q).get(panels).op(Op.i32LtS), () => {
      for (let h = 0; h < NRV; h++) f.get(d).get(s).v128Load(16 * h).v128Store(16 * h);
      f.get(s).i32(NR * 4).op(Op.i32Add).set(s);
      f.get(d).get(ps).op(Op.i32Add).set(d);
      f.get(q).i32(1).op(Op.i32Add).set(q);
    });
    f.get(r).i32(1).op(Op.i32Add).set(r);
  });
  return f;
}

/**
 * gemm(a, b, c, m, n, k, ldc): C = A · Bᵀ for m rows of A at a (k floats each), the ceil(n / NR)
 * packed panels at b (k · NR floats each), C's rows ldc bytes apart at c (whole panels written).
 * Functions 0 .. MR − 1 are the kernels of MR, MR − 1, ..., 1 rows; function MR is gemv (m = 1, GP
 * panels at a time).
 *
 * With `half` (./f16.ts), gemmf16(a, b, c, m, n, k, ldc, s): the panels are halves (k · NR · 2 bytes
 * each), read by the half kernels at `half.kernels` (and its gemv after them) — or, from KC_MIN_M
 * rows on, converted a k block of a panel at a time into f32 at s (KC · NR floats: the calling
 * thread's scratch) by the function `half.convert`, then read from there by the f32 kernels.
 */
function driver(half?: { kernels: number; convert: number }): Body {
  const f = new Body(half ? 8 : 7);
  const [a, b, c, m, n, k, ldc, s] = [0, 1, 2, 3, 4, 5, 6, 7];
  const PB = NR * (half ? 2 : 4);
  const lda = f.local(I32), kcb = f.local(I32), p0 = f.local(I32), kc = f.local(I32), acc = f.local(I32);
  const q = f.local(I32), panels = f.local(I32), bq = f.local(I32), i = f.local(I32), ai = f.local(I32), ci = f.local(I32);
  f.get(k).i32(2).op(Op.i32Shl).set(lda);
  f.get(n).i32(NR - 1).op(Op.i32Add).i32(Math.log2(NR)).op(Op.i32ShrU).set(panels);
  // kcb = m >= KC_MIN_M ? KC : k
  f.get(k).set(kcb);
  f.block().get(m).i32(KC_MIN_M).op(Op.i32LtS).brIf(0).i32(KC).set(kcb).op(Op.end);
  f.i32(0).set(p0);
  // The row tiles of one panel (at bq) through the kernels from function `base` on.
  const rowTiles = (base: number) => {
    f.i32(0).set(i);
    const call = (fn: number) => f.get(ai).get(bq).get(ci).get(kc).get(lda).get(ldc).get(acc).call(base + fn);
    whileLoop(f, () => f.get(i).i32(MR).op(Op.i32Add).get(m).op(Op.i32LeS), () => {
      call(0);
      f.get(i).i32(MR).op(Op.i32Add).set(i);
      f.get(ai).get(lda).i32(MR).op(Op.i32Mul).op(Op.i32Add).set(ai);
      f.get(ci).get(ldc).i32(MR).op(Op.i32Mul).op(Op.i32Add).set(ci);
    });
    // the last m % MR rows: one call of the (m − i)-row kernel
    for (let r = MR - 1; r >= 1; r--) {
      f.block().get(m).get(i).op(Op.i32Sub).i32(r).op(Op.i32Sub).op(Op.i32Eqz).op(Op.i32Eqz).brIf(0);
      call(MR - r);
      f.op(Op.end);
    }
  };
  whileLoop(f, () => f.get(p0).get(k).op(Op.i32LtS), () => {
    // kc = min(kcb, k − p0); acc = p0 > 0
    f.get(k).get(p0).op(Op.i32Sub).set(kc);
    f.block().get(kc).get(kcb).op(Op.i32LeS).brIf(0).get(kcb).set(kc).op(Op.end);
    f.get(p0).i32(0).op(Op.i32GtS).set(acc);
    f.i32(0).set(q);
    // m = 1: GP panels a call while GP remain
    f.block().get(m).i32(1).op(Op.i32Sub).brIf(0);
    whileLoop(f, () => f.get(q).i32(GP).op(Op.i32Add).get(panels).op(Op.i32LeS), () => {
      f.get(a).get(p0).i32(2).op(Op.i32Shl).op(Op.i32Add);
      f.get(b).get(q).get(k).op(Op.i32Mul).get(p0).op(Op.i32Add).i32(PB).op(Op.i32Mul).op(Op.i32Add);
      f.get(c).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add);
      f.get(kc).get(k).i32(PB).op(Op.i32Mul).get(acc).call((half?.kernels ?? 0) + MR);
      f.get(q).i32(GP).op(Op.i32Add).set(q);
    });
    f.op(Op.end);
    // m = 2 (f32): GP_FEW panels a call while GP_FEW remain
    if (!half) {
      f.block().get(m).i32(2).op(Op.i32Sub).brIf(0);
      whileLoop(f, () => f.get(q).i32(GP_FEW).op(Op.i32Add).get(panels).op(Op.i32LeS), () => {
        f.get(a).get(p0).i32(2).op(Op.i32Shl).op(Op.i32Add);
        f.get(b).get(q).get(k).op(Op.i32Mul).get(p0).op(Op.i32Add).i32(PB).op(Op.i32Mul).op(Op.i32Add);
        f.get(c).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add);
        f.get(kc).get(k).i32(PB).op(Op.i32Mul).get(lda).get(ldc).get(acc).call(FEW);
        f.get(q).i32(GP_FEW).op(Op.i32Add).set(q);
      });
      f.op(Op.end);
    }
    whileLoop(f, () => f.get(q).get(panels).op(Op.i32LtS), () => {
      // bq = b + (q · k + p0) · PB
      f.get(b).get(q).get(k).op(Op.i32Mul).get(p0).op(Op.i32Add).i32(PB).op(Op.i32Mul).op(Op.i32Add).set(bq);
      f.get(a).get(p0).i32(2).op(Op.i32Shl).op(Op.i32Add).set(ai);
      f.get(c).get(q).i32(NR * 4).op(Op.i32Mul).op(Op.i32Add).set(ci);
      if (!half) rowTiles(0);
      else {
        f.block().block();
        // fewer than KC_MIN_M rows: the half kernels, on the panel as it is
        f.get(m).i32(KC_MIN_M).op(Op.i32GeS).brIf(0);
        rowTiles(half.kernels);
        f.br(1).op(Op.end);
        // else this block of the panel into f32 at s, and the f32 kernels on it
        f.get(bq).get(s).get(kc).call(half.convert);
        f.get(s).set(bq);
        rowTiles(0);
        f.op(Op.end);
      }
      f.get(q).i32(1).op(Op.i32Add).set(q);
    });
    f.get(p0).get(kcb).op(Op.i32Add).set(p0);
  });
  return f;
}

const PAGE = 65536;
/** Bytes of wasm memory one call may use (a 32-bit address space, kept well clear of 4 GiB). */
const MAX_BYTES = 2 ** 31;
const RESIDENT_MAX = 2 ** 30;
/** A shared memory's maximum: the resident region, one call's bytes and the alignment slack. */
const MAX_PAGES = (RESIDENT_MAX + MAX_BYTES) / PAGE + 16;

/** The module's bytes: exports "gemm"; imports its memory as env.mem (shared: for threads); fma: relaxed SIMD's multiply-add. */
export function gemmModuleBytes(shared = false, fma = false): Uint8Array<ArrayBuffer> {
  const funcs: Func[] = [];
  for (let r = MR; r >= 1; r--) funcs.push({ params: 7, body: kernel(r, fma) });
  funcs.push({ params: 6, body: gemvKernel(fma) });
  // the two-row kernel over panel pairs, at FEW
  funcs.push({ params: 8, body: twoRowKernel(fma) });
  funcs.push({ name: "gemm", params: 7, body: driver() });
  funcs.push({ name: "pack", params: 4, body: packKernel() });
  funcs.push({ name: "packnn", params: 6, body: packNNKernel() });
  // int8 weights against int16 rows of A (./int8.ts): gemmq8(a, b, c, m, n, k, ldc, ws, as).
  const q8 = funcs.length;
  for (let r = MR8; r >= 1; r--) funcs.push({ params: 7, body: int8Kernel(r) });
  funcs.push({ params: 6, body: int8Gemv() });
  funcs.push({ name: "gemmq8", params: 9, body: int8Driver(q8) });
  // A few rows by a B given [k, n], unpacked (./small.ts): nnsmall(a, b, c, m, n, k).
  funcs.push({ name: "nnsmall", params: 6, body: nnSmallKernel() });
  funcs.push({ name: "ntsmall", params: 6, body: ntSmallKernel() });
  // f16 weights (./f16.ts): gemmf16(a, b, c, m, n, k, ldc, scratch).
  const f16 = funcs.length;
  for (let r = MR; r >= 1; r--) funcs.push({ params: 7, body: kernel(r, fma, true) });
  funcs.push({ params: 6, body: gemvKernel(fma, true) });
  funcs.push({ params: 3, body: convertKernel() });
  funcs.push({ name: "gemmf16", params: 8, body: driver({ kernels: f16, convert: f16 + MR + 1 }) });
  return moduleBytes(funcs, shared ? { pages: 1, shared: { maxPages: MAX_PAGES } } : { pages: 1 });
}

type GemmFn = (a: number, b: number, c: number, m: number, n: number, k: number, ldc: number) => void;
/** gemm on f16 panels, with the calling thread's scratch for converted blocks (./f16.ts). */
type GemmF16Fn = (a: number, b: number, c: number, m: number, n: number, k: number, ldc: number, scratch: number) => void;
/** gemm of int16 rows of A on int8 panels, C then scaled by the column scales at ws and the row scales at as (./int8.ts). */
type GemmQ8Fn = (a: number, b: number, c: number, m: number, n: number, k: number, ldc: number, ws: number, as: number) => void;
type PackFn = (src: number, dst: number, panels: number, k: number) => void;
type PackNNFn = (src: number, dst: number, rows: number, panels: number, n: number, k: number) => void;
type NNSmallFn = (a: number, b: number, c: number, m: number, n: number, k: number) => void;

interface Instance {
  mem: WebAssembly.Memory;
  module: WebAssembly.Module;
  gemm: GemmFn;
  gemmq8: GemmQ8Fn;
  gemmf16: GemmF16Fn;
  pack: PackFn;
  packnn: PackNNFn;
  nnsmall: NNSmallFn;
  ntsmall: NNSmallFn;
  /** Whether mem is shared (workers can run the module on it). */
  shared: boolean;
  /** Whether the kernels multiply-add with relaxed SIMD's f32x4.relaxed_madd. */
  fma: boolean;
}

let available: boolean | undefined;
let fmaWanted: boolean | undefined;
let inst: Instance | undefined;

/** Whether this host validates the SIMD module (Node ≥ 16, current browsers). */
export function wasmGemmAvailable(): boolean {
  if (available === undefined) {
    try {
      available = typeof WebAssembly === "object" && WebAssembly.validate(gemmModuleBytes());
    } catch {
      available = false;
    }
  }
  return available;
}

/** Whether this host validates relaxed SIMD's f32x4.relaxed_madd (Node ≥ 22; Node 20 with --experimental-wasm-relaxed-simd). */
export function wasmFmaAvailable(): boolean {
  try {
    return wasmGemmAvailable() && WebAssembly.validate(gemmModuleBytes(false, true));
  } catch {
    return false;
  }
}

/**
 * Chooses the multiply-add of the products to come: relaxed SIMD's (true, where it validates) or
 * the plain f32 multiply then add (false; undefined: the environment's TFM_WASM_FMA=1 asks for
 * relaxed, else plain). Drops the instance (and resident weights) when the choice changes.
 */
export function setGemmFma(on: boolean | undefined): void {
  if (on === fmaWanted) return;
  fmaWanted = on;
  if (inst !== undefined && inst.fma !== wantFma()) releaseWasmGemm();
}

function wantFma(): boolean {
  let on = fmaWanted;
  if (on === undefined) {
    const env = typeof process === "object" ? process.env?.["TFM_WASM_FMA"] : undefined;
    on = env === "1";
  }
  return on && wasmFmaAvailable();
}

/** Whether the GEMM multiplies-adds with relaxed SIMD (fused where the hardware has FMA). */
export function gemmUsesFma(): boolean {
  return inst?.fma ?? wantFma();
}

/** A shared memory and the module that imports it, where the host has both (SharedArrayBuffer, wasm threads); else undefined. */
function sharedInstance(fma: boolean): Instance | undefined {
  try {
    if (typeof SharedArrayBuffer !== "function") return undefined;
    const bytes = gemmModuleBytes(true, fma);
    if (!WebAssembly.validate(bytes)) return undefined;
    const mem = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const module = new WebAssembly.Module(bytes);
    const i = new WebAssembly.Instance(module, { env: { mem } });
    return { mem, module, ...exportsOf(i), shared: true, fma };
  } catch {
    return undefined;
  }
}

const exportsOf = (i: WebAssembly.Instance) => ({ gemm: i.exports["gemm"] as GemmFn, gemmq8: i.exports["gemmq8"] as GemmQ8Fn, gemmf16: i.exports["gemmf16"] as GemmF16Fn, pack: i.exports["pack"] as PackFn, packnn: i.exports["packnn"] as PackNNFn, nnsmall: i.exports["nnsmall"] as NNSmallFn, ntsmall: i.exports["ntsmall"] as NNSmallFn });

function instance(): Instance {
  if (inst === undefined) {
    if (!wasmGemmAvailable()) throw new Error("WebAssembly SIMD is not available");
    const fma = wantFma();
    inst = sharedInstance(fma);
    if (inst === undefined) {
      const mem = new WebAssembly.Memory({ initial: 1 });
      const module = new WebAssembly.Module(gemmModuleBytes(false, fma));
      const i = new WebAssembly.Instance(module, { env: { mem } });
      inst = { mem, module, ...exportsOf(i), shared: false, fma };
    }
  }
  return inst;
}

// ---- threads ------------------------------------------------------------------------------------
//
// Workers run the same module on the same shared memory. A job is a product cut into chunks
// (a block of rows × a panel of columns of C); the main thread publishes it in a control block of
// Int32 (a SharedArrayBuffer: the job's pointers and sizes, a generation, a claim counter and a
// done counter), wakes the workers with Atomics.notify, claims chunks itself, and Atomics.wait's
// until every chunk is done. A chunk is claimed by compare-and-swap on one word holding the job's
// generation (16 bits) and the next chunk's index, so a worker that wakes late can never claim a
// chunk of a later job with an earlier job's parameters. Every C[i, j] is computed by the same
// instructions whatever chunk it falls in (see above), so results are bit-for-bit those of one
// thread for any thread count and any interleaving. Workers see memory growth as the module does
// (they never view the memory from JS).

/** Loads of the control block a thread spins for before it sleeps (about 50 µs; TFM_GEMM_SPINS). */
const SPINS = Number((typeof process === "object" && process.env?.["TFM_GEMM_SPINS"]) || 20000);

/** The control block's words. */
export const CTL = { gen: 0, next: 1, done: 2, stop: 3, error: 4, ready: 5, a: 8, b: 9, c: 10, m: 11, n: 12, k: 13, chunks: 14, colWidth: 15, rowBlock: 16, colChunks: 17, ldc: 18, ws: 19, as: 20, kind: 21, scratch: 22, aStride: 23, bStride: 24, cStride: 25, words: 32 } as const;

/** How a job's panels hold the weights (the control block's `kind`). */
const KIND = { f32: 0, int8: 1, f16: 2, rows: 3, nt: 4, nn: 5 } as const;

/** Bytes of the buffer a phase's module is handed to the workers in (a larger module runs on one thread). */
const CODE_BYTES = 1 << 18;

/** Bytes of one thread's scratch for gemmf16's converted blocks (KC × NR floats). */
const HALF_SCRATCH = KC * NR * 4;

/** How a product reads its panels beyond f32: int8 with its scales (./int8.ts), or f16 with the threads' scratch (./f16.ts). */
type Panels = { readonly kind: "int8"; readonly ws: number; readonly as: number } | { readonly kind: "f16"; readonly scratch: number };

/**
 * The worker's program (plain JavaScript, run with `eval`): a function of the worker's data
 * { module, memory, control } and a `post` to its parent, which instantiates the module on the
 * memory, posts "ready", then claims chunks of each job published until told to stop. The host
 * (node-threads.ts) calls it with what its workers provide; this module names no host API.
 */
export const workerSource = `(workerData, post) => {
const { module, memory, control, code } = workerData;
const { gemm, gemmq8, gemmf16, ntsmall, nnsmall } = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
const ctl = new Int32Array(control);
const C = ${JSON.stringify(CTL)};
// The fused kernels' phases (rows jobs), by the id their job gives: compiled from the code buffer once.
const phases = new Map();
const phaseOf = (id, len) => {
  let run = phases.get(id);
  if (!run) {
    const bytes = new Uint8Array(len);
    bytes.set(new Uint8Array(code, 0, len));
    run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports.phase;
    phases.set(id, run);
  }
  return run;
};
// This worker's number (1, 2, ...; the calling thread is 0): its slot of f16 scratch.
const me = Atomics.add(ctl, C.ready, 1) + 1;
post("ready");
let seen = 0;
for (;;) {
  // The next job is spun for a while before sleeping: a decode step's products come tens of
  // microseconds apart, about what a sleeping thread takes to wake.
  for (let spins = 0; spins < ${SPINS} && Atomics.load(ctl, C.gen) === seen; spins++);
  Atomics.wait(ctl, C.gen, seen);
  if (Atomics.load(ctl, C.stop) !== 0) break;
  const g = Atomics.load(ctl, C.gen);
  if (g === seen) continue;
  seen = g;
  const a = ctl[C.a], b = ctl[C.b], c = ctl[C.c], m = ctl[C.m], n = ctl[C.n], k = ctl[C.k], sa = ctl[C.aStride], sb = ctl[C.bStride], sc = ctl[C.cStride];
  const chunks = ctl[C.chunks], cw = ctl[C.colWidth], rb = ctl[C.rowBlock], cc = ctl[C.colChunks], ldc = ctl[C.ldc], ws = ctl[C.ws], as = ctl[C.as], kind = ctl[C.kind], scratch = ctl[C.scratch] + me * ${HALF_SCRATCH};
  const tag = g & 0xffff;
  // A phase's module is compiled at the first chunk claimed: only a claim proves that the words
  // (and the code buffer) read are this job's, not those of a later one published meanwhile.
  let phase;
  for (;;) {
    const v = Atomics.load(ctl, C.next);
    if ((v >>> 16) !== tag || (v & 0xffff) >= chunks) break;
    if (Atomics.compareExchange(ctl, C.next, v, v + 1) !== v) continue;
    const idx = v & 0xffff, i0 = Math.floor(idx / cc) * rb, j0 = (idx % cc) * cw;
    try {
      if (kind === ${KIND.rows}) (phase ??= phaseOf(n, k))(a, i0, Math.min(i0 + rb, m));
      else if (kind === ${KIND.nt}) ntsmall(a + idx * sa, b + idx * sb, c + idx * sc, m, n, k);
      else if (kind === ${KIND.nn}) nnsmall(a + idx * sa, b + idx * sb, c + idx * sc, m, n, k);
      else if (kind === ${KIND.int8}) gemmq8(a + i0 * k * 2, b + j0 * k, c + i0 * ldc + j0 * 4, Math.min(rb, m - i0), Math.min(cw, n - j0), k, ldc, ws + j0 * 4, as + i0 * 4);
      else if (kind === ${KIND.f16}) gemmf16(a + i0 * k * 4, b + j0 * k * 2, c + i0 * ldc + j0 * 4, Math.min(rb, m - i0), Math.min(cw, n - j0), k, ldc, scratch);
      else gemm(a + i0 * k * 4, b + j0 * k * 4, c + i0 * ldc + j0 * 4, Math.min(rb, m - i0), Math.min(cw, n - j0), k, ldc);
    } catch (e) {
      Atomics.store(ctl, C.error, 1);
    }
    if (Atomics.add(ctl, C.done, 1) + 1 === chunks) Atomics.notify(ctl, C.done);
  }
}
}`;

/** A started worker, as the host gives it: only stopping it is needed here. */
export interface GemmWorker {
  terminate(): void;
}

/** Starts one worker running `workerSource` with this data (Node: worker_threads, unref'd). */
export type SpawnGemmWorker = (source: string, data: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; code: SharedArrayBuffer }) => { worker: GemmWorker; ready: Promise<void> };

interface Pool {
  control: SharedArrayBuffer;
  ctl: Int32Array;
  /** A phase module's bytes, for the workers to compile (`runPhase`). */
  code: SharedArrayBuffer;
  workers: GemmWorker[];
  ready: Promise<void>[];
  gen: number;
}

let pool: Pool | undefined;

/**
 * Makes sure `count` workers run the GEMM (beside the calling thread), starting the missing ones
 * with `spawn`; resolves once they are ready. Returns the workers now running (0 where the memory
 * cannot be shared: the GEMM then runs on the calling thread alone).
 */
export async function startGemmWorkers(count: number, spawn: SpawnGemmWorker): Promise<number> {
  if (!wasmGemmAvailable()) return 0;
  const { mem, module, shared } = instance();
  if (!shared) return 0;
  if (pool === undefined) {
    const control = new SharedArrayBuffer(CTL.words * 4);
    pool = { control, ctl: new Int32Array(control), code: new SharedArrayBuffer(CODE_BYTES), workers: [], ready: [], gen: 0 };
  }
  const p = pool;
  while (p.workers.length < count) {
    const { worker, ready } = spawn(workerSource, { module, memory: mem, control: p.control, code: p.code });
    p.workers.push(worker);
    p.ready.push(ready);
  }
  await Promise.all(p.ready);
  return p.workers.length;
}

/** Sessions (or bundles) holding the workers: the last to release them stops them. */
let holders = 0;

/**
 * Starts workers with `spawn` so that `threads` threads (this one included) run the GEMM, for one
 * holder; returns the threads available and `release`, which stops the workers once no holder is
 * left (they are shared by every holder, and grow to the largest count asked).
 */
export async function acquireGemmWorkers(threads: number, spawn: SpawnGemmWorker): Promise<{ threads: number; release: () => void }> {
  if (threads <= 1) return { threads: 1, release: () => undefined };
  holders++;
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    if (--holders === 0) stopGemmWorkers();
  };
  try {
    return { threads: 1 + (await startGemmWorkers(threads - 1, spawn)), release };
  } catch (e) {
    release();
    throw e;
  }
}

let blocks: boolean | undefined;

/** Whether this thread may sleep in Atomics.wait: a browser's main thread may not, and spins for the workers' last chunks instead. */
function mayBlock(): boolean {
  if (blocks === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blocks = true;
    } catch {
      blocks = false;
    }
  }
  return blocks;
}

/** The workers running now (0: the GEMM is single-threaded). */
export function gemmWorkers(): number {
  return pool?.workers.length ?? 0;
}

/** Stops every worker (they leave their loop and are terminated); later calls run on one thread until started again. */
export function stopGemmWorkers(): void {
  const p = pool;
  if (!p) return;
  pool = undefined;
  Atomics.store(p.ctl, CTL.stop, 1);
  Atomics.add(p.ctl, CTL.gen, 1);
  Atomics.notify(p.ctl, CTL.gen);
  for (const w of p.workers) w.terminate();
}

/**
 * Products of fewer multiply-adds than this run on one thread: waking the workers costs more than
 * they save (a first estimate from `npx tsx bench/kernels.ts --threads 1|2` on a busy 2-core machine).
 */
export const THREAD_MIN_MACS = 1 << 20;
/**
 * The same for fewer than 4 rows (decode's products, which stream their weights once): a quarter.
 * Decode's 768×768 projections then split too (GPT-2 small, 2 threads, interleaved A/B on an idle
 * machine: a step 38.9 → 36.9 ms f32, 20.6 → 19.8 ms int8).
 */
export const THREAD_MIN_MACS_FEW_ROWS = 1 << 18;
/** Columns of C per chunk (whole panels: a chunk's panels start at b + j0 · k · 4 bytes). */
const COL_WIDTH = 8 * NR;

/**
 * C = A · Btᵀ at byte pointers in the memory (b: packed panels; C's rows ldc bytes apart), over
 * `threads` threads (the caller's and threads − 1 workers).
 */
function gemmThreaded(i: Instance, a: number, b: number, c: number, m: number, n: number, k: number, ldc: number, threads: number, panels?: Panels): void {
  const p = pool;
  const helpers = p ? Math.min(threads - 1, p.workers.length) : 0;
  // One chunk: rows i0.., columns j0.. (int8: A is int16, a panel k bytes a column; f16: 2k; f32: 4k).
  // This thread's f16 scratch is slot 0.
  const run = (i0: number, j0: number, rows: number, cols: number) => {
    if (panels?.kind === "int8") i.gemmq8(a + i0 * k * 2, b + j0 * k, c + i0 * ldc + j0 * 4, rows, cols, k, ldc, panels.ws + j0 * 4, panels.as + i0 * 4);
    else if (panels?.kind === "f16") i.gemmf16(a + i0 * k * 4, b + j0 * k * 2, c + i0 * ldc + j0 * 4, rows, cols, k, ldc, panels.scratch);
    else i.gemm(a + i0 * k * 4, b + j0 * k * 4, c + i0 * ldc + j0 * 4, rows, cols, k, ldc);
  };
  if (!p || helpers <= 0 || m * n * k < (m < 4 ? THREAD_MIN_MACS_FEW_ROWS : THREAD_MIN_MACS)) {
    run(0, 0, m, n);
    return;
  }
  const t = helpers + 1;
  const colChunks = Math.ceil(n / COL_WIDTH);
  // Rows are cut too when there are too few column panels to share (a product with small n).
  let rowBlock = m;
  if (colChunks < 2 * t && m >= 2 * MR) rowBlock = Math.max(MR, Math.ceil(Math.ceil(m / Math.ceil((2 * t) / colChunks)) / MR) * MR);
  const rowChunks = Math.ceil(m / rowBlock);
  const chunks = rowChunks * colChunks;
  if (chunks > 0xffff) {
    run(0, 0, m, n);
    return;
  }
  const ctl = p.ctl;
  ctl[CTL.a] = a; ctl[CTL.b] = b; ctl[CTL.c] = c; ctl[CTL.m] = m; ctl[CTL.n] = n; ctl[CTL.k] = k;
  ctl[CTL.colWidth] = COL_WIDTH; ctl[CTL.rowBlock] = rowBlock; ctl[CTL.colChunks] = colChunks; ctl[CTL.ldc] = ldc;
  ctl[CTL.kind] = KIND[panels?.kind ?? "f32"]; ctl[CTL.ws] = panels?.kind === "int8" ? panels.ws : 0; ctl[CTL.as] = panels?.kind === "int8" ? panels.as : 0; ctl[CTL.scratch] = panels?.kind === "f16" ? panels.scratch : 0;
  runJob(p, helpers, chunks, (idx) => {
    const i0 = Math.floor(idx / colChunks) * rowBlock, j0 = (idx % colChunks) * COL_WIDTH;
    run(i0, j0, Math.min(rowBlock, m - i0), Math.min(COL_WIDTH, n - j0));
  });
}

/**
 * Runs the job whose words are in the control block, of `chunks` chunks: publishes it, wakes
 * `helpers` workers, claims chunks with `run` beside them, and returns when every chunk is done.
 */
function runJob(p: Pool, helpers: number, chunks: number, run: (idx: number) => void): void {
  const ctl = p.ctl;
  ctl[CTL.chunks] = chunks;
  const g = (p.gen = (p.gen + 1) | 0) === 0 ? (p.gen = 1) : p.gen;
  const tag = g & 0xffff;
  Atomics.store(ctl, CTL.done, 0);
  Atomics.store(ctl, CTL.error, 0);
  Atomics.store(ctl, CTL.next, tag << 16);
  Atomics.store(ctl, CTL.gen, g);
  Atomics.notify(ctl, CTL.gen, helpers);
  for (;;) {
    const v = Atomics.load(ctl, CTL.next);
    if (v >>> 16 !== tag || (v & 0xffff) >= chunks) break;
    if (Atomics.compareExchange(ctl, CTL.next, v, v + 1) !== v) continue;
    run(v & 0xffff);
    Atomics.add(ctl, CTL.done, 1);
  }
  // The workers' last chunks: spun for first (they are under a chunk's time away, and a thread
  // put to sleep takes tens of microseconds to wake), then slept for.
  for (let spins = 0; spins < SPINS && Atomics.load(ctl, CTL.done) < chunks; spins++);
  const block = mayBlock();
  for (let d = Atomics.load(ctl, CTL.done); d < chunks; d = Atomics.load(ctl, CTL.done)) if (block) Atomics.wait(ctl, CTL.done, d);
  if (Atomics.load(ctl, CTL.error) !== 0) throw new Error("a threaded kernel failed in a worker");
}

// ---- the fused kernels' phases (../../rowwasm.ts) --------------------------------------------------
//
// A phase compiled to WebAssembly runs in this module's memory, from the end of the resident region
// (where a product's operands go when it runs: the two never run at once), so that the workers
// can run its rows too: its module is handed to them through the pool's code buffer, compiled once
// per id by each, and run on the same memory. Each row is computed by the same instructions on any
// thread: the bits do not depend on the count.

/** The memory phases run in, grown so that `bytes` fit after the resident region; `base`: where they start. */
export function phaseScratch(bytes: number): { memory: WebAssembly.Memory; base: number } {
  const { mem } = instance();
  const need = residentEnd + bytes;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  return { memory: mem, base: residentEnd };
}

/** How a phase's module imports that memory (shared, with its maximum, where threads can run it). */
export function phaseMemoryImport(): MemoryImport {
  return instance().shared ? { pages: 1, shared: { maxPages: MAX_PAGES } } : { pages: 1 };
}

/** Elements (rows × widest width) from which a phase is split over threads: below, waking the workers costs more than they save. */
export const PHASE_MIN_ELEMENTS = 1 << 13;

let phaseJobs = 0;

/** How many phases have run split over threads in this process (for tests). */
export const threadedPhaseJobs = () => phaseJobs;

/**
 * phase(desc, 0, rows) over `threads` threads: rows in blocks, claimed by the calling thread and the
 * workers (which compile `bytes`, the module, once for its `id`). On one thread where no worker
 * runs, the job is too small, or the module does not fit the code buffer.
 */
export function runPhase(phase: (desc: number, i0: number, i1: number) => void, id: number, bytes: Uint8Array, desc: number, rows: number, elements: number, threads: number): void {
  const p = pool;
  const helpers = p ? Math.min(threads - 1, p.workers.length) : 0;
  if (!p || helpers <= 0 || elements < PHASE_MIN_ELEMENTS || rows < 2 || bytes.length > CODE_BYTES) {
    phase(desc, 0, rows);
    return;
  }
  const t = helpers + 1;
  const block = Math.max(1, Math.ceil(rows / (4 * t)));
  const chunks = Math.ceil(rows / block);
  new Uint8Array(p.code, 0, bytes.length).set(bytes);
  const ctl = p.ctl;
  ctl[CTL.kind] = KIND.rows; ctl[CTL.a] = desc; ctl[CTL.m] = rows; ctl[CTL.n] = id; ctl[CTL.k] = bytes.length;
  ctl[CTL.rowBlock] = block; ctl[CTL.colChunks] = 1; ctl[CTL.colWidth] = 0;
  phaseJobs++;
  runJob(p, helpers, chunks, (idx) => phase(desc, idx * block, Math.min((idx + 1) * block, rows)));
}

const align16 = (x: number) => (x + 15) & ~15;

/** Floats of Bt [n, k] packed into panels. */
const packedLength = (n: number, k: number) => Math.ceil(n / NR) * NR * k;

/** Bytes of scratch a packing copies its operand through at a time (the raw copy is made in pieces of about this size). */
const PACK_CHUNK = 1 << 23;

/**
 * Packs Bt [n, k] (at bOff) into NR-column panels at byte dst: P[q][p][c] = Bt[q·NR + c, p], zero
 * past n. The whole panels' first k − k % 4 columns go through the module's `pack` (from raw
 * copies at byte `raw`, a few panels' rows at a time: at most PACK_CHUNK bytes, or one panel's); the rest here.
 */
function packPanels(Bt: Float32Array, bOff: number, n: number, k: number, dst: number, raw: number): void {
  const { mem, pack } = instance();
  const whole = Math.floor(n / NR), k4 = k & ~3;
  const group = Math.max(1, Math.min(whole, Math.floor(PACK_CHUNK / (NR * k * 4))));
  const need = raw + group * NR * k * 4;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  if (k4 > 0) {
    for (let q0 = 0; q0 < whole; q0 += group) {
      const g = Math.min(group, whole - q0);
      heap.set(Bt.subarray(bOff + q0 * NR * k, bOff + (q0 + g) * NR * k), raw / 4);
      pack(raw, dst + q0 * k * NR * 4, g, k);
    }
  }
  packRest(Bt, bOff, n, k, heap, dst / 4, whole, k4);
}

/**
 * Packs B [k, n] (at bOff, row-major: not transposed) into the same panels at byte dst: P[q][p][c]
 * = B[p, q·NR + c], zero past n. The whole panels go through the module's `packnn` (from raw copies
 * of a few of B's rows at byte `raw`, at most PACK_CHUNK bytes or one row at a time); the last
 * partial panel here.
 */
function packPanelsNN(B: Float32Array, bOff: number, k: number, n: number, dst: number, raw: number): void {
  const { mem, packnn } = instance();
  const whole = Math.floor(n / NR);
  const rowsPer = Math.max(1, Math.min(k, Math.floor(PACK_CHUNK / (n * 4))));
  const need = raw + rowsPer * n * 4;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  if (whole > 0) {
    for (let p0 = 0; p0 < k; p0 += rowsPer) {
      const rows = Math.min(rowsPer, k - p0);
      heap.set(B.subarray(bOff + p0 * n, bOff + (p0 + rows) * n), raw / 4);
      packnn(raw, dst + p0 * NR * 4, rows, whole, n, k);
    }
  }
  const j0 = whole * NR;
  if (j0 === n) return;
  const base = dst / 4 + whole * k * NR;
  for (let p = 0; p < k; p++) {
    const src = bOff + p * n;
    for (let c = 0, o = base + p * NR; c < NR; c++, o++) heap[o] = j0 + c < n ? B[src + j0 + c]! : 0;
  }
}

/** The part of packPanels the module leaves: columns p ≥ k4 of the first `whole` panels, then the last partial panel. */
function packRest(Bt: Float32Array, bOff: number, n: number, k: number, heap: Float32Array, dst: number, whole: number, k4: number): void {
  for (let j = 0; j < whole * NR; j++) {
    const src = bOff + j * k;
    for (let p = k4, o = dst + Math.floor(j / NR) * NR * k + p * NR + (j % NR); p < k; p++, o += NR) heap[o] = Bt[src + p]!;
  }
  for (let j0 = whole * NR; j0 < n; j0 += NR) {
    const base = dst + j0 * k;
    for (let c = 0; c < NR; c++) {
      const j = j0 + c;
      if (j >= n) {
        for (let p = 0, o = base + c; p < k; p++, o += NR) heap[o] = 0;
        continue;
      }
      const src = bOff + j * k;
      for (let p = 0, o = base + c; p < k; p++, o += NR) heap[o] = Bt[src + p]!;
    }
  }
}

/**
 * Memory never written after it is marked (weights): the byte ranges of each buffer marked, so that
 * any view of a marked array (a fused kernel reads a weight through a `subarray`) is recognised.
 */
let residentRanges = new WeakMap<ArrayBufferLike, [number, number][]>();
/** Where each resident operand's panels live: by buffer, then by `byteOffset:n:k`. */
let placed = new WeakMap<ArrayBufferLike, Map<string, number>>();
/** Where the panels of each resident B read as [k, n] (packWeightNN) live: by buffer, then by `byteOffset:k:n`. */
let placedNN = new WeakMap<ArrayBufferLike, Map<string, number>>();
/** The end of the resident region (the per-call scratch starts here). */
let residentEnd = 0;

/** Marks `a` as never written again, so a GEMM may keep its packed copy in wasm memory for later calls. */
export function markResident(a: Float32Array): void {
  let r = residentRanges.get(a.buffer);
  if (!r) residentRanges.set(a.buffer, (r = []));
  r.push([a.byteOffset, a.byteOffset + a.byteLength]);
}

/** Whether bytes [start, end) of `buffer` lie in memory marked resident. */
function isResident(buffer: ArrayBufferLike, start: number, end: number): boolean {
  return residentRanges.get(buffer)?.some(([s, e]) => s <= start && end <= e) ?? false;
}

/** Drops the module instance and its memory (a later call makes a fresh one). */
export function releaseWasmGemm(): void {
  stopGemmWorkers();
  inst = undefined;
  emptyResident();
}

/** The buffers `stateArray` handed out, by the memory they are views of (a shared memory's buffer is a new object after each growth). */
let inRegion = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();

/**
 * n zeroed floats in the resident region, for a state the products read at every call (a KV cache:
 * decode's q · kᵀ and p · v then read it in place instead of copying it in); undefined where the
 * memory is not shared (growing it would detach the view) or the region is full. Held as the
 * region is: emptied with it once the last program holding it is disposed.
 */
export function stateArray(n: number): Float32Array | undefined {
  if (!wasmGemmAvailable()) return undefined;
  const inst = instance();
  // In plain arithmetic first: align16's bit operations wrap past 2^31 (an absurd batch's cache).
  if (!inst.shared || !(Number.isSafeInteger(n) && n >= 0 && n * 4 + 16 <= RESIDENT_MAX - residentEnd)) return undefined;
  const bytes = align16(n * 4);
  const ptr = residentEnd;
  try {
    if (inst.mem.buffer.byteLength < ptr + bytes) inst.mem.grow(Math.ceil((ptr + bytes - inst.mem.buffer.byteLength) / PAGE));
  } catch {
    return undefined; // the host refused the memory: the caller allocates a plain array, or reports that it cannot
  }
  residentEnd = ptr + bytes;
  const a = new Float32Array(inst.mem.buffer, ptr, n);
  a.fill(0);
  inRegion.set(a.buffer, inst.mem);
  return a;
}

let readsInPlace = 0;

/** How many products have read an operand in place from a state buffer, in this process (for tests). */
export const stateReadsInPlace = () => readsInPlace;

/** Whether `a` is a view of the module's memory (its byte offset is then its address). */
function inMemory(inst: Instance, a: Float32Array): boolean {
  const yes = inRegion.get(a.buffer) === inst.mem;
  if (yes) readsInPlace++;
  return yes;
}

/** Forgets every packed weight and resident mark: the region is free from its start again. */
function emptyResident(): void {
  placed = new WeakMap();
  placedNN = new WeakMap();
  placedInt8 = new WeakMap();
  placedF16 = new WeakMap();
  residentRanges = new WeakMap();
  inRegion = new WeakMap();
  residentEnd = 0;
}

/** Programs holding the resident region (sessions, bundles): the last to release it empties it. */
let regionHolders = 0;

/**
 * Holds the resident region for a program about to pack its weights into it; returns the release.
 * When the last holder releases it (a server's session disposed before the next is loaded), the
 * region is emptied and the next weights are packed from its start: the memory cannot shrink,
 * but it is reused instead of growing until the region is full (after which products would pack
 * their weights per call). A program that packed without holding it (a benchmark's) then finds its
 * weights no longer resident and packs them per call: the same results, more slowly.
 */
export function holdResident(): () => void {
  regionHolders++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--regionHolders === 0) emptyResident();
  };
}

/** Bytes of the resident region (packed weights) in the module's memory now. */
export function residentBytes(): number {
  return residentEnd;
}

/** The byte offset of Bt's packed panels in wasm memory if it is (or now becomes) resident; undefined otherwise. */
function resident(Bt: Float32Array, bOff: number, n: number, k: number, mem: WebAssembly.Memory): number | undefined {
  return residentPanels(placed, Bt, bOff, n, k, mem, `${Bt.byteOffset + bOff * 4}:${n}:${k}`, (ptr, raw) => packPanels(Bt, bOff, n, k, ptr, raw));
}

/** The byte offset of the panels of B [k, n] (read as it is) in wasm memory if it is (or now becomes) resident; undefined otherwise. */
function residentNN(B: Float32Array, bOff: number, k: number, n: number, mem: WebAssembly.Memory): number | undefined {
  return residentPanels(placedNN, B, bOff, n, k, mem, `${B.byteOffset + bOff * 4}:${k}:${n}`, (ptr, raw) => packPanelsNN(B, bOff, k, n, ptr, raw));
}

/** resident and residentNN: n · k floats of `x` at bOff, packed by `pack(dst, raw)` into the region at their first call, found in `where` after. */
function residentPanels(where: WeakMap<ArrayBufferLike, Map<string, number>>, x: Float32Array, bOff: number, n: number, k: number, mem: WebAssembly.Memory, key: string, pack: (dst: number, raw: number) => void): number | undefined {
  const start = x.byteOffset + bOff * 4;
  if (!isResident(x.buffer, start, start + n * k * 4)) return undefined;
  const known = where.get(x.buffer)?.get(key);
  if (known !== undefined) return known;
  const bytes = align16(packedLength(n, k) * 4);
  if (residentEnd + bytes > RESIDENT_MAX) return undefined;
  const ptr = residentEnd;
  if (mem.buffer.byteLength < ptr + bytes) mem.grow(Math.ceil((ptr + bytes - mem.buffer.byteLength) / PAGE));
  pack(ptr, ptr + bytes);
  residentEnd = ptr + bytes;
  let m = where.get(x.buffer);
  if (!m) where.set(x.buffer, (m = new Map()));
  m.set(key, ptr);
  return ptr;
}

/** Weights packed as int8 (packWeightInt8): by buffer, then by `byteOffset:n:k`, the panels' and the scales' byte offsets. */
let placedInt8 = new WeakMap<ArrayBufferLike, Map<string, { panels: number; scales: number }>>();

/**
 * Packs a weight Bt [n, k] (whole array, never written again) into the resident region as int8,
 * quantized per output column (a row of Bt): scale_j = max_p |Bt[j, p]| / 127, q = floor(Bt / scale_j + 1/2)
 * (a column of zeros has scale 0). Panels as the f32 ones, one byte an element
 * ([n/8][k][8]), then the scales (f32, zero past n). A product of `int8` kernels on this array
 * reads these (C[i, j] = scale_j · Σ_p A[i, p]·q[j, p], the sum in f32 in ascending p); others read
 * the f32 values. False where it does not fit the region.
 */
export function packWeightInt8(Bt: Float32Array, n: number, k: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || Bt.length !== n * k) return false;
  return placeInt8(Bt, `${Bt.byteOffset}:${n}:${k}`, n, k, (q, scales) => quantizeWeight(Bt, 0, n, k, q, scales));
}

/**
 * Packs a weight B [k, n] (whole array, row-major as given, never written again) into the int8
 * panels and scales packWeightInt8 makes of its transpose — straight from B, with no transposed
 * copy: products of `int8` kernels that read B as [k, n] (`gemmNNInt8`) use them. False where it
 * does not fit the region.
 */
export function packWeightInt8NN(B: Float32Array, k: number, n: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || B.length !== k * n) return false;
  return placeInt8(B, `${B.byteOffset}:nn:${k}:${n}`, n, k, (q, scales) => quantizeWeightNN(B, 0, k, n, q, scales));
}

/** packWeightInt8 and packWeightInt8NN: the region's bytes for n × k int8 panels and their scales, filled by `quantize`, found under `key` after. */
function placeInt8(x: Float32Array, key: string, n: number, k: number, quantize: (q: Int8Array, scales: Float32Array) => void): boolean {
  if (placedInt8.get(x.buffer)?.has(key)) return true;
  const np = Math.ceil(n / NR) * NR, kp = evenK(k);
  const panelBytes = align16(np * kp), bytes = panelBytes + np * 4;
  if (residentEnd + bytes > RESIDENT_MAX) return false;
  const { mem } = instance();
  const ptr = residentEnd;
  if (mem.buffer.byteLength < ptr + bytes) mem.grow(Math.ceil((ptr + bytes - mem.buffer.byteLength) / PAGE));
  quantize(new Int8Array(mem.buffer, ptr, np * kp), new Float32Array(mem.buffer, ptr + panelBytes, np));
  residentEnd = ptr + bytes;
  let m = placedInt8.get(x.buffer);
  if (!m) placedInt8.set(x.buffer, (m = new Map()));
  m.set(key, { panels: ptr, scales: ptr + panelBytes });
  return true;
}

/**
 * C = A · B over up to `threads` threads with B [k, n] at bOff read from the int8 panels
 * packWeightInt8NN made of it (the same as packWeightInt8's of Bᵀ, so the same bits as the
 * transposed path). False (writing nothing) where B was not packed so.
 */
export function gemmNNInt8(threads = 1): (A: Float32Array, aOff: number, B: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number) => boolean {
  return (A, aOff, B, bOff, Cm, cOff, m, n, k) => {
    if (m === 0 || n === 0 || k === 0) return false;
    const w = placedInt8.get(B.buffer)?.get(`${B.byteOffset + bOff * 4}:nn:${k}:${n}`);
    return w !== undefined && gemmInt8(A, aOff, w, Cm, cOff, m, n, k, threads);
  };
}

/** How the products of a set of kernels read the weights packed for them (kernels/index.ts). */
export type WeightsDtype = "f32" | "int8" | "f16";

/** Weights packed as f16 (packWeightF16): by buffer, then by `byteOffset:n:k` (or `byteOffset:nn:k:n`), the panels' byte offset. */
let placedF16 = new WeakMap<ArrayBufferLike, Map<string, number>>();

/**
 * Packs a weight Bt [n, k] (whole array, never written again) into the resident region as f16
 * panels (./f16.ts): products of `f16` kernels on this array read them, with the bits of the f32
 * GEMM on the weight rounded to f16. False where it does not fit the region, or where a value has
 * no finite f16 (past ±65504: the array is then read as f32).
 */
export function packWeightF16(Bt: Float32Array, n: number, k: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || Bt.length !== n * k) return false;
  return placeF16(Bt, `${Bt.byteOffset}:${n}:${k}`, n, k, (out) => halfPanels(Bt, n, k, NR, out));
}

/** packWeightF16 for a weight B [k, n] read as it is (`gemmNNF16`): the same panels, straight from B. */
export function packWeightF16NN(B: Float32Array, k: number, n: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || B.length !== k * n) return false;
  return placeF16(B, `${B.byteOffset}:nn:${k}:${n}`, n, k, (out) => halfPanelsNN(B, k, n, NR, out));
}

/** packWeightF16 and packWeightF16NN: the region's bytes for n × k f16 panels, filled by `fill` (false: left unused), found under `key` after. */
function placeF16(x: Float32Array, key: string, n: number, k: number, fill: (out: Uint16Array) => boolean): boolean {
  if (placedF16.get(x.buffer)?.has(key)) return true;
  const elements = Math.ceil(n / NR) * NR * k, bytes = align16(elements * 2);
  if (residentEnd + bytes > RESIDENT_MAX) return false;
  const { mem } = instance();
  const ptr = residentEnd;
  if (mem.buffer.byteLength < ptr + bytes) mem.grow(Math.ceil((ptr + bytes - mem.buffer.byteLength) / PAGE));
  if (!fill(new Uint16Array(mem.buffer, ptr, elements))) return false;
  residentEnd = ptr + bytes;
  let m = placedF16.get(x.buffer);
  if (!m) placedF16.set(x.buffer, (m = new Map()));
  m.set(key, ptr);
  return true;
}

/** Rows of A per block of an f16 product: as many as fit the call's bytes beside the threads' scratch. */
function halfRows(m: number, n: number, k: number): number {
  const rowBytes = (k + Math.ceil(n / NR) * NR) * 4;
  return Math.max(1, Math.min(m, Math.floor((MAX_BYTES - 64 - (gemmWorkers() + 1) * HALF_SCRATCH) / rowBytes)));
}

/**
 * C = A · B over up to `threads` threads with B [k, n] at bOff read from the f16 panels
 * packWeightF16NN made of it (the same as packWeightF16's of Bᵀ, so the same bits as the
 * transposed path). False (writing nothing) where B was not packed so.
 */
export function gemmNNF16(threads = 1): (A: Float32Array, aOff: number, B: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number) => boolean {
  return (A, aOff, B, bOff, Cm, cOff, m, n, k) => {
    if (m === 0 || n === 0 || k === 0) return false;
    const ptr = placedF16.get(B.buffer)?.get(`${B.byteOffset + bOff * 4}:nn:${k}:${n}`);
    if (ptr === undefined) return false;
    gemmRows(instance(), A, aOff, ptr, residentEnd, Cm, cOff, m, n, k, halfRows(m, n, k), threads, true);
    return true;
  };
}

/**
 * Packs a weight Bt [n, k] (whole array, marked resident here) into the resident region now, as a
 * later product would at its first call: at load, not in the first run. False where it does not
 * fit the region (the products then pack it per call).
 */
export function packWeight(Bt: Float32Array, n: number, k: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || Bt.length !== n * k) return false;
  markResident(Bt);
  return resident(Bt, 0, n, k, instance().mem) !== undefined;
}

/**
 * Packs a weight B [k, n] (whole array, row-major as given, marked resident here) into the resident
 * region now, into the panels packWeight would make of its transpose — straight from B, with no
 * transposed copy: products that read B as [k, n] (`gemmNNPacked`) then use them. False where it
 * does not fit the region.
 */
export function packWeightNN(B: Float32Array, k: number, n: number): boolean {
  if (!wasmGemmAvailable() || n === 0 || k === 0 || B.length !== k * n) return false;
  markResident(B);
  return residentNN(B, 0, k, n, instance().mem) !== undefined;
}

/**
 * C = A · B over up to `threads` threads with B [k, n] at bOff read from its panels in the resident
 * region (packed by packWeightNN, or now, at its first product, where B lies in memory marked
 * resident) or, for any other B and at least MR rows, from panels packed into scratch for this
 * call: A is [m, k] at aOff, C is [m, n] at cOff. The same panels and kernels as gemmNTWasm on B's
 * transpose, so the same bits. False (writing nothing) for fewer rows by a B that is not resident,
 * or where it does not fit.
 */
export function gemmNNPacked(threads = 1): (A: Float32Array, aOff: number, B: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number) => boolean {
  return (A, aOff, B, bOff, Cm, cOff, m, n, k) => {
    if (m === 0 || n === 0 || k === 0) return false;
    const inst = instance();
    const kept = residentNN(B, bOff, k, n, inst.mem);
    const np = Math.ceil(n / NR) * NR;
    const rowBytes = (k + np) * 4;
    if (kept === undefined) {
      // Not a weight (attention's p · v in a prefill): packed now, into scratch, straight from B —
      // where there are rows enough to reuse the panels (fewer take the small kernels, unpacked).
      const bBytes = align16(packedLength(n, k) * 4);
      if (m < MR || bBytes + rowBytes + 32 > MAX_BYTES) return false;
      const base = residentEnd;
      // The raw copies of B for the packing go where A and C will be.
      packPanelsNN(B, bOff, k, n, base, base + bBytes);
      gemmRows(inst, A, aOff, base, base + bBytes, Cm, cOff, m, n, k, Math.max(1, Math.min(m, Math.floor((MAX_BYTES - bBytes - 32) / rowBytes))), threads);
      return true;
    }
    if (rowBytes + 32 > MAX_BYTES) return false;
    const rowsPer = Math.max(1, Math.min(m, Math.floor((MAX_BYTES - 32) / rowBytes)));
    gemmRows(inst, A, aOff, kept, residentEnd, Cm, cOff, m, n, k, rowsPer, threads);
    return true;
  };
}

/**
 * C = A · Btᵀ: A is [m, k] at aOff, Bt is [n, k] at bOff, C is [m, n] at cOff, all contiguous.
 * Writes every element of C. Rows go in blocks small enough for the memory budget; returns false
 * (writing nothing) when even one row with all of Bt does not fit.
 */
export function gemmNTWasm(A: Float32Array, aOff: number, Bt: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number, threads = 1, weights: WeightsDtype = "f32"): boolean {
  if (m === 0 || n === 0) return true;
  if (k === 0) {
    Cm.fill(0, cOff, cOff + m * n);
    return true;
  }
  const np = Math.ceil(n / NR) * NR;
  const bBytes = align16(packedLength(n, k) * 4);
  const rowBytes = (k + np) * 4;
  if (bBytes + rowBytes + 32 > MAX_BYTES) return false;
  const rowsPer = Math.max(1, Math.min(m, Math.floor((MAX_BYTES - bBytes - 32) / rowBytes)));
  const key = `${Bt.byteOffset + bOff * 4}:${n}:${k}`;
  const i8 = weights === "int8" ? placedInt8.get(Bt.buffer)?.get(key) : undefined;
  if (i8) return gemmInt8(A, aOff, i8, Cm, cOff, m, n, k, threads);
  const inst = instance();
  const halves = weights === "f16" ? placedF16.get(Bt.buffer)?.get(key) : undefined;
  if (halves !== undefined) {
    gemmRows(inst, A, aOff, halves, residentEnd, Cm, cOff, m, n, k, halfRows(m, n, k), threads, true);
    return true;
  }
  const kept = resident(Bt, bOff, n, k, inst.mem);
  if (kept === undefined && m < 4 && k % 4 === 0 && !inst.fma) return gemmNTSmall(inst, A, aOff, Bt, bOff, Cm, cOff, m, n, k);
  const base = residentEnd;
  const bPtr = kept ?? base;
  const aPtr = kept !== undefined ? base : base + bBytes;
  // The raw copies of Bt for the packing go where A and C will be.
  if (kept === undefined) packPanels(Bt, bOff, n, k, bPtr, aPtr);
  gemmRows(inst, A, aOff, bPtr, aPtr, Cm, cOff, m, n, k, rowsPer, threads);
  return true;
}

/**
 * C = A · (panels at byte bPtr), rowsPer rows of A at a time copied in at byte aPtr, C's rows after
 * them; with `half`, f16 panels (./f16.ts), each thread's scratch after C.
 */
function gemmRows(inst: Instance, A: Float32Array, aOff: number, bPtr: number, aPtr: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number, rowsPer: number, threads: number, half = false): void {
  const mem = inst.mem;
  const np = Math.ceil(n / NR) * NR;
  const scratch = aPtr + align16(rowsPer * k * 4) + align16(rowsPer * np * 4);
  const need = scratch + (half ? (gemmWorkers() + 1) * HALF_SCRATCH : 0);
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  for (let i0 = 0; i0 < m; i0 += rowsPer) {
    const rows = Math.min(rowsPer, m - i0);
    const cPtr = aPtr + align16(rows * k * 4);
    heap.set(A.subarray(aOff + i0 * k, aOff + (i0 + rows) * k), aPtr / 4);
    gemmThreaded(inst, aPtr, bPtr, cPtr, rows, n, k, np * 4, threads, half ? { kind: "f16", scratch } : undefined);
    const c0 = cPtr / 4, o = cOff + i0 * n;
    if (np === n) Cm.set(heap.subarray(c0, c0 + rows * n), o);
    else for (let i = 0; i < rows; i++) Cm.set(heap.subarray(c0 + i * np, c0 + i * np + n), o + i * n);
  }
}

/** C = A · Btᵀ with Bt packed as int8 (`w`): A's rows quantized into int16 in the memory, a block of rows at a time (./int8.ts). */
function gemmInt8(A: Float32Array, aOff: number, w: { panels: number; scales: number }, Cm: Float32Array, cOff: number, m: number, n: number, k: number, threads: number): boolean {
  const np = Math.ceil(n / NR) * NR, kp = evenK(k);
  const rowBytes = kp * 2 + 4 + np * 4;
  const rowsPer = Math.max(1, Math.min(m, Math.floor((MAX_BYTES - 64) / rowBytes)));
  const inst = instance();
  const mem = inst.mem;
  const aPtr = residentEnd;
  const asPtr = aPtr + align16(rowsPer * kp * 2);
  const cPtr = asPtr + align16(rowsPer * 4);
  const need = cPtr + rowsPer * np * 4;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const buf = mem.buffer;
  const heap = new Float32Array(buf);
  for (let i0 = 0; i0 < m; i0 += rowsPer) {
    const rows = Math.min(rowsPer, m - i0);
    quantizeRows(A, aOff + i0 * k, rows, k, new Int16Array(buf, aPtr, rows * kp), new Float32Array(buf, asPtr, rows));
    gemmThreaded(inst, aPtr, w.panels, cPtr, rows, n, kp, np * 4, threads, { kind: "int8", ws: w.scales, as: asPtr });
    const c0 = cPtr / 4, o = cOff + i0 * n;
    if (np === n) Cm.set(heap.subarray(c0, c0 + rows * n), o);
    else for (let i = 0; i < rows; i++) Cm.set(heap.subarray(c0 + i * np, c0 + i * np + n), o + i * n);
  }
  return true;
}

/**
 * C = A · Btᵀ for m < 4 rows and a Bt that is not resident (decode's q · kᵀ: the cached keys), by
 * the module's `ntsmall` (./small.ts): A and Bt copied in as they are, nothing packed; the core's bits.
 */
function gemmNTSmall(inst: Instance, A: Float32Array, aOff: number, Bt: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number): boolean {
  const n4 = (n + 3) & ~3;
  // Bt read in place where it lies in the memory (a state buffer: `stateArray`), else copied in.
  const inPlace = inMemory(inst, Bt);
  const aPtr = residentEnd, bCopy = aPtr + align16(m * k * 4), cPtr = bCopy + (inPlace ? 0 : align16(n4 * k * 4));
  const bPtr = inPlace ? Bt.byteOffset + bOff * 4 : bCopy;
  // ntsmall reads n4 rows: up to 3 rows past Bt's end, their lanes dropped (in place: still in the memory).
  const need = Math.max(cPtr + m * n4 * 4, bPtr + n4 * k * 4);
  if (need - aPtr > MAX_BYTES) return false;
  const mem = inst.mem;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  heap.set(A.subarray(aOff, aOff + m * k), aPtr / 4);
  if (!inPlace) heap.set(Bt.subarray(bOff, bOff + n * k), bPtr / 4);
  inst.ntsmall(aPtr, bPtr, cPtr, m, n4, k);
  const c0 = cPtr / 4;
  if (n4 === n) Cm.set(heap.subarray(c0, c0 + m * n), cOff);
  else for (let i = 0; i < m; i++) Cm.set(heap.subarray(c0 + i * n4, c0 + i * n4 + n), cOff + i * n);
  return true;
}

/**
 * C = A · B for m < 4 rows, B [k, n] as given (row-major, at bOff), by the module's `nnsmall`
 * (./small.ts): A and B copied in, nothing packed; the bits of `gemmNNSmallF32` (each C[i, j] a
 * sequential f32 sum in ascending k). Falls back to that where the operands do not fit the budget.
 */
export const gemmNNSmallWasm: GemmNN = (A, aOff, B, bOff, Cm, cOff, m, n, k) => {
  const np = (n + 3) & ~3;
  const inst = instance();
  // B read in place where it lies in the memory (a state buffer), else copied in; up to 3 floats past its end are read.
  const inPlace = inMemory(inst, B);
  const aPtr = residentEnd, bCopy = aPtr + align16(m * k * 4), cPtr = bCopy + (inPlace ? 0 : align16(k * n * 4 + 16));
  const bPtr = inPlace ? B.byteOffset + bOff * 4 : bCopy;
  const need = Math.max(cPtr + m * np * 4, bPtr + k * n * 4 + 16);
  if (need - aPtr > MAX_BYTES) return gemmNNSmallF32(A, aOff, B, bOff, Cm, cOff, m, n, k);
  const mem = inst.mem;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  heap.set(A.subarray(aOff, aOff + m * k), aPtr / 4);
  if (!inPlace) heap.set(B.subarray(bOff, bOff + k * n), bPtr / 4);
  inst.nnsmall(aPtr, bPtr, cPtr, m, n, k);
  const c0 = cPtr / 4;
  if (np === n) Cm.set(heap.subarray(c0, c0 + m * n), cOff);
  else for (let i = 0; i < m; i++) Cm.set(heap.subarray(c0 + i * np, c0 + i * np + n), cOff + i * n);
};

/**
 * Products of fewer than 4 rows, one per outer index o < count, whose right operands lie in the
 * module's memory (state buffers): a decode step's q · kᵀ or p · v for every head in one call,
 * instead of one call of matmulTransB or matmul a head.
 */
export interface SmallProducts {
  /** B_o given [n, k] (q · kᵀ: the cached keys), else [k, n] (p · v: the cached values). */
  readonly transB: boolean;
  readonly count: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A_o: m rows of k floats, contiguous, from a[aOff + o · aStride]. */
  readonly a: Float32Array;
  readonly aOff: number;
  readonly aStride: number;
  /** B_o from b[bOff + o · bStride], read in place: b must be a state buffer of the memory (`stateArray`). */
  readonly b: Float32Array;
  readonly bOff: number;
  readonly bStride: number;
  /** C_o: m rows of n floats, contiguous, into c[cOff + o · cStride]. */
  readonly c: Float32Array;
  readonly cOff: number;
  readonly cStride: number;
}

/** Multiply-adds of a batch of small products from which its heads are shared out over the threads. */
export const SMALL_MIN_MACS = 1 << 15;

let smallJobs = 0;

/** How many batches of small products have been shared out over threads in this process (for tests). */
export const threadedSmallJobs = () => smallJobs;

/**
 * The products `p` by the module's `ntsmall` or `nnsmall` (./small.ts), each as gemmNTSmall or
 * gemmNNSmallWasm computes it alone (the same bits), the heads shared out over `threads` threads.
 * False, having done nothing, where those would not run it: B not in the memory, m ≥ 4, k not a
 * multiple of 4 for q · kᵀ, the core using FMA, operands past the memory budget. The caller then
 * runs each product by matmulTransB or matmul.
 */
export function smallProducts(p: SmallProducts, threads: number): boolean {
  const { transB, count, m, n, k } = p;
  if (!wasmGemmAvailable() || count < 1 || m < 1 || m >= 4 || n < 1 || k < 1 || (transB && k % 4 !== 0)) return false;
  const inst = instance();
  if (inst.fma || inRegion.get(p.b.buffer) !== inst.mem) return false;
  // C's rows: n rounded up to 4 (ntsmall computes n4 keys, nnsmall np lanes; the rest dropped).
  const ld = (n + 3) & ~3;
  const aPtr = residentEnd, cPtr = aPtr + align16(count * m * k * 4);
  const b0 = p.b.byteOffset + p.bOff * 4, sb = p.bStride * 4;
  // The last B read: ntsmall reads n4 rows of k, nnsmall up to 3 floats past the end (in the memory).
  const bEnd = b0 + (count - 1) * sb + (transB ? ld * k * 4 : k * n * 4 + 16);
  const need = Math.max(cPtr + count * m * ld * 4, bEnd);
  if (need - aPtr > MAX_BYTES || p.bStride < 0) return false;
  readsInPlace += 2 * count;
  const mem = inst.mem;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  const mk = m * k;
  if (p.aStride === mk) heap.set(p.a.subarray(p.aOff, p.aOff + count * mk), aPtr / 4);
  else for (let o = 0; o < count; o++) heap.set(p.a.subarray(p.aOff + o * p.aStride, p.aOff + o * p.aStride + mk), aPtr / 4 + o * mk);
  const sa = mk * 4, sc = m * ld * 4;
  const f = transB ? inst.ntsmall : inst.nnsmall;
  const helpers = pool ? Math.min(threads - 1, pool.workers.length) : 0;
  // A job's chunk index has 16 bits (runJob): more heads than that run on this thread.
  if (helpers > 0 && count > 1 && count <= 0xffff && count * m * n * k >= SMALL_MIN_MACS) {
    const ctl = pool!.ctl;
    ctl[CTL.kind] = transB ? KIND.nt : KIND.nn; ctl[CTL.a] = aPtr; ctl[CTL.b] = b0; ctl[CTL.c] = cPtr; ctl[CTL.m] = m; ctl[CTL.n] = transB ? ld : n; ctl[CTL.k] = k;
    ctl[CTL.aStride] = sa; ctl[CTL.bStride] = sb; ctl[CTL.cStride] = sc;
    smallJobs++;
    runJob(pool!, helpers, count, (o) => f(aPtr + o * sa, b0 + o * sb, cPtr + o * sc, m, transB ? ld : n, k));
  } else for (let o = 0; o < count; o++) f(aPtr + o * sa, b0 + o * sb, cPtr + o * sc, m, transB ? ld : n, k);
  const c0 = cPtr / 4;
  if (ld === n && p.cStride === m * n) p.c.set(heap.subarray(c0, c0 + count * m * n), p.cOff);
  else for (let o = 0; o < count; o++) for (let i = 0; i < m; i++) p.c.set(heap.subarray(c0 + (o * m + i) * ld, c0 + (o * m + i) * ld + n), p.cOff + o * p.cStride + i * n);
  return true;
}

/** The GEMM core for matmulsWith: WebAssembly SIMD, or the TypeScript core past the memory budget. */
export const gemmNTSimd: GemmNT = (A, aOff, Bt, bOff, Cm, cOff, m, n, k) => {
  if (!gemmNTWasm(A, aOff, Bt, bOff, Cm, cOff, m, n, k)) gemmNT(A, aOff, Bt, bOff, Cm, cOff, m, n, k);
};

/**
 * gemmNTSimd over up to `threads` threads (the workers started by startGemmWorkers, and the caller);
 * with `weights` "int8" or "f16", weights packed by packWeightInt8 or packWeightF16 are read so.
 */
export function gemmNTSimdThreads(threads: number, weights: WeightsDtype = "f32"): GemmNT {
  return (A, aOff, Bt, bOff, Cm, cOff, m, n, k) => {
    if (!gemmNTWasm(A, aOff, Bt, bOff, Cm, cOff, m, n, k, threads, weights)) gemmNT(A, aOff, Bt, bOff, Cm, cOff, m, n, k);
  };
}

// Batched matrix products, f32 in and out, accumulated in double precision.
//
// The core is `gemmNT`: C = A · Btᵀ with A [m, k] and Bt [n, k] both k-contiguous, so every dot
// product reads two contiguous rows. It is cache-blocked — k in blocks of KB (4 rows of A and 4
// of Bt, 4·KB floats each, stay in L1), n in panels of NB rows of Bt (NB·KB floats, in L2) — and
// computes a 4×4 register tile of C per step: 8 loads feed 16 multiply-adds, with the 16 sums in
// locals. Edge tiles (m or n not a multiple of 4) use 4×1, 1×4 and 1×1 tiles.
//
// `matmulTransB(a, bT)` takes B already transposed ([..., n, k]): the runtime lays weights out that
// way once at load time. `matmul(a, b)` first packs B ([..., k, n]) into a reusable scratch buffer
// by a blocked transpose — except when m < 4, where packing would cost as much as the product,
// and C = A·B is computed directly from B's rows (C[i, :] += A[i, p] · B[p, :]).
//
// Shapes follow numpy.matmul: a 1-D `a` is a row [1, k] and a 1-D `b` a column [k, 1], the added
// dim is dropped from the result; batch dims (all but the last two) broadcast. When B has no batch
// (a weight), A's batch dims fold into m and the whole product is one GEMM.
import { KernelError } from "../../../core/errors.js";
import { numel, showShape, type Tensor } from "../../../core/tensor.js";
import { broadcastShapes, broadcastStrides, plan, Rows } from "./broadcast.js";
import { transpose2d } from "./transpose.js";
import { checkInputs, output, requireDType } from "./util.js";

/** k block: 4 rows of A and of Bt, 4·KB floats each, stay in L1. */
const KB = 256;
/** n panel: NB rows of Bt × KB floats (64 KiB) stay in L2 while all of A's rows pass over them. */
const NB = 64;

// ---- the GEMM core ------------------------------------------------------------------------------

/** C[cOff + i·n + j] (=|+=) Σ_{p0 ≤ p < p1} A[a0 + r·ld + p] · Bt[b0 + c·ld + p] over a 4×4 tile. */
function tile44(A: Float32Array, a0: number, B: Float32Array, b0: number, ld: number, p0: number, p1: number, C: Float32Array, o: number, ldc: number, first: boolean): void {
  const a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld;
  const b1 = b0 + ld, b2 = b1 + ld, b3 = b2 + ld;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = p0; p < p1; p++) {
    const x0 = A[a0 + p]!, x1 = A[a1 + p]!, x2 = A[a2 + p]!, x3 = A[a3 + p]!;
    const y0 = B[b0 + p]!, y1 = B[b1 + p]!, y2 = B[b2 + p]!, y3 = B[b3 + p]!;
    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
    c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
    c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
  }
  if (first) {
    C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; o += ldc;
    C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13; o += ldc;
    C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23; o += ldc;
    C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33;
  } else {
    C[o] += c00; C[o + 1] += c01; C[o + 2] += c02; C[o + 3] += c03; o += ldc;
    C[o] += c10; C[o + 1] += c11; C[o + 2] += c12; C[o + 3] += c13; o += ldc;
    C[o] += c20; C[o + 1] += c21; C[o + 2] += c22; C[o + 3] += c23; o += ldc;
    C[o] += c30; C[o + 1] += c31; C[o + 2] += c32; C[o + 3] += c33;
  }
}

/** A 4-row by 1-column tile (the last n % 4 columns). */
function tile41(A: Float32Array, a0: number, B: Float32Array, b0: number, ld: number, p0: number, p1: number, C: Float32Array, o: number, ldc: number, first: boolean): void {
  const a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld;
  let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (let p = p0; p < p1; p++) {
    const y = B[b0 + p]!;
    c0 += A[a0 + p]! * y; c1 += A[a1 + p]! * y; c2 += A[a2 + p]! * y; c3 += A[a3 + p]! * y;
  }
  if (first) {
    C[o] = c0; C[o + ldc] = c1; C[o + 2 * ldc] = c2; C[o + 3 * ldc] = c3;
  } else {
    C[o] += c0; C[o + ldc] += c1; C[o + 2 * ldc] += c2; C[o + 3 * ldc] += c3;
  }
}

/** A 1-row by 4-column tile (the last m % 4 rows, and all of a product with m < 4). */
function tile14(A: Float32Array, a0: number, B: Float32Array, b0: number, ld: number, p0: number, p1: number, C: Float32Array, o: number, first: boolean): void {
  const b1 = b0 + ld, b2 = b1 + ld, b3 = b2 + ld;
  let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (let p = p0; p < p1; p++) {
    const x = A[a0 + p]!;
    c0 += x * B[b0 + p]!; c1 += x * B[b1 + p]!; c2 += x * B[b2 + p]!; c3 += x * B[b3 + p]!;
  }
  if (first) {
    C[o] = c0; C[o + 1] = c1; C[o + 2] = c2; C[o + 3] = c3;
  } else {
    C[o] += c0; C[o + 1] += c1; C[o + 2] += c2; C[o + 3] += c3;
  }
}

function tile11(A: Float32Array, a0: number, B: Float32Array, b0: number, p0: number, p1: number, C: Float32Array, o: number, first: boolean): void {
  let c = 0;
  for (let p = p0; p < p1; p++) c += A[a0 + p]! * B[b0 + p]!;
  if (first) C[o] = c;
  else C[o] += c;
}

/**
 * C = A · Btᵀ: A is [m, k] at aOff, Bt is [n, k] at bOff, C is [m, n] at cOff, all contiguous.
 * Writes every element of C (k = 0 gives zeros).
 */
export function gemmNT(A: Float32Array, aOff: number, Bt: Float32Array, bOff: number, C: Float32Array, cOff: number, m: number, n: number, k: number): void {
  if (k === 0) {
    C.fill(0, cOff, cOff + m * n);
    return;
  }
  const m4 = m - (m % 4);
  for (let p0 = 0; p0 < k; p0 += KB) {
    const p1 = Math.min(k, p0 + KB);
    const first = p0 === 0;
    for (let j0 = 0; j0 < n; j0 += NB) {
      const j1 = Math.min(n, j0 + NB);
      const j4 = j0 + ((j1 - j0) & ~3);
      for (let i = 0; i < m4; i += 4) {
        const a0 = aOff + i * k;
        const o = cOff + i * n;
        for (let j = j0; j < j4; j += 4) tile44(A, a0, Bt, bOff + j * k, k, p0, p1, C, o + j, n, first);
        for (let j = j4; j < j1; j++) tile41(A, a0, Bt, bOff + j * k, k, p0, p1, C, o + j, n, first);
      }
      for (let i = m4; i < m; i++) {
        const a0 = aOff + i * k;
        const o = cOff + i * n;
        for (let j = j0; j < j4; j += 4) tile14(A, a0, Bt, bOff + j * k, k, p0, p1, C, o + j, first);
        for (let j = j4; j < j1; j++) tile11(A, a0, Bt, bOff + j * k, p0, p1, C, o + j, first);
      }
    }
  }
}

/**
 * C = A · B with B [k, n] row-major, for small m: each row of C is accumulated in double from
 * B's rows, four at a time. Reads B once per row of A and needs no packing.
 */
export function gemmNNSmall(A: Float32Array, aOff: number, B: Float32Array, bOff: number, C: Float32Array, cOff: number, m: number, n: number, k: number): void {
  const acc = f64Scratch(n);
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ar = aOff + i * k;
    acc.fill(0, 0, n);
    let p = 0;
    for (; p < k4; p += 4) {
      const x0 = A[ar + p]!, x1 = A[ar + p + 1]!, x2 = A[ar + p + 2]!, x3 = A[ar + p + 3]!;
      const b0 = bOff + p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) acc[j] += x0 * B[b0 + j]! + x1 * B[b1 + j]! + x2 * B[b2 + j]! + x3 * B[b3 + j]!;
    }
    for (; p < k; p++) {
      const x = A[ar + p]!;
      const b0 = bOff + p * n;
      for (let j = 0; j < n; j++) acc[j] += x * B[b0 + j]!;
    }
    const o = cOff + i * n;
    for (let j = 0; j < n; j++) C[o + j] = acc[j]!;
  }
}

/**
 * C = A · B with B [k, n] row-major, for small m, with the bits of the WebAssembly core without
 * FMA: each C[i, j] is the sequential f32 sum, over ascending p, of the f32 products. No transpose,
 * no packing (a decode step's p · v: one row against the cached values). The sum of two f32
 * values computed in double and rounded to f32 is their f32 sum (double has more than 2 · 24 + 2
 * bits), so each step is one f32 add of one f32 product.
 */
export function gemmNNSmallF32(A: Float32Array, aOff: number, B: Float32Array, bOff: number, C: Float32Array, cOff: number, m: number, n: number, k: number): void {
  const f = Math.fround;
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ar = aOff + i * k, o = cOff + i * n;
    C.fill(0, o, o + n);
    let p = 0;
    // Four of B's rows at a time (half the time of one): still one f32 add after another per C[i, j].
    for (; p < k4; p += 4) {
      const x0 = A[ar + p]!, x1 = A[ar + p + 1]!, x2 = A[ar + p + 2]!, x3 = A[ar + p + 3]!;
      const b0 = bOff + p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        let c = f(C[o + j]! + f(x0 * B[b0 + j]!));
        c = f(c + f(x1 * B[b1 + j]!));
        c = f(c + f(x2 * B[b2 + j]!));
        C[o + j] = c + f(x3 * B[b3 + j]!);
      }
    }
    for (; p < k; p++) {
      const x = A[ar + p]!, b0 = bOff + p * n;
      for (let j = 0; j < n; j++) C[o + j] = C[o + j]! + f(x * B[b0 + j]!);
    }
  }
}

// ---- scratch ------------------------------------------------------------------------------------

/** Scratch kept between calls up to this many elements; larger needs get a temporary array. */
const KEEP_SCRATCH = 1 << 24; // 64 MiB of f32
let packScratch = new Float32Array(0);
let accScratch = new Float64Array(0);

function f32Scratch(n: number): Float32Array {
  if (n <= packScratch.length) return packScratch;
  if (n > KEEP_SCRATCH) return new Float32Array(n);
  packScratch = new Float32Array(Math.max(n, Math.min(KEEP_SCRATCH, packScratch.length * 2)));
  return packScratch;
}

function f64Scratch(n: number): Float64Array {
  if (n > accScratch.length) accScratch = new Float64Array(Math.max(n, accScratch.length * 2));
  return accScratch;
}

/** Drops the scratch buffers matmul keeps between calls (they regrow on demand). */
export function releaseMatmulScratch(): void {
  packScratch = new Float32Array(0);
  accScratch = new Float64Array(0);
}

// ---- shapes and batching --------------------------------------------------------------------------

interface Dims {
  m: number;
  k: number;
  n: number;
  batch: number[];
  aBatch: number[];
  bBatch: number[];
  outShape: number[];
}

function dims(kernel: string, a: Tensor, b: Tensor, bTransposed: boolean): Dims {
  const as = a.shape, bs = b.shape;
  if (as.length === 0 || bs.length === 0) throw new KernelError(kernel, `operands must have at least 1 dim, got ${showShape(as)} and ${showShape(bs)}`);
  const a1 = as.length === 1, b1 = bs.length === 1;
  const m = a1 ? 1 : as[as.length - 2]!;
  const k = as[as.length - 1]!;
  let bk: number, n: number;
  if (b1) [bk, n] = [bs[0]!, 1];
  else if (bTransposed) [n, bk] = [bs[bs.length - 2]!, bs[bs.length - 1]!];
  else [bk, n] = [bs[bs.length - 2]!, bs[bs.length - 1]!];
  if (k !== bk) {
    const what = bTransposed ? `the transposed right operand ${showShape(bs)} (stored [..., n, k])` : showShape(bs);
    throw new KernelError(kernel, `inner dims differ: ${showShape(as)} @ ${what}: ${k} vs ${bk}`);
  }
  const aBatch = as.slice(0, Math.max(0, as.length - 2));
  const bBatch = bs.slice(0, Math.max(0, bs.length - 2));
  const batch = broadcastShapes(kernel, aBatch, bBatch);
  const outShape = [...batch, ...(a1 ? [] : [m]), ...(b1 ? [] : [n])];
  return { m, k, n, batch, aBatch, bBatch, outShape };
}

/** A GEMM core with gemmNT's contract: C = A · Btᵀ, writing every element of C. */
export type GemmNT = typeof gemmNT;

/** A product of B given [k, n] for m < 4, with its core's bits and no packing. */
export type GemmNN = typeof gemmNNSmall;

/**
 * A product of B given [k, n] from the core's panels, with its bits: those it keeps packed (a
 * weight readied by the kernels' `prepareB`), or — the WebAssembly core, for 4 rows or more —
 * panels it packs for this call straight from B, with no transposed copy; false where it does
 * neither (nothing written).
 */
export type GemmNNPacked = (A: Float32Array, aOff: number, B: Float32Array, bOff: number, C: Float32Array, cOff: number, m: number, n: number, k: number) => boolean;

function run(kernel: string, a: Tensor, b: Tensor, out: Tensor | undefined, bTransposed: boolean, core: GemmNT = gemmNT, small?: () => GemmNN | undefined, packed?: GemmNNPacked): Tensor<"f32"> {
  checkInputs(kernel, a, b);
  requireDType(kernel, a, ["f32"], "the left operand");
  requireDType(kernel, b, ["f32"], "the right operand");
  const d = dims(kernel, a, b, bTransposed);
  const o = output(kernel, "f32", d.outShape, out, [a, b]);
  const { m, k, n } = d;
  const count = numel(d.batch);
  if (count === 0 || m === 0 || n === 0) return o;
  const A = a.data as Float32Array, B = b.data as Float32Array, C = o.data;
  const mk = m * k, kn = k * n, mn = m * n;
  const bCount = numel(d.bBatch);
  // A 1-D b is a column [k, 1]; read as a row [1, k] it is already in Bt's layout.
  const bIsBt = bTransposed || b.shape.length === 1;

  if (bCount === 1 && numel(d.aBatch) === count) {
    // B is shared and A is not broadcast: fold A's batch dims into m, one GEMM.
    const rows = count * m;
    if (!bIsBt && packed?.(A, 0, B, 0, C, 0, rows, n, k)) return o;
    const nn = !bIsBt && rows < 4 ? smallNN(core, small) : undefined;
    if (bIsBt) core(A, 0, B, 0, C, 0, rows, n, k);
    else if (nn) nn(A, 0, B, 0, C, 0, rows, n, k);
    else {
      const Bt = f32Scratch(kn);
      transpose2d(B, 0, k, n, Bt, 0);
      core(A, 0, Bt, 0, C, 0, rows, n, k);
    }
    return o;
  }

  // One product per batch entry. B's matrices are packed once each, however often they are used.
  // (Another core computes every product itself: a row of C must not depend on m.)
  const direct = !bIsBt && m < 4 ? smallNN(core, small) : undefined;
  // B's matrices transposed for the core (once each, however often they are used), unless `packed`
  // takes B as it is (the wasm core packs it per product; where it declines, one is transposed then).
  let Bt = B;
  const transposeAll = !bIsBt && !direct && !packed;
  if (transposeAll) {
    Bt = f32Scratch(bCount * kn);
    for (let i = 0; i < bCount; i++) transpose2d(B, i * kn, k, n, Bt, i * kn);
  }
  const one = !bIsBt && !direct && packed ? f32Scratch(kn) : undefined;
  const aStr = broadcastStrides(kernel, d.aBatch, d.batch);
  const bStr = broadcastStrides(kernel, d.bBatch, d.batch);
  const w = new Rows(plan(d.batch, [aStr, bStr]));
  let cOff = 0;
  for (let r = 0; r < w.count; r++) {
    for (let j = 0; j < w.n; j++) {
      const aOff = (w.off[0]! + j * w.step[0]!) * mk;
      const bOff = (w.off[1]! + j * w.step[1]!) * kn;
      if (direct) direct(A, aOff, B, bOff, C, cOff, m, n, k);
      else if (one) {
        if (!packed!(A, aOff, B, bOff, C, cOff, m, n, k)) {
          transpose2d(B, bOff, k, n, one, 0);
          core(A, aOff, one, 0, C, cOff, m, n, k);
        }
      } else core(A, aOff, Bt, bOff, C, cOff, m, n, k);
      cOff += mn;
    }
    w.next();
  }
  return o;
}

/** numpy.matmul(a, b) for f32: [..., m, k] @ [..., k, n] → [..., m, n], batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor, out?: Tensor): Tensor<"f32"> {
  return run("matmul", a, b, out, false);
}

/**
 * a @ bTᵀ, i.e. matmul(a, b) with b given transposed: bT is [..., n, k] (a weight laid out once at
 * load time, or GPT-2's tied embedding [vocab, d] used as the LM head). A 1-D bT is a vector [k].
 */
export function matmulTransB(a: Tensor, bT: Tensor, out?: Tensor): Tensor<"f32"> {
  return run("matmulTransB", a, bT, out, true);
}

/** The product for m < 4 with B as given [k, n]: the plain core's own, or the one `small` gives for another core (undefined: transpose and pack). */
const smallNN = (core: GemmNT, small: (() => GemmNN | undefined) | undefined): GemmNN | undefined => (core === gemmNT ? gemmNNSmall : small?.());

/**
 * matmul and matmulTransB with another GEMM core (same shapes, batching and packing). `small`
 * gives, when asked, a kernel with the core's bits for m < 4 and B given [k, n] (none: such
 * products are transposed and packed like any other); `packed` computes, where the core keeps
 * B's panels (a weight B [k, n] shared by the whole batch), a product from them first.
 */
export function matmulsWith(core: GemmNT, small?: () => GemmNN | undefined, packed?: GemmNNPacked): { matmul: typeof matmul; matmulTransB: typeof matmulTransB } {
  return {
    matmul: (a, b, out) => run("matmul", a, b, out, false, core, small, packed),
    matmulTransB: (a, bT, out) => run("matmulTransB", a, bT, out, true, core, small),
  };
}

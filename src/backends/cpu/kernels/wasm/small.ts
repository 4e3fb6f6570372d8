// The product of a few rows by a B given [k, n] (a decode step's p · v: one row of attention
// weights against the cached values), as a function of gemm.ts's module: no transposing or
// packing of B, which changes at every step. Four lanes of C a vector, four vectors a pass (one
// where fewer than 16 columns remain); per k step, A[i, p] splat times B's row p added in.
//
// Numerics: every lane is C[i, j] = (((0 + A[i,0]·B[0,j]) + A[i,1]·B[1,j]) + ...) in f32, each
// product rounded then each sum: the bits of the GEMM core and of matmul.ts's `gemmNNSmallF32`,
// which is its reference in test/unit/backends/cpu/wasm-gemm.test.ts.
import { Body, I32, Op, V128, whileLoop } from "./emit.js";

/** Vectors of C per pass. */
const VECS = 4;

/**
 * nnsmall(a, b, c, m, n, k): C[i, 0 .. np) = Σ_{p < k} A[i, p] · B[p, 0 .. np) for i < m, with np = n
 * rounded up to 4; byte pointers a (A [m, k]), b (B [k, n], rows n floats apart; up to 3 floats past
 * its end are read, their lanes dropped), c (C, rows np floats apart).
 */
export function nnSmallKernel(): Body {
  const f = new Body(6);
  const [a, b, c, m, n, k] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32), j = f.local(I32), np = f.local(I32), ldb = f.local(I32);
  const ap = f.local(I32), end = f.local(I32), bp = f.local(I32), arow = f.local(I32), crow = f.local(I32);
  const x = f.local(V128);
  const acc = Array.from({ length: VECS }, () => f.local(V128));
  f.get(n).i32(3).op(Op.i32Add).i32(~3).op(Op.i32And).set(np);
  f.get(n).i32(2).op(Op.i32Shl).set(ldb);
  // One pass: `vecs` vectors of C from column j on.
  const pass = (vecs: number) => {
    for (let v = 0; v < vecs; v++) f.v128Zero().set(acc[v]!);
    f.get(arow).set(ap);
    f.get(arow).get(k).i32(2).op(Op.i32Shl).op(Op.i32Add).set(end);
    f.get(b).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).set(bp);
    whileLoop(f, () => f.get(ap).get(end).op(Op.i32LtU), () => {
      f.get(ap).v128Load32Splat(0).set(x);
      for (let v = 0; v < vecs; v++) f.get(acc[v]!).get(x).get(bp).v128Load(16 * v).f32x4Mul().f32x4Add().set(acc[v]!);
      f.get(ap).i32(4).op(Op.i32Add).set(ap);
      f.get(bp).get(ldb).op(Op.i32Add).set(bp);
    });
    for (let v = 0; v < vecs; v++) f.get(crow).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).get(acc[v]!).v128Store(16 * v);
    f.get(j).i32(4 * vecs).op(Op.i32Add).set(j);
  };
  f.i32(0).set(i);
  whileLoop(f, () => f.get(i).get(m).op(Op.i32LtS), () => {
    // arow = a + i · k · 4; crow = c + i · np · 4
    f.get(a).get(i).get(k).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(arow);
    f.get(c).get(i).get(np).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(crow);
    f.i32(0).set(j);
    whileLoop(f, () => f.get(j).i32(4 * VECS).op(Op.i32Add).get(np).op(Op.i32LeS), () => pass(VECS));
    whileLoop(f, () => f.get(j).get(np).op(Op.i32LtS), () => pass(1));
    f.get(i).i32(1).op(Op.i32Add).set(i);
  });
  return f;
}

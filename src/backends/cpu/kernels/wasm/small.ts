// Products of a few rows of A by a B that changes at every call (a decode step's attention: one
// query row against the cached keys, one row of weights against the cached values), as functions
// of gemm.ts's module: B is read as given, not packed into panels.
//   nnsmall: B given [k, n] (p · v). Four lanes of C a vector, four vectors a pass (one where fewer
//            than 16 columns remain); per k step, A[i, p] splat times B's row p added in.
//   ntsmall: B given as Bt [n, k] (q · kᵀ). Four rows of Bt (keys) a group, two groups a pass (one
//            for the last four); per 4 k steps, a 4 × 4 block of each group transposed in registers
//            and its four columns multiplied by A[i, p .. p + 3] splat, added in one after another.
//
// Numerics: every lane is C[i, j] = (((0 + A[i,0]·B[0,j]) + A[i,1]·B[1,j]) + ...) in f32, each
// product rounded then each sum: the bits of the GEMM core and of matmul.ts's `gemmNNSmallF32`
// (test/unit/backends/cpu/wasm-gemm.test.ts checks both against a sequential f32 loop).
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

/** Key groups (of 4 rows of Bt) per pass of ntsmall. */
const GROUPS = 2;

/**
 * ntsmall(a, bt, c, m, n4, k): C[i, 0 .. n4) = Σ_{p < k} A[i, p] · Bt[0 .. n4, p] for i < m, with n4 a
 * multiple of 4 (rows of Bt past n are read, their lanes dropped by the caller) and k a multiple of
 * 4; byte pointers a (A [m, k]), bt (Bt [n4, k]), c (C, rows n4 floats apart).
 */
export function ntSmallKernel(): Body {
  const f = new Body(6);
  const [a, bt, c, m, n4, k] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32), j = f.local(I32), ldb = f.local(I32), arow = f.local(I32), crow = f.local(I32), ap = f.local(I32), end = f.local(I32);
  const rows = Array.from({ length: 4 * GROUPS }, () => f.local(I32));
  const acc = Array.from({ length: GROUPS }, () => f.local(V128));
  const v = Array.from({ length: 4 }, () => f.local(V128));
  const t = Array.from({ length: 4 }, () => f.local(V128));
  const x = f.local(V128);
  f.get(k).i32(2).op(Op.i32Shl).set(ldb);
  const pass = (groups: number) => {
    // rows[r] = bt + (j + r) · ldb; the group's sums start at 0
    for (let r = 0; r < 4 * groups; r++) f.get(bt).get(j).i32(r).op(Op.i32Add).get(ldb).op(Op.i32Mul).op(Op.i32Add).set(rows[r]!);
    for (let g = 0; g < groups; g++) f.v128Zero().set(acc[g]!);
    f.get(arow).set(ap);
    whileLoop(f, () => f.get(ap).get(end).op(Op.i32LtU), () => {
      for (let g = 0; g < groups; g++) {
        for (let r = 0; r < 4; r++) f.get(rows[4 * g + r]!).v128Load(0).set(v[r]!);
        // t0 = [v0.0 v1.0 v0.1 v1.1], t1 = [v2.0 v3.0 v2.1 v3.1], t2, t3 the same of lanes 2 and 3
        f.get(v[0]!).get(v[1]!).f32x4Shuffle([0, 4, 1, 5]).set(t[0]!);
        f.get(v[2]!).get(v[3]!).f32x4Shuffle([0, 4, 1, 5]).set(t[1]!);
        f.get(v[0]!).get(v[1]!).f32x4Shuffle([2, 6, 3, 7]).set(t[2]!);
        f.get(v[2]!).get(v[3]!).f32x4Shuffle([2, 6, 3, 7]).set(t[3]!);
        // column u of the block (Bt[j .. j + 3, p + u]) times A[i, p + u], in order of u
        const cols: [number, number, readonly number[]][] = [[0, 1, [0, 1, 4, 5]], [0, 1, [2, 3, 6, 7]], [2, 3, [0, 1, 4, 5]], [2, 3, [2, 3, 6, 7]]];
        cols.forEach(([l, h, lanes], u) => {
          f.get(ap).v128Load32Splat(4 * u).set(x);
          f.get(acc[g]!).get(x).get(t[l]!).get(t[h]!).f32x4Shuffle(lanes).f32x4Mul().f32x4Add().set(acc[g]!);
        });
      }
      for (let r = 0; r < 4 * groups; r++) f.get(rows[r]!).i32(16).op(Op.i32Add).set(rows[r]!);
      f.get(ap).i32(16).op(Op.i32Add).set(ap);
    });
    for (let g = 0; g < groups; g++) f.get(crow).get(j).i32(2).op(Op.i32Shl).op(Op.i32Add).get(acc[g]!).v128Store(16 * g);
    f.get(j).i32(4 * groups).op(Op.i32Add).set(j);
  };
  f.i32(0).set(i);
  whileLoop(f, () => f.get(i).get(m).op(Op.i32LtS), () => {
    // arow = a + i · k · 4, end = arow + k · 4; crow = c + i · n4 · 4
    f.get(a).get(i).get(ldb).op(Op.i32Mul).op(Op.i32Add).set(arow);
    f.get(arow).get(ldb).op(Op.i32Add).set(end);
    f.get(c).get(i).get(n4).op(Op.i32Mul).i32(2).op(Op.i32Shl).op(Op.i32Add).set(crow);
    f.i32(0).set(j);
    whileLoop(f, () => f.get(j).i32(4 * GROUPS).op(Op.i32Add).get(n4).op(Op.i32LeS), () => pass(GROUPS));
    whileLoop(f, () => f.get(j).get(n4).op(Op.i32LtS), () => pass(1));
    f.get(i).i32(1).op(Op.i32Add).set(i);
  });
  return f;
}

// tanh over a row of f32 in WebAssembly SIMD, two lanes of double at a time, with the bits of
// src/core/math.ts's `tanh` rounded to f32: the row functions of the fused kernels compiled by
// src/backends/cpu/rowcode.ts (GPT-2's GELU: JavaScript's tanh costs 12 ns an element here).
//
// It is math.ts's algorithm op for op, in the same order, in f64x2 (`tanhLanes`, `expNormal`, which
// the fused kernels compiled to WebAssembly, ../../rowwasm.ts, use too): WebAssembly's f64 arithmetic
// is IEEE-754's, as JavaScript's is, and neither fuses a multiply with an add, so each lane gets
// the double JavaScript gets. exp's table 2^(j/32) sits at the start of the module's own memory;
// its 2^m is built from the bits (m ≤ 55 here: always a normal double). Rows go in scratch after the table: `rowScratch` hands
// out views of it, and a row that is not in it is computed by math.ts in JavaScript. The test
// (test/unit/backends/cpu/rowmath.test.ts) compares every f32 in a wide sweep with math.ts.
import { Body, F32x4, F64x2, I32, moduleBytes, Op, V128, whileLoop } from "./emit.js";
import { ERF_CF_DEPTH, erfCoeffs, INV_SQRT_PI, LN2_32_HI, LN2_32_LO, LOG2E_32, POW2_32, tanh as tanhJs } from "../../../../core/math.js";
import { wasmGemmAvailable } from "./gemm.js";

const PAGE = 65536;
/** 2^(j/32), j < 32, as in math.ts (exp's table): bytes 0 .. 256 of the memory. */
const TABLE = 256;
/** Floats of each scratch row, and how many rows there are. */
export const ROW_FLOATS = 16384;
const ROWS = 4;
/** Pairs of lanes a loop step. */
const UNROLL = 4;
const PAGES = Math.ceil((TABLE + ROWS * (ROW_FLOATS + 2 * UNROLL) * 4) / PAGE);

/** Fresh v128 locals. */
const lanes = (f: Body, n: number) => Array.from({ length: n }, () => f.local(V128));

/** Pushes c₀·yⁿ + … by Horner's rule in the f64x2 local `arg` (math.ts's order: c₀ first). */
function horner(f: Body, arg: number, coeffs: readonly number[]): void {
  f.f64x2Const(coeffs[0]!);
  for (const c of coeffs.slice(1)) f.get(arg).v(F64x2.mul).f64x2Const(c).v(F64x2.add);
}

/**
 * Pushes e^y for the f64x2 local y, by math.ts's `exp` where its result is a normal double (its
 * range checks are the caller's): n = floor(y · 32/ln 2 + 1/2), r = y − n·HI − n·LO, e^r's series,
 * times 2^(j/32) from the table (at byte 0, or at the byte the i32 local `table` holds) and 2^m
 * built from its bits.
 */
export function expNormal(f: Body, y: number, table?: number): void {
  const [nf, r, ni, idx] = lanes(f, 4);
  f.get(y).f64x2Const(LOG2E_32).v(F64x2.mul).f64x2Const(0.5).v(F64x2.add).v(F64x2.floor).set(nf!);
  f.get(y).get(nf!).f64x2Const(LN2_32_HI).v(F64x2.mul).v(F64x2.sub).get(nf!).f64x2Const(LN2_32_LO).v(F64x2.mul).v(F64x2.sub).set(r!);
  horner(f, r!, [1.388888888888889e-3, 8.333333333333333e-3, 4.1666666666666664e-2, 1.6666666666666666e-1, 0.5, 1, 1]);
  f.get(nf!).v(F64x2.i32x4TruncSatZero).set(ni!);
  f.get(ni!).i32x4Const([31, 31, 31, 31]).v(F64x2.and).i32(3).v(F64x2.i32x4Shl).set(idx!);
  const at = (lane: number) => {
    f.get(idx!).i32x4Lane(lane);
    if (table !== undefined) f.get(table).op(Op.i32Add);
    f.f64Load(0);
  };
  at(0);
  f.v(F64x2.splat);
  at(1);
  f.f64x2ReplaceLane(1).v(F64x2.mul);
  f.get(ni!).i32(5).v(F64x2.i32x4ShrS).i32x4Const([1023, 1023, 1023, 1023]).v(F64x2.i32x4Add).v(F64x2.i64x2ExtendLowI32x4S).i32(52).v(F64x2.i64x2Shl);
  f.v(F64x2.mul);
}

/**
 * Pushes tanh of the f64x2 local x, math.ts's: where it branches (|x| < 1/8: the odd series;
 * |x| > 19.1 or NaN: ±1 or NaN; else 1 − 2/(e^(2|x|) + 1)), both lanes compute every branch and
 * `bitselect` keeps the one math.ts takes (exp's own range checks never fire there: 2|x| ≤ 38.2).
 */
export function tanhLanes(f: Body, x: number, table?: number): void {
  const [a, t, small, y, e, sign] = lanes(f, 6);
  f.get(x).v(F64x2.abs).set(a!);
  // |x| < 1/8: x + x·t·(…), t = x²; ±0 stays itself
  f.get(x).get(x).v(F64x2.mul).set(t!);
  f.get(x).get(x).get(t!).v(F64x2.mul);
  horner(f, t!, [-0.0014558343870513183, 0.003592128036572481, -0.008863235529902197, 0.021869488536155203, -0.05396825396825397, 0.13333333333333333, -0.3333333333333333]);
  f.v(F64x2.mul).v(F64x2.add).set(small!);
  f.get(x).get(small!).get(x).f64x2Const(0).v(F64x2.eq).v(F64x2.bitselect).set(small!);
  f.get(a!).f64x2Const(2).v(F64x2.mul).set(y!);
  expNormal(f, y!, table);
  f.set(e!);
  // 1 − 2/(e + 1), with x's sign
  f.get(x).f64x2Const(-0).v(F64x2.and).set(sign!);
  f.f64x2Const(1).f64x2Const(2).get(e!).f64x2Const(1).v(F64x2.add).v(F64x2.div).v(F64x2.sub).get(sign!).v(F64x2.or);
  // |x| > 19.1: ±1; NaN: NaN
  f.f64x2Const(NaN).f64x2Const(1).get(sign!).v(F64x2.or).get(x).get(x).v(F64x2.ne).v(F64x2.bitselect);
  f.get(a!).f64x2Const(19.1).v(F64x2.le).v(F64x2.bitselect);
  // the series below 1/8
  f.set(e!).get(small!).get(e!).get(a!).f64x2Const(0.125).v(F64x2.lt).v(F64x2.bitselect);
}

/**
 * Pushes erf of the f64x2 local x, math.ts's: |x| ≤ 2, x times its Maclaurin series by Horner's rule
 * in t = x² (math.ts starts from s = 0: 0·t + c₀ is c₀ for a finite t); 2 < |x| < 6, Laplace's
 * continued fraction bottom-up, 1 − e^(−x²)/√π / f with x's sign (computed only when a lane needs
 * it: exp's normal path holds there, −36 < −x² < −4); else ±1, or NaN.
 */
export function erfLanes(f: Body, x: number, table?: number): void {
  const [ax, t, s, cf, e, mid] = lanes(f, 6);
  f.get(x).v(F64x2.abs).set(ax);
  f.get(x).get(x).v(F64x2.mul).set(t);
  horner(f, t, [...erfCoeffs]);
  f.set(s);
  f.get(ax).f64x2Const(2).v(F64x2.gt).get(ax).f64x2Const(6).v(F64x2.lt).v(F64x2.and).set(mid);
  f.f64x2Const(0).set(cf);
  f.block().get(mid).v(F32x4.anyTrue).op(Op.i32Eqz).brIf(0);
  f.get(ax).set(cf);
  for (let k = ERF_CF_DEPTH; k > 0; k--) f.get(ax).f64x2Const(0.5 * k).get(cf).v(F64x2.div).v(F64x2.add).set(cf);
  f.get(ax).v(F64x2.neg).get(ax).v(F64x2.mul).set(e);
  expNormal(f, e, table);
  f.f64x2Const(INV_SQRT_PI).v(F64x2.mul).get(cf).v(F64x2.div).set(e);
  // 1 − e, negated where x < 0 (it is positive: the sign bit flipped)
  f.f64x2Const(1).get(e).v(F64x2.sub).get(x).f64x2Const(-0).v(F64x2.and).v(F32x4.xor).set(cf);
  f.op(Op.end);
  // |x| ≥ 6: ±1 with x's sign; NaN: NaN; then the continued fraction between, the series below 2
  f.f64x2Const(NaN).f64x2Const(1).get(x).f64x2Const(-0).v(F64x2.and).v(F64x2.or).get(x).get(x).v(F64x2.ne).v(F64x2.bitselect).set(e);
  f.get(cf).get(e).get(mid).v(F64x2.bitselect).set(e);
  f.get(x).get(s).v(F64x2.mul).get(e).get(ax).f64x2Const(2).v(F64x2.le).v(F64x2.bitselect);
}

/** tanh(ptr, n): x ← fround(tanh(x)) for the n f32 at byte ptr (n rounded up to a multiple of 2 · UNROLL: floats past the end may be rewritten). */
function tanhKernel(): Body {
  const f = new Body(2);
  const [ptr, n] = [0, 1];
  const end = f.local(I32);
  const xs = lanes(f, UNROLL);
  // end = ptr + 4 · (n rounded up to a whole step)
  f.get(ptr).get(n).i32(2 * UNROLL - 1).op(Op.i32Add).i32(-2 * UNROLL).op(Op.i32And).i32(2).op(Op.i32Shl).op(Op.i32Add).set(end);
  whileLoop(f, () => f.get(ptr).get(end).op(Op.i32LtU), () => {
    // UNROLL independent pairs a step, one after the other: the core overlaps their long chains.
    xs.forEach((x, g) => {
      f.get(ptr).v128Load64Zero(8 * g).v(F64x2.promoteLowF32x4).set(x);
      tanhLanes(f, x);
      f.v(F64x2.demoteToF32x4Zero).set(x);
      f.get(ptr).get(x).v128Store64Lane(8 * g, 0);
    });
    f.get(ptr).i32(8 * UNROLL).op(Op.i32Add).set(ptr);
  });
  return f;
}

interface RowMath {
  readonly memory: WebAssembly.Memory;
  readonly tanh: (ptr: number, n: number) => void;
}

let module: RowMath | null | undefined;

function rowMath(): RowMath | null {
  if (module !== undefined) return module;
  if (!wasmGemmAvailable()) return (module = null);
  const memory = new WebAssembly.Memory({ initial: PAGES });
  const bytes = moduleBytes([{ name: "tanh", params: 2, body: tanhKernel() }], { pages: PAGES });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports;
  const table = new Float64Array(memory.buffer, 0, 32);
  table.set(POW2_32);
  return (module = { memory, tanh: exports["tanh"] as RowMath["tanh"] });
}

/** The rows of scratch: views of the module's memory where it runs, else plain arrays. */
const rows: Float32Array[] = [];

/** The k-th row of scratch, at least `w` floats: in the module's memory when k < ROWS and w ≤ ROW_FLOATS. */
export function rowScratch(k: number, w: number): Float32Array {
  const t = rows[k];
  if (t && t.length >= w) return t;
  const m = rowMath();
  const row = m && k < ROWS && w <= ROW_FLOATS ? new Float32Array(m.memory.buffer, TABLE + k * (ROW_FLOATS + 2 * UNROLL) * 4, ROW_FLOATS) : new Float32Array(Math.max(w, 2 * (t?.length ?? 0)));
  return (rows[k] = row);
}

/** t[j] ← fround(tanh(t[j])) for j < w: in the module where t is one of its rows, else in JavaScript. */
export function tanhRow(t: Float32Array, w: number): void {
  const m = module;
  if (m && t.buffer === m.memory.buffer) m.tanh(t.byteOffset, w);
  else for (let j = 0; j < w; j++) t[j] = tanhJs(t[j]!);
}

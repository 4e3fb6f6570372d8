// The ziggurat's common case in WebAssembly, for init.ts's random weights: xoshiro128** and the
// draw that lands inside a layer (about 99% of draws) run here, a chunk of values at a time; a
// draw that lands in its layer's wedge are drawn here, the wedge with init.ts's exp op for op; a
// draw in the tail (about 1 in 2500) stops the loop and is finished in JavaScript by init.ts from
// the same generator state. So the values are the JavaScript ones bit for bit: integer ops and
// IEEE-754 +, −, ×, ÷, floor, trunc and rounding to f32, which WebAssembly defines as JavaScript
// does, in the same order (test/unit/runtime/normals.test.ts compares the two). GPT-2 small's
// 124M normals: 16–19 ns a value in JavaScript, ~5 here (random weights 2.1 → 1.1 s).
//
// Memory: the generator's state (4 × i32) at 0, σ (f64) at 16, the index where a run stopped at
// 24 and the draw it stopped on at 28; init.ts's tables from 64 (the layers' x, x[i+1]/x[i], the
// density at x[i], 1/k!); the chunk of values (f32) from OUT on.
import { Body, F64, I32, moduleBytes, Op, whileLoop } from "../backends/cpu/kernels/wasm/emit.js";

const STATE = 0, SIGMA = 16, STOP = 24, DRAW = 28, ZX = 64, ZRATIO = ZX + 129 * 8, ZF = ZRATIO + 128 * 8, IFACT = ZF + 129 * 8;
const OUT = 4096;
/** Values a chunk. */
export const CHUNK = 65536;
const PAGES = Math.ceil((OUT + CHUNK * 4) / 65536);

/**
 * normals(start, n): out[i] = fround(±x · σ) for start ≤ i < n, each x a standard normal drawn as
 * init.ts's `normalFrom` draws it — inside a layer, or in its wedge (with init.ts's exp) — until a
 * draw lands in the base layer outside its rectangle (the tail, about 1 in 2500): its index goes
 * to STOP and the draw to DRAW (else STOP = n). The state is read from STATE at the start and
 * written back at the end.
 */
function normalsKernel(ln2: Ln2): Body {
  const { LN2, LN2_HI, LN2_LO } = ln2;
  const f = new Body(2);
  const [start, n] = [0, 1];
  const [a, b, c, d, i, u, w, t, layer] = Array.from({ length: 9 }, () => f.local(I32));
  const [v, sigma, x, y, k, p, k1] = Array.from({ length: 7 }, () => f.local(F64));
  const rotl = (bits: number) => f.i32(bits).op(Op.i32Rotl);
  /** xoshiro128**'s next 32 bits into `out`: r = rotl(b·5, 7)·9; t = b << 9; c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11). */
  const next = (out: number) => {
    f.get(b).i32(5).op(Op.i32Mul);
    rotl(7);
    f.i32(9).op(Op.i32Mul).set(out);
    f.get(b).i32(9).op(Op.i32Shl).set(t);
    f.get(c).get(a).op(Op.i32Xor).set(c);
    f.get(d).get(b).op(Op.i32Xor).set(d);
    f.get(b).get(c).op(Op.i32Xor).set(b);
    f.get(a).get(d).op(Op.i32Xor).set(a);
    f.get(c).get(t).op(Op.i32Xor).set(c);
    f.get(d);
    rotl(11);
    f.set(d);
  };
  /** (r >>> 8) · 2^-24 of the i32 local r: [0, 1), 24 bits. */
  const unit24 = (r: number) => f.get(r).i32(8).op(Op.i32ShrU).op(Op.f64ConvertI32U).f64Const(2 ** -24).op(Op.f64Mul);
  /** 2^e for the integral f64 on the stack (−1022 ≤ e ≤ 1023), from its bits. */
  const pow2 = () => f.op(Op.i32TruncF64S).op(Op.i64ExtendI32S).i64Const(1023).op(Op.i64Add).i64Const(52).op(Op.i64Shl).op(Op.f64ReinterpretI64);
  /** out[i] = fround(value · σ), i++, and the next draw (`br` to the loop, `depth` blocks out). */
  const emit = (value: () => void, depth: number) => {
    f.get(i).i32(2).op(Op.i32Shl);
    value();
    f.get(sigma).op(Op.f64Mul).op(Op.f32DemoteF64).f32Store(OUT);
    f.get(i).i32(1).op(Op.i32Add).set(i);
    f.br(depth);
  };
  /** ±value by the draw's sign bit 128 (JavaScript's −1 · value), by `select`: a random branch would miss half the time. */
  const signed = (value: number) => f.get(value).op(Op.f64Neg).get(value).get(u).i32(128).op(Op.i32And).op(Op.select);
  [a, b, c, d].forEach((r, q) => f.i32(STATE).i32Load(4 * q).set(r));
  f.i32(0).f64Load(SIGMA).set(sigma);
  f.get(start).set(i);
  f.block(); // $out
  whileLoop(f, () => f.get(i).get(n).op(Op.i32LtS), () => {
    next(u);
    // layer (as a byte offset into the tables) = (u & 127) · 8; v = (u >>> 8) · 2^-24
    f.get(u).i32(127).op(Op.i32And).i32(3).op(Op.i32Shl).set(layer);
    unit24(u).set(v);
    f.block(); // $slow
    f.get(v).get(layer).f64Load(ZRATIO).op(Op.f64Lt).op(Op.i32Eqz).brIf(0);
    emit(() => signed(v).get(layer).f64Load(ZX).op(Op.f64Mul), 1);
    f.op(Op.end);
    // The base layer beyond its rectangle: the tail, in JavaScript.
    f.block();
    f.get(layer).brIf(0);
    f.i32(0).get(u).i32Store(DRAW);
    f.br(3);
    f.op(Op.end);
    // The wedge: x = v · x[i]; accepted when f[i] + uniform · (f[i+1] − f[i]) < exp(−x²/2).
    f.get(v).get(layer).f64Load(ZX).op(Op.f64Mul).set(x);
    // exp(y), y = −0.5 · x · x, as init.ts's: k = Math.round(y / ln 2) (ties up), r = y − k·HI − k·LO,
    // its Taylor series to r¹⁸, times 2^k1 · 2^(k − k1), k1 = trunc(k / 2)
    f.f64Const(-0.5).get(x).op(Op.f64Mul).get(x).op(Op.f64Mul).set(y);
    f.get(y).f64Const(LN2).op(Op.f64Div).set(k);
    f.get(k).op(Op.f64Floor).f64Const(1).op(Op.f64Add).get(k).op(Op.f64Floor).get(k).get(k).op(Op.f64Floor).op(Op.f64Sub).f64Const(0.5).op(Op.f64Ge).op(Op.select).set(k);
    f.get(y).get(k).f64Const(LN2_HI).op(Op.f64Mul).op(Op.f64Sub).get(k).f64Const(LN2_LO).op(Op.f64Mul).op(Op.f64Sub).set(y);
    f.i32(0).f64Load(IFACT + 18 * 8).set(p);
    for (let j = 17; j >= 0; j--) f.get(p).get(y).op(Op.f64Mul).i32(0).f64Load(IFACT + 8 * j).op(Op.f64Add).set(p);
    f.get(k).f64Const(2).op(Op.f64Div).op(Op.f64Trunc).set(k1);
    f.get(p).get(k1);
    pow2();
    f.op(Op.f64Mul).get(k).get(k1).op(Op.f64Sub);
    pow2();
    f.op(Op.f64Mul).set(p);
    // the uniform height h = f[i] + unit · (f[i+1] − f[i]), from the next draw
    next(w);
    f.block();
    f.get(layer).f64Load(ZF);
    unit24(w);
    f.get(layer).f64Load(ZF + 8).get(layer).f64Load(ZF).op(Op.f64Sub).op(Op.f64Mul).op(Op.f64Add);
    f.get(p).op(Op.f64Lt).op(Op.i32Eqz).brIf(0);
    emit(() => signed(x), 1);
    f.op(Op.end);
    // rejected: draw again
  });
  f.op(Op.end);
  f.i32(0).get(i).i32Store(STOP);
  [a, b, c, d].forEach((r, q) => f.i32(STATE).get(r).i32Store(4 * q));
  return f;
}

/** The module over its memory; its state, σ, stop and draw as views. */
export interface FastNormals {
  readonly run: (start: number, n: number) => void;
  readonly state: Int32Array;
  readonly sigma: Float64Array;
  readonly stop: Int32Array;
  readonly values: Float32Array;
}

let made: FastNormals | null | undefined;

/** ln 2, and its split in two (init.ts's exp). */
export interface Ln2 {
  readonly LN2: number;
  readonly LN2_HI: number;
  readonly LN2_LO: number;
}

/** init.ts's tables: the layers' x, x[i+1]/x[i], the density f at x[i], 1/k! for k ≤ 18. */
export interface Ziggurat {
  readonly zx: Float64Array;
  readonly zratio: Float64Array;
  readonly zf: Float64Array;
  readonly invFactorial: readonly number[];
  readonly ln2: Ln2;
}

/** The module with the ziggurat's tables (made once), or null where WebAssembly is not available. */
export function fastNormals(z: Ziggurat): FastNormals | null {
  if (made !== undefined) return made;
  if (typeof WebAssembly !== "object") return (made = null);
  const memory = new WebAssembly.Memory({ initial: PAGES });
  const bytes = moduleBytes([{ name: "normals", params: 2, body: normalsKernel(z.ln2) }], { pages: PAGES });
  const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: memory } }).exports["normals"] as FastNormals["run"];
  const buf = memory.buffer;
  new Float64Array(buf, ZX, 129).set(z.zx);
  new Float64Array(buf, ZRATIO, 128).set(z.zratio);
  new Float64Array(buf, ZF, 129).set(z.zf);
  new Float64Array(buf, IFACT, 19).set(z.invFactorial);
  return (made = { run, state: new Int32Array(buf, STATE, 4), sigma: new Float64Array(buf, SIGMA, 1), stop: new Int32Array(buf, STOP, 2), values: new Float32Array(buf, OUT, CHUNK) });
}

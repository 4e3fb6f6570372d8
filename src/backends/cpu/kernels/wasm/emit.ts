// A tiny WebAssembly binary emitter: just the opcodes the GEMM kernel needs, by name (relaxed
// SIMD's f32x4.relaxed_madd included: a module using it validates only where the engine has it).
//
// A module here is one memory, imported as `env.mem` (shared between threads, with a maximum, or
// not), plus functions with i32 params and typed locals; no tables or globals. `Body` appends
// instructions to a byte array; `moduleBytes` wraps the bodies in the type, import, function,
// export and code sections (in the order the binary format requires). SIMD opcodes are LEB128-encoded after the 0xfd prefix.

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

const EMPTY_BLOCK = 0x40;

/** Opcodes without immediates. */
export const Op = {
  end: 0x0b,
  select: 0x1b,
  i32Eqz: 0x45,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32LeS: 0x4c,
  i32GeS: 0x4e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i32GeU: 0x4f,
  i32Rotl: 0x77,
  f32Ne: 0x5c,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  f64Lt: 0x63,
  f32Add: 0x92,
  f32Mul: 0x94,
  f64Ge: 0x66,
  i64Add: 0x7c,
  i64Shl: 0x86,
  f64Neg: 0x9a,
  f64Floor: 0x9c,
  f64Trunc: 0x9d,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  i32TruncF64S: 0xaa,
  i64ExtendI32S: 0xac,
  f32DemoteF64: 0xb6,
  f64ConvertI32S: 0xb7,
  f64ConvertI32U: 0xb8,
  f64PromoteF32: 0xbb,
  f64ReinterpretI64: 0xbf,
} as const;

/** Opcodes after the 0xfd SIMD prefix. */
const Simd = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  f32x4ExtractLane: 0x1f,
  i16x8ExtendLowI8x16S: 0x87,
  i16x8ExtendHighI8x16S: 0x88,
  v128And: 0x4e,
  i32x4ExtendLowI16x8S: 0xa7,
  i32x4ExtendHighI16x8S: 0xa8,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  i32x4DotI16x8S: 0xba,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f32x4ConvertI32x4S: 0xfa,
  f32x4RelaxedMadd: 0x105,
} as const;

function uleb(out: number[], v: number): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

function sleb(out: number[], v: number): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** One function body: its extra locals (after the params) and its instructions. */
export class Body {
  readonly code: number[] = [];
  readonly locals: ValType[] = [];
  constructor(readonly params: number) {}

  /** Declares a local and returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params + this.locals.length - 1;
  }
  op(o: number): this { this.code.push(o); return this; }
  get(i: number): this { this.code.push(0x20); uleb(this.code, i); return this; }
  set(i: number): this { this.code.push(0x21); uleb(this.code, i); return this; }
  i32(v: number): this { this.code.push(0x41); sleb(this.code, v | 0); return this; }
  call(f: number): this { this.code.push(0x10); uleb(this.code, f); return this; }
  block(): this { this.code.push(0x02, EMPTY_BLOCK); return this; }
  loop(): this { this.code.push(0x03, EMPTY_BLOCK); return this; }
  br(depth: number): this { this.code.push(0x0c); uleb(this.code, depth); return this; }
  brIf(depth: number): this { this.code.push(0x0d); uleb(this.code, depth); return this; }
  /** f32.load / f32.store with a byte offset immediate (alignment hint 4 bytes). */
  f32Load(offset: number): this { this.code.push(0x2a, 2); uleb(this.code, offset); return this; }
  f32Store(offset: number): this { this.code.push(0x38, 2); uleb(this.code, offset); return this; }
  private simd(o: number): this { this.code.push(0xfd); uleb(this.code, o); return this; }
  /** v128.load with a byte offset immediate (alignment hint 4 bytes: rows need not be 16-aligned). */
  v128Load(offset: number): this { this.simd(Simd.v128Load); this.code.push(2); uleb(this.code, offset); return this; }
  /** i16x8.extend_low_i8x16_s / extend_high: bytes 0..7 (8..15) of an i8x16, sign-extended. */
  i16x8ExtendLowI8x16S(): this { return this.simd(Simd.i16x8ExtendLowI8x16S); }
  i16x8ExtendHighI8x16S(): this { return this.simd(Simd.i16x8ExtendHighI8x16S); }
  i32x4Add(): this { return this.simd(Simd.i32x4Add); }
  i32x4ExtendLowI16x8S(): this { return this.simd(Simd.i32x4ExtendLowI16x8S); }
  i32x4ExtendHighI16x8S(): this { return this.simd(Simd.i32x4ExtendHighI16x8S); }
  /** i32x4.shl: the vector, then the shift count (an i32) on the stack. */
  i32x4Shl(): this { return this.simd(Simd.i32x4Shl); }
  v128And(): this { return this.simd(Simd.v128And); }
  /** i32x4.dot_i16x8_s(a, b): lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1] (pmaddwd). */
  i32x4DotI16x8S(): this { return this.simd(Simd.i32x4DotI16x8S); }
  /** f32x4.convert_i32x4_s: each i32 lane to the nearest f32 (exact for |x| < 2^24). */
  f32x4ConvertI32x4S(): this { return this.simd(Simd.f32x4ConvertI32x4S); }
  /** v128.load32_splat: one f32 at the address, in all four lanes. */
  v128Load32Splat(offset: number): this { this.simd(Simd.v128Load32Splat); this.code.push(2); uleb(this.code, offset); return this; }
  /** v128.store with a byte offset immediate (alignment hint 4 bytes). */
  v128Store(offset: number): this { this.simd(Simd.v128Store); this.code.push(2); uleb(this.code, offset); return this; }
  /** i8x16.shuffle of the two vectors on the stack by f32 lanes: lane i of the result is lane lanes[i] of a (0..3) or b (4..7). */
  f32x4Shuffle(lanes: readonly number[]): this {
    this.simd(Simd.i8x16Shuffle);
    for (const l of lanes) for (let i = 0; i < 4; i++) this.code.push(4 * l + i);
    return this;
  }
  v128Zero(): this { this.simd(Simd.v128Const); for (let i = 0; i < 16; i++) this.code.push(0); return this; }
  f32x4Add(): this { return this.simd(Simd.f32x4Add); }
  f32x4Mul(): this { return this.simd(Simd.f32x4Mul); }
  /** f32x4.relaxed_madd(a, b, c) = a·b + c, fused or not as the hardware does it (relaxed SIMD). */
  f32x4RelaxedMadd(): this { return this.simd(Simd.f32x4RelaxedMadd); }
  f32x4Lane(lane: number): this { this.simd(Simd.f32x4ExtractLane); this.code.push(lane); return this; }
  /** A SIMD op without immediates (`F64x2` below: the double-precision ones rowmath.ts uses). */
  v(o: number): this { return this.simd(o); }
  /** v128.const of two doubles (the f64x2 lanes 0 and 1). */
  f64x2Const(lo: number, hi = lo): this {
    this.simd(Simd.v128Const);
    const b = new Uint8Array(new Float64Array([lo, hi]).buffer);
    for (const x of b) this.code.push(x);
    return this;
  }
  /** v128.const of four i32 lanes. */
  i32x4Const(lanes: readonly number[]): this {
    this.simd(Simd.v128Const);
    for (const x of new Uint8Array(new Int32Array(lanes).buffer)) this.code.push(x);
    return this;
  }
  /** v128.load64_zero: 8 bytes at the address into lanes 0–1 of f32 (0 of f64), the rest zero. */
  v128Load64Zero(offset: number): this { this.simd(F64x2.load64Zero); this.code.push(3); uleb(this.code, offset); return this; }
  /** v128.store64_lane: lane `lane` of the i64x2 view (two f32 lanes) to the address. */
  v128Store64Lane(offset: number, lane: number): this { this.simd(F64x2.store64Lane); this.code.push(3); uleb(this.code, offset); this.code.push(lane); return this; }
  i32x4Lane(lane: number): this { this.simd(F64x2.i32x4ExtractLane); this.code.push(lane); return this; }
  f64x2ReplaceLane(lane: number): this { this.simd(F64x2.replaceLane); this.code.push(lane); return this; }
  /** i32.load / i32.store with a byte offset immediate (alignment hint 4 bytes). */
  i32Load(offset: number): this { this.code.push(0x28, 2); uleb(this.code, offset); return this; }
  i32Store(offset: number): this { this.code.push(0x36, 2); uleb(this.code, offset); return this; }
  i64Const(v: number): this { this.code.push(0x42); sleb(this.code, v); return this; }
  f64Const(x: number): this { this.code.push(0x44); for (const b of new Uint8Array(new Float64Array([x]).buffer)) this.code.push(b); return this; }
  /** f64.load with a byte offset immediate (alignment hint 8 bytes). */
  f64Load(offset: number): this { this.code.push(0x2b, 3); uleb(this.code, offset); return this; }
  tee(i: number): this { this.code.push(0x22); uleb(this.code, i); return this; }
  f32Const(x: number): this { this.code.push(0x43); for (const b of new Uint8Array(new Float32Array([x]).buffer)) this.code.push(b); return this; }
  /** A SIMD load of `Lanes` (load32_zero, load8_splat, load32_splat): log2 of its alignment, a byte offset. */
  vLoad(o: number, align: number, offset = 0): this { this.simd(o); this.code.push(align); uleb(this.code, offset); return this; }
  /** v128.store32_lane: lane `lane` of the f32x4 to the address. */
  v128Store32Lane(lane: number, offset = 0): this { this.simd(Lanes.store32Lane); this.code.push(2); uleb(this.code, offset); this.code.push(lane); return this; }
}

/** SIMD opcodes (after 0xfd) of f32 lanes, masks and bit operations (`Body.v`), and SIMD loads of part of a vector (`Body.vLoad`). */
export const F32x4 = {
  splat: 0x13,
  i32x4Splat: 0x11,
  eq: 0x41,
  ne: 0x42,
  lt: 0x43,
  gt: 0x44,
  le: 0x45,
  ge: 0x46,
  not: 0x4d,
  and: 0x4e,
  or: 0x50,
  xor: 0x51,
  bitselect: 0x52,
  anyTrue: 0x53,
  i32x4Eq: 0x37,
  i32x4Ne: 0x38,
  i16x8ExtendLowI8x16U: 0x89,
  i32x4ExtendLowI16x8U: 0xa9,
  abs: 0xe0,
  neg: 0xe1,
  sqrt: 0xe3,
  add: 0xe4,
  sub: 0xe5,
  mul: 0xe6,
  div: 0xe7,
  min: 0xe8,
  max: 0xe9,
} as const;

/** SIMD loads and stores of part of a vector. */
export const Lanes = { load8Splat: 0x07, load32Splat: 0x09, store32Lane: 0x5a, load32Zero: 0x5c } as const;

/** SIMD opcodes (after 0xfd) of double-precision lanes and their conversions, for `Body.v`. */
export const F64x2 = {
  splat: 0x14,
  i32x4ExtractLane: 0x1b,
  replaceLane: 0x22,
  eq: 0x47,
  ne: 0x48,
  lt: 0x49,
  le: 0x4b,
  and: 0x4e,
  or: 0x50,
  bitselect: 0x52,
  store64Lane: 0x5b,
  load64Zero: 0x5d,
  demoteToF32x4Zero: 0x5e,
  promoteLowF32x4: 0x5f,
  floor: 0x75,
  gt: 0x4a,
  ge: 0x4c,
  i32x4Shl: 0xab,
  i32x4ShrS: 0xac,
  i32x4Add: 0xae,
  i64x2ExtendLowI32x4S: 0xc7,
  i64x2Shl: 0xcb,
  abs: 0xec,
  neg: 0xed,
  sqrt: 0xef,
  add: 0xf0,
  sub: 0xf1,
  mul: 0xf2,
  div: 0xf3,
  min: 0xf4,
  max: 0xf5,
  i32x4TruncSatZero: 0xfc,
} as const;

export interface Func {
  name?: string; // exported under this name when given
  params: number; // all i32
  body: Body;
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  for (const b of content) out.push(b);
}

function vec(out: number[], items: number[][]): number[] {
  uleb(out, items.length);
  for (const it of items) for (const b of it) out.push(b);
  return out;
}

function name(s: string): number[] {
  const out: number[] = [];
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}

/** The memory a module imports as `env.mem`: at least `pages`, and for a shared one (threads) at most `maxPages`. */
export interface MemoryImport {
  readonly pages: number;
  readonly shared?: { readonly maxPages: number };
}

/** A module of `funcs` (no results; all params i32) importing its memory as `env.mem`. */
export function moduleBytes(funcs: readonly Func[], memory: MemoryImport): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // One type per distinct param count: (i32 × p) → ().
  const arities = [...new Set(funcs.map((f) => f.params))];
  section(out, 1, vec([], arities.map((p) => [0x60, ...vec([], Array.from({ length: p }, () => [I32])), 0])));
  // Import section: env.mem, a memory (kind 2) with limits 0x00 min, or 0x03 min max shared.
  const mem: number[] = [...name("env"), ...name("mem"), 0x02];
  if (memory.shared) {
    mem.push(0x03);
    uleb(mem, memory.pages);
    uleb(mem, memory.shared.maxPages);
  } else {
    mem.push(0x00);
    uleb(mem, memory.pages);
  }
  section(out, 2, vec([], [mem]));
  section(out, 3, vec([], funcs.map((f) => { const b: number[] = []; uleb(b, arities.indexOf(f.params)); return b; })));
  const exports: number[][] = [];
  funcs.forEach((f, i) => {
    if (f.name === undefined) return;
    const e = [...name(f.name), 0x00];
    uleb(e, i);
    exports.push(e);
  });
  section(out, 7, vec([], exports));
  section(out, 10, vec([], funcs.map((f) => {
    const body: number[] = [];
    // Locals, run-length encoded by type.
    const runs: number[][] = [];
    for (const t of f.body.locals) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === t) last[0]!++;
      else runs.push([1, t]);
    }
    vec(body, runs.map(([n, t]) => { const r: number[] = []; uleb(r, n!); r.push(t!); return r; }));
    body.push(...f.body.code, Op.end);
    const sized: number[] = [];
    uleb(sized, body.length);
    return [...sized, ...body];
  })));
  return new Uint8Array(out);
}

/** `while (cond) body` as block/loop; cond pushes an i32. */
export function whileLoop(f: Body, cond: () => void, body: () => void): void {
  f.block().loop();
  cond();
  f.op(Op.i32Eqz).brIf(1);
  body();
  f.br(0).op(Op.end).op(Op.end);
}

// A phase of a fused kernel (rowcode.ts) compiled to WebAssembly SIMD instead of JavaScript, where
// all its ops have an exact lane form: four columns of a row a step, in f32x4.
//
// Exactness, op by op, against the JavaScript phase (each op computed in double, then rounded):
// - +, −, ×, ÷ and √ of two f32 are rounded once to f32 by f32x4 exactly as the double result
//   rounded by Math.fround (a double holds the exact result to more than 2·24 + 2 bits, so the
//   second rounding cannot move it); neg, abs, max, min, comparisons, where, and, or, not are exact.
// - rsqrt, exp, sigmoid, tanh and erf are computed in double, two lanes at a time (f64x2), as
//   src/core/math.ts computes them (kernels/wasm/rowmath.ts), then rounded to f32.
//   exp: math.ts's normal path for x in [−110, 700]; below, its result rounds to 0 in f32 and adds
//   nothing to 1 in double (sigmoid), so 0 is taken; above, +∞ (f32's range ends at 88.8, and
//   sigmoid's 1/(1 + e^x) rounds to 0 past 104); NaN stays NaN.
// - Reductions keep reduce.ts's order: the operand is computed four columns at a time, and its
//   lanes are added one by one in ascending order into a double (max and min: compared one by one,
//   a strictly larger value or a NaN replacing the current one).
// Anything else (i32 values, log, pow, sin, cos, argmax, bool values kept in a buffer) leaves
// the phase to JavaScript. test/unit/backends/cpu/rowwasm.test.ts compares both forms bit for bit.
//
// The module runs in the GEMM's memory, from the end of its resident region (kernels/wasm/gemm.ts
// `phaseScratch`; a product's operands go there too, never at the same time): the table of
// 2^(j/32), a descriptor of each slot ({ byte pointer, row stride, width }, 12 bytes a slot) after
// it, and each slot's rows after the descriptors, copied in before the call and the values read
// after the phase copied out after it. The function is phase(desc, i0, i1): rows i0 .. i1 of the
// block, so that the GEMM's workers can run blocks of rows of it (gemm.ts `runPhase`), each row by
// the same instructions on any thread.
import type { Node } from "../../ir/graph.js";
import { ops, type BinaryOp, type UnaryOp } from "../../ir/ops.js";
import { runtimeDType, type DType, type TensorData } from "../../core/tensor.js";
import { POW2_32 } from "../../core/math.js";
import { Body, F32x4, F64x2, I32, F32, F64, Lanes, moduleBytes, Op, V128 } from "./kernels/wasm/emit.js";
import { erfLanes, expNormal, tanhLanes } from "./kernels/wasm/rowmath.js";
import { phaseMemoryImport, phaseScratch, runPhase, wasmGemmAvailable } from "./kernels/wasm/gemm.js";

/** One phase: rows 0 .. R of the block, slot s's data D[s] (row i at i · RS[s]), width W[s]; `threads`: how many may run it (compiled phases). */
export type PhaseFn = (D: TensorData[], RS: Int32Array, W: Int32Array, R: number, threads?: number) => void;

/** What rowcode.ts knows of a phase: its nodes and how each value is held. */
export interface PhaseSpec {
  /** The phase's own nodes, in order (no matmul). */
  readonly body: readonly Node[];
  readonly node: (id: number) => Node;
  readonly slot: ReadonlyMap<number, number>;
  /** A node of the kernel (not an input, absorbed view or constant). */
  readonly mine: (id: number) => boolean;
  /** An own value computed before this phase (by a matmul or an earlier phase): read from its slot. */
  readonly earlier: (id: number) => boolean;
  /** An own value kept in its slot's buffer. */
  readonly keep: (id: number) => boolean;
  /** A value of more than one column at this call. */
  readonly wide: (id: number) => boolean;
  /** A kept value of this phase read after it (by a matmul, a later phase, or as an output of the kernel). */
  readonly needed: (id: number) => boolean;
}

/** Bytes from the phase's start: the table of 2^(j/32) (32 doubles), then the descriptors. */
const DESC = 256;
const MAX_SLOTS = 1024;
const ARENA = DESC + 12 * MAX_SLOTS;
/** Bytes of a phase's slots past which it runs in JavaScript: the memory's room after the resident region (gemm.ts MAX_BYTES). */
const MAX_STAGED = 2 ** 31 - 65536;

/** Unary ops computed in double: of the f64x2 local x, with the table of 2^(j/32) at the byte the i32 local `table` holds. */
const f64Unary: Partial<Record<UnaryOp, (f: Body, x: number, table: number) => void>> = {
  rsqrt: (f, x) => void f.f64x2Const(1).get(x).v(F64x2.sqrt).v(F64x2.div),
  exp: (f, x, table) => expLanes(f, x, table),
  sigmoid: (f, x, table) => {
    const e = f.local(V128);
    f.get(x).v(F64x2.neg).set(e);
    expLanes(f, e, table);
    f.set(e).f64x2Const(1).f64x2Const(1).get(e).v(F64x2.add).v(F64x2.div);
  },
  tanh: (f, x, table) => tanhLanes(f, x, table),
  erf: (f, x, table) => erfLanes(f, x, table),
};
const f32Unary: Partial<Record<UnaryOp, number>> = { neg: F32x4.neg, abs: F32x4.abs, sqrt: F32x4.sqrt };
const f32Binary: Partial<Record<BinaryOp, number>> = { add: F32x4.add, sub: F32x4.sub, mul: F32x4.mul, div: F32x4.div, maximum: F32x4.max, minimum: F32x4.min };
const compares: Partial<Record<BinaryOp, number>> = { eq: F32x4.eq, ne: F32x4.ne, lt: F32x4.lt, le: F32x4.le, gt: F32x4.gt, ge: F32x4.ge };
const logical: Partial<Record<BinaryOp, number>> = { and: F32x4.and, or: F32x4.or, eq: F32x4.i32x4Eq, ne: F32x4.i32x4Ne };

/** e^x for the f64x2 local x, as math.ts's exp where a kernel rounds it to f32 or adds it to 1 (see the head of this file). */
function expLanes(f: Body, x: number, table: number): void {
  const y = f.local(V128);
  f.get(x).f64x2Const(-110).v(F64x2.max).f64x2Const(700).v(F64x2.min).set(y);
  expNormal(f, y, table);
  // bitselect(a, b, c) keeps a where c is set: e^x from −110 on, then to 700, then x where it is NaN.
  f.f64x2Const(0).get(x).f64x2Const(-110).v(F64x2.ge).v(F64x2.bitselect);
  f.f64x2Const(Infinity).get(x).f64x2Const(700).v(F64x2.le).v(F64x2.bitselect);
  f.get(x).get(x).get(x).v(F64x2.eq).v(F64x2.bitselect);
}

/** Whether every op of the phase has a lane form here. */
function supported(s: PhaseSpec): boolean {
  const dt = (id: number): DType => runtimeDType[s.node(id).dtype];
  const all = (ids: readonly number[], t: DType) => ids.every((i) => dt(i) === t);
  return s.body.every((n) => {
    const out = runtimeDType[n.dtype];
    const cls = ops[n.op].class;
    if (out === "i32" || n.inputs.some((i) => dt(i) === "i32")) return false;
    if (out === "bool" && s.keep(n.id)) return false;
    if (n.op === "cast") return true;
    if (cls === "reduce") return out === "f32" && all(n.inputs, "f32") && ["sum", "mean", "max", "min"].includes(n.op);
    if (cls === "where") return dt(n.inputs[0]!) === "bool" && dt(n.inputs[1]!) === out && dt(n.inputs[2]!) === out;
    if (cls === "unary") {
      const op = n.op as UnaryOp;
      if (op === "not") return out === "bool";
      return out === "f32" && all(n.inputs, "f32") && (op in f32Unary || op in f64Unary);
    }
    if (cls === "binary") {
      const op = n.op as BinaryOp;
      if (all(n.inputs, "f32")) return (out === "f32" && op in f32Binary) || (out === "bool" && op in compares);
      return all(n.inputs, "bool") && out === "bool" && op in logical;
    }
    return false;
  });
}

/** A compiled phase: its module's bytes and id (for the workers), instantiated on the memory it runs in. */
interface Compiled {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly id: number;
  readonly slots: readonly Used[];
  instance?: { readonly memory: WebAssembly.Memory; readonly run: (desc: number, i0: number, i1: number) => void };
}

const compiled = new Map<string, PhaseFn>();
let usable = true;

/** How many phases have been compiled to WebAssembly in this process (for tests). */
export const wasmPhases = () => compiled.size;

/**
 * The phase as a function over WebAssembly memory, or undefined where an op has no lane form here.
 * `source`: the phase's JavaScript source, which determines it but for what its arrays do not say
 * there (the bytes of each slot's elements) and which values are copied back.
 */
export function wasmPhase(spec: PhaseSpec, source: string, fallback?: PhaseFn): PhaseFn | undefined {
  const key = `${source}\n${[...spec.slot.keys()].map((id) => `${runtimeDType[spec.node(id).dtype]}${spec.needed(id) ? "+" : ""}`).join(",")}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  if (!usable || !wasmGemmAvailable() || !supported(spec) || spec.slot.size > MAX_SLOTS) return undefined;
  const { body, slots } = generate(spec);
  const c: Compiled = { bytes: moduleBytes([{ name: "phase", params: 3, body }], phaseMemoryImport()), id: compiled.size + 1, slots };
  try {
    instantiate(c, phaseScratch(0).memory);
  } catch {
    usable = false; // a host that validates SIMD but refuses to compile here (a page's Content-Security-Policy): JavaScript from now on
    return undefined;
  }
  const fn = staged(c, fallback);
  compiled.set(key, fn);
  return fn;
}

/** The phase's function on `memory` (made again when the GEMM's memory is: releaseWasmGemm). */
function instantiate(c: Compiled, memory: WebAssembly.Memory): (desc: number, i0: number, i1: number) => void {
  if (c.instance?.memory !== memory) {
    const run = new WebAssembly.Instance(new WebAssembly.Module(c.bytes), { env: { mem: memory } }).exports["phase"] as (desc: number, i0: number, i1: number) => void;
    c.instance = { memory, run };
  }
  return c.instance.run;
}

/** A slot the function reads or writes: bool data is one byte an element, f32 four. */
interface Used {
  readonly slot: number;
  readonly bytes: 1 | 4;
  /** Read by the phase: copied in. */
  readonly read: boolean;
  /** Written by the phase and read after it: copied out. */
  readonly out: boolean;
}

/**
 * The function wrapped: the table, the descriptors and the slots copied into the GEMM's memory after
 * its resident region (gemm.ts `phaseScratch`), the rows run (over threads where the block is
 * large: `runPhase`), the values read later copied back.
 */
function staged(c: Compiled, fallback: PhaseFn | undefined): PhaseFn {
  const { slots } = c;
  const at = new Float64Array(slots.length);
  return (D, RS, W, R, threads = 1) => {
    let end = ARENA, widest = 1;
    slots.forEach((u, k) => {
      at[k] = end;
      end += Math.ceil((length(u, RS, W, R) * u.bytes) / 16) * 16;
      widest = Math.max(widest, W[u.slot]!);
    });
    // A block too large for the memory (past what the GEMM's operands may take): in JavaScript.
    if (end > MAX_STAGED && fallback) return fallback(D, RS, W, R);
    const { memory, base } = phaseScratch(end);
    const run = instantiate(c, memory);
    const buffer = memory.buffer;
    new Float64Array(buffer, base, 32).set(POW2_32);
    const words = new Int32Array(buffer, base + DESC, 3 * MAX_SLOTS);
    const f32 = new Float32Array(buffer), u8 = new Uint8Array(buffer);
    slots.forEach((u, k) => {
      const s = u.slot, ptr = base + at[k]!;
      words[3 * s] = ptr;
      words[3 * s + 1] = RS[s]!;
      words[3 * s + 2] = W[s]!;
      if (!u.read) return;
      const n = length(u, RS, W, R);
      if (u.bytes === 4) f32.set((D[s] as Float32Array).subarray(0, n), ptr / 4);
      else u8.set((D[s] as Uint8Array).subarray(0, n), ptr);
    });
    runPhase(run, c.id, c.bytes, base + DESC, R, R * widest, threads);
    slots.forEach((u, k) => {
      if (!u.out) return;
      const n = length(u, RS, W, R), ptr = (base + at[k]!) / 4;
      (D[u.slot] as Float32Array).set(f32.subarray(ptr, ptr + n));
    });
  };
}

/** Elements of a slot the block spans: R rows (or one, broadcast) of its width. */
const length = (u: Used, RS: Int32Array, W: Int32Array, R: number) => (RS[u.slot]! > 0 ? (R - 1) * RS[u.slot]! + W[u.slot]! : W[u.slot]!);

/** The function's body: per row, the phase's lines as rowcode.ts renders them, each over four columns a step and a tail of single columns. */
function generate(s: PhaseSpec): { body: Body; slots: Used[] } {
  const f = new Body(3);
  const [desc, i0, i1] = [0, 1, 2];
  const i = f.local(I32), j = f.local(I32), table = f.local(I32);
  const bytesOf = (id: number) => (runtimeDType[s.node(id).dtype] === "bool" ? 1 : 4);
  /** Per slot used: its base pointer, row stride in bytes, width and this row's pointer. */
  const used = new Map<number, { id: number; base: number; stride: number; w: number; p: number; read: boolean; out: boolean; scalar?: number }>();
  const use = (id: number, read: boolean) => {
    const sl = s.slot.get(id)!;
    let u = used.get(sl);
    if (!u) used.set(sl, (u = { id, base: f.local(I32), stride: f.local(I32), w: f.local(I32), p: f.local(I32), read, out: false }));
    return u;
  };
  /** v128 locals of the row's one-column values (own, by slot). */
  const scalars = new Map<number, number>();
  let tail = false; // emitting the single-column loop: loads and stores of lane 0

  /** Pushes the mask of a bool at the pointer (one byte each). */
  const boolAt = () => {
    f.v(F32x4.i16x8ExtendLowI8x16U).v(F32x4.i32x4ExtendLowI16x8U).v128Zero().v(F32x4.i32x4Ne);
  };
  /** Pushes a value read from its slot at column j (or the row's one column). */
  const load = (id: number) => {
    const u = use(id, !s.mine(id) || s.earlier(id));
    if (!s.wide(id)) {
      if (u.scalar === undefined) u.scalar = f.local(V128); // loaded once per row, in the row's head
      f.get(u.scalar);
      return;
    }
    const b = bytesOf(id);
    f.get(u.p).get(j);
    if (b === 4) f.i32(2).op(Op.i32Shl);
    f.op(Op.i32Add);
    if (b === 1) {
      f.vLoad(tail ? Lanes.load8Splat : Lanes.load32Zero, 0);
      boolAt();
    } else if (tail) f.vLoad(Lanes.load32Zero, 2);
    else f.v128Load(0);
  };
  const expr = (id: number): void => {
    if (!s.mine(id) || s.earlier(id)) return load(id);
    if (!s.wide(id)) return void f.get(scalars.get(id)!);
    if (s.keep(id)) return load(id);
    value(s.node(id));
  };
  /** Pushes a node's value from its operands: f32 lanes, or a bool's mask (all ones for true). */
  const value = (n: Node): void => {
    const dt = runtimeDType[n.dtype];
    const cls = ops[n.op].class;
    const from = runtimeDType[s.node(n.inputs[0]!).dtype];
    if (n.op === "cast") {
      expr(n.inputs[0]!);
      if (from === "bool" && dt === "f32") f.i32x4Const([0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000]).v(F32x4.and);
      else if (from === "f32" && dt === "bool") f.v128Zero().v(F32x4.ne);
      return;
    }
    if (cls === "where") {
      expr(n.inputs[1]!);
      expr(n.inputs[2]!);
      expr(n.inputs[0]!);
      f.v(F32x4.bitselect);
      return;
    }
    if (cls === "unary") {
      const op = n.op as UnaryOp;
      expr(n.inputs[0]!);
      if (op === "not") {
        if (from === "bool") f.v(F32x4.not);
        else f.v128Zero().v(F32x4.eq);
      } else if (op in f32Unary) f.v(f32Unary[op]!);
      else inDouble(f64Unary[op]!);
      return;
    }
    const op = n.op as BinaryOp;
    expr(n.inputs[0]!);
    expr(n.inputs[1]!);
    f.v(from === "bool" ? logical[op]! : dt === "bool" ? compares[op]! : f32Binary[op]!);
  };
  /** The f32 lanes on the stack through a function of doubles, two lanes at a time, rounded back to f32. */
  const inDouble = (fn: (f: Body, x: number, table: number) => void) => {
    const x = f.local(V128), lo = f.local(V128), hi = f.local(V128);
    f.set(x);
    f.get(x).v(F64x2.promoteLowF32x4).set(lo);
    fn(f, lo, table);
    f.v(F64x2.demoteToF32x4Zero).set(lo);
    if (tail) return void f.get(lo);
    f.get(x).get(x).f32x4Shuffle([2, 3, 0, 1]).v(F64x2.promoteLowF32x4).set(hi);
    fn(f, hi, table);
    f.v(F64x2.demoteToF32x4Zero).set(hi);
    f.get(lo).get(hi).f32x4Shuffle([0, 1, 4, 5]);
  };
  /** for (j = 0; j < w; j++): a loop of four columns a step while four remain, then one at a time. */
  const columns = (w: number, step: (lanes: number) => void) => {
    f.i32(0).set(j);
    for (const width of [4, 1]) {
      tail = width === 1;
      f.block().loop();
      f.get(j).i32(width).op(Op.i32Add).get(w).op(Op.i32GtS).brIf(1);
      step(width);
      f.get(j).i32(width).op(Op.i32Add).set(j).br(0).op(Op.end).op(Op.end);
    }
    tail = false;
  };
  /** Stores the lanes of local x at column j of slot u (lanes 4 or 1), or at its row's one column (0). */
  const store = (u: { p: number }, x: number, lanes: 0 | 1 | 4) => {
    f.get(u.p);
    if (lanes) f.get(j).i32(2).op(Op.i32Shl).op(Op.i32Add);
    f.get(x);
    if (lanes === 4) f.v128Store(0);
    else f.v128Store32Lane(0);
  };

  const mark = f.code.length;
  for (const n of s.body) {
    const kept = s.keep(n.id);
    if (kept) {
      const u = use(n.id, false);
      u.out = s.needed(n.id);
    }
    if (ops[n.op].class === "reduce") {
      const input = n.inputs[0]!;
      const w = use(input, !s.mine(input) || s.earlier(input)).w;
      const x = f.local(V128);
      const sum = n.op === "sum" || n.op === "mean";
      const acc = f.local(sum ? F64 : F32), lane = f.local(F32);
      if (sum) f.f64Const(0).set(acc);
      else f.f32Const(n.op === "max" ? -Infinity : Infinity).set(acc);
      columns(w, (lanes) => {
        expr(input);
        f.set(x);
        for (let l = 0; l < lanes; l++) {
          if (sum) f.get(acc).get(x).f32x4Lane(l).op(Op.f64PromoteF32).op(Op.f64Add).set(acc);
          else {
            // acc = x > acc || x !== x ? x : acc (min: <)
            f.get(x).f32x4Lane(l).tee(lane).get(acc).get(lane).get(acc).op(n.op === "max" ? Op.f32Gt : Op.f32Lt).get(lane).get(lane).op(Op.f32Ne).op(Op.i32Or).op(Op.select).set(acc);
          }
        }
      });
      const v = f.local(V128);
      f.get(acc);
      if (n.op === "mean") f.get(w).op(Op.f64ConvertI32S).op(Op.f64Div);
      if (sum) f.op(Op.f32DemoteF64);
      f.v(F32x4.splat).set(v);
      scalars.set(n.id, v);
      if (kept) store(use(n.id, false), v, 0);
    } else if (!s.wide(n.id)) {
      const v = f.local(V128);
      // Computed in lane 0 (as the tail computes a column), then in every lane.
      tail = true;
      value(n);
      tail = false;
      f.i32x4Lane(0).v(F32x4.i32x4Splat).set(v);
      scalars.set(n.id, v);
      if (kept) store(use(n.id, false), v, 0);
    } else if (kept) {
      const u = use(n.id, false);
      const x = f.local(V128);
      columns(u.w, (lanes) => {
        value(n);
        f.set(x);
        store(u, x, lanes === 4 ? 4 : 1);
      });
    }
  }
  const row = f.code.splice(mark);
  // The table (before the descriptors), the slots' descriptors, then per row its pointers and one-column values, then the lines.
  f.get(desc).i32(-DESC).op(Op.i32Add).set(table);
  for (const [sl, u] of used) {
    f.get(desc).i32Load(12 * sl).set(u.base);
    f.get(desc).i32Load(12 * sl + 4).i32(bytesOf(u.id) === 4 ? 2 : 0).op(Op.i32Shl).set(u.stride);
    f.get(desc).i32Load(12 * sl + 8).set(u.w);
  }
  f.get(i0).set(i);
  f.block().loop();
  f.get(i).get(i1).op(Op.i32GeS).brIf(1);
  for (const u of used.values()) {
    f.get(u.base).get(i).get(u.stride).op(Op.i32Mul).op(Op.i32Add).set(u.p);
    if (u.scalar === undefined) continue;
    f.get(u.p);
    if (bytesOf(u.id) === 1) {
      f.vLoad(Lanes.load8Splat, 0);
      boolAt();
    } else f.vLoad(Lanes.load32Splat, 2);
    f.set(u.scalar);
  }
  f.code.push(...row);
  f.get(i).i32(1).op(Op.i32Add).set(i).br(0).op(Op.end).op(Op.end);
  const slots = [...used].map(([slot, u]) => ({ slot, bytes: bytesOf(u.id) as 1 | 4, read: u.read, out: u.out }));
  return { body: f, slots };
}

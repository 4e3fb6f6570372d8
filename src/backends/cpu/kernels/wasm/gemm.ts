// C = A · Btᵀ in WebAssembly SIMD: the GEMM core of matmul and matmulTransB when the host can run
// it (see `wasmGemmAvailable`), generated as bytes by ./emit.ts and instantiated synchronously.
//
// Every element C[i, j] is computed the same way whatever tile, m, n or row block it falls in:
// four f32 lanes accumulate A[i, p]·Bt[j, p] for p ≡ lane (mod 4) over p < k - k % 4, in
// ascending p; the lanes are summed as (l0 + l1) + (l2 + l3); then the last k % 4 products are
// added in order. So a row of C depends only on that row of A, Bt and k, and fused kernels that
// compute row blocks match the unfused product bit for bit. Accumulation is in f32 (as PyTorch's).
//
// Tiles: R×C elements at a time (R rows of A, C rows of Bt, R·C f32x4 accumulators); edges use
// R×1, 1×C1 and 1×1 tiles built by the same generator. Bt is walked in panels of NB rows so a
// panel stays in cache while all of A's rows pass over it. Operands are copied into the module's
// memory per call (A, Bt, C at 16-byte-aligned offsets); memory grows on demand and is kept. A Bt
// the CPU program marked resident (a weight: never written after load) is copied once, into a
// region at the start of memory (up to 1 GiB), and read from there by every later call — decoding
// one token reads every weight, so copying them per call cost more than the products.
import { gemmNT, type GemmNT } from "../matmul.js";
import { Body, F32, I32, moduleBytes, Op, V128, type Func } from "./emit.js";

const R = 4;
const C = 2;
/** Columns per tile in the last m % R rows (one row of A: more columns hide the add latency). */
const C1 = 4;
const NB = 64;

/** tile(a, b, c, k, n): C[r, j] for r < rows, j < cols, with byte pointers a, b, c and ldc = n. */
function tile(rows: number, cols: number): Body {
  const f = new Body(5);
  const [a, b, c, k, n] = [0, 1, 2, 3, 4];
  const ldk = f.local(I32), k4 = f.local(I32), kb = f.local(I32), p = f.local(I32);
  const ar = Array.from({ length: rows }, () => f.local(I32));
  const br = Array.from({ length: cols }, () => f.local(I32));
  const acc = Array.from({ length: rows }, () => Array.from({ length: cols }, () => f.local(V128)));
  const x = f.local(V128);
  const y = Array.from({ length: cols }, () => f.local(V128));
  const s = f.local(F32);
  f.get(k).i32(2).op(Op.i32Shl).set(ldk);
  f.get(k).i32(~3).op(Op.i32And).i32(2).op(Op.i32Shl).set(k4);
  f.get(ldk).set(kb);
  ar.forEach((v, r) => f.get(a).get(ldk).i32(r).op(Op.i32Mul).op(Op.i32Add).set(v));
  br.forEach((v, j) => f.get(b).get(ldk).i32(j).op(Op.i32Mul).op(Op.i32Add).set(v));
  for (const row of acc) for (const v of row) f.v128Zero().set(v);
  // for (p = 0; p < k4; p += 16 bytes)
  f.i32(0).set(p);
  f.block().loop();
  f.get(p).get(k4).op(Op.i32LtS).op(Op.i32Eqz).brIf(1);
  br.forEach((v, j) => f.get(v).get(p).op(Op.i32Add).v128Load(0).set(y[j]!));
  ar.forEach((v, r) => {
    f.get(v).get(p).op(Op.i32Add).v128Load(0).set(x);
    for (let j = 0; j < cols; j++) f.get(acc[r]![j]!).get(x).get(y[j]!).f32x4Mul().f32x4Add().set(acc[r]![j]!);
  });
  f.get(p).i32(16).op(Op.i32Add).set(p);
  f.br(0).op(Op.end).op(Op.end);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const v = acc[r]![j]!;
      f.get(v).f32x4Lane(0).get(v).f32x4Lane(1).op(Op.f32Add).get(v).f32x4Lane(2).get(v).f32x4Lane(3).op(Op.f32Add).op(Op.f32Add).set(s);
      // for (p = k4; p < kb; p += 4 bytes) s += A[r, p] · Bt[j, p]
      f.get(k4).set(p);
      f.block().loop();
      f.get(p).get(kb).op(Op.i32LtS).op(Op.i32Eqz).brIf(1);
      f.get(s).get(ar[r]!).get(p).op(Op.i32Add).f32Load(0).get(br[j]!).get(p).op(Op.i32Add).f32Load(0).op(Op.f32Mul).op(Op.f32Add).set(s);
      f.get(p).i32(4).op(Op.i32Add).set(p);
      f.br(0).op(Op.end).op(Op.end);
      // C[r, j] at c + (r·n + j)·4
      f.get(c).get(n).i32(r).op(Op.i32Mul).i32(j).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add).get(s).f32Store(0);
    }
  }
  return f;
}

/** `while (cond) body` as block/loop; cond pushes an i32. */
function whileLoop(f: Body, cond: () => void, body: () => void): void {
  f.block().loop();
  cond();
  f.op(Op.i32Eqz).brIf(1);
  body();
  f.br(0).op(Op.end).op(Op.end);
}

/** gemm(a, b, c, m, n, k): the whole product, tiles 0..3 being R×C, R×1, 1×C1, 1×1. */
function driver(): Body {
  const f = new Body(6);
  const [a, b, c, m, n, k] = [0, 1, 2, 3, 4, 5];
  const ldk = f.local(I32), i = f.local(I32), j = f.local(I32), j0 = f.local(I32), j1 = f.local(I32);
  f.get(k).i32(2).op(Op.i32Shl).set(ldk);
  const call = (fn: number) => {
    // tile(a + i·ldk, b + j·ldk, c + (i·n + j)·4, k, n)
    f.get(a).get(i).get(ldk).op(Op.i32Mul).op(Op.i32Add);
    f.get(b).get(j).get(ldk).op(Op.i32Mul).op(Op.i32Add);
    f.get(c).get(i).get(n).op(Op.i32Mul).get(j).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add);
    f.get(k).get(n).call(fn);
  };
  const cols = (wide: number, step: number, narrow: number) => {
    f.get(j0).set(j);
    whileLoop(f, () => f.get(j).i32(step).op(Op.i32Add).get(j1).op(Op.i32LeS), () => { call(wide); f.get(j).i32(step).op(Op.i32Add).set(j); });
    whileLoop(f, () => f.get(j).get(j1).op(Op.i32LtS), () => { call(narrow); f.get(j).i32(1).op(Op.i32Add).set(j); });
  };
  f.i32(0).set(j0);
  whileLoop(f, () => f.get(j0).get(n).op(Op.i32LtS), () => {
    // j1 = min(n, j0 + NB)
    f.get(j0).i32(NB).op(Op.i32Add).set(j1);
    f.block().get(j1).get(n).op(Op.i32LeS).brIf(0).get(n).set(j1).op(Op.end);
    f.i32(0).set(i);
    whileLoop(f, () => f.get(i).i32(R).op(Op.i32Add).get(m).op(Op.i32LeS), () => { cols(0, C, 1); f.get(i).i32(R).op(Op.i32Add).set(i); });
    whileLoop(f, () => f.get(i).get(m).op(Op.i32LtS), () => { cols(2, C1, 3); f.get(i).i32(1).op(Op.i32Add).set(i); });
    f.get(j1).set(j0);
  });
  return f;
}

/** The module's bytes: exports "mem" and "gemm". */
export function gemmModuleBytes(): Uint8Array<ArrayBuffer> {
  const funcs: Func[] = [
    { params: 5, body: tile(R, C) },
    { params: 5, body: tile(R, 1) },
    { params: 5, body: tile(1, C1) },
    { params: 5, body: tile(1, 1) },
    { name: "gemm", params: 6, body: driver() },
  ];
  return moduleBytes(funcs, 1);
}

interface Instance {
  mem: WebAssembly.Memory;
  gemm: (a: number, b: number, c: number, m: number, n: number, k: number) => void;
}

let bytes: Uint8Array<ArrayBuffer> | undefined;
let available: boolean | undefined;
let inst: Instance | undefined;

/** Whether this host validates the SIMD module (Node ≥ 16, current browsers). */
export function wasmGemmAvailable(): boolean {
  if (available === undefined) {
    try {
      bytes = gemmModuleBytes();
      available = typeof WebAssembly === "object" && WebAssembly.validate(bytes);
    } catch {
      available = false;
    }
  }
  return available;
}

function instance(): Instance {
  if (inst === undefined) {
    if (!wasmGemmAvailable()) throw new Error("WebAssembly SIMD is not available");
    const i = new WebAssembly.Instance(new WebAssembly.Module(bytes!), {});
    inst = { mem: i.exports["mem"] as WebAssembly.Memory, gemm: i.exports["gemm"] as Instance["gemm"] };
  }
  return inst;
}

const PAGE = 65536;
/** Bytes of wasm memory one call may use (a 32-bit address space, kept well clear of 4 GiB). */
const MAX_BYTES = 2 ** 31;
const align16 = (x: number) => (x + 15) & ~15;

/** Arrays never written after they are marked (weights): their copies in wasm memory are kept. */
const residentCandidates = new WeakSet<Float32Array>();
/** Where each resident operand lives: by array, then by `offset:length`. */
let placed = new WeakMap<Float32Array, Map<string, number>>();
/** The end of the resident region (the per-call scratch starts here). */
let residentEnd = 0;
const RESIDENT_MAX = 2 ** 30;

/** Marks `a` as never written again, so a GEMM may keep its copy in wasm memory for later calls. */
export function markResident(a: Float32Array): void {
  residentCandidates.add(a);
}

/** Drops the module instance and its memory (a later call makes a fresh one). */
export function releaseWasmGemm(): void {
  inst = undefined;
  placed = new WeakMap();
  residentEnd = 0;
}

/** The byte offset of Bt's copy in wasm memory if it is (or now becomes) resident; undefined otherwise. */
function resident(Bt: Float32Array, bOff: number, length: number, mem: WebAssembly.Memory): number | undefined {
  if (!residentCandidates.has(Bt)) return undefined;
  const key = `${bOff}:${length}`;
  const known = placed.get(Bt)?.get(key);
  if (known !== undefined) return known;
  const bytes = align16(length * 4);
  if (residentEnd + bytes > RESIDENT_MAX) return undefined;
  const ptr = residentEnd;
  if (mem.buffer.byteLength < ptr + bytes) mem.grow(Math.ceil((ptr + bytes - mem.buffer.byteLength) / PAGE));
  new Float32Array(mem.buffer, ptr, length).set(Bt.subarray(bOff, bOff + length));
  residentEnd = ptr + bytes;
  let m = placed.get(Bt);
  if (!m) placed.set(Bt, (m = new Map()));
  m.set(key, ptr);
  return ptr;
}

/**
 * C = A · Btᵀ: A is [m, k] at aOff, Bt is [n, k] at bOff, C is [m, n] at cOff, all contiguous.
 * Writes every element of C. Rows go in blocks small enough for the memory budget; returns false
 * (writing nothing) when even one row with all of Bt does not fit.
 */
export function gemmNTWasm(A: Float32Array, aOff: number, Bt: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number): boolean {
  if (m === 0 || n === 0) return true;
  if (k === 0) {
    Cm.fill(0, cOff, cOff + m * n);
    return true;
  }
  const bBytes = align16(n * k * 4);
  const rowBytes = (k + n) * 4;
  if (bBytes + rowBytes + 32 > MAX_BYTES) return false;
  const rowsPer = Math.max(1, Math.min(m, Math.floor((MAX_BYTES - bBytes - 32) / rowBytes)));
  const { mem, gemm } = instance();
  const kept = resident(Bt, bOff, n * k, mem);
  const base = residentEnd;
  const bPtr = kept ?? base;
  const aPtr = kept !== undefined ? base : base + bBytes;
  const need = aPtr + align16(rowsPer * k * 4) + align16(rowsPer * n * 4);
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / PAGE));
  const heap = new Float32Array(mem.buffer);
  if (kept === undefined) heap.set(Bt.subarray(bOff, bOff + n * k), bPtr / 4);
  for (let i0 = 0; i0 < m; i0 += rowsPer) {
    const rows = Math.min(rowsPer, m - i0);
    const cPtr = aPtr + align16(rows * k * 4);
    heap.set(A.subarray(aOff + i0 * k, aOff + (i0 + rows) * k), aPtr / 4);
    gemm(aPtr, bPtr, cPtr, rows, n, k);
    Cm.set(heap.subarray(cPtr / 4, cPtr / 4 + rows * n), cOff + i0 * n);
  }
  return true;
}

/** The GEMM core for matmulsWith: WebAssembly SIMD, or the TypeScript core past the memory budget. */
export const gemmNTSimd: GemmNT = (A, aOff, Bt, bOff, Cm, cOff, m, n, k) => {
  if (!gemmNTWasm(A, aOff, Bt, bOff, Cm, cOff, m, n, k)) gemmNT(A, aOff, Bt, bOff, Cm, cOff, m, n, k);
};

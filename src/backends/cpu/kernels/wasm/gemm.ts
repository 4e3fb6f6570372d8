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
//
// The module imports its memory: a shared one (with a maximum) where the host has SharedArrayBuffer
// and wasm threads, so that workers can run the same module on it (see "threads" below), else a
// plain one. JS views of it are re-made after every growth (`memory.buffer` is re-read).
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

/** gemm(a, b, c, m, n, k, ldc): the whole product (C's rows ldc apart), tiles 0..3 being R×C, R×1, 1×C1, 1×1. */
function driver(): Body {
  const f = new Body(7);
  const [a, b, c, m, n, k, ldc] = [0, 1, 2, 3, 4, 5, 6];
  const ldk = f.local(I32), i = f.local(I32), j = f.local(I32), j0 = f.local(I32), j1 = f.local(I32);
  f.get(k).i32(2).op(Op.i32Shl).set(ldk);
  const call = (fn: number) => {
    // tile(a + i·ldk, b + j·ldk, c + (i·ldc + j)·4, k, ldc)
    f.get(a).get(i).get(ldk).op(Op.i32Mul).op(Op.i32Add);
    f.get(b).get(j).get(ldk).op(Op.i32Mul).op(Op.i32Add);
    f.get(c).get(i).get(ldc).op(Op.i32Mul).get(j).op(Op.i32Add).i32(2).op(Op.i32Shl).op(Op.i32Add);
    f.get(k).get(ldc).call(fn);
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

const PAGE = 65536;
/** Bytes of wasm memory one call may use (a 32-bit address space, kept well clear of 4 GiB). */
const MAX_BYTES = 2 ** 31;
const RESIDENT_MAX = 2 ** 30;
/** A shared memory's maximum: the resident region, one call's bytes and the alignment slack. */
const MAX_PAGES = (RESIDENT_MAX + MAX_BYTES) / PAGE + 16;

/** The module's bytes: exports "gemm"; imports its memory as env.mem (shared: for threads). */
export function gemmModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  const funcs: Func[] = [
    { params: 5, body: tile(R, C) },
    { params: 5, body: tile(R, 1) },
    { params: 5, body: tile(1, C1) },
    { params: 5, body: tile(1, 1) },
    { name: "gemm", params: 7, body: driver() },
  ];
  return moduleBytes(funcs, shared ? { pages: 1, shared: { maxPages: MAX_PAGES } } : { pages: 1 });
}

type GemmFn = (a: number, b: number, c: number, m: number, n: number, k: number, ldc: number) => void;

interface Instance {
  mem: WebAssembly.Memory;
  module: WebAssembly.Module;
  gemm: GemmFn;
  /** Whether mem is shared (workers can run the module on it). */
  shared: boolean;
}

let available: boolean | undefined;
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

/** A shared memory and the module that imports it, where the host has both (SharedArrayBuffer, wasm threads); else undefined. */
function sharedInstance(): Instance | undefined {
  try {
    if (typeof SharedArrayBuffer !== "function") return undefined;
    const bytes = gemmModuleBytes(true);
    if (!WebAssembly.validate(bytes)) return undefined;
    const mem = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const module = new WebAssembly.Module(bytes);
    const i = new WebAssembly.Instance(module, { env: { mem } });
    return { mem, module, gemm: i.exports["gemm"] as GemmFn, shared: true };
  } catch {
    return undefined;
  }
}

function instance(): Instance {
  if (inst === undefined) {
    if (!wasmGemmAvailable()) throw new Error("WebAssembly SIMD is not available");
    inst = sharedInstance();
    if (inst === undefined) {
      const mem = new WebAssembly.Memory({ initial: 1 });
      const module = new WebAssembly.Module(gemmModuleBytes());
      const i = new WebAssembly.Instance(module, { env: { mem } });
      inst = { mem, module, gemm: i.exports["gemm"] as GemmFn, shared: false };
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

/** The control block's words. */
export const CTL = { gen: 0, next: 1, done: 2, stop: 3, error: 4, ready: 5, a: 8, b: 9, c: 10, m: 11, n: 12, k: 13, chunks: 14, colWidth: 15, rowBlock: 16, colChunks: 17, words: 32 } as const;

/**
 * The worker's program (plain JavaScript, run with `eval`): a function of the worker's data
 * { module, memory, control } and a `post` to its parent, which instantiates the module on the
 * memory, posts "ready", then claims chunks of each job published until told to stop. The host
 * (node-threads.ts) calls it with what its workers provide; this module names no host API.
 */
export const workerSource = `(workerData, post) => {
const { module, memory, control } = workerData;
const gemm = new WebAssembly.Instance(module, { env: { mem: memory } }).exports.gemm;
const ctl = new Int32Array(control);
const C = ${JSON.stringify(CTL)};
Atomics.add(ctl, C.ready, 1);
post("ready");
let seen = 0;
for (;;) {
  Atomics.wait(ctl, C.gen, seen);
  if (Atomics.load(ctl, C.stop) !== 0) break;
  const g = Atomics.load(ctl, C.gen);
  if (g === seen) continue;
  seen = g;
  const a = ctl[C.a], b = ctl[C.b], c = ctl[C.c], m = ctl[C.m], n = ctl[C.n], k = ctl[C.k];
  const chunks = ctl[C.chunks], cw = ctl[C.colWidth], rb = ctl[C.rowBlock], cc = ctl[C.colChunks];
  const tag = g & 0xffff;
  for (;;) {
    const v = Atomics.load(ctl, C.next);
    if ((v >>> 16) !== tag || (v & 0xffff) >= chunks) break;
    if (Atomics.compareExchange(ctl, C.next, v, v + 1) !== v) continue;
    const idx = v & 0xffff, i0 = Math.floor(idx / cc) * rb, j0 = (idx % cc) * cw;
    try {
      gemm(a + i0 * k * 4, b + j0 * k * 4, c + (i0 * n + j0) * 4, Math.min(rb, m - i0), Math.min(cw, n - j0), k, n);
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
export type SpawnGemmWorker = (source: string, data: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer }) => { worker: GemmWorker; ready: Promise<void> };

interface Pool {
  control: SharedArrayBuffer;
  ctl: Int32Array;
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
    pool = { control, ctl: new Int32Array(control), workers: [], ready: [], gen: 0 };
  }
  const p = pool;
  while (p.workers.length < count) {
    const { worker, ready } = spawn(workerSource, { module, memory: mem, control: p.control });
    p.workers.push(worker);
    p.ready.push(ready);
  }
  await Promise.all(p.ready);
  return p.workers.length;
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
 * they save (a first estimate from `npx tsx bench/kernels.ts --threads 1|2` on a busy 2-core machine:
 * GPT-2 decode's 768×768 projections, 0.6M, stay on one thread; c_attn, the MLP and the LM head,
 * 1.8M and more, split, though 1×768×3072 gained nothing measurable there).
 */
export const THREAD_MIN_MACS = 1 << 20;
/** Columns of C per chunk (a panel of Bt rows). */
const COL_WIDTH = NB;

/** C = A · Btᵀ at byte pointers in the memory, over `threads` threads (the caller's and threads − 1 workers). */
function gemmThreaded(gemm: GemmFn, a: number, b: number, c: number, m: number, n: number, k: number, threads: number): void {
  const p = pool;
  const helpers = p ? Math.min(threads - 1, p.workers.length) : 0;
  if (!p || helpers <= 0 || m * n * k < THREAD_MIN_MACS) {
    gemm(a, b, c, m, n, k, n);
    return;
  }
  const t = helpers + 1;
  const colChunks = Math.ceil(n / COL_WIDTH);
  // Rows are cut too when there are too few column panels to share (a product with small n).
  let rowBlock = m;
  if (colChunks < 2 * t && m >= 8) rowBlock = Math.max(4, Math.ceil(Math.ceil(m / Math.ceil((2 * t) / colChunks)) / 4) * 4);
  const rowChunks = Math.ceil(m / rowBlock);
  const chunks = rowChunks * colChunks;
  if (chunks > 0xffff) {
    gemm(a, b, c, m, n, k, n);
    return;
  }
  const ctl = p.ctl;
  ctl[CTL.a] = a; ctl[CTL.b] = b; ctl[CTL.c] = c; ctl[CTL.m] = m; ctl[CTL.n] = n; ctl[CTL.k] = k;
  ctl[CTL.chunks] = chunks; ctl[CTL.colWidth] = COL_WIDTH; ctl[CTL.rowBlock] = rowBlock; ctl[CTL.colChunks] = colChunks;
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
    const idx = v & 0xffff, i0 = Math.floor(idx / colChunks) * rowBlock, j0 = (idx % colChunks) * COL_WIDTH;
    gemm(a + i0 * k * 4, b + j0 * k * 4, c + (i0 * n + j0) * 4, Math.min(rowBlock, m - i0), Math.min(COL_WIDTH, n - j0), k, n);
    Atomics.add(ctl, CTL.done, 1);
  }
  for (let d = Atomics.load(ctl, CTL.done); d < chunks; d = Atomics.load(ctl, CTL.done)) Atomics.wait(ctl, CTL.done, d);
  if (Atomics.load(ctl, CTL.error) !== 0) throw new Error("the threaded GEMM failed in a worker");
}

const align16 = (x: number) => (x + 15) & ~15;

/** Arrays never written after they are marked (weights): their copies in wasm memory are kept. */
const residentCandidates = new WeakSet<Float32Array>();
/** Where each resident operand lives: by array, then by `offset:length`. */
let placed = new WeakMap<Float32Array, Map<string, number>>();
/** The end of the resident region (the per-call scratch starts here). */
let residentEnd = 0;

/** Marks `a` as never written again, so a GEMM may keep its copy in wasm memory for later calls. */
export function markResident(a: Float32Array): void {
  residentCandidates.add(a);
}

/** Drops the module instance and its memory (a later call makes a fresh one). */
export function releaseWasmGemm(): void {
  stopGemmWorkers();
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
export function gemmNTWasm(A: Float32Array, aOff: number, Bt: Float32Array, bOff: number, Cm: Float32Array, cOff: number, m: number, n: number, k: number, threads = 1): boolean {
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
    gemmThreaded(gemm, aPtr, bPtr, cPtr, rows, n, k, threads);
    Cm.set(heap.subarray(cPtr / 4, cPtr / 4 + rows * n), cOff + i0 * n);
  }
  return true;
}

/** The GEMM core for matmulsWith: WebAssembly SIMD, or the TypeScript core past the memory budget. */
export const gemmNTSimd: GemmNT = (A, aOff, Bt, bOff, Cm, cOff, m, n, k) => {
  if (!gemmNTWasm(A, aOff, Bt, bOff, Cm, cOff, m, n, k)) gemmNT(A, aOff, Bt, bOff, Cm, cOff, m, n, k);
};

/** gemmNTSimd over up to `threads` threads (the workers started by startGemmWorkers, and the caller). */
export function gemmNTSimdThreads(threads: number): GemmNT {
  return (A, aOff, Bt, bOff, Cm, cOff, m, n, k) => {
    if (!gemmNTWasm(A, aOff, Bt, bOff, Cm, cOff, m, n, k, threads)) gemmNT(A, aOff, Bt, bOff, Cm, cOff, m, n, k);
  };
}

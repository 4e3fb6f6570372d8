// Shared by the CPU kernel tests: seeded random data, fast-check arbitraries for shapes (including
// 0-d tensors, 0-size dims and broadcast partners), naive index-by-index reference helpers, error
// measures that treat NaN and infinities exactly, the Python bridge for the reference values, and
// the GEMM's worker threads held for a describe block.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { afterAll, beforeAll, expect } from "vitest";
import { acquireGemmThreads } from "../../../../src/backends/cpu/kernels/wasm/node-threads.js";
import { KernelError } from "../../../../src/core/errors.js";
import { allocate, type DType, numel, type Tensor } from "../../../../src/core/tensor.js";
import { pickSeed } from "../../../helpers/seed.js";

// ---- seeds ----------------------------------------------------------------------------------------

/** The fast-check seed for a test file: TFM_KERNEL_SEED if set, else random; printed for replay. */
export function seedFor(file: string): number {
  const env = process.env["TFM_KERNEL_SEED"];
  const seed = pickSeed("TFM_KERNEL_SEED");
  console.log(`[kernels] ${file}: seed=${seed} (replay: TFM_KERNEL_SEED=${seed})`);
  return seed;
}

/** fast-check parameters: the seed, a run count (TFM_KERNEL_RUNS overrides) and shrinking on. */
export function fcParams(seed: number, numRuns = 200): fc.Parameters<unknown> {
  return { seed, numRuns: Number(process.env["TFM_KERNEL_RUNS"] || numRuns), endOnFailure: false };
}

/** A small fast PRNG (mulberry32) for filling tensors from a fast-check-chosen seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FillOptions {
  /** Magnitude of f32 values (uniform in [-scale, scale)). */
  scale?: number;
  /** Probability of a special f32 value (NaN, ±Infinity, ±0). */
  special?: number;
  /** i32 values are uniform in [-range, range]. */
  range?: number;
}

/** A tensor of `shape` with random contents from `seed`. */
export function randomTensor<D extends DType>(dtype: D, shape: readonly number[], seed: number, opts: FillOptions = {}): Tensor<D> {
  const t = allocate(dtype, shape);
  const r = rng(seed);
  const n = t.data.length;
  const scale = opts.scale ?? 4, special = opts.special ?? 0, range = opts.range ?? 9;
  const specials = [NaN, Infinity, -Infinity, 0, -0];
  for (let i = 0; i < n; i++) {
    if (dtype === "f32") t.data[i] = r() < special ? specials[Math.floor(r() * specials.length)]! : (r() * 2 - 1) * scale;
    else if (dtype === "i32") t.data[i] = Math.floor(r() * (2 * range + 1)) - range;
    else t.data[i] = r() < 0.5 ? 1 : 0;
  }
  return t;
}

// ---- shapes ---------------------------------------------------------------------------------------

/** A shape of rank 0..maxRank with dims 0..maxDim (0 rarer). */
export function shapeArb(maxRank = 4, maxDim = 5, allowZero = true): fc.Arbitrary<number[]> {
  const dim = allowZero ? fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 12, arbitrary: fc.integer({ min: 1, max: maxDim }) }) : fc.integer({ min: 1, max: maxDim });
  return fc.array(dim, { minLength: 0, maxLength: maxRank });
}

/**
 * A shape that broadcasts to `out`: a suffix of it (leading dims dropped) with some dims set to 1.
 * `mask` bits choose the 1s, `drop` how many leading dims go.
 */
export function broadcastPartner(out: readonly number[], drop: number, mask: number): number[] {
  const s = out.slice(Math.min(drop, out.length));
  return s.map((d, i) => ((mask >> i) & 1 ? 1 : d));
}

/** `count` shapes broadcasting together to a random output shape. */
export function broadcastShapesArb(count: number, maxRank = 4, maxDim = 4): fc.Arbitrary<{ out: number[]; shapes: number[][] }> {
  return fc
    .tuple(shapeArb(maxRank, maxDim), fc.array(fc.tuple(fc.integer({ min: 0, max: maxRank }), fc.nat(15)), { minLength: count, maxLength: count }))
    .map(([out, parts]) => {
      const shapes = parts.map(([drop, mask]) => broadcastPartner(out, drop, mask));
      // The actual broadcast (dims set to 1 everywhere collapse to 1; fewer dims if all dropped).
      const rank = Math.max(0, ...shapes.map((s) => s.length));
      const res = new Array<number>(rank).fill(1);
      for (const s of shapes) for (let i = 0; i < s.length; i++) if (s[i] !== 1) res[rank - s.length + i] = s[i]!;
      return { out: res, shapes };
    });
}

// ---- naive indexing -------------------------------------------------------------------------------

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let o = 0;
  for (let d = 0; d < shape.length; d++) o = o * shape[d]! + idx[d]!;
  return o;
}

/** The flat index into an operand of `shape` for output index `idx` under broadcasting. */
export function broadcastIndex(idx: readonly number[], shape: readonly number[]): number {
  const off = idx.length - shape.length;
  let o = 0;
  for (let d = 0; d < shape.length; d++) o = o * shape[d]! + (shape[d] === 1 ? 0 : idx[off + d]!);
  return o;
}

/** NumPy's broadcast of shapes, computed naively (throws on a mismatch). */
export function naiveBroadcast(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + k] ?? 1;
      if (x !== 1) {
        if (d !== 1 && d !== x) throw new Error("no broadcast");
        d = x;
      }
    }
    out.push(d);
  }
  return out;
}

// ---- comparing ------------------------------------------------------------------------------------

/** Whether two numbers agree: both NaN, or equal (infinities included), or within `tol`. */
export function close(a: number, b: number, tol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= tol;
}

/** Max |a - b| over finite pairs (NaN/inf pairs must match exactly, else Infinity). */
export function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) return Infinity;
      continue;
    }
    if (x === y) continue;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Infinity;
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/** Asserts a result tensor has `dtype`, `shape` and elements equal to `expected` (NaN = NaN). */
export function expectTensor(t: Tensor, dtype: DType, shape: readonly number[], expected: ArrayLike<number>, tol = 0): void {
  expect(t.dtype).toBe(dtype);
  expect([...t.shape]).toEqual([...shape]);
  const n = numel(shape);
  expect(n).toBe(expected.length);
  for (let i = 0; i < n; i++) {
    const a = t.data[i]!, b = expected[i]!;
    if (!close(a, b, tol)) {
      throw new Error(`element ${i} (index [${unravel(i, shape).join(", ")}]) of ${dtype}[${shape.join(", ")}]: got ${a}, expected ${b} (tol ${tol})`);
    }
  }
}

/** The KernelError message `f` throws; fails if it throws anything else or nothing. */
export function kernelError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.message;
    throw e;
  }
  throw new Error("expected a KernelError, but nothing was thrown");
}

/** Rounds to f32 the way storing into a Float32Array does. */
export const f32 = Math.fround;

// ---- Python ---------------------------------------------------------------------------------------

export const python = process.env["TFM_PYTHON"] ?? "/usr/bin/python3";
/** Whether `python -c code` runs; the tests that need it fail (never skip) when it does not. */
export function probePython(code: string, _what: string): { ok: boolean; why: string } {
  const r = spawnSync(python, ["-c", code], { encoding: "utf8" });
  const ok = r.status === 0;
  return { ok, why: ok ? "" : (r.error?.message ?? r.stderr.trim()) };
}

/** Runs a Python script (stdin-free) and returns stdout; throws with a clear message on failure. */
export function runPython(script: string, args: readonly string[] = [], input?: string): string {
  const r = spawnSync(python, ["-c", script, ...args], { encoding: "utf8", timeout: 120_000, maxBuffer: 256 << 20, input });
  if (r.error) throw new Error(`${python} could not run (${r.error.message}); these tests need it (npm run test-it installs Debian's python3-torch)`);
  if (r.status !== 0) throw new Error(`${python} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

// ---- threads ---------------------------------------------------------------------------------------

/** Holds the GEMM's workers so that `count` threads run (this one included) for the tests of the enclosing describe block. */
export function holdThreads(count: number): void {
  let release: () => void = () => undefined;
  beforeAll(async () => {
    const p = await acquireGemmThreads(count);
    release = p.release;
    expect(p.threads).toBe(count);
  });
  afterAll(() => release());
}

// The CPU kernels behind one interface. The interpreter calls kernels only through a `Kernels`
// object, so a faster implementation (WebAssembly SIMD, worker threads) can replace some or all
// of them: `{ ...plainKernels, matmul: wasmMatmul, name: "wasm" }`.
//
// Conventions shared by every kernel:
//   - Tensors are contiguous row-major (see ../tensor.ts); kernels see f32, i32 and bool only.
//   - Kernels never promote dtypes: mismatched operands are a KernelError (the IR inserts casts).
//   - `out`, when given, must have exactly the result's dtype and shape; the kernel writes every
//     element of it and returns it, so a memory planner can reuse buffers. Without `out` a new
//     tensor is allocated. Elementwise kernels (unary, cast, binary, where, softmax) may write
//     over an input of the result's shape and element size; the others need `out` disjoint from
//     their inputs.
//   - Inputs are never modified. Errors (out-of-range indices, bad shapes) throw KernelError.
//   - No kernel allocates per element; the inner loops call no closures.
import type { BinaryOp, ReduceOp, UnaryOp } from "../../../ir/ops.js";
import type { DType, Tensor } from "../../../core/tensor.js";
import { roundToF16 } from "../../../core/f16.js";
import { binary } from "./binary.js";
import { arange, concat, expand, gather, permute, reshape, slice } from "./layout.js";
import { matmul, matmulsWith, matmulTransB, type GemmNN } from "./matmul.js";
import { reduce } from "./reduce.js";
import { cumsum } from "./scan.js";
import { softmaxLastAxis } from "./softmax.js";
import { cast, unary } from "./unary.js";
import { gemmNNF16, gemmNNInt8, gemmNNPacked, gemmNNSmallWasm, gemmNTSimd, gemmNTSimdThreads, gemmUsesFma, packWeight, packWeightF16, packWeightF16NN, packWeightInt8, packWeightInt8NN, packWeightNN, smallProducts, stateArray, wasmGemmAvailable, type SmallProducts } from "./wasm/gemm.js";
import { where } from "./where.js";

export interface Kernels {
  /** Which implementation this is ("plain-ts", "wasm-simd", ...), for logs and benchmarks. */
  readonly name: string;
  /** The threads its products (and a fused kernel's phases compiled to WebAssembly) may run on; 1 when left out. */
  readonly threads?: number;

  /** An elementwise UnaryOp. neg/abs: f32|i32 → same; not: bool → bool; the rest: f32 → f32. */
  unary(op: UnaryOp, x: Tensor, out?: Tensor): Tensor;
  /** Converts to `dtype` (f32 → i32 truncates toward zero, saturating; → bool is x != 0). */
  cast(x: Tensor, dtype: DType, out?: Tensor): Tensor;
  /** An elementwise BinaryOp with NumPy broadcasting (0-d operands included). */
  binary(op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor): Tensor;
  /** cond ? a : b, broadcasting all three; cond is bool, a and b share the result's dtype. */
  where(cond: Tensor, a: Tensor, b: Tensor, out?: Tensor): Tensor;

  /** numpy.matmul for f32: [..., m, k] @ [..., k, n], batch dims broadcast, 1-D operands as NumPy. */
  matmul(a: Tensor, b: Tensor, out?: Tensor): Tensor<"f32">;
  /** matmul(a, b) with b supplied transposed as bT [..., n, k] (weights laid out at load time). */
  matmulTransB(a: Tensor, bT: Tensor, out?: Tensor): Tensor<"f32">;

  /** sum/mean/max/min (keep the dtype) or argmax (i32) over `axis` (negative counts from the end). */
  reduce(op: ReduceOp, x: Tensor, axis: number, keepdim?: boolean, out?: Tensor): Tensor;
  /** torch.cumsum over `axis` (negative counts from the end) for f32 (summed in double, each prefix rounded to f32) or i32 (wrapping). */
  cumsum(x: Tensor, axis: number, out?: Tensor): Tensor;

  /** The same elements with a new shape: a view of x's data without `out`, a copy into `out`. */
  reshape(x: Tensor, shape: readonly number[], out?: Tensor): Tensor;
  /** Output dim i is input dim perm[i]. */
  permute(x: Tensor, perm: readonly number[], out?: Tensor): Tensor;
  /** Elements start ≤ i < end along `axis`. */
  slice(x: Tensor, axis: number, start: number, end: number, out?: Tensor): Tensor;
  /** Joins tensors of one dtype along `axis`. */
  concat(xs: readonly Tensor[], axis: number, out?: Tensor): Tensor;
  /** numpy.take(x, indices, axis) with i32 indices; out-of-range indices throw KernelError. */
  gather(x: Tensor, indices: Tensor, axis: number, out?: Tensor): Tensor;
  /** numpy.broadcast_to(x, shape), materialised. */
  expand(x: Tensor, shape: readonly number[], out?: Tensor): Tensor;
  /** i32 [n]: 0 .. n-1. */
  arange(n: number, out?: Tensor): Tensor<"i32">;

  /**
   * Readies a weight that matmulTransB will read as bT [n, k] (never written again); optional. The
   * WebAssembly GEMM packs it into its memory now, in the layout it reads, rather than at the first product.
   */
  prepareTransB?(bT: Tensor): void;

  /**
   * Readies a weight that matmul will read as b [k, n] (never written again); optional. True where
   * the kernels keep what they need of it (the WebAssembly GEMM: its panels, packed straight from b),
   * so that the caller need not lay it out transposed for matmulTransB; false: it should.
   */
  prepareB?(b: Tensor): boolean;

  /**
   * Storage for n f32 of a state kept between calls (a KV cache), where the products read it in
   * place rather than copying it at each call (the WebAssembly GEMM's memory: wasm/gemm.ts
   * `stateArray`); optional, and undefined where there is none: a plain array is used.
   */
  stateArray?(n: number): Float32Array | undefined;

  /**
   * Products of fewer than 4 rows, one per outer index, whose right operands are state buffers
   * (`stateArray`): a decode step's attention products for every head in one call, shared out over
   * the threads, with the bits of matmulTransB or matmul on each; optional. False, having done
   * nothing, where it does not apply: the caller runs each product alone.
   */
  smallProducts?(p: SmallProducts): boolean;

  /** How the products read weights: f32 (the default), int8 (int8Kernels) or f16 (f16Kernels). */
  readonly weights?: "f32" | "int8" | "f16";

  /** Fused (masked) softmax over the last axis; optional: the optimizer falls back to primitives. */
  softmaxLastAxis?(x: Tensor, mask?: Tensor, out?: Tensor): Tensor<"f32">;
}

/** The reference implementation: plain TypeScript, single-threaded. */
export const plainKernels: Kernels = Object.freeze({
  name: "plain-ts",
  unary,
  cast,
  binary,
  where,
  matmul,
  matmulTransB,
  reduce,
  cumsum,
  reshape,
  permute,
  slice,
  concat,
  gather,
  expand,
  arange,
  softmaxLastAxis,
});

/** The WebAssembly core's products of fewer than 4 rows by a B given [k, n] (p · v in a decode step), with its bits, by the module's `nnsmall` (wasm/small.ts): no transpose, no packing; with FMA the core's bits are other, and those are packed. */
const seqF32 = (): GemmNN | undefined => (gemmUsesFma() ? undefined : gemmNNSmallWasm);

/**
 * plainKernels with matmul and matmulTransB on the WebAssembly SIMD GEMM core (accumulating in
 * f32). Usable only where `wasmGemmAvailable()`.
 */
export const wasmKernels: Kernels = Object.freeze({ ...plainKernels, ...matmulsWith(gemmNTSimd, seqF32, gemmNNPacked(1)), prepareTransB, prepareB, stateArray, smallProducts: (p: SmallProducts) => smallProducts(p, 1), name: "wasm-simd" });

function prepareTransB(bT: Tensor): void {
  if (bT.dtype === "f32" && bT.shape.length === 2) packWeight(bT.data as Float32Array, bT.shape[0]!, bT.shape[1]!);
}

function prepareB(b: Tensor): boolean {
  return b.dtype === "f32" && b.shape.length === 2 && packWeightNN(b.data as Float32Array, b.shape[0]!, b.shape[1]!);
}

const threaded = new Map<number, Kernels>();

/**
 * wasmKernels with the GEMM split over up to `threads` threads (the caller's and the workers
 * src/backends/cpu/kernels/wasm/gemm.ts's startGemmWorkers started; fewer if fewer run), with
 * the same results bit for bit. `threads` ≤ 1, or no SIMD, gives the single-threaded kernels.
 */
export function threadedKernels(threads: number): Kernels {
  if (threads <= 1 || !wasmGemmAvailable()) return defaultKernels;
  let k = threaded.get(threads);
  if (!k) threaded.set(threads, (k = Object.freeze({ ...plainKernels, ...matmulsWith(gemmNTSimdThreads(threads), seqF32, gemmNNPacked(threads)), prepareTransB, prepareB, stateArray, smallProducts: (p: SmallProducts) => smallProducts(p, threads), threads, name: `wasm-simd-${threads}t` })));
  return k;
}

const int8 = new Map<number, Kernels>();

/**
 * threadedKernels (or wasmKernels for 1 thread) whose products read their weights as int8,
 * quantized per output column at load (wasm/gemm.ts `packWeightInt8`): a quarter of the bytes a
 * decode step reads, at the cost measured in test/unit/backends/cpu/int8.test.ts. Other products
 * (attention's, any whose right operand is not a weight) stay f32. Undefined without SIMD.
 */
export function int8Kernels(threads: number): Kernels | undefined {
  if (!wasmGemmAvailable()) return undefined;
  const t = Math.max(1, threads);
  let k = int8.get(t);
  if (!k) {
    const prepare = (bT: Tensor) => {
      if (bT.dtype === "f32" && bT.shape.length === 2 && !packWeightInt8(bT.data as Float32Array, bT.shape[0]!, bT.shape[1]!)) prepareTransB(bT);
    };
    // A weight read as [k, n] is quantized straight from it (no transposed copy); one that does not
    // fit the region is laid out transposed by the caller, and then packed as f32 if it fits there.
    const prepareNN = (b: Tensor) => b.dtype === "f32" && b.shape.length === 2 && packWeightInt8NN(b.data as Float32Array, b.shape[0]!, b.shape[1]!);
    int8.set(t, (k = Object.freeze({ ...plainKernels, ...matmulsWith(gemmNTSimdThreads(t, "int8"), seqF32, gemmNNInt8(t)), prepareTransB: prepare, prepareB: prepareNN, stateArray, smallProducts: (p: SmallProducts) => smallProducts(p, t), weights: "int8" as const, threads: t, name: `wasm-simd-int8${t > 1 ? `-${t}t` : ""}` })));
  }
  return k;
}

const f16 = new Map<number, Kernels>();

/**
 * threadedKernels (or wasmKernels for 1 thread) whose products read their weights as f16, rounded
 * to nearest at load (wasm/gemm.ts `packWeightF16`, wasm/f16.ts): half the bytes a decode step
 * reads, and the bits of the f32 products on the rounded weights. A weight with a value past f16's
 * range, or one that does not fit the region, is read as f32; other products (attention's) stay
 * f32. Undefined without SIMD.
 */
export function f16Kernels(threads: number): Kernels | undefined {
  if (!wasmGemmAvailable()) return undefined;
  const t = Math.max(1, threads);
  let k = f16.get(t);
  if (!k) {
    const prepare = (bT: Tensor) => {
      if (bT.dtype === "f32" && bT.shape.length === 2 && !packWeightF16(bT.data as Float32Array, bT.shape[0]!, bT.shape[1]!)) prepareTransB(bT);
    };
    // As int8Kernels: a weight read as [k, n] is packed straight from it, else laid out transposed by the caller.
    const prepareNN = (b: Tensor) => b.dtype === "f32" && b.shape.length === 2 && packWeightF16NN(b.data as Float32Array, b.shape[0]!, b.shape[1]!);
    f16.set(t, (k = Object.freeze({ ...plainKernels, ...matmulsWith(gemmNTSimdThreads(t, "f16"), seqF32, gemmNNF16(t)), prepareTransB: prepare, prepareB: prepareNN, stateArray, smallProducts: (p: SmallProducts) => smallProducts(p, t), weights: "f16" as const, threads: t, name: `wasm-simd-f16${t > 1 ? `-${t}t` : ""}` })));
  }
  return k;
}

/**
 * The weights to run f16Kernels on: each f32 matrix (rank ≥ 2) rounded to the nearest f16, so that
 * every reader of a weight (an embedding's gather, not only the products that read its panels)
 * computes with the same f16 values, as on WebGPU (src/backends/webgpu/halves.ts). New arrays for
 * those: the caller's are never written.
 */
export function halfWeights(weights: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  return new Map([...weights].map(([name, t]) => [name, t.dtype === "f32" && t.shape.length >= 2 ? ({ ...t, data: roundToF16(t.data as Float32Array) } as Tensor) : t]));
}

/** The kernels the CPU interpreter uses unless given others: wasmKernels where SIMD validates. */
export const defaultKernels: Kernels = wasmGemmAvailable() ? wasmKernels : plainKernels;

export { KernelError } from "../../../core/errors.js";
export { erf } from "./erf.js";
export { broadcastShapes } from "./broadcast.js";
export { gemmNT, releaseMatmulScratch } from "./matmul.js";
export type { SmallProducts } from "./wasm/gemm.js";
export { gemmNTWasm, gemmWorkers, holdResident, markResident, releaseWasmGemm, residentBytes, startGemmWorkers, stopGemmWorkers, wasmGemmAvailable } from "./wasm/gemm.js";
export { binary, unary, cast, where, matmul, matmulTransB, reduce, cumsum, reshape, permute, slice, concat, gather, expand, arange, softmaxLastAxis };

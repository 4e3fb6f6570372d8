// The tiled matmul: a 16×16 workgroup computes a 16×16 tile of C = A·B, staging 16×16 tiles of A
// and B in workgroup memory (each element of A and B is read from global memory once per tile row
// or column instead of once per product). Batch dims broadcast; a 1-D A is a row and a 1-D B a
// column (numpy.matmul); transB reads B as [..., n, k]. The workgroup's linear index picks its
// (batch, tile row, tile column). A's elements are `value(A, idx)`, so a prologue computed in
// the kernel (matmul kernels of the fused schedule) is evaluated while a tile is loaded; the
// accumulator is the matmul node's value for the epilogue evaluated before the store.
import { constDim, type Dim } from "../../../check/shapes/dim.js";
import type { Node } from "../../../ir/graph.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { ReduceOp } from "../../../ir/ops.js";
import { broadcastIndex, type Block } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody } from "./kernel.js";
import { accumulatorType, isReduction, rowReduction, Shared } from "./reduce.js";
import { addU, delinearize, divU, lit, mulU, numelDim, type SizeTable } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";

export const TILE = 16;

/** The logical dims of a matmul node: batch dims of the result, m, k, n, and how A and B are indexed. */
export interface MatmulDims {
  readonly batch: readonly Dim[];
  readonly m: Dim;
  readonly k: Dim;
  readonly n: Dim;
  /** A's index for (batch index, row, kk). */
  aIdx(batch: readonly string[], row: string, kk: string): string[];
  /** B's index for (batch index, kk, col). */
  bIdx(batch: readonly string[], kk: string, col: string): string[];
  /** The result's index for (batch index, row, col): dims of a 1-D operand dropped. */
  outIdx(batch: readonly string[], row: string, col: string): string[];
}

export function matmulDims(node: Node, a: Node, b: Node): MatmulDims {
  const aVec = a.shape.length === 1, bVec = b.shape.length === 1;
  const transB = node.attrs.transB ?? false;
  const m: Dim = aVec ? constDim(1) : a.shape[a.shape.length - 2]!;
  const k = a.shape[a.shape.length - 1]!;
  const n: Dim = bVec ? constDim(1) : transB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
  const batch = node.shape.slice(0, node.shape.length - (aVec ? 0 : 1) - (bVec ? 0 : 1));
  const aBatch = aVec ? [] : a.shape.slice(0, -2), bBatch = bVec ? [] : b.shape.slice(0, -2);
  return {
    batch, m, k, n,
    aIdx: (bi, row, kk) => (aVec ? [kk] : [...broadcastIndex(aBatch, bi), row, kk]),
    bIdx: (bi, kk, col) => (bVec ? [kk] : transB ? [...broadcastIndex(bBatch, bi), col, kk] : [...broadcastIndex(bBatch, bi), kk, col]),
    outIdx: (bi, row, col) => [...bi, ...(aVec ? [] : [row]), ...(bVec ? [] : [col])],
  };
}

const ceilDiv = (t: SizeTable, d: Dim, by: number) => divU(addU(t.ref(d), lit(by - 1)), lit(by));

/**
 * A matmul kernel: `k.anchor` is the matmul. Its operands are read through the frame's leaves, or
 * computed by the kernel: a prologue (the rows body computing A, e.g. a LayerNorm) is evaluated
 * while A's tiles are loaded, after the workgroup has computed the statistics (the prologue's
 * reductions) of its 16 rows, 16 threads per row. The kernel's outputs (the matmul, or the end of
 * its epilogue) are evaluated at each element with the matmul's value bound to the accumulator.
 */
export function matmulKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const f = new Frame(ctx, k, k.inputs, k.outputs.length ? k.outputs : [k.anchor!]);
  const node = f.node(k.anchor!);
  const [a, bNode] = [f.node(node.inputs[0]!), f.node(node.inputs[1]!)];
  const d = matmulDims(node, a, bNode);
  const t = ctx.sizes, e = f.emitter;
  const T = lit(TILE);
  const body = newBody();
  const [M, K, N] = [t.ref(d.m), t.ref(d.k), t.ref(d.n)];
  const tilesN = e.bind(body, ceilDiv(t, d.n, TILE));
  const tilesMN = e.bind(body, mulU(tilesN, ceilDiv(t, d.m, TILE)));
  body.line(`if (wg >= ${mulU(tilesMN, t.ref(numelDim(d.batch)))}) { return; }`);
  body.line(`let bl = wg / ${tilesMN};`);
  body.line(`let tm = (wg % ${tilesMN}) / ${tilesN};`);
  body.line(`let tn = wg % ${tilesN};`);
  body.line(`let tx = lid % ${T};`);
  body.line(`let ty = lid / ${T};`);
  const batch = delinearize(t, "bl", d.batch).map((s) => e.bind(body, s));
  const sh = new Shared();
  if (k.prologue?.length) rowStatistics(f, body, sh, k.prologue, d, batch, M);
  body.line(`let row = tm * ${T} + ty;`);
  body.line(`let col = tn * ${T} + tx;`);
  body.line("var acc = 0.0f;");
  const loop = body.child();
  // A tile: thread (ty, tx) loads A[row, kbase + tx]; B tile: element (kk, cc) of B's tile, loaded
  // along B's contiguous axis (n, or k when B is given transposed).
  const transB = node.attrs.transB ?? false;
  const loadA = loop.child();
  loadA.line(`va = ${e.value(loadA, a.id, d.aIdx(batch, "row", "ka"))};`);
  loop.line(`let ka = kbase + tx;`);
  loop.line("var va = 0.0f;");
  loop.nest(`if (row < ${M} && ka < ${K})`, loadA);
  loop.line(`sa[ty * ${T} + tx] = va;`);
  const [kk, cc] = transB ? ["tx", "ty"] : ["ty", "tx"];
  loop.line(`let kb = kbase + ${kk};`);
  loop.line(`let cb = tn * ${T} + ${cc};`);
  loop.line("var vb = 0.0f;");
  const loadB = loop.child();
  loadB.line(`vb = ${e.value(loadB, bNode.id, d.bIdx(batch, "kb", "cb"))};`);
  loop.nest(`if (kb < ${K} && cb < ${N})`, loadB);
  loop.line(`sb[${kk} * ${T} + ${cc}] = vb;`);
  loop.line("workgroupBarrier();");
  loop.line(`for (var q = 0u; q < ${T}; q = q + 1u) { acc = acc + sa[ty * ${T} + q] * sb[q * ${T} + tx]; }`);
  loop.line("workgroupBarrier();");
  body.nest(`for (var kbase = 0u; kbase < ${K}; kbase = kbase + ${T})`, loop);
  // The store: the matmul's value is the accumulator; epilogue nodes are evaluated at its index.
  const store = body.child();
  const outIdx = d.outIdx(batch, "row", "col");
  f.leaves.set(node.id, () => "acc");
  const off = e.bind(store, addU(mulU(addU(mulU("bl", M), "row"), N), "col"));
  const values = f.writes.map((id) => e.value(store, id, outIdx)); // every value before any store (in place)
  f.writes.forEach((id, i) => store.line(`${f.out(id)}[${off}] = ${toStorage(f.node(id).dtype, values[i]!)};`));
  body.nest(`if (row < ${M} && col < ${N})`, store);
  sh.array("sa", "f32", TILE * TILE);
  sh.array("sb", "f32", TILE * TILE);
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, sh.text(), String(TILE * TILE), body.text()),
    binds,
    grid: [{ size: d.n, per: TILE }, { size: d.m, per: TILE }, { size: numelDim(d.batch), per: 1 }],
    workgroupBytes: sh.bytes,
    invocations: TILE * TILE,
    checks: [],
  };
}


/**
 * The prologue's reductions for the tile's 16 rows (clamped to the last row), in graph order:
 * each row reduced by 16 threads, its result kept in a workgroup array indexed by the row's place
 * in the tile. They become leaves: `stK[sr]` while later statistics are computed, `stK[ty]` when
 * A's tiles are loaded (thread (ty, tx) loads row ty of the tile).
 */
function rowStatistics(f: Frame, b: Block, sh: Shared, prologue: readonly number[], d: MatmulDims, batch: readonly string[], M: string): void {
  const e = f.emitter;
  const T = lit(TILE);
  let local = "sr";
  b.line(`let sr = lid / ${T};`);
  b.line(`let rs = min(tm * ${T} + sr, ${M} - 1u);`);
  prologue.forEach((id, i) => {
    const r = f.node(id);
    if (!isReduction(r)) return;
    const x = f.node(r.inputs[0]!);
    const res = rowReduction(e, b, sh, r.op as ReduceOp, x.dtype, e.ref(x.shape[x.shape.length - 1]!), (inner, j) => e.value(inner, x.id, d.aIdx(batch, "rs", j)), TILE);
    const t = accumulatorType(x.dtype);
    const st = sh.array(`st${i}`, r.op === "argmax" ? "i32" : t, TILE);
    const keep = t === "u32" && r.op !== "argmax" ? `select(0u, 1u, ${res})` : res;
    b.line(`if (lid % ${T} == 0u) { ${st}[sr] = ${keep}; }`);
    b.line("workgroupBarrier();");
    f.leaves.set(id, () => (t === "u32" && r.op !== "argmax" ? `(${st}[${local}] != 0u)` : `${st}[${local}]`));
  });
  local = "ty";
}

// "attention" kernels: scores = q·k, a rows body over the scores (scale, mask, softmax), out = p·v,
// without the [.., sq, sk] score matrix in global memory. A workgroup computes 16 query rows of
// one batch element, 16 threads (lanes) per row:
//   1. the q rows are staged in workgroup memory (when their length is static and at most 64);
//   2. each reduction of the body is a reduction over the keys by the row's 16 lanes, a score
//      being recomputed where it is read (the dot product of q's row with one key);
//   3. the keys are processed in tiles of KEYS: each lane stages the body's result p for its row
//      and its share of the tile in workgroup memory, then accumulates its share of the output
//      columns (lane, lane + 16, ...) over the tile: p·v.
// Any body works this way (not only softmax) and any number of keys; the price is one dot
// product per score per pass over the keys (one pass per reduction, plus the last).
import { constValue } from "../../../core/dim.js";
import type { Kernel } from "../../../schedule/kernel.js";
import { broadcastIndex } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { matmulDims } from "./matmul.js";
import { emptyAxisChecks, Shared } from "./reduce.js";
import { reduceRow } from "./rows.js";
import { addU, delinearize, divU, lit, linearize, mulU, numelDim } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";

/** Query rows per workgroup, and lanes per row (ROWS × LANES = THREADS). */
const ROWS = 16, LANES = 16;
/** Keys per tile of p staged in workgroup memory (per row). */
export const KEYS = 64;
/** The largest static q row staged in workgroup memory, and the largest output row (16 columns per lane). */
const MAX_STAGED = 64, MAX_DV = LANES * 16;

export function attentionKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const f = new Frame(ctx, k);
  const e = f.emitter;
  const out = f.node(k.anchor!);
  const [p, v] = [f.node(out.inputs[0]!), f.node(out.inputs[1]!)];
  const s = f.node(k.scores!);
  const [q, key] = [f.node(s.inputs[0]!), f.node(s.inputs[1]!)];
  if (p.shape.length < 2 || v.shape.length < 2 || q.shape.length < 2) throw new Error(`webgpu codegen: attention kernel k${k.id} has a 1-D operand`);
  if (k.outputs.length !== 1 || k.outputs[0] !== out.id) throw new Error(`webgpu codegen: attention kernel k${k.id} writes more than its result`);
  const dOut = matmulDims(out, p, v); // m = sq, k = sk, n = dv
  const dS = matmulDims(s, q, key); // m = sq, k = dk, n = sk
  const dv = constValue(dOut.n);
  if (dv === undefined || dv > MAX_DV) throw new Error(`webgpu codegen: attention kernel k${k.id}: the value rows are not of a static length up to ${MAX_DV}`);
  const cols = Math.max(1, Math.ceil(dv / LANES));
  const [SQ, SK, DV, DK] = [e.ref(dOut.m), e.ref(dOut.k), e.ref(dOut.n), e.ref(dS.k)];
  const L = lit(LANES);
  const b = newBody();
  const sh = new Shared();
  const tiles = e.bind(b, divU(addU(SQ, lit(ROWS - 1)), lit(ROWS)));
  b.line(`if (wg >= ${mulU(tiles, e.ref(numelDim(dOut.batch)))}) { return; }`);
  b.line(`let sr = lid / ${L};`);
  b.line(`let lane = lid % ${L};`);
  b.line(`let qr = (wg % ${tiles}) * ${lit(ROWS)} + sr;`);
  b.line(`let qi = min(qr, ${SQ} - 1u);`);
  const batch = delinearize(ctx.sizes, `(wg / ${tiles})`, dOut.batch).map((x) => e.bind(b, x));
  const pBatch = broadcastIndex(p.shape.slice(0, -2), batch); // the scores' batch index
  // 1. The q rows.
  const dk = constValue(dS.k);
  const staged = dk !== undefined && dk <= MAX_STAGED;
  if (staged) {
    const qs = sh.array("qs", "f32", ROWS * Math.max(1, dk));
    const load = b.child();
    load.line(`${qs}[sr * ${DK} + dq] = ${e.value(load, q.id, dS.aIdx(pBatch, "qi", "dq"))};`);
    b.nest(`for (var dq = lane; dq < ${DK}; dq = dq + ${L})`, load);
    b.line("workgroupBarrier();");
  }
  // A score where it is read: the dot product of q's row with key j.
  f.leaves.set(s.id, (blk, idx) => {
    const sb = idx.slice(0, -2), j = idx[idx.length - 1]!;
    const acc = e.fresh("sc");
    blk.line(`var ${acc} = 0.0f;`);
    const dot = blk.child();
    const qv = staged ? `qs[sr * ${DK} + dd]` : e.value(dot, q.id, dS.aIdx(sb, idx[idx.length - 2]!, "dd"));
    dot.line(`${acc} = ${acc} + ${qv} * ${e.value(dot, key.id, dS.bIdx(sb, "dd", j))};`);
    blk.nest(`for (var dd = 0u; dd < ${DK}; dd = dd + 1u)`, dot);
    return acc;
  });
  // 2. The body's reductions over the keys, 16 lanes per row.
  reduceRow(f, b, sh, k.nodes.filter((id) => id !== s.id && id !== out.id), [...pBatch, "qi"], LANES);
  // 3. p·v, KEYS keys at a time.
  const prow = sh.array("prow", "f32", ROWS * KEYS);
  b.line(`var acc: array<f32, ${cols}>;`);
  const tile = b.child();
  tile.line(`let tl = min(${lit(KEYS)}, ${SK} - kt);`);
  const stage = tile.child();
  stage.line(`${prow}[sr * ${lit(KEYS)} + jj] = ${e.value(stage, p.id, [...pBatch, "qi", "(kt + jj)"])};`);
  tile.nest(`for (var jj = lane; jj < tl; jj = jj + ${L})`, stage);
  tile.line("workgroupBarrier();");
  const keyLoop = tile.child();
  keyLoop.line(`let pj = ${prow}[sr * ${lit(KEYS)} + jj];`);
  const colLoop = keyLoop.child();
  colLoop.line(`let dc = lane + cc * ${L};`);
  const mac = colLoop.child();
  mac.line(`acc[cc] = acc[cc] + pj * ${e.value(mac, v.id, dOut.bIdx(batch, "(kt + jj)", "dc"))};`);
  colLoop.nest(`if (dc < ${DV})`, mac);
  keyLoop.nest(`for (var cc = 0u; cc < ${lit(cols)}; cc = cc + 1u)`, colLoop);
  tile.nest("for (var jj = 0u; jj < tl; jj = jj + 1u)", keyLoop);
  tile.line("workgroupBarrier();");
  b.nest(`for (var kt = 0u; kt < ${SK}; kt = kt + ${lit(KEYS)})`, tile);
  const store = b.child();
  store.line(`let dc = lane + cc * ${L};`);
  const one = store.child();
  one.line(`${f.out(out.id)}[${linearize(ctx.sizes, dOut.outIdx(batch, "qr", "dc"), out.shape)}] = ${toStorage(out.dtype, "acc[cc]")};`);
  store.nest(`if (dc < ${DV} && qr < ${SQ})`, one);
  b.nest(`for (var cc = 0u; cc < ${lit(cols)}; cc = cc + 1u)`, store);
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, sh.text(), String(THREADS), b.text()),
    binds,
    grid: [{ size: dOut.m, per: ROWS }, { size: numelDim(dOut.batch), per: 1 }],
    workgroupBytes: sh.bytes,
    invocations: THREADS,
    checks: emptyAxisChecks(ctx.g, k.nodes),
  };
}

// The tiled matmul: a 16×16 workgroup computes a 32×64 tile of C = A·B (2×4 elements per thread,
// in registers), staging 32×16 tiles of A and 16×64 tiles of B in workgroup memory, so each
// element of A and B is read from global memory once per tile instead of once per product. Batch
// dims broadcast; a 1-D A is a row and a 1-D B a column (numpy.matmul); transB reads B as
// [..., n, k]. The workgroup's linear index picks its (batch, tile row, tile column). A's elements
// are `value(A, idx)`, so a prologue computed in the kernel (matmul kernels of the fused schedule)
// is evaluated while a tile is loaded; the accumulator is the matmul node's value for the epilogue.
import { constDim, showDim, type Dim } from "../../../core/dim.js";
import type { Node } from "../../../ir/graph.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { ReduceOp } from "../../../ir/ops.js";
import { broadcastIndex, type Block } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody } from "./kernel.js";
import { accumulatorType, emptyAxisChecks, isReduction, rowReduction, Shared } from "./reduce.js";
import { addU, delinearize, divU, linearize, lit, mulU, numelDim, type SizeTable } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";

/** Threads per side of the 16×16 workgroup. */
export const TILE = 16;
/**
 * Each thread's rows and columns of the result: a 32×64 tile per workgroup. 4×4 (64×64) suits
 * large products better, 1×4 products of a few rows (decoding, m = batch); on SwiftShader GPT-2's
 * LM head with m = 8 takes 3.0 s at 1×4, 3.4 s at 2×4, 4.4 s at 4×4 and 8.3 s at 1×1.
 */
const RM = 2, RN = 4;

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
 * A matmul kernel: `k.anchor` is the matmul. A workgroup of 16×16 threads computes a BM×BN tile of
 * the result, each thread RM×RN elements (rows ty + 16i, columns tx + 16j: stores coalesce), from
 * BM×16 tiles of A and 16×BN tiles of B staged in workgroup memory: each element staged is read
 * RN (A) or RM (B) times from workgroup memory per product instead of once per output.
 * The operands are read through the frame's leaves, or computed by the kernel: a prologue (the
 * rows body computing A, e.g. a LayerNorm) is evaluated while A's tiles are loaded, after the
 * workgroup has computed its statistics (the prologue's reductions) for its BM rows. The
 * kernel's outputs (the matmul, or the end of its epilogue) are computed by a function called for
 * each of a thread's elements with the matmul's value as `acc`.
 */
export function matmulKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  // The states its appends write are bound as those appends' outputs (one buffer, compile.ts `stateLayouts`), not read.
  const states = new Set((k.appends ?? []).map((a) => ctx.g.nodes[a]!.inputs[0]!));
  for (const a of k.appends ?? []) if (!ctx.layouts.has(a)) throw new Error(`the state %${ctx.g.nodes[a]!.inputs[0]} is not kept in place`);
  const f = new Frame(ctx, k, k.inputs.filter((i) => !states.has(i)), k.outputs.length ? k.outputs : [k.anchor!]);
  const node = f.node(k.anchor!);
  const [a, bNode] = [f.node(node.inputs[0]!), f.node(node.inputs[1]!)];
  const d = matmulDims(node, a, bNode);
  const t = ctx.sizes, e = f.emitter;
  const [BM, BN] = [TILE * RM, TILE * RN];
  const T = lit(TILE), L = lit(TILE * TILE);
  const body = newBody();
  const [M, K, N] = [t.ref(d.m), t.ref(d.k), t.ref(d.n)];
  const tilesN = e.bind(body, ceilDiv(t, d.n, BN));
  const tilesMN = e.bind(body, mulU(tilesN, ceilDiv(t, d.m, BM)));
  body.line(`if (wg >= ${mulU(tilesMN, t.ref(numelDim(d.batch)))}) { return; }`);
  body.line(`let bl = wg / ${tilesMN};`);
  body.line(`let tm = (wg % ${tilesMN}) / ${tilesN};`);
  body.line(`let tn = wg % ${tilesN};`);
  body.line(`let tx = lid % ${T};`);
  body.line(`let ty = lid / ${T};`);
  const batch = delinearize(t, "bl", d.batch).map((x) => e.bind(body, x));
  const sh = new Shared();
  const rows = k.prologue?.length ? rowStatistics(f, body, sh, k.prologue, d, batch, M, BM) : undefined;
  body.line(`var acc: array<f32, ${RM * RN}>;`);
  const loop = body.child();
  // A's tile, BM×16: element (ar, ak) loaded by thread (ar·16 + ak) mod 256, along A's rows.
  const loadA = loop.child();
  loadA.line(`let ae = lid + l * ${L};`);
  loadA.line(`let ar = ae / ${T};`);
  loadA.line(`let ak = ae % ${T};`);
  loadA.line(`let arow = tm * ${lit(BM)} + ar;`);
  loadA.line(`let ka = kbase + ak;`);
  loadA.line("var va = 0.0f;");
  if (rows) rows.local = "ar";
  const valueA = loadA.child();
  valueA.line(`va = ${e.value(valueA, a.id, d.aIdx(batch, "arow", "ka"))};`);
  loadA.nest(`if (arow < ${M} && ka < ${K})`, valueA);
  loadA.line(`sa[ar * ${T} + ak] = va;`);
  loop.nest(`for (var l = 0u; l < ${lit(RM)}; l = l + 1u)`, loadA);
  // B's tile, 16×BN: loaded along B's contiguous axis (n, or k when B is given transposed).
  const transB = node.attrs.transB ?? false;
  const loadB = loop.child();
  loadB.line(`let be = lid + l * ${L};`);
  loadB.line(transB ? `let bc = be / ${T};` : `let bk = be / ${lit(BN)};`);
  loadB.line(transB ? `let bk = be % ${T};` : `let bc = be % ${lit(BN)};`);
  loadB.line("let kb = kbase + bk;");
  loadB.line(`let cb = tn * ${lit(BN)} + bc;`);
  loadB.line("var vb = 0.0f;");
  const valueB = loadB.child();
  valueB.line(`vb = ${e.value(valueB, bNode.id, d.bIdx(batch, "kb", "cb"))};`);
  loadB.nest(`if (kb < ${K} && cb < ${N})`, valueB);
  loadB.line(`sb[bk * ${lit(BN)} + bc] = vb;`);
  loop.nest(`for (var l = 0u; l < ${lit(RN)}; l = l + 1u)`, loadB);
  loop.line("workgroupBarrier();");
  const mac = loop.child();
  for (let i = 0; i < RM; i++) mac.line(`let x${"abcd"[i]} = sa[(ty + ${lit(TILE * i)}) * ${T} + q];`);
  for (let j = 0; j < RN; j++) mac.line(`let y${"abcd"[j]} = sb[q * ${lit(BN)} + tx + ${lit(TILE * j)}];`);
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) mac.line(`acc[${i * RN + j}] = acc[${i * RN + j}] + x${"abcd"[i]} * y${"abcd"[j]};`);
  loop.nest(`for (var q = 0u; q < ${T}; q = q + 1u)`, mac);
  loop.line("workgroupBarrier();");
  body.nest(`for (var kbase = 0u; kbase < ${K}; kbase = kbase + ${T})`, loop);
  // One call site (a compiler inlines the epilogue once), looping over the thread's elements.
  const stores = body.child();
  stores.line(`let row = tm * ${lit(BM)} + ty + ${T} * (i / ${lit(RN)});`);
  stores.line(`let col = tn * ${lit(BN)} + tx + ${T} * (i % ${lit(RN)});`);
  stores.line(`if (row < ${M} && col < ${N}) { epilogue(bl, row, col, acc[i]); }`);
  body.nest(`for (var i = 0u; i < ${lit(RM * RN)}; i = i + 1u)`, stores);
  sh.array("sa", "f32", BM * TILE);
  sh.array("sb", "f32", TILE * BN);
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, [...sh.text(), epilogue(f, node.id, d, M, N, k.appends ?? [])], String(TILE * TILE), body.text()),
    binds,
    grid: [{ size: d.n, per: BN }, { size: d.m, per: BM }, { size: numelDim(d.batch), per: 1 }],
    workgroupBytes: sh.bytes,
    invocations: TILE * TILE,
    checks: emptyAxisChecks(ctx.g, k.nodes),
  };
}

/**
 * `fn epilogue(bl, row, col, acc)`: the kernel's outputs at one element, the matmul's value being
 * `acc`, every value computed before any store (an output may be written over an input). An
 * append's new positions are views of the element's value: it is stored where those views put it
 * (`appendStore`).
 */
function epilogue(f: Frame, anchor: number, d: MatmulDims, M: string, N: string, appends: readonly number[]): string {
  const e = f.emitter;
  const b = newBody();
  const batch = delinearize(e.sizes, "bl", d.batch).map((x) => e.bind(b, x));
  f.leaves.set(anchor, () => "acc");
  const off = e.bind(b, addU(mulU(addU(mulU("bl", M), "row"), N), "col"));
  const plain = f.writes.filter((id) => !appends.includes(id));
  const values = plain.map((id) => e.value(b, id, d.outIdx(batch, "row", "col")));
  const stores = appends.map((a) => appendStore(f, b, a, d.outIdx(batch, "row", "col")));
  plain.forEach((id, i) => b.line(`${f.out(id)}[${off}] = ${toStorage(f.node(id).dtype, values[i]!)};`));
  for (const st of stores) b.line(st);
  return `fn epilogue(bl: u32, row: u32, col: u32, acc: f32) {\n${b.text()}\n}`;
}

/**
 * The store of append `a`'s element that the kernel's value at `idx` is (a statement, guarded where
 * a slice leaves the element out): its new positions `x` are views of a node of the kernel (fuse.ts
 * step 5), followed from that node's index to x's — a slice subtracts its start, a permute
 * reorders, a reshape re-splits — then put after the positions the state holds, in its layout.
 */
function appendStore(f: Frame, b: Block, a: number, idx: readonly string[]): string {
  const e = f.emitter, t = e.sizes, g = f.ctx.g;
  const node = g.nodes[a]!;
  const chain: Node[] = [];
  let x = g.nodes[node.inputs[1]!]!;
  while (!f.k.nodes.includes(x.id) || f.k.absorbed.includes(x.id)) {
    if (!["reshape", "permute", "slice", "dropout"].includes(x.op)) throw new Error(`%${a}'s new positions are read through a ${x.op}`);
    chain.unshift(x);
    x = g.nodes[x.inputs[0]!]!;
  }
  const v = e.value(b, x.id, idx);
  let at = [...idx];
  const inside: string[] = [];
  for (const view of chain) {
    const from = g.nodes[view.inputs[0]!]!.shape, to = view.shape;
    if (view.op === "slice") {
      const ax = view.attrs.axis!, start = t.ref(view.attrs.start!);
      if (start !== "0u") inside.push(`${at[ax]} >= ${start}`);
      inside.push(`${at[ax]} < ${addU(start, t.ref(to[ax]!))}`);
      at[ax] = e.bind(b, start === "0u" ? at[ax]! : `(${at[ax]} - ${start})`);
    } else if (view.op === "permute") {
      const before = at;
      at = view.attrs.perm!.map((p) => before[p]!);
    } else if (view.op === "reshape") {
      // As the reshape's element rule (expr.ts), the other way: dims equal at the front and back keep their index.
      const same = (p: Dim, q: Dim) => showDim(p) === showDim(q);
      let p = 0;
      while (p < from.length && p < to.length && same(from[p]!, to[p]!)) p++;
      let q = 0;
      while (q < from.length - p && q < to.length - p && same(from[from.length - 1 - q]!, to[to.length - 1 - q]!)) q++;
      const flat = e.bind(b, linearize(t, at.slice(p, from.length - q), from.slice(p, from.length - q)));
      at = [...at.slice(0, p), ...delinearize(t, flat, to.slice(p, to.length - q)).map((i) => e.bind(b, i)), ...at.slice(from.length - q)];
    }
  }
  const state = g.nodes[node.inputs[0]!]!;
  const axis = node.attrs.axis!;
  const pos = at.map((i, k) => (k === axis ? addU(i, t.ref(state.shape[axis]!)) : i));
  const store = `${f.out(a)}[${linearize(t, pos, f.ctx.layouts.get(a)!)}] = ${toStorage(node.dtype, v)};`;
  return inside.length ? `if (${inside.map((c) => `(${c})`).join(" && ")}) { ${store} }` : store;
}

/**
 * The prologue's reductions for the tile's BM rows (clamped to the last row), in graph order:
 * each row reduced by 256 / BM threads, its result kept in a workgroup array indexed by the row's
 * place in the tile. They become leaves `stK[local]`: `local` is the row's place in the tile
 * where the leaf is read (`sr` while later statistics are computed; the caller sets it for A's loads).
 */
function rowStatistics(f: Frame, b: Block, sh: Shared, prologue: readonly number[], d: MatmulDims, batch: readonly string[], M: string, BM: number): { local: string } {
  const e = f.emitter;
  const lanes = (TILE * TILE) / BM;
  const at = { local: "sr" };
  b.line(`let sr = lid / ${lit(lanes)};`);
  b.line(`let rs = min(tm * ${lit(BM)} + sr, ${M} - 1u);`);
  prologue.forEach((id, i) => {
    const r = f.node(id);
    if (!isReduction(r)) return;
    const x = f.node(r.inputs[0]!);
    const res = rowReduction(e, b, sh, r.op as ReduceOp, x.dtype, e.ref(x.shape[x.shape.length - 1]!), (inner, j) => e.value(inner, x.id, d.aIdx(batch, "rs", j)), lanes);
    const t = accumulatorType(x.dtype);
    const st = sh.array(`st${i}`, r.op === "argmax" ? "i32" : t, BM);
    const keep = t === "u32" && r.op !== "argmax" ? `select(0u, 1u, ${res})` : res;
    b.line(`if (lid % ${lit(lanes)} == 0u) { ${st}[sr] = ${keep}; }`);
    b.line("workgroupBarrier();");
    f.leaves.set(id, () => (t === "u32" && r.op !== "argmax" ? `(${st}[${at.local}] != 0u)` : `${st}[${at.local}]`));
  });
  return at;
}

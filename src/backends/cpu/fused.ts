// Fused kernels on the CPU: a kernel of the schedule (src/schedule/kernel.ts) other than `op` is
// computed in tiles of rows. Its domain is its anchor's shape [...outer, rows, cols]; for each outer
// index and each block of rows, every node of the kernel is evaluated on that block alone, by the
// same primitive kernels the interpreter uses on whole tensors. So nothing in a fused kernel is
// materialised beyond a block: not the LayerNorm before a projection, not the activation after it,
// not attention's score matrix ([..., sq, sk] becomes [block, sk] at a time).
//
// This is exact by construction: every node of a fused kernel computes each row of its result
// from the same row of its operands (elementwise ops, reductions over the last axis, the rows of a
// matmul's left operand), so a block of rows is computed from the same blocks of its operands, in
// the same order, as in the whole. (A matmul of a block of fewer than 4 rows may round its last bit
// differently: the kernel sums in another order there; both orders accumulate in double. Blocks are
// cut so that none has fewer than 4 rows unless the whole has.)
//
// Operands from outside the kernel are read as views: they broadcast against the domain (aligned at
// the last dim), so at a fixed outer index and row block the part of an operand a block needs is one
// contiguous run of its data — a `subarray`, not a copy. The right operand of a matmul is read whole
// at the outer index (all its rows); views and index-only nodes the kernel absorbed (attention's
// split heads, a causal mask) are computed whole once per call, a view chain by one strided copy
// of the value it views (`absorbedReader`).
import type { Graph, Node } from "../../ir/graph.js";
import { ops, type BinaryOp, type ReduceOp, type UnaryOp } from "../../ir/ops.js";
import type { Kernel } from "../../schedule/kernel.js";
import { broadcastShapes, type Kernels } from "./kernels/index.js";
import { arrayFor, numel, runtimeDType, sameShape, type Tensor, type TensorData } from "../../core/tensor.js";
import type { CacheView } from "./cache.js";
import { compileRows, scratch, slotTensor, type RowProgram } from "./rowcode.js";
import { writeStridedAt, type Strided } from "./strided.js";
import { narrowing, visibleKeys, type Narrowing } from "./narrow.js";

/**
 * Elements of the widest value per block: an attention kernel's block of scores stays in cache
 * (64 query rows of 1024 keys); other kernels take larger blocks, so that a matmul's weights
 * stream past many rows at a time (in blocks of 16 rows, GPT-2's projections run 8% slower).
 */
export const BLOCK_ELEMENTS = { attention: 1 << 16, other: 1 << 18 };
export const MIN_BLOCK = 16;
/**
 * The fewest rows of a block of an attention kernel that computes each block on its visible keys
 * only (narrow.ts). Smaller blocks skip more of a causal mask's hidden half (blocks of b rows of n
 * compute about (n + b)/2n of the scores) but pay per block (each packs its keys and values for
 * the GEMM): blocks are an eighth of the rows, from 32 on — and, over threads, of at least
 * THREADED_SCORES scores, below which a block's products and phases run on one thread (gemm.ts
 * THREAD_MIN_MACS at 64-wide heads). GPT-2 small's prefill attention, in-process A/B medians: 1
 * thread, 128 tokens 53.8 → 51.9 ms (blocks of 32); 512 tokens 763 → 495 ms (blocks of 64), 2
 * threads 498 → 361 ms.
 */
export const NARROW_BLOCK = 32;
export const THREADED_SCORES = 1 << 14;

export interface FusedContext {
  readonly graph: Graph;
  readonly kernels: Kernels;
  /** A value computed outside the kernel (input, load-time, another kernel's output, alias). */
  readonly get: (id: number) => Tensor;
  /** The concrete shape of a node. */
  readonly shape: (n: Node) => number[];
  /** Evaluates one node on whole tensors (for absorbed views and index-only nodes). */
  readonly evaluate: (n: Node, get: (id: number) => Tensor) => Tensor;
  /** A matmul's right operand laid out [n, k] at load time, if it has one. */
  readonly transposed: (matmul: number) => Tensor | undefined;
  /** A buffer for an output of the kernel. */
  readonly allocate: (n: Node) => Tensor;
  /**
   * A value held as a view of a larger buffer (a state's value in a resident run, cache.ts) that
   * blocks can read in place: its last axis is whole. `get` gives such a value materialised.
   */
  readonly strided?: (id: number) => CacheView | undefined;
  /**
   * A view kernel `k` absorbed (a chain of slice, reshape and permute: attention's split heads) as
   * strides over the value outside the kernel it views, where it is one (strided.ts); undefined:
   * it is evaluated on its inputs.
   */
  readonly stridesOf?: (k: Kernel, id: number) => Strided | undefined;
  /** Values absorbed by several kernels, computed once a call (`SharedAbsorbed`). */
  readonly shared?: SharedAbsorbed;
  /**
   * A kernel of which only the last position of each sequence is read (a generation's prefill
   * reads only the last logits): its domain is [batch, seq, cols], and it computes its last 4 rows
   * of each sequence (fewer than 4 only where seq is: a block of 4 rows sums as the whole does),
   * leaving the rest of its output unwritten.
   */
  readonly lastRowsOnly?: Kernel;
}

/**
 * Runs a fused kernel; returns its outputs. Returns undefined when its domain has fewer than two
 * dims (nothing to tile): the caller evaluates its nodes one by one instead.
 */
export function runFused(k: Kernel, ctx: FusedContext): Map<number, Tensor> | undefined {
  const g = ctx.graph;
  const node = (id: number) => g.nodes[id]!;
  const { absorbed, own, lastRead, vectors } = partsOf(k, g);
  const dom = ctx.shape(node(k.anchor ?? own.at(-1)!.id));
  const r = dom.length;
  // Nothing to tile below two dims, nor in a matmul of a 1-D operand (numpy's vector products).
  if (r < 2 || vectors) return undefined;

  // Absorbed nodes the kernel's own nodes read, whole, once.
  const outside = absorbedReader(k, g, ctx.get, (id) => ctx.stridesOf?.(k, id), ctx.evaluate, ctx.shared);
  for (const n of own) for (const i of n.inputs) if (absorbed.has(i)) outside(i);

  const outputs = new Map(k.outputs.map((id) => [id, ctx.allocate(node(id))]));

  const outer = dom.slice(0, r - 2);
  const rows = dom[r - 2]!;
  const widest = Math.max(1, ...own.map((n) => ctx.shape(n).at(-1) ?? 1));
  // A matmul kernel takes all rows of an outer index at once: its weights then pass through the
  // GEMM (and into WebAssembly memory) once, not once per block (GPT-2's LM head: 154 MB each).
  // Not where a product reads the keys from a weight laid out at load ([n, k]: its rows are not the keys).
  let narrow = narrowOn ? narrowing(k, g, own) : undefined;
  if (narrow && [...narrow.matmuls.keys()].some((id) => ctx.transposed(id))) narrow = undefined;
  const block = blockRows(k, rows, widest, !!narrow, (ctx.kernels.threads ?? 1) > 1);
  const at = new Array<number>(outer.length).fill(0);
  const outerCount = numel(outer);
  const K = ctx.kernels;

  // The kernel compiled to JavaScript (rowcode.ts), decided at the first block; undefined: node by node.
  let compiled: Compiled | undefined | null = null;

  const source = (id: number) => (!absorbed.has(id) && ctx.strided?.(id)) || outside(id);
  // Attention of fewer than 4 query rows (a decode step's) runs phase by phase over every head at
  // once where its operands allow (`runAcross`), not head by head: all outer indices in one run,
  // else (a batch whose sequences have padding masks of their own) one sequence's heads at a time.
  if (across && k.kind === "attention" && outerCount > 1 && rows < 4) {
    compiled = prepare(k, ctx, own, rows, rows, rows, (id) => bufferOf(source(id)), outputs);
    const partAt = (o: number, id: number, sliceRows: boolean) => view(source(id), r, outerIndex(o, outer, at), sliceRows ? [0, rows] : undefined);
    for (const split of compiled ? new Set([0, outer.length - 1]) : []) {
      const inner = outer.slice(split), count = numel(inner);
      let ok = count > 1;
      for (let o0 = 0; ok && o0 < outerCount; o0 += count) ok = runAcross(compiled!, ctx, inner, o0, rows, partAt, outputs);
      if (ok) {
        acrossRuns++;
        return outputs;
      }
    }
  }

  const first = ctx.lastRowsOnly === k && r === 3 ? Math.max(0, rows - 4) : 0;
  if (first > 0) lastRowRuns++;
  for (let o = 0; o < outerCount; o++) {
    outerIndex(o, outer, at);
    for (let i0 = first, i1 = 0; i0 < rows; i0 = i1) {
      // No last block of fewer than 4 rows: the matmul kernel sums those in another order.
      i1 = rows - (i0 + block) < 4 ? rows : i0 + block;
      const local = new Map<number, Tensor>();
      const part = (id: number, sliceRows: boolean): Tensor => local.get(id) ?? view(source(id), r, at, sliceRows ? [i0, i1] : undefined);
      if (compiled === null) compiled = prepare(k, ctx, own, rows, i1 - i0, Math.min(rows, block + 3), (id) => bufferOf(source(id)), outputs);
      if (compiled) {
        const cut = narrow && keysOf(narrow, compiled, part(narrow.mask, true));
        if (cut) narrowed++;
        runCompiled(compiled, ctx, i1 - i0, part, (id) => blockOf(outputs.get(id)!, o, rows, i0, i1), cut);
        continue;
      }
      for (const [step, n] of own.entries()) {
        const full = outputs.get(n.id);
        const want = full && blockOf(full, o, rows, i0, i1);
        let v: Tensor;
        const cls = ops[n.op].class;
        if (cls === "reduce") v = K.reduce(n.op as ReduceOp, part(n.inputs[0]!, true), -1, true, want);
        else if (n.op === "matmul") {
          const a = part(n.inputs[0]!, true);
          const bT = n.attrs.transB ? part(n.inputs[1]!, false) : ctx.transposed(n.id);
          v = bT ? K.matmulTransB(a, bT, want) : K.matmul(a, part(n.inputs[1]!, false), want);
        } else {
          const xs = n.inputs.map((i) => part(i, true));
          const dtype = runtimeDType[n.dtype];
          const shape = broadcastShapes(n.op, ...xs.map((x) => x.shape));
          const into = want && sameShape(shape, want.shape) ? want : undefined;
          if (cls === "unary") v = n.op === "cast" ? K.cast(xs[0]!, dtype, into) : K.unary(n.op as UnaryOp, xs[0]!, into);
          else if (cls === "binary") v = K.binary(n.op as BinaryOp, xs[0]!, xs[1]!, into);
          else if (cls === "where") v = K.where(xs[0]!, xs[1]!, xs[2]!, into);
          else throw new Error(`fused kernel: ${n.op} cannot be computed by rows`);
          if (want && !into) v = K.expand(v, want.shape, want);
        }
        local.set(n.id, v);
        for (const i of n.inputs) if (lastRead.get(i) === step) local.delete(i);
      }
    }
  }
  if (compiled) forget(compiled);
  return outputs;
}

/** What runFused reads of a kernel at every call, found at its first. */
interface Parts {
  readonly absorbed: ReadonlySet<number>;
  /** Its nodes but those it absorbed, in order. */
  readonly own: readonly Node[];
  /** Where each value is last read among `own` (a block's values are dropped after it; outputs live in their buffers). */
  readonly lastRead: ReadonlyMap<number, number>;
  /** A matmul of a 1-D operand (numpy's vector products): nothing to tile. */
  readonly vectors: boolean;
}

const partsByKernel = new WeakMap<Kernel, Parts>();

function partsOf(k: Kernel, g: Graph): Parts {
  let p = partsByKernel.get(k);
  if (p) return p;
  const absorbed = new Set(k.absorbed);
  const own = k.nodes.filter((id) => !absorbed.has(id)).map((id) => g.nodes[id]!);
  const lastRead = new Map<number, number>();
  own.forEach((n, at) => n.inputs.forEach((i) => lastRead.set(i, at)));
  const vectors = own.some((n) => n.op === "matmul" && n.inputs.some((i) => g.nodes[i]!.shape.length < 2));
  partsByKernel.set(k, (p = { absorbed, own, lastRead, vectors }));
  return p;
}

/** A compiled kernel at this call: its program, and the slots' widths and scratch (kept values that are not outputs). */
interface Compiled {
  readonly program: RowProgram;
  readonly W: Int32Array;
  readonly RS: Int32Array;
  readonly D: TensorData[];
  readonly outputs: ReadonlySet<number>;
  /** Outputs computed into scratch and copied to their buffer after each block (in place of an input). */
  readonly staged: ReadonlySet<number>;
  readonly keptIds: ReadonlySet<number>;
}

/** Programs by kernel and pattern of one-column values (decode steps share one as the keys grow). */
const programs = new WeakMap<Kernel, Map<string, RowProgram | undefined>>();

/**
 * The last call's preparation of each kernel, by its widths and block sizes: a decode step's
 * kernels have the same widths at every step but attention's (whose keys grow, `widen`), and take
 * their slots and scratch from here instead of making them again.
 */
const prepared = new WeakMap<Kernel, { rows: number; maxBlock: number; widths: readonly number[]; staged: readonly number[]; compiled: Compiled | undefined }>();

/** The operands of a kernel's own nodes that come from outside it (not a matmul's right operand: read whole). */
const externalsOf = new WeakMap<Kernel, readonly { id: number; matmul: boolean }[]>();

function externals(k: Kernel, own: readonly Node[]): readonly { id: number; matmul: boolean }[] {
  let xs = externalsOf.get(k);
  if (xs) return xs;
  const mine = new Set(own.map((n) => n.id));
  const seen = new Map<number, { id: number; matmul: boolean }>();
  for (const n of own) {
    n.inputs.forEach((i, at) => {
      if (mine.has(i) || (n.op === "matmul" && at === 1)) return;
      const x = seen.get(i) ?? { id: i, matmul: false };
      seen.set(i, n.op === "matmul" && at === 0 ? { id: i, matmul: true } : x);
    });
  }
  externalsOf.set(k, (xs = [...seen.values()]));
  return xs;
}

/**
 * The kernel compiled for this call, or undefined where it is evaluated node by node: an own
 * value that is not a block of the domain's rows, an empty dim, a matmul whose left operand has
 * fewer rows than the block, or what compileRows does not compile. Everything here follows from
 * the shapes at this call (an operand's block is a view of it: its rows cut to the block's where it
 * has more than one); `bufferOf` gives an operand's buffer, for outputs planned in place of one.
 */
function prepare(k: Kernel, ctx: FusedContext, own: readonly Node[], rows: number, firstBlock: number, maxBlock: number, bufferOf: (id: number) => ArrayBufferLike, buffers: ReadonlyMap<number, Tensor>): Compiled | undefined {
  const g = ctx.graph;
  const ext = externals(k, own);
  // Each value's width: the own nodes', then the externals'.
  const widths = new Array<number>(own.length + ext.length);
  own.forEach((n, i) => {
    const s = ctx.shape(n);
    widths[i] = s.length < 2 || s[s.length - 2] !== rows ? 0 : s.at(-1)!;
  });
  if (widths.includes(0)) return undefined;
  for (const [j, { id, matmul }] of ext.entries()) {
    const s = ctx.shape(g.nodes[id]!);
    if (s.some((d) => d === 0)) return undefined;
    // A matmul's left operand must have the block's rows: a view of one row (broadcast) has one.
    if (matmul && (s.length < 2 || (s.at(-2) === 1 && firstBlock !== 1))) return undefined;
    widths[own.length + j] = s.at(-1) ?? 1;
  }
  // An output the memory plan put in place of an input's buffer is computed into scratch and copied
  // out after the block: a value inlined later in the row may still read that input (node by node,
  // every reader of it runs before the output is written).
  const staged = k.outputs.filter((id) => {
    const b = buffers.get(id)!.data.buffer;
    return ext.some((x) => bufferOf(x.id) === b);
  });
  const last = prepared.get(k);
  if (last && last.rows === rows && last.maxBlock === maxBlock && same(last.widths, widths) && same(last.staged, staged)) return last.compiled;
  const width = new Map<number, number>([...own.map((n, i) => [n.id, widths[i]!] as const), ...ext.map((x, j) => [x.id, widths[own.length + j]!] as const)]);
  for (const n of own) {
    // Widths that do not broadcast to the node's (a model whose declared shapes do not hold at
    // these dims): the primitive kernels report it.
    const w = width.get(n.id)!;
    if (ops[n.op].class === "reduce" ? w !== 1 : n.op !== "matmul" && n.inputs.some((i) => width.get(i) !== 1 && width.get(i) !== w)) return undefined;
  }
  const at = { rows, maxBlock, widths, staged };
  // The same program, block and staging at other widths (a decode step's attention: one key more
  // each step): the last preparation, its widths set and its scratch grown where it is too small.
  if (last?.compiled && last.maxBlock === maxBlock && same(last.staged, staged) && same(last.widths.map(wide), widths.map(wide))) {
    widen(last.compiled, width, maxBlock);
    prepared.set(k, { ...at, compiled: last.compiled });
    return last.compiled;
  }
  const compiled = compile(k, ctx, own, width, maxBlock, new Set(staged));
  prepared.set(k, { ...at, compiled });
  return compiled;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const wide = (w: number) => (w > 1 ? 1 : 0);

/** A preparation set to new widths (same program and staging): a scratch slot too small for a block at them grows, by whole 64 columns. */
function widen(c: Compiled, width: ReadonlyMap<number, number>, maxBlock: number): void {
  const { program: p, W, RS, D } = c;
  for (const [id, s] of p.slot) W[s] = width.get(id) ?? 0;
  for (const n of p.kept) {
    const s = p.slot.get(n.id)!;
    RS[s] = W[s]!;
    if ((!c.outputs.has(n.id) || c.staged.has(n.id)) && D[s]!.length < maxBlock * W[s]!) D[s] = scratch(n, maxBlock, Math.ceil(W[s]! / 64) * 64);
  }
}

/** The kernel's program at these widths (compiled once per pattern of one-column values), its slots and scratch. */
function compile(k: Kernel, ctx: FusedContext, own: readonly Node[], width: ReadonlyMap<number, number>, maxBlock: number, staged: ReadonlySet<number>): Compiled | undefined {
  const pattern = [...width.values()].map((w) => (w > 1 ? 1 : 0)).join("");
  let byKey = programs.get(k);
  if (!byKey) programs.set(k, (byKey = new Map()));
  if (!byKey.has(pattern)) byKey.set(pattern, compileRows(k, ctx.graph, own, (id) => width.get(id)! > 1));
  const program = byKey.get(pattern);
  if (!program) return undefined;
  const size = program.slot.size;
  const W = new Int32Array(size), RS = new Int32Array(size);
  const D = new Array<TensorData>(size);
  const outputs = new Set(k.outputs);
  for (const [id, s] of program.slot) W[s] = width.get(id) ?? 0;
  for (const n of program.kept) {
    const s = program.slot.get(n.id)!;
    RS[s] = W[s]!;
    if (!outputs.has(n.id) || staged.has(n.id)) D[s] = scratch(n, maxBlock, W[s]!);
  }
  return { program, W, RS, D, outputs, staged, keptIds: new Set(program.kept.map((n) => n.id)) };
}

/**
 * Drops a kept preparation's references to this call's operands and outputs (its scratch stays):
 * they are the caller's and the memory plan's buffers, not to be held until the kernel's next call.
 */
function forget(c: Compiled): void {
  const p = c.program;
  for (const id of p.external) c.D[p.slot.get(id)!] = EMPTY;
  for (const n of p.kept) if (c.outputs.has(n.id) && !c.staged.has(n.id)) c.D[p.slot.get(n.id)!] = EMPTY;
}

const EMPTY = new Float32Array(0);

/** A block cut to its visible keys (narrow.ts): how, and how many keys. */
interface Cut {
  readonly narrow: Narrowing;
  readonly keys: number;
}

/** The block's cut, given its rows of the mask; undefined where it sees every key. */
function keysOf(narrow: Narrowing, c: Compiled, mask: Tensor): Cut | undefined {
  const width = c.W[c.program.slot.get(narrow.mask)!]!;
  const rows = mask.shape.length >= 2 ? mask.shape.at(-2)! : 1;
  const keys = visibleKeys(mask.data as Uint8Array, rows, width);
  return keys < width ? { narrow, keys } : undefined;
}

/** The first `rows` rows of a matrix (its leading dims whole), as a view. */
function firstRows(t: Tensor, rows: number): Tensor {
  const cols = t.shape.at(-1)!;
  return { dtype: t.dtype, shape: [rows, cols], data: t.data.subarray(0, rows * cols) } as Tensor;
}

/**
 * One block of `R` rows through a compiled kernel: phase, matmul, phase, ... With `cut`, on the
 * block's visible keys only: every value whose last dim is the keys `cut.keys` wide (those read
 * from outside keep their row stride), the products on that many rows of their keys' operand.
 */
function runCompiled(c: Compiled, ctx: FusedContext, R: number, part: (id: number, sliceRows: boolean) => Tensor, want: (id: number) => Tensor, cut?: Cut): void {
  const { program: p, D } = c;
  let { W, RS } = c;
  if (cut) {
    W = W.slice();
    RS = RS.slice();
    for (const id of cut.narrow.wide) {
      const s = p.slot.get(id);
      if (s === undefined) continue;
      W[s] = cut.keys;
      if (c.keptIds.has(id)) RS[s] = cut.keys;
    }
  }
  for (const id of p.external) {
    const s = p.slot.get(id)!;
    const t = part(id, true);
    D[s] = t.data;
    RS[s] = t.shape.length >= 2 && t.shape.at(-2)! > 1 ? t.shape.at(-1)! : 0;
  }
  for (const n of p.kept) if (c.outputs.has(n.id) && !c.staged.has(n.id)) D[p.slot.get(n.id)!] = want(n.id).data;
  const K = ctx.kernels;
  for (const { run, matmul: m } of p.phases) {
    run(D, RS, W, R, K.threads);
    if (!m) continue;
    const [ai, bi] = [m.inputs[0]!, m.inputs[1]!];
    const sa = p.slot.get(ai)!;
    const a = c.keptIds.has(ai) ? slotTensor("f32", D[sa]!, R, W[sa]!) : part(ai, true);
    const sm = p.slot.get(m.id)!;
    const out = slotTensor("f32", D[sm]!, R, W[sm]!);
    const keyed = cut?.narrow.matmuls.has(m.id);
    const bT = m.attrs["transB"] ? part(bi, false) : ctx.transposed(m.id);
    if (bT) K.matmulTransB(a, keyed ? firstRows(bT, cut!.keys) : bT, out);
    else K.matmul(a, keyed ? firstRows(part(bi, false), cut!.keys) : part(bi, false), out);
  }
  for (const id of c.staged) {
    const s = p.slot.get(id)!;
    want(id).data.set(D[s]!.subarray(0, R * W[s]!));
  }
}

let across = true;
let acrossRuns = 0;
let narrowed = 0;
let lastRowRuns = 0;

/** How many kernels have computed only their last rows (`FusedContext.lastRowsOnly`) in this process (for tests). */
export const lastRowsRuns = () => lastRowRuns;
let narrowOn = true;

/** Turns narrowed attention (narrow.ts) off (every block on all keys) or back on; for tests and benchmarks. */
export function setNarrowing(on: boolean): void {
  narrowOn = on;
}

/** How many blocks of attention have run on their visible keys only (narrow.ts) in this process (for tests). */
export const narrowedBlocks = () => narrowed;

/** How many attention kernels have run across their heads (`runAcross`) in this process (for tests). */
export const attentionAcrossRuns = () => acrossRuns;

/** Turns `runAcross` off (attention head by head, as for more rows) or back on; for tests and benchmarks. */
export function setRunAcross(on: boolean): void {
  across = on;
}

/** Sets `at` to outer index o of the dims `outer` (row-major); returns it. */
function outerIndex(o: number, outer: readonly number[], at: number[]): number[] {
  for (let j = outer.length - 1, rest = o; j >= 0; j--) {
    at[j] = rest % outer[j]!;
    rest = Math.floor(rest / outer[j]!);
  }
  return at;
}

/**
 * A compiled kernel of R rows at each of O outer indices (o0 .. o0 + O − 1: all indices of the
 * trailing outer dims `outer` at one value of the others) run phase by phase over all O · R rows at
 * once: each phase one call over every outer index's rows, each matmul one `smallProducts` call
 * for every outer index (each outer index's product alone where it declines). Outer indices are
 * independent and each row is computed by the same instructions, so the bits are those of the
 * block-by-block run. Possible where every operand a phase reads is, across outer indices, one run
 * of rows at a uniform stride (a decode step's query rows, the mask broadcast over heads) or the
 * same rows for every outer index (a step of 2–3 tokens: its mask's rows, copied once per head),
 * and no output is staged; false, having run nothing, elsewhere.
 */
function runAcross(c: Compiled, ctx: FusedContext, outer: readonly number[], o0: number, R: number, partOf: (o: number, id: number, sliceRows: boolean) => Tensor, outputs: ReadonlyMap<number, Tensor>): boolean {
  const { program: p, W } = c;
  if (c.staged.size) return false;
  const O = numel(outer);
  const partAt = (o: number, id: number, sliceRows: boolean) => partOf(o0 + o, id, sliceRows);
  const n = p.slot.size;
  const D = new Array<TensorData>(n), RS = new Int32Array(n);
  // A matmul reads an external left operand as O blocks of R contiguous rows, A_o at o · R · RS.
  const leftOperands = new Set(p.phases.flatMap((ph) => (ph.matmul ? [ph.matmul.inputs[0]!] : [])));
  for (const id of p.external) {
    const s = p.slot.get(id)!;
    const first = partAt(0, id, true);
    const rowStride = first.shape.length >= 2 && first.shape.at(-2)! > 1 ? W[s]! : 0;
    const stride = uniformStride(outer, (o) => partAt(o, id, true).data);
    if (stride === undefined) return false;
    if (R > 1 && stride === 0 && rowStride > 0) {
      // Several rows shared by every outer index (a step's causal mask, broadcast over the heads):
      // repeated once per outer index, so that row o · R + i is at (o · R + i) · rowStride.
      RS[s] = rowStride;
      D[s] = repeated(first.data, R * rowStride, O);
      continue;
    }
    // Row o · R + i at o · d + i · rowStride: one stride when d = R · rowStride (any d for one row).
    const rs = R === 1 ? stride : stride === R * rowStride ? rowStride : -1;
    if (rs < 0 || (leftOperands.has(id) && R > 1 && rs !== W[s])) return false;
    RS[s] = rs;
    D[s] = extend(first.data, (O * R - 1) * rs + W[s]!);
  }
  for (const node of p.kept) {
    const s = p.slot.get(node.id)!;
    RS[s] = W[s]!;
    D[s] = c.outputs.has(node.id) ? outputs.get(node.id)!.data.subarray(o0 * R * W[s]!, (o0 + O) * R * W[s]!) : scratch(node, O * R, W[s]!);
  }
  const K = ctx.kernels;
  for (const { run, matmul: m } of p.phases) {
    run(D, RS, W, O * R, K.threads);
    if (!m) continue;
    const [ai, bi] = [m.inputs[0]!, m.inputs[1]!];
    const sa = p.slot.get(ai)!, sm = p.slot.get(m.id)!;
    const kIn = W[sa]!, nOut = W[sm]!;
    const aStride = R * RS[sa]!, cStride = R * nOut;
    const transB = !!m.attrs["transB"];
    const weight = transB ? undefined : ctx.transposed(m.id);
    const a = D[sa] as Float32Array, cOut = D[sm] as Float32Array;
    const bStride = weight ? undefined : uniformStride(outer, (o) => partAt(o, bi, false).data);
    if (bStride !== undefined && K.smallProducts?.({ transB, count: O, m: R, n: nOut, k: kIn, a, aOff: 0, aStride, b: partAt(0, bi, false).data as Float32Array, bOff: 0, bStride, c: cOut, cOff: 0, cStride })) continue;
    for (let o = 0; o < O; o++) {
      const ao = c.keptIds.has(ai) ? slotTensor("f32", a.subarray(o * aStride), R, kIn) : partAt(o, ai, true);
      const out = slotTensor("f32", cOut.subarray(o * cStride), R, nOut);
      if (weight) K.matmulTransB(ao, weight, out);
      else if (transB) K.matmulTransB(ao, partAt(o, bi, false), out);
      else K.matmul(ao, partAt(o, bi, false), out);
    }
  }
  return true;
}

/**
 * The stride d (in elements, ≥ 0) at which data(o) starts at o · d from data(0) in one buffer, for
 * every index o over the dims `outer`; undefined where there is none. A view's offset is linear in
 * the digits of o (`view`), so a unit step of each digit, moving by its place value × d, proves it.
 */
function uniformStride(outer: readonly number[], data: (o: number) => TensorData): number | undefined {
  const first = data(0);
  const bytes = first.BYTES_PER_ELEMENT;
  let d: number | undefined;
  for (let j = outer.length - 1, place = 1; j >= 0; place *= outer[j]!, j--) {
    if (outer[j] === 1) continue;
    const x = data(place);
    const delta = x.byteOffset - first.byteOffset;
    if (x.buffer !== first.buffer || delta < 0 || delta % (bytes * place) !== 0) return undefined;
    const step = delta / (bytes * place);
    if (d === undefined) d = step;
    else if (step !== d) return undefined;
  }
  return d ?? 0;
}

/** The first `n` elements of x, `times` times over, in a new array. */
function repeated(x: TensorData, n: number, times: number): TensorData {
  const out = new (x.constructor as new (length: number) => TensorData)(n * times);
  const part = x.subarray(0, n);
  for (let t = 0; t < times; t++) out.set(part as never, t * n);
  return out;
}

/** `length` elements of x's buffer from where x starts (x is a view into a larger array holding them). */
function extend(x: TensorData, length: number): TensorData {
  const Ctor = x.constructor as new (b: ArrayBufferLike, offset: number, length: number) => TensorData;
  return new Ctor(x.buffer, x.byteOffset, length);
}

/**
 * The rows of a block of kernel `k` over `rows` rows whose widest value has `widest` columns (the
 * last block may have up to 3 more); `narrowed`: an attention kernel computing each block on its
 * visible keys (narrow.ts), `threaded` on more than one thread (the larger blocks: an upper bound).
 */
export function blockRows(k: Kernel, rows: number, widest: number, narrowed = false, threaded = false): number {
  if (k.kind === "matmul") return rows;
  const most = Math.max(MIN_BLOCK, Math.floor((k.kind === "attention" ? BLOCK_ELEMENTS.attention : BLOCK_ELEMENTS.other) / widest));
  return narrowed ? Math.min(most, Math.max(NARROW_BLOCK, rows >> 3, threaded ? Math.ceil(THREADED_SCORES / widest) : 0)) : most;
}

/**
 * The part of `x` one block needs, as a view: x broadcasts against a domain of rank `r` (aligned at
 * the last dim); its outer dims are fixed at `at` (index 0 where x has size 1), its row dim is cut
 * to `rows` (when given and x has one of more than 1), its last dim is whole. A `CacheView` is read
 * by the strides of its buffer (larger along one axis that is not the last, so the part is still
 * one contiguous run).
 */
function view(x: Tensor | CacheView, r: number, at: readonly number[], rows: [number, number] | undefined): Tensor {
  const [layout, data] = "base" in x ? [x.base.shape, x.base.data] : [x.shape, x.data];
  const xr = x.shape.length;
  if (xr === 0) return x as Tensor;
  const lead = r - xr; // domain dims x lacks
  let offset = 0;
  let stride = numel(layout);
  const shape: number[] = [];
  for (let d = 0; d < xr; d++) {
    const size = x.shape[d]!;
    stride /= layout[d]!;
    const dd = d + lead; // the domain dim this is
    if (dd < r - 2) offset += (size === 1 ? 0 : at[dd]!) * stride;
    else if (dd === r - 2) {
      if (rows && size !== 1) {
        offset += rows[0] * stride;
        shape.push(rows[1] - rows[0]);
      } else shape.push(size);
    } else shape.push(size);
  }
  const dtype = "base" in x ? x.base.dtype : x.dtype;
  return { dtype, shape, data: data.subarray(offset, offset + numel(shape)) } as Tensor;
}

/**
 * How a kernel reads values: those it absorbed computed on first read and kept — a view chain
 * copied straight from the value it views, one copy and no slice of it first (`stridesOf`,
 * strided.ts), anything else evaluated on its inputs — and every other value by `get`.
 */
export function absorbedReader(k: Kernel, g: Graph, get: (id: number) => Tensor, stridesOf: (id: number) => Strided | undefined, evaluate: (n: Node, get: (id: number) => Tensor) => Tensor, shared?: SharedAbsorbed): (id: number) => Tensor {
  if (!k.absorbed.length) return get;
  const absorbed = new Set(k.absorbed);
  const whole = new Map<number, Tensor>();
  const read = (id: number): Tensor => {
    const known = whole.get(id) ?? (shared?.ids.has(id) ? shared.values.get(id) : undefined);
    if (known || !absorbed.has(id)) return known ?? get(id);
    const n = g.nodes[id]!;
    const s = n.shape.length ? stridesOf(id) : undefined;
    const t = s ? gathered(n, s) : evaluate(n, read);
    whole.set(id, t);
    if (shared?.ids.has(id)) shared.values.set(id, t);
    return t;
  };
  return read;
}

/**
 * The values several kernels absorb (`ids`: the causal mask every layer's attention computes from
 * the positions), computed by the first of them in a call and kept for the rest of it (`values`):
 * a value is the same wherever it is read. transients.ts counts them as held through the call.
 */
export interface SharedAbsorbed {
  readonly ids: ReadonlySet<number>;
  readonly values: Map<number, Tensor>;
}

/** A strided view as a contiguous tensor of its node's dtype. */
function gathered(n: Node, s: Strided): Tensor {
  const t = { dtype: runtimeDType[n.dtype], shape: [...s.shape], data: arrayFor(runtimeDType[n.dtype], numel(s.shape)) } as Tensor;
  writeStridedAt(t, 0, 0, s);
  return t;
}

/** The buffer a value (or a state's view) is read from. */
const bufferOf = (x: Tensor | CacheView): ArrayBufferLike => ("base" in x ? x.base.data.buffer : x.data.buffer);

/** Rows [i0, i1) of outer index o of a whole output [...outer, rows, cols], as a view. */
function blockOf(full: Tensor, o: number, rows: number, i0: number, i1: number): Tensor {
  const cols = full.shape.at(-1)!;
  const start = (o * rows + i0) * cols;
  return { dtype: full.dtype, shape: [i1 - i0, cols], data: full.data.subarray(start, start + (i1 - i0) * cols) } as Tensor;
}

// "rows" kernels (LayerNorm, softmax, residual + LayerNorm): one workgroup per row of the domain
// [...outer, n]. Each last-axis reduction of the body, in graph order, is a workgroup reduction
// (its threads stride over the row, then combine in workgroup memory) whose result every thread
// then holds; the body's other nodes are element expressions over the row, recomputed where they
// are read. Outputs of the domain's shape are stored by threads striding over the row, outputs
// of the row-scalar shape [...outer, 1] by thread 0.
import { constDim, showShape, type Dim } from "../../../core/dim.js";
import type { ReduceOp } from "../../../ir/ops.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { Block } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { emptyAxisChecks, isReduction, rowReduction, Shared } from "./reduce.js";
import { delinearize, lit, numelDim } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";


/**
 * Emits the reductions of a rows body for the row whose outer index is `outer`: each becomes a
 * leaf of the frame holding its result. `group` threads reduce the row (see rowReduction).
 */
export function reduceRow(f: Frame, b: Block, sh: Shared, body: readonly number[], outer: readonly string[], group = THREADS): void {
  const e = f.emitter;
  for (const id of body) {
    const r = f.node(id);
    if (!isReduction(r)) continue;
    const x = f.node(r.inputs[0]!);
    const n = x.shape[x.shape.length - 1]!;
    const res = rowReduction(e, b, sh, r.op as ReduceOp, x.dtype, e.ref(n), (inner, j) => e.value(inner, x.id, [...outer, j]), group);
    f.leaves.set(id, () => res);
  }
}

export function rowsKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const f = new Frame(ctx, k);
  const e = f.emitter;
  const first = k.nodes.map((id) => f.node(id)).find(isReduction);
  if (!first) throw new Error(`webgpu codegen: rows kernel k${k.id} has no reduction`);
  const dom: readonly Dim[] = f.node(first.inputs[0]!).shape;
  const outerShape = dom.slice(0, -1);
  const n = dom[dom.length - 1]!;
  const rows = numelDim(outerShape);
  const b = newBody();
  const sh = new Shared();
  b.line(`if (wg >= ${ctx.sizes.ref(rows)}) { return; }`);
  const outer = delinearize(ctx.sizes, "wg", outerShape).map((s) => e.bind(b, s));
  reduceRow(f, b, sh, k.nodes, outer);
  // Outputs of the row's shape: one pass over the row, every value of an element before any store
  // (an output may be written over an input: the memory plan's in place). Row scalars: thread 0.
  const full = showShape(dom), scalar = showShape([...outerShape, constDim(1)]);
  const wide = k.outputs.filter((o) => showShape(f.node(o).shape) === full);
  const narrow = k.outputs.filter((o) => showShape(f.node(o).shape) === scalar && !wide.includes(o));
  const stray = k.outputs.find((o) => !wide.includes(o) && !narrow.includes(o));
  if (stray !== undefined) throw new Error(`webgpu codegen: rows kernel k${k.id} writes %${stray} of a shape outside its rows`);
  const store = (blk: Block, outs: readonly number[], j: string, off: string) => {
    const values = outs.map((o) => e.value(blk, o, [...outer, j]));
    outs.forEach((o, i) => blk.line(`${f.out(o)}[${off}] = ${toStorage(f.node(o).dtype, values[i]!)};`));
  };
  if (wide.length) {
    const loop = b.child();
    store(loop, wide, "j", `wg * ${e.ref(n)} + j`);
    b.nest(`for (var j = lid; j < ${e.ref(n)}; j = j + ${lit(THREADS)})`, loop);
  }
  if (narrow.length) {
    if (wide.length) b.line("workgroupBarrier();"); // every thread has read the row's inputs
    const one = b.child();
    store(one, narrow, "0u", "wg");
    b.nest("if (lid == 0u)", one);
  }
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, sh.text(), String(THREADS), b.text()),
    binds,
    grid: [{ size: rows, per: 1 }],
    workgroupBytes: sh.bytes,
    invocations: THREADS,
    checks: emptyAxisChecks(ctx.g, k.nodes),
  };
}

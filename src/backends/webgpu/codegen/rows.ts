// "rows" kernels (LayerNorm, softmax, residual + LayerNorm): one workgroup per row of the domain
// [...outer, n]. Each last-axis reduction of the body, in graph order, is a workgroup reduction
// (its threads stride over the row, then combine in workgroup memory) whose result every thread
// then holds; the body's other nodes are element expressions over the row, recomputed where they
// are read. Outputs of the domain's shape are stored by threads striding over the row, outputs
// of the row-scalar shape [...outer, 1] by thread 0.
import { constDim, showShape, type Dim } from "../../../check/shapes/dim.js";
import type { ReduceOp } from "../../../ir/ops.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { Block } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { isReduction, rowReduction, Shared } from "./reduce.js";
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
  const full = showShape(dom);
  for (const o of k.outputs) {
    const node = f.node(o);
    const st = (blk: Block, j: string, off: string) => blk.line(`${f.out(o)}[${off}] = ${toStorage(node.dtype, e.value(blk, o, [...outer, j]))};`);
    if (showShape(node.shape) === full) {
      const loop = b.child();
      st(loop, "j", `wg * ${e.ref(n)} + j`);
      b.nest(`for (var j = lid; j < ${e.ref(n)}; j = j + ${lit(THREADS)})`, loop);
    } else if (showShape(node.shape) === showShape([...outerShape, constDim(1)])) {
      const one = b.child();
      st(one, "0u", "wg");
      b.nest("if (lid == 0u)", one);
    } else throw new Error(`webgpu codegen: rows kernel k${k.id} writes %${o} of a shape outside its rows`);
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
    checks: [],
  };
}

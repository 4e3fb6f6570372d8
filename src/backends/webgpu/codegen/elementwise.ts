// One thread per output element: op kernels of every expression op (elementwise ops, views,
// gather, concat, arange, a const of a run-time size) and the schedule's "elementwise" kernels.
// The thread's linear index is split into the output's multi-index; every output of the kernel
// has the same shape and is stored at that linear index.
import { showShape } from "../../../core/dim.js";
import type { Kernel } from "../../../schedule/kernel.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { delinearize, lit, numelDim } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";

export function elementwiseKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const f = new Frame(ctx, k);
  const shape = f.node(k.outputs[0]!).shape;
  for (const o of k.outputs) {
    if (showShape(f.node(o).shape) !== showShape(shape)) throw new Error(`webgpu codegen: kernel k${k.id} writes outputs of different shapes`);
  }
  const total = numelDim(shape);
  const b = newBody();
  b.line(`let gi = wg * ${lit(THREADS)} + lid;`);
  b.line(`if (gi >= ${ctx.sizes.ref(total)}) { return; }`);
  const idx = delinearize(ctx.sizes, "gi", shape).map((e) => f.emitter.bind(b, e));
  // Every value before any store: an output may be written over an input (the memory plan's in place).
  const values = k.outputs.map((o) => f.emitter.value(b, o, idx));
  k.outputs.forEach((o, i) => b.line(`${f.out(o)}[gi] = ${toStorage(f.node(o).dtype, values[i]!)};`));
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, [], String(THREADS), b.text()),
    binds,
    grid: [{ size: total, per: THREADS }],
    workgroupBytes: 0,
    invocations: THREADS,
    checks: [],
  };
}

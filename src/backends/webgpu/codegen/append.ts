// A state's `append` written in place: one thread per element of what is appended (x: the T new
// positions), each stored in the state's buffer — laid out at capacity along the state's axis
// (compile.ts `stateLayouts`) — at its position plus the positions already held (`past`). The
// state's earlier positions are neither read nor written: a decode step writes B·H·1·D elements,
// not the cache.
import type { Kernel } from "../../../schedule/kernel.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { addU, delinearize, linearize, lit, numelDim } from "./sizes.js";
import { kernelSource, toStorage } from "./wgsl.js";

export function appendInPlaceKernel(ctx: Ctx, k: Kernel): CompiledKernel {
  const node = ctx.g.nodes[k.anchor!]!;
  const [state, x] = node.inputs.map((id) => ctx.g.nodes[id]!) as [typeof node, typeof node];
  const layout = ctx.layouts.get(node.id)!;
  const axis = node.attrs.axis!;
  // What it reads: the new positions, or what they are views of (the kernel's absorbed views).
  const f = new Frame(ctx, k, k.inputs.filter((i) => i !== state.id), [node.id]);
  const total = numelDim(x.shape);
  const b = newBody();
  b.line(`let gi = wg * ${lit(THREADS)} + lid;`);
  b.line(`if (gi >= ${ctx.sizes.ref(total)}) { return; }`);
  const idx = delinearize(ctx.sizes, "gi", x.shape).map((e) => f.emitter.bind(b, e));
  const v = f.emitter.value(b, x.id, idx);
  const at = idx.map((i, d) => (d === axis ? addU(i, ctx.sizes.ref(state.shape[axis]!)) : i));
  b.line(`${f.out(node.id)}[${linearize(ctx.sizes, at, layout)}] = ${toStorage(node.dtype, v)};`);
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

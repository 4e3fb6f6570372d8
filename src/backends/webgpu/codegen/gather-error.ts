// The value of a gather's first index out of range, for the CPU's message ("index 40 at position
// [0, 32] is out of range ..."). The gather kernel records the position of the first bad index
// (atomicMin); the value cannot be recorded race-free in the same dispatch, and the indices'
// buffer may be reused by a later kernel (the memory plan), so a one-thread kernel dispatched
// right after the gather copies it into the slot's second word. Only for indices computed per run:
// a model input's or a load-time value's are on the host already.
import type { Kernel } from "../../../schedule/kernel.js";
import type { CompiledKernel, Ctx } from "./kernel.js";
import { kernelSource, storageType } from "./wgsl.js";

export function gatherErrorKernel(ctx: Ctx, k: Kernel, gather: number, slot: number): CompiledKernel {
  const indices = ctx.g.nodes[ctx.g.nodes[gather]!.inputs[1]!]!;
  const body = [
    "  if (wg != 0u || lid != 0u) { return; }",
    `  let p = atomicLoad(&err[${2 * slot}]);`,
    `  if (p != 0xffffffffu) { atomicStore(&err[${2 * slot + 1}], bitcast<u32>(in0[p])); }`,
  ].join("\n");
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource([{ name: "err", type: "atomic<u32>", access: "read_write" }, { name: "in0", type: storageType(indices.dtype), access: "read" }], [], "1", body),
    binds: [{ kind: "err" }, { kind: "read", node: indices.id }],
    grid: [{ size: { terms: new Map([["", 1]]) }, per: 1 }],
    workgroupBytes: 0,
    invocations: 1,
    checks: [],
  };
}

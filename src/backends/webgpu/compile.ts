// Schedule → WGSL: one compiled kernel per schedule kernel, by its kind, and for an "op" kernel by
// its op (one table keyed by op, so a new op does not compile until it has a generator). Pure: no
// GPUDevice here, so the result can be bundled and its WGSL inspected or golden-tested. A fused
// kind without a generator (or a fused kernel a generator declines) runs as op kernels, one per
// node: correct, with more dispatches; `fallbacks` lists those kernels.
import { equalDims, showShape, symDim, type Dim } from "../../core/dim.js";
import type { Op } from "../../ir/ops.js";
import { consumers, kernel as makeKernel } from "../../schedule/fuse.js";
import { splitAppends } from "../../schedule/appends.js";
import type { Kernel, KernelKind, Schedule } from "../../schedule/kernel.js";
import { elementwiseKernel } from "./codegen/elementwise.js";
import { ErrorSlots } from "./codegen/expr.js";
import { type CompiledKernel, type Ctx, isInlineConst } from "./codegen/kernel.js";
import { attentionKernel } from "./codegen/attention.js";
import { appendInPlaceKernel } from "./codegen/append.js";
import { matmulKernel } from "./codegen/matmul.js";
import { rowsKernel } from "./codegen/rows.js";
import { reduceKernel } from "./codegen/reduce.js";
import { scanKernel } from "./codegen/scan.js";
import { SizeTable, sizesDecl } from "./codegen/sizes.js";
import { halvesOf } from "./halves.js";
import { quartersOf, type Channel } from "./quarters.js";

export interface CompiledProgram {
  readonly schedule: Schedule;
  /** The sizes table: slot i of the uniform holds the value of dims[i] once the symbols are bound. */
  readonly sizes: readonly Dim[];
  readonly sizeWords: number;
  readonly kernels: readonly CompiledKernel[];
  /**
   * Gather nodes by error slot: word 2i of the error buffer holds the position of the first index
   * out of range, and the indices met from word `@errors:i` on (codegen/expr.ts ErrorSlots).
   */
  readonly errorSlots: readonly number[];
  /** Load-time nodes that live in buffers (read by kernels, or graph outputs). */
  readonly uploads: readonly number[];
  /** The uploads kept as f16, two to a 32-bit word (`weightsDtype: "f16"`: halves.ts). */
  readonly halves: readonly number[];
  /** The uploads kept as int8 with a scale per channel (`weightsDtype: "int8"`: quarters.ts). */
  readonly quarters: ReadonlyMap<number, Channel>;
  /**
   * The states kept in place: each state's input and its `append` share one buffer laid out at a
   * capacity along the state's axis, the size symbol `symbol` (bound by the run: past + seq for a
   * plain run, the buffer's capacity for a resident one); `append` writes only the new positions.
   * Empty when a state cannot be (an alias of its value, an append that is not its own kernel).
   */
  readonly stateLayouts: readonly StateLayout[];
  /** Schedule kernels run as op kernels because their kind (or their shape) has no generator yet. */
  readonly fallbacks: readonly { readonly kernel: number; readonly kind: KernelKind; readonly reason: string }[];
}

export interface StateLayout {
  readonly name: string;
  readonly input: number;
  readonly output: number;
  readonly axis: number;
  /** The size symbol of the capacity (`@capacity:NAME`). */
  readonly symbol: string;
  /** The buffer's shape: the state's, with the capacity along its axis. */
  readonly shape: readonly Dim[];
}

type Generator = (ctx: Ctx, k: Kernel) => CompiledKernel;

const never = (op: string): Generator => () => {
  throw new Error(`webgpu: a ${op} node is never a kernel`);
};

/** The generator of an op kernel, by op. */
const opKernels: Record<Op, Generator> = {
  input: never("input"),
  weight: never("weight"),
  const: elementwiseKernel,
  arange: elementwiseKernel,
  neg: elementwiseKernel, not: elementwiseKernel, exp: elementwiseKernel, log: elementwiseKernel, sqrt: elementwiseKernel, rsqrt: elementwiseKernel,
  tanh: elementwiseKernel, erf: elementwiseKernel, sigmoid: elementwiseKernel, abs: elementwiseKernel, sin: elementwiseKernel, cos: elementwiseKernel,
  add: elementwiseKernel, sub: elementwiseKernel, mul: elementwiseKernel, div: elementwiseKernel, mod: elementwiseKernel, pow: elementwiseKernel,
  maximum: elementwiseKernel, minimum: elementwiseKernel, eq: elementwiseKernel, ne: elementwiseKernel, lt: elementwiseKernel, le: elementwiseKernel,
  gt: elementwiseKernel, ge: elementwiseKernel, and: elementwiseKernel, or: elementwiseKernel,
  cast: elementwiseKernel,
  where: elementwiseKernel,
  matmul: matmulKernel,
  sum: reduceKernel, mean: reduceKernel, max: reduceKernel, min: reduceKernel, argmax: reduceKernel,
  cumsum: scanKernel,
  reshape: elementwiseKernel, permute: elementwiseKernel, slice: elementwiseKernel, concat: elementwiseKernel,
  append: (ctx, k) => (ctx.layouts.has(k.anchor!) ? appendInPlaceKernel(ctx, k) : elementwiseKernel(ctx, k)),
  gather: elementwiseKernel, expand: elementwiseKernel, dropout: elementwiseKernel,
};

/** The generator of each fused kind; undefined: run its nodes as op kernels. */
const kinds: Record<KernelKind, Generator | undefined> = {
  // An op kernel nothing reads (a dead node of a graph as built) still runs, as on the CPU.
  op: (ctx, k) => opKernels[ctx.g.nodes[k.anchor!]!.op](ctx, k.outputs.length ? k : { ...k, outputs: [k.anchor!] }),
  elementwise: elementwiseKernel,
  rows: rowsKernel,
  matmul: matmulKernel,
  attention: attentionKernel,
};

export interface CompileOptions {
  /** Outputs a memory plan writes over a dying input's buffer (step = the kernel's index); none: every output has its own buffer. */
  readonly inPlace?: readonly { readonly step: number; readonly input: number; readonly output: number }[];
  /** A fused kernel binding more storage buffers than this runs as op kernels (default: WebGPU's default limit, 8). */
  readonly maxStorageBuffers?: number;
  /** "f16" or "int8": the weights' matrices kept so on the device (halves.ts, quarters.ts); default f32. */
  readonly weightsDtype?: "f32" | "f16" | "int8";
}

export function compile(s: Schedule, opts: CompileOptions = {}): CompiledProgram {
  const inPlace = opts.inPlace ?? [];
  const maxStorage = opts.maxStorageBuffers ?? 8;
  const g = s.graph;
  const over = new Map<number, Map<number, number>>();
  for (const p of inPlace) {
    const id = s.kernels[p.step]!.id;
    over.set(id, (over.get(id) ?? new Map()).set(p.input, p.output));
  }
  const stateLayouts = layoutsOf(s);
  const layouts = new Map(stateLayouts.flatMap((l) => [[l.input, l.shape], [l.output, l.shape]] as const));
  const halves = opts.weightsDtype === "f16" ? halvesOf(s) : new Set<number>();
  const quarters = opts.weightsDtype === "int8" ? quartersOf(s) : new Map<number, Channel>();
  const ctx: Ctx = { g, sizes: new SizeTable(), errors: new ErrorSlots(), atLoad: s.atLoad, aliases: s.aliases, inPlace: over, layouts, halves, quarters };
  const kernels: CompiledKernel[] = [];
  const fallbacks: { kernel: number; kind: KernelKind; reason: string }[] = [];
  const readers = consumers(g);
  const asOps = new Set<number>(); // nodes already computed by op kernels of a fallback
  const compileKernel = (k: Kernel): void => {
    const gen = kinds[k.kind];
    let reason = gen ? "" : `no WGSL generator for "${k.kind}" kernels yet`;
    if (gen) {
      try {
        const ck = gen(ctx, k);
        if (k.kind !== "op" && ck.binds.length > maxStorage) throw new Error(`it binds ${ck.binds.length} storage buffers, more than the ${maxStorage} a shader stage may have`);
        kernels.push(ck);
        return;
      } catch (e) {
        if (k.kind === "op") throw e;
        reason = e instanceof Error ? e.message : String(e);
      }
    }
    fallbacks.push({ kernel: k.id, kind: k.kind, reason });
    for (const id of k.nodes) {
      if (asOps.has(id) || s.atLoad.has(id) || isInlineConst(ctx, id)) continue;
      asOps.add(id);
      // Every node of the fallback writes its value, even a view: the next op kernel reads it.
      const single = makeKernel(k.id, "op", [id], g, readers, { anchor: id });
      kernels.push(opKernels[g.nodes[id]!.op](ctx, { ...single, outputs: [id] }));
    }
  };
  for (let i = 0; i < s.kernels.length; i++) {
    const k = s.kernels[i]!;
    const merged = appendIntoScan(ctx, k, s.kernels[i + 1]);
    if (merged) {
      // The state's new positions are written by the scan kernel that reads the state next, and the
      // elementwise kernel after it that reads the scan (the embeddings, at HF's position ids), where it fits, computed there too.
      over.set(merged.id, new Map([...(over.get(k.id) ?? []), ...(over.get(merged.id) ?? []), [g.nodes[k.anchor!]!.inputs[0]!, k.anchor!]]));
      const next = s.kernels[i + 2];
      const whole = next && scanEpilogue(ctx, s, merged, next);
      if (whole) {
        try {
          const ck = scanKernel(ctx, whole, next);
          if (ck.binds.length > maxStorage) throw new Error(`it binds ${ck.binds.length} storage buffers`);
          kernels.push(ck);
          i += 2;
          continue;
        } catch {
          // the scan and the elementwise kernel apart
        }
      }
      kernels.push(scanKernel(ctx, merged));
      i++;
    } else if (k.appends?.length) {
      // A matmul kernel storing states' new positions where it computes them; where its generator
      // cannot (a state not kept in place, too many buffers), the kernels they stand for.
      try {
        const ck = matmulKernel(ctx, k);
        if (ck.binds.length > maxStorage) throw new Error(`it binds ${ck.binds.length} storage buffers`);
        kernels.push(ck);
      } catch {
        splitAppends(k, g).forEach(compileKernel);
      }
    } else compileKernel(k);
  }
  const header = sizesDecl(ctx.sizes) + "\n";
  const used = new Set<number>();
  for (const ck of kernels) for (const b of ck.binds) if (b.kind === "read" && s.atLoad.has(b.node)) used.add(b.node);
  for (const o of g.outputs) if (s.atLoad.has(o.node)) used.add(o.node);
  return {
    schedule: s,
    sizes: ctx.sizes.dims,
    sizeWords: ctx.sizes.vec4s * 4,
    kernels: kernels.map((k) => ({ ...k, wgsl: header + k.wgsl })),
    errorSlots: ctx.errors.nodes,
    uploads: [...used].sort((a, b) => a - b),
    halves: [...used].filter((id) => halves.has(id)).sort((a, b) => a - b),
    quarters: new Map([...quarters].filter(([id]) => used.has(id))),
    stateLayouts,
    fallbacks,
  };
}

/**
 * An op kernel appending to a state kept in place, followed by the op kernel of a cumsum along the
 * same (last) axis that reads the appended value — the padding mask's history and the cumsum of HF's
 * position ids: one kernel for both, the scan writing the new positions into the state as it reads
 * the appended value (codegen/scan.ts). The state's earlier positions it reads are not written by
 * this dispatch and the new ones it reads from the appended input, so no thread waits for another's
 * store, and every later reader runs in a later dispatch.
 */
function appendIntoScan(ctx: Ctx, k: Kernel, next: Kernel | undefined): Kernel | undefined {
  const g = ctx.g;
  const a = k.kind === "op" ? g.nodes[k.anchor!]! : undefined;
  const scan = next?.kind === "op" ? g.nodes[next.anchor!]! : undefined;
  if (!a || !scan || !next || a.op !== "append" || scan.op !== "cumsum" || !ctx.layouts.has(a.id) || !next.inputs.includes(a.id)) return undefined;
  const x = g.nodes[scan.inputs[0]!]!;
  const axis = a.attrs.axis!;
  // A row scan (one workgroup per row: the last axis), over the rows the append's outer dims give.
  if (scan.attrs.axis !== x.shape.length - 1 || axis !== a.shape.length - 1 || x.shape.length !== a.shape.length || !a.shape.slice(0, axis).every((d, i) => equalDims(d, x.shape[i]!) === true)) return undefined;
  const inputs = [...k.inputs, ...next.inputs.filter((i) => i !== a.id && !k.inputs.includes(i))];
  return { ...next, nodes: [...k.nodes, ...next.nodes], inputs, outputs: [a.id, ...next.outputs.filter((o) => o !== a.id)] };
}

/**
 * A row scan and the elementwise kernel after it that reads it, as one kernel (codegen/scan.ts's
 * epilogue): when every output of `ep` has the scan's rows as its leading dims and nothing of it is
 * written over an input. The scan's value is stored only if another kernel (or the graph) reads it.
 */
function scanEpilogue(ctx: Ctx, s: Schedule, scan: Kernel, ep: Kernel): Kernel | undefined {
  const g = ctx.g;
  const node = g.nodes[scan.anchor!]!;
  const rows = g.nodes[node.inputs[0]!]!.shape.slice(0, node.attrs.axis!);
  if (ep.kind !== "elementwise" || !ep.inputs.includes(node.id) || ctx.inPlace.has(ep.id) || !ep.outputs.length) return undefined;
  const shape = g.nodes[ep.outputs[0]!]!.shape;
  if (!ep.outputs.every((o) => showShape(g.nodes[o]!.shape) === showShape(shape)) || shape.length < rows.length || !rows.every((d, i) => equalDims(d, shape[i]!) === true)) return undefined;
  const own = new Set([...scan.nodes, ...ep.nodes]);
  const readElsewhere = g.outputs.some((o) => o.node === node.id) || s.kernels.some((k) => k.id !== ep.id && k.id !== scan.id && k.inputs.includes(node.id));
  const inputs = [...new Set([...scan.inputs, ...ep.inputs])].filter((i) => !own.has(i));
  const outputs = [...scan.outputs.filter((o) => o !== node.id || readElsewhere), ...ep.outputs];
  return { ...scan, nodes: [...scan.nodes, ...ep.nodes], inputs, outputs };
}

/**
 * Each state in one buffer at capacity, when every state can be: its value at the start is read
 * only as itself (no reshape shares its buffer) and its next value is an `append` of its own op
 * kernel or of a matmul kernel's appends, read as itself too. All or none.
 */
function layoutsOf(s: Schedule): StateLayout[] {
  const g = s.graph;
  const aliased = new Set(s.aliases.values());
  const out: StateLayout[] = [];
  for (const st of g.states) {
    const input = g.inputs.find((p) => p.name === st.name)!.node;
    const output = g.outputs.find((p) => p.name === st.name)!.node;
    const n = g.nodes[output]!;
    const own = s.kernels.some((k) => (k.kind === "op" && k.anchor === output) || k.appends?.includes(output));
    const ports = g.outputs.filter((p) => p.node === input || p.node === output).length;
    if (n.op !== "append" || n.inputs[0] !== input || !own || ports !== 1 || aliased.has(input) || aliased.has(output) || s.aliases.has(output)) return [];
    const symbol = `@capacity:${st.name}`;
    out.push({ name: st.name, input, output, axis: st.axis, symbol, shape: n.shape.map((d, i) => (i === st.axis ? symDim(symbol) : d)) });
  }
  return out;
}

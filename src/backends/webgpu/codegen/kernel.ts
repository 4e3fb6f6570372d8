// What every kernel generator shares: the program-wide context, the compiled form of a kernel (its
// WGSL, what it binds and how many workgroups it needs), and the frame that turns a schedule
// kernel's inputs into buffer leaves and its outputs into stores.
import { constValue, type Dim } from "../../../core/dim.js";
import type { Graph, Node } from "../../../ir/graph.js";
import type { Kernel, KernelKind } from "../../../schedule/kernel.js";
import { Block, Emitter, ErrorSlots, type Leaf } from "./expr.js";
import { linearize, type SizeTable } from "./sizes.js";
import { fromStorage, storageType, type Binding } from "./wgsl.js";
import type { Channel } from "../quarters.js";

/** What every kernel of one program shares while it is generated. */
export interface Ctx {
  readonly g: Graph;
  readonly sizes: SizeTable;
  readonly errors: ErrorSlots;
  /** Nodes computed at load time (uploaded once, or inlined when they are constants). */
  readonly atLoad: ReadonlySet<number>;
  /** Nodes that share another's buffer (reshape, dropout): node → owner. */
  readonly aliases: ReadonlyMap<number, number>;
  /**
   * Outputs written over an input's buffer (the memory plan's in place), by kernel id: input owner
   * → output. The kernel binds that buffer once, read-write, and reads the input from it.
   */
  readonly inPlace: ReadonlyMap<number, ReadonlyMap<number, number>>;
  /**
   * Values laid out in a buffer of another shape: a state's input and its `append`, in one buffer
   * per state at capacity along its axis (compile.ts `stateLayouts`). A read indexes by this shape.
   */
  readonly layouts: ReadonlyMap<number, readonly Dim[]>;
  /** Load-time values kept as f16, two to a u32 (src/backends/webgpu/halves.ts): read through unpack2x16float. */
  readonly halves: ReadonlySet<number>;
  /** Load-time values kept as int8 with a scale per channel (src/backends/webgpu/quarters.ts): read through extractBits. */
  readonly quarters: ReadonlyMap<number, Channel>;
}

/** One storage binding of a kernel, from binding 1 on, in order. */
export type Bind = { readonly kind: "err" } | { readonly kind: "read"; readonly node: number } | { readonly kind: "write"; readonly node: number };

/** workgroups = Π ceil(size / per) over the factors, evaluated once the symbols are bound. */
export interface GridFactor {
  readonly size: Dim;
  readonly per: number;
}

/** A run-time precondition the host checks before dispatching (the CPU kernel's KernelError). */
export interface RunCheck {
  readonly node: number;
  /** The check fails when `empty` is 0 and `rest` is not (a reduction over an empty axis). */
  readonly empty: Dim;
  readonly rest: Dim;
}

export interface CompiledKernel {
  /** The schedule kernel it computes. */
  readonly kernel: number;
  readonly kind: KernelKind;
  readonly wgsl: string;
  readonly binds: readonly Bind[];
  readonly grid: readonly GridFactor[];
  /** Bytes of workgroup memory and invocations per workgroup (checked against the device's limits). */
  readonly workgroupBytes: number;
  readonly invocations: number;
  readonly checks: readonly RunCheck[];
}

/** Threads per workgroup of the one-thread-per-element kernels (WebGPU's default limit is 256). */
export const THREADS = 256;

/** A constant the kernel writes as a literal rather than reading a buffer. */
export const isInlineConst = (ctx: Ctx, id: number): boolean => {
  const n = ctx.g.nodes[id]!;
  return n.op === "const" && typeof n.attrs.value !== "object";
};

/** The kernel's buffers: inputs as leaves loading `inK[offset]`, outputs as `outK`. */
export class Frame {
  readonly bindings: Binding[] = [];
  readonly binds: Bind[] = [];
  readonly leaves = new Map<number, Leaf>();
  readonly emitter: Emitter;
  private readonly outNames = new Map<number, string>();

  constructor(readonly ctx: Ctx, readonly k: Kernel, reads: readonly number[] = k.inputs, readonly writes: readonly number[] = k.outputs) {
    const g = ctx.g;
    writes.forEach((id, i) => this.outNames.set(id, `out${i}`));
    const overwritten = ctx.inPlace.get(k.id);
    reads.forEach((id) => {
      if (isInlineConst(ctx, id)) return; // the expression rule writes it as a literal
      const n = g.nodes[id]!;
      const over = overwritten?.get(ctx.aliases.get(id) ?? id);
      const name = over !== undefined && this.outNames.has(over) ? this.outNames.get(over)! : `in${this.binds.length}`;
      if (ctx.halves.has(id)) {
        // f16 pairs: element e in half e & 1 of word e >> 1.
        this.bindings.push({ name, type: "u32", access: "read" });
        this.binds.push({ kind: "read", node: id });
        const layout = ctx.layouts.get(id) ?? n.shape;
        this.leaves.set(id, (_b, idx) => {
          const off = linearize(ctx.sizes, idx, layout);
          return `unpack2x16float(${name}[(${off}) >> 1u])[(${off}) & 1u]`;
        });
        return;
      }
      const channel = ctx.quarters.get(id);
      if (channel) {
        // The channels' scales, then int8 values four to a word (element e in byte e & 3 of word scales + e >> 2).
        this.bindings.push({ name, type: "u32", access: "read" });
        this.binds.push({ kind: "read", node: id });
        const dims = n.shape.map((d) => constValue(d)!);
        const cols = dims.at(-1)!;
        const scales = channel === "column" ? cols : dims.reduce((a, b) => a * b, 1) / cols;
        this.leaves.set(id, (_b, idx) => {
          const off = linearize(ctx.sizes, idx, n.shape);
          const c = channel === "column" ? idx.at(-1)! : linearize(ctx.sizes, idx.slice(0, -1), n.shape.slice(0, -1));
          return `(f32(extractBits(bitcast<i32>(${name}[${scales}u + ((${off}) >> 2u)]), ((${off}) & 3u) * 8u, 8u)) * bitcast<f32>(${name}[${c}]))`;
        });
        return;
      }
      if (!name.startsWith("out")) {
        this.bindings.push({ name, type: storageType(n.dtype), access: "read" });
        this.binds.push({ kind: "read", node: id });
      }
      // Read from an output's buffer (in place), the element's bits are reinterpreted when the types differ.
      const from = name.startsWith("out") ? storageType(g.nodes[over!]!.dtype) : storageType(n.dtype);
      const load = (off: string) => (from === storageType(n.dtype) ? `${name}[${off}]` : `bitcast<${storageType(n.dtype)}>(${name}[${off}])`);
      const layout = ctx.layouts.get(id) ?? n.shape;
      this.leaves.set(id, (_b, idx) => fromStorage(n.dtype, load(linearize(ctx.sizes, idx, layout))));
    });
    writes.forEach((id) => {
      this.bindings.push({ name: this.outNames.get(id)!, type: storageType(g.nodes[id]!.dtype), access: "read_write" });
      this.binds.push({ kind: "write", node: id });
    });
    this.emitter = new Emitter(g, ctx.sizes, this.leaves, ctx.errors);
  }

  out(id: number): string {
    return this.outNames.get(id)!;
  }

  node(id: number): Node {
    return this.ctx.g.nodes[id]!;
  }

  /** The bindings with the error buffer first when some gather of this kernel may fail. */
  finalBindings(): { bindings: Binding[]; binds: Bind[] } {
    if (this.emitter.usedSlots.size === 0) return { bindings: this.bindings, binds: this.binds };
    return { bindings: [{ name: "err", type: "atomic<u32>", access: "read_write" }, ...this.bindings], binds: [{ kind: "err" }, ...this.binds] };
  }
}

export const newBody = (): Block => new Block("  ");

export const isStatic = (d: Dim): boolean => constValue(d) !== undefined;

// The CPU interpreter: runs an IR graph on typed arrays through the `Kernels` interface. It is the
// normative semantics of every op (docs/IR.md). At load time it folds the parts of the graph that
// depend only on weights and constants, lays matmul weights out for the kernel (transposed,
// k-contiguous) once — a matmul marked transB takes its operand already laid out that way; kernels
// with `prepareB` (the wasm GEMM) instead pack a weight read as [k, n] from it as it is — cuts
// the graph into kernels (src/schedule/fuse.ts; one per node with `fuse: false`) and plans their
// buffers (src/schedule/memory.ts). At run time it binds the symbolic dims from the inputs,
// allocates the planned buffers at those dims, and runs the kernels in order: an op kernel by its
// op's semantics (semantics.ts), a fused kernel in tiles of rows (fused.ts). Inputs are checked
// and dims bound by the code every backend shares (../shared/inputs.ts).
import { symbolsOf, type Dim } from "../../core/dim.js";
import type { Graph, Node } from "../../ir/graph.js";
import type { Kernel, Schedule } from "../../schedule/kernel.js";
import { schedule, unfused } from "../../schedule/fuse.js";
import { splitAppends } from "../../schedule/appends.js";
import { KernelError } from "../../core/errors.js";
import { absorbedReader, runFused, type FusedContext, type SharedAbsorbed } from "./fused.js";
import { bufferBytes, planMemory, type MemoryPlan } from "../../schedule/memory.js";
import { defaultKernels, holdResident, markResident, type Kernels } from "./kernels/index.js";
import { arrayFor, numel, runtimeDType, showShape, type Tensor, viewOf } from "../../core/tensor.js";
import { RunError } from "../shared/errors.js";
import { bindInputs, checkSizes, dimValue } from "../shared/inputs.js";
import { semantics } from "./semantics.js";
import { allocationFailed, checkBudget, showBytes } from "../shared/budget.js";
import { sharedAbsorbed, transientBytes, Transients } from "./transients.js";
import { cacheView, materialise, regrow, writeAt, type CacheCounters, type CacheView } from "./cache.js";
import { contiguous, stridedView, writeStridedAt, type Strided } from "./strided.js";

export interface RunResult {
  readonly outputs: ReadonlyMap<string, Tensor>;
  /** The values the symbolic dims took (batch, seq, ...). */
  readonly symbols: ReadonlyMap<string, number>;
  /** Milliseconds per kernel kind (an op, or `matmul*`, `attention*`, `rows*`, `elementwise*` for fused kernels), when profiling. */
  readonly profile?: ReadonlyMap<string, { ms: number; count: number }>;
}


export interface CpuOptions {
  /** Run the fused schedule (the default) or one kernel per node (`tfm run --no-fuse`). */
  readonly fuse?: boolean;
  /**
   * Share buffers as the memory plan says (the default); false gives every kernel output a buffer
   * of its own — the reference the plan is tested against.
   */
  readonly reuse?: boolean;
  /**
   * The memory budget in bytes (none by default: the API and the CLI pass one, src/budget.ts). A
   * run whose weights, inputs, planned buffers at its dims and largest kernel transient
   * (transients.ts) need more is refused with TFM6003 before anything is allocated.
   */
  readonly maxMemory?: number;
}

/** Bytes of a call's buffers kept for the next call (CpuProgram.spare). */
const SPARE_BYTES = 256 * 2 ** 20;

export class CpuProgram {
  /** Values computed once at load time: weights, constants and everything derived from them alone. */
  private readonly fixed = new Map<number, Tensor>();
  /** Every node computed at load time (whether or not its value is still kept). */
  private readonly atLoad: ReadonlySet<number>;
  /** For a matmul whose right operand is fixed: that operand transposed ([n, k]), for matmulTransB. */
  private readonly transB = new Map<number, Tensor>();
  /** The kernels run per call, and which views share a buffer. */
  readonly schedule: Schedule;
  /** The kernels as this interpreter runs them: a matmul kernel's appends after it, as op kernels (schedule/appends.ts). */
  private readonly steps: readonly Kernel[];
  /** The budget check's largest kernel transient, kept per kernel by the dims it depends on. */
  private readonly transients: Transients;
  /** Which buffer each kernel output lives in, and how large the buffers are (src/schedule/memory.ts). */
  readonly plan: MemoryPlan;

  /** The last call's shapes (`shapesAt`): the symbols' values and each node's shape at them, as evaluated so far. */
  private lastShapes: { readonly symbols: ReadonlyMap<string, number>; readonly shapes: (number[] | undefined)[]; readonly of: (n: Node) => number[] } | undefined;
  /** The symbols each node's shape mentions, by node, found at its first evaluation. */
  private readonly shapeSymbols: (readonly string[] | undefined)[] = [];

  private readonly reuseBuffers: boolean;
  private readonly maxMemory: number | undefined;
  /** Bytes held from load on: the load-time values a run reads and the laid-out matmul weights. */
  private readonly heldBytes: number;

  constructor(readonly graph: Graph, weights: ReadonlyMap<string, Tensor>, private readonly kernels: Kernels = defaultKernels, opts: CpuOptions = {}) {
    this.reuseBuffers = opts.reuse !== false;
    this.maxMemory = opts.maxMemory;
    this.schedule = opts.fuse === false ? unfused(graph) : schedule(graph);
    this.atLoad = this.schedule.atLoad;
    this.steps = this.schedule.kernels.flatMap((k) => splitAppends(k, graph));
    this.transients = new Transients(this.schedule);
    for (const node of graph.nodes) {
      if (!this.atLoad.has(node.id)) continue;
      if (node.op === "weight") {
        const t = weights.get(node.attrs.name!);
        if (!t) throw new RunError("TFM6002", `weight \`${node.attrs.name}\` was not loaded`);
        this.fixed.set(node.id, t);
      } else {
        try {
          this.fixed.set(node.id, this.evaluate(node, (i) => this.fixed.get(i)!, new Map()));
        } catch (e) {
          // A load-time computation that fails (a constant index out of range) is the user's error, as at run time.
          if (e instanceof KernelError) throw new RunError("TFM6001", `${e.message} (IR node %${node.id}, computed when the weights are loaded)`, node.site);
          if (isAllocationFailure(e)) throw allocationFailed(undefined, e, node.site);
          throw e;
        }
      }
    }
    for (const node of graph.nodes) {
      // A matmul marked transB (the optimizer's fold-transpose) already takes its operand as [n, k].
      if (node.op !== "matmul" || node.attrs.transB || this.atLoad.has(node.id)) continue;
      const b = graph.nodes[node.inputs[1]!]!;
      if (!this.fixed.has(b.id) || b.shape.length !== 2) continue;
      // `x @ transpose(w)` (torch's Linear, a tied LM head): w itself is already [n, k].
      const src = b.op === "permute" && b.attrs.perm?.[0] === 1 && this.fixed.has(b.inputs[0]!) ? this.fixed.get(b.inputs[0]!)! : undefined;
      if (src) this.transB.set(node.id, src);
      // Kernels that keep the weight's own layout ready (the wasm GEMM's panels, packed from [k, n]) need no transposed copy.
      else if (!kernels.prepareB?.(this.fixed.get(b.id)!)) this.transB.set(node.id, kernels.permute(this.fixed.get(b.id)!, [1, 0]));
    }
    // What is fixed at load is never written again: a GEMM may keep its copy (src/backends/cpu/kernels/wasm/gemm.ts).
    for (const t of [...this.fixed.values(), ...this.transB.values()]) if (t.dtype === "f32") markResident(t.data);
    // The weights products read as [n, k] are readied now (the wasm GEMM packs them into its memory once, at load).
    if (kernels.prepareTransB) {
      const bts = new Set(this.transB.values());
      for (const node of graph.nodes) {
        const b = node.op === "matmul" && node.attrs.transB ? this.fixed.get(node.inputs[1]!) : undefined;
        if (b !== undefined) bts.add(b);
      }
      for (const t of bts) kernels.prepareTransB(t);
    }
    // Keep only the load-time values a run reads: the rest (weights that were concatenated,
    // transposed or otherwise folded at load) can be freed once the caller drops its map.
    const owner = (id: number) => this.schedule.aliases.get(id) ?? id;
    const read = new Set(graph.outputs.map((o) => owner(o.node)));
    for (const k of this.schedule.kernels) {
      const mine = new Set(k.nodes);
      for (const id of k.nodes) {
        graph.nodes[id]!.inputs.forEach((i, slot) => {
          if (!mine.has(i) && !(graph.nodes[id]!.op === "matmul" && slot === 1 && this.transB.has(id))) read.add(owner(i));
        });
      }
    }
    for (const id of [...this.fixed.keys()]) if (!read.has(id)) this.fixed.delete(id);
    this.plan = planMemory(this.schedule);
    this.heldBytes = distinctBytes([...this.fixed.values(), ...this.transB.values()]);
    // The weights just packed stay in the GEMM's resident region while this program lives (`dispose`).
    this.releaseRegion = holdResident();
  }

  private readonly releaseRegion: () => void;
  private disposed = false;

  /**
   * Lets the GEMM's resident region go: once every program holding it is disposed, the next
   * program's weights are packed from its start instead of after these (a server reloading a
   * model). Runs after this are refused (TFM6002).
   */
  dispose(): void {
    this.disposed = true;
    this.releaseRegion();
  }

  private alive(): void {
    if (this.disposed) throw new RunError("TFM6002", "the program was disposed: load the model again to run it");
  }

  /** The states `runResident` keeps: each one's buffer at capacity, and the positions they hold. */
  private kept: { readonly buffers: Map<string, Tensor>; length: number } | undefined;
  /** What resident runs wrote, copied and allocated of the state (cache.ts). */
  readonly cacheCounters: CacheCounters = { written: 0, copied: 0, allocated: 0 };

  /** The states `runResident` keeps (for tests and tools): their buffers at capacity, and the positions held. */
  get keptStates(): { readonly buffers: ReadonlyMap<string, Tensor>; readonly length: number } | undefined {
    return this.kept;
  }

  /** Runs the graph once: every input port (states included, as values) to every output port. */
  run(inputs: ReadonlyMap<string, Tensor>, opts: { profile?: boolean } = {}): RunResult {
    this.alive();
    return this.execute(inputs, opts);
  }

  /**
   * Runs `inputs` (the model's own, no state) on the state this program keeps — empty when
   * `fresh` — and keeps the next state, in place: each state lives in one buffer at `capacity`
   * positions along its axis (allocated on the first call and kept across `fresh` calls of the
   * same shape; grown, by copying, only if a call goes past it), each `append` writes the new
   * positions into it at the current length, and the readers take the state as a view of it
   * (cache.ts). Returns the outputs but the state's; with `lastRow`, only that output, and of it
   * only the last position of each sequence. A call that fails leaves the state as it was.
   */
  runResident(inputs: ReadonlyMap<string, Tensor>, opts: { readonly fresh: boolean; readonly lastRow?: string; readonly capacity?: number; readonly profile?: boolean }): RunResult {
    this.alive();
    const g = this.graph;
    for (const st of g.states) if (inputs.has(st.name)) throw new RunError("TFM6002", `the state \`${st.name}\` is kept by the session: it is not an input of this call`);
    const own = g.inputs.filter((p) => !g.states.some((st) => st.name === p.name));
    const partial = bindInputs({ ...g, inputs: own }, inputs);
    const length = opts.fresh || !this.kept ? 0 : this.kept.length;
    // Each state's buffer: its value's shape at this call's dims, at capacity along its axis.
    const past = new Map(partial);
    let added = 0;
    const plans = g.states.map((st) => {
      const n = g.nodes[g.inputs.find((p) => p.name === st.name)!.node]!;
      const next = g.nodes[g.outputs.find((p) => p.name === st.name)!.node]!;
      const shape = n.shape.map((d, i) => (i === st.axis ? length : dimValue(d, partial)));
      for (const [k, v] of symbolOf(n.shape[st.axis]!, length)) past.set(k, v);
      added = dimValue(next.shape[st.axis]!, past) - length;
      const old = length > 0 ? this.kept?.buffers.get(st.name) : this.reusable(st.name, shape, st.axis);
      if (old && length > 0 && old.shape.some((d, i) => i !== st.axis && d !== shape[i])) {
        throw new RunError("TFM6002", `the state \`${st.name}\` is kept at ${showShape(old.shape.map((d, i) => (i === st.axis ? length : d)))}; this call needs ${showShape(shape)} (start a fresh sequence)`);
      }
      const need = length + added;
      // At the capacity asked for; past it (none was given, or a caller went past it), twice what is needed.
      const capacity = old && old.shape[st.axis]! >= need ? undefined : old ? Math.max(opts.capacity ?? 0, 2 * need) : Math.max(need, opts.capacity ?? 0);
      return { st, n, shape, old, capacity };
    });
    // The budget, before any state buffer is allocated: those kept and those to be made.
    const stateBytesOf = (p: (typeof plans)[number]) => numel(p.shape.map((d, i) => (i === p.st.axis ? 1 : d))) * p.capacity! * (p.n.dtype === "bool" ? 1 : 4);
    const newBytes = plans.reduce((sum, p) => sum + (p.capacity === undefined ? p.old!.data.byteLength : stateBytesOf(p)), 0);
    checkSizes(g, past);
    if (this.maxMemory !== undefined) {
      this.checkMemory(inputs, bufferBytes(this.plan, past).map((b, i) => (this.plan.stateBuffers.has(i) ? 0 : b)), past, this.shapesAt(past), newBytes);
    }
    const buffers = new Map<string, Tensor>();
    const views = new Map<string, CacheView>();
    for (const { st, n, shape, old, capacity } of plans) {
      let base = old!;
      if (capacity !== undefined) {
        const make = (dtype: Tensor["dtype"], s: readonly number[]) => allocateState(dtype, s, this.kernels);
        base = old ? regrow(cacheView(old, st.axis, length), capacity, make) : make(runtimeDType[n.dtype], shape.map((d, i) => (i === st.axis ? capacity : d)));
        this.cacheCounters.allocated += base.data.byteLength;
        if (old) this.cacheCounters.copied += numel(shape) * base.data.BYTES_PER_ELEMENT;
      }
      buffers.set(st.name, base);
      views.set(st.name, cacheView(base, st.axis, length));
    }
    // A fresh call starts from the empty state, whatever it leaves if it fails.
    if (opts.fresh && this.kept) this.kept.length = 0;
    const wanted = (name: string) => !g.states.some((st) => st.name === name) && (opts.lastRow === undefined || name === opts.lastRow);
    const result = this.execute(inputs, opts, { views, length, wanted, lastRowsOf: opts.lastRow === undefined ? undefined : this.lastRowsKernel(opts.lastRow) });
    this.kept = { buffers, length: length + added };
    const outputs = new Map([...result.outputs].map(([name, t]) => [name, opts.lastRow !== undefined ? lastRows(t) : t] as const));
    return { ...result, outputs };
  }

  /**
   * The memory plan's buffers of the last call that no output it returned is a view of, by size:
   * the next call of the same dims takes them instead of allocating (and zero-filling) its buffers
   * again — every kernel writes all of its output, as it must in a buffer the plan shares. At most
   * SPARE_BYTES are kept, so one long call does not hold its memory afterwards.
   */
  private spare: ArrayBuffer[] = [];

  private takeSpare(bytes: number): ArrayBuffer | undefined {
    const i = this.spare.findIndex((b) => b.byteLength === bytes);
    return i < 0 ? undefined : this.spare.splice(i, 1)[0];
  }

  private keepSpare(buffers: readonly ArrayBuffer[]): void {
    let total = 0;
    this.spare = [...buffers].sort((a, b) => a.byteLength - b.byteLength).filter((b) => (total += b.byteLength) <= SPARE_BYTES && b.byteLength > 0);
  }

  /** Keeps only the first `length` positions of the state (a step taken back: the next call appends after them). */
  truncateState(length: number): void {
    if (!this.kept || !Number.isInteger(length) || length < 0 || length > this.kept.length) throw new RangeError(`truncateState(${length}): the state holds ${this.kept?.length ?? 0} positions`);
    this.kept.length = length;
  }

  /** The buffer kept for a state, when a fresh sequence of this shape can reuse it. */
  private reusable(name: string, shape: readonly number[], axis: number): Tensor | undefined {
    const b = this.kept?.buffers.get(name);
    return b && b.shape.every((d, i) => i === axis || d === shape[i]) ? b : undefined;
  }

  private execute(inputs: ReadonlyMap<string, Tensor>, opts: { profile?: boolean }, resident?: ResidentCall): RunResult {
    // A resident call's states are given as their views' shapes (bindInputs reads only shapes).
    const given = resident ? new Map([...inputs, ...[...resident.views].map(([k, v]) => [k, { dtype: v.base.dtype, shape: v.shape, data: v.base.data } as Tensor] as const)]) : inputs;
    const symbols = bindInputs(this.graph, given);
    // A resident call's sizes were checked by runResident, at these same symbols, before it allocated.
    if (!resident) checkSizes(this.graph, symbols);
    // Each node's shape at this call's dims, evaluated once (kernels read them many times a call),
    // or the last call's where none of the symbols it mentions has changed.
    const shapeOf = this.shapesAt(symbols);
    const values = new Map<number, Tensor>();
    const profile = opts.profile ? new Map<string, { ms: number; count: number }>() : undefined;
    // The memory plan's buffers at this call's dims: every kernel output is a view of its buffer
    // (an output written in place shares its input's). Those the last call's outputs are not views
    // of are taken back (`spare`); the rest are new, as the outputs handed to the caller keep
    // theirs. A resident call allocates no buffer for the states' next values:
    // they are views of the state buffers.
    const sizes = bufferBytes(this.plan, symbols).map((b, i) => (resident && this.plan.stateBuffers.has(i) ? 0 : b));
    // A resident call's memory was checked by runResident, at these sizes, with its state buffers, before it allocated them.
    if (!resident) this.checkMemory(inputs, sizes, symbols, shapeOf);
    const memory = sizes.map((bytes) => this.takeSpare(bytes) ?? allocate(bytes, () => new ArrayBuffer(bytes)));
    /** Values held as views of a state buffer (resident calls): the states' inputs and the appends. */
    const strided = new Map<number, CacheView>();
    const planned = (n: Node): Tensor => {
      const b = this.reuseBuffers ? this.plan.bufferOf(n.id) : undefined;
      const dtype = runtimeDType[n.dtype];
      const shape = shapeOf(n);
      // A value nothing reads (a dead node of a graph run as built) has no buffer: it gets its own,
      // as every value does without reuse.
      return { dtype, shape, data: b === undefined ? allocate(numel(shape) * (dtype === "bool" ? 1 : 4), () => arrayFor(dtype, numel(shape))) : viewOf(dtype, memory[b]!, numel(shape)) } as Tensor;
    };
    /** A value computed elsewhere (a constant, a view, a small fused kernel) put into its buffer. */
    const store = (n: Node, v: Tensor): Tensor => {
      const into = planned(n);
      return v.data.buffer === into.data.buffer && v.data.byteOffset === 0 ? v : this.kernels.reshape(v, into.shape, into);
    };
    const { aliases } = this.schedule;
    const get = (i: number): Tensor => {
      const src = aliases.get(i);
      if (src !== undefined) return this.kernels.reshape(get(src), shapeOf(this.graph.nodes[i]!));
      const known = values.get(i) ?? this.fixed.get(i);
      const v = strided.get(i);
      if (known || !v) return known!;
      // A reader that cannot take a state's view gets a copy (counted: GPT-2's decode makes none).
      const t = materialise(v);
      this.cacheCounters.copied += t.data.byteLength;
      values.set(i, t);
      return t;
    };
    for (const port of this.graph.inputs) {
      const v = resident?.views.get(port.name);
      if (v) strided.set(port.node, v);
      else values.set(port.node, inputs.get(port.name)!);
    }
    const ctx: FusedContext = {
      graph: this.graph,
      kernels: this.kernels,
      get,
      shape: shapeOf,
      evaluate: (n, getIn) => this.evaluate(n, getIn, symbols),
      transposed: (id) => this.transB.get(id),
      allocate: planned,
      // In place only where the part a block reads is one run of the buffer: the axis is not the last.
      strided: (id) => {
        const v = strided.get(id);
        return v && v.axis < v.shape.length - 1 ? v : undefined;
      },
      stridesOf: (k, id) => this.asStrides(k, id, get, shapeOf, symbols),
      ...(resident?.lastRowsOf ? { lastRowsOnly: resident.lastRowsOf } : {}),
      shared: { ids: sharedAbsorbed(this.schedule), values: new Map() },
    };
    for (const k of this.steps) {
      const t0 = profile ? performance.now() : 0;
      const site = this.graph.nodes[k.anchor ?? k.nodes.at(-1)!]!.site;
      try {
        if (k.kind === "op" && resident && this.graph.nodes[k.anchor!]!.op === "append") {
          // The new positions into the state's buffer at its length; the value is a view of it.
          const node = this.graph.nodes[k.anchor!]!;
          const state = strided.get(node.inputs[0]!)!;
          // The new positions read in place through the views the kernel absorbed where they are strides of one value; else evaluated.
          const view = this.asStrides(k, node.inputs[1]!, get, shapeOf, symbols);
          const x = view ?? this.throughAbsorbed(k, get, shapeOf, symbols, ctx.shared)(node.inputs[1]!);
          if ("strides" in x) writeStridedAt(state.base, state.axis, resident.length, x);
          else writeAt(state.base, state.axis, resident.length, x);
          this.cacheCounters.written += numel(x.shape) * state.base.data.BYTES_PER_ELEMENT;
          strided.set(node.id, cacheView(state.base, state.axis, resident.length + x.shape[state.axis]!));
        } else if (k.kind === "op") {
          const node = this.graph.nodes[k.anchor!]!;
          values.set(node.id, store(node, this.evaluate(node, this.throughAbsorbed(k, get, shapeOf, symbols, ctx.shared), symbols, planned(node))));
        } else {
          const outs = runFused(k, ctx) ?? new Map([...this.evaluateAll(k, get, symbols)].map(([id, v]) => [id, store(this.graph.nodes[id]!, v)]));
          for (const [id, v] of outs) values.set(id, v);
        }
      } catch (e) {
        // The node that failed where it is known (a gather a fused kernel absorbed), else the kernel's.
        if (e instanceof KernelError) {
          const at = e.node ?? k.anchor ?? k.nodes.at(-1)!;
          throw new RunError("TFM6001", `${e.message} (IR node %${at})`, this.graph.nodes[at]!.site);
        }
        if (isAllocationFailure(e)) throw allocationFailed(transientBytes(k, this.graph, shapeOf), e, site);
        throw e;
      }
      if (profile) {
        const key = k.kind === "op" ? this.graph.nodes[k.anchor!]!.op : `${k.kind}*`;
        const p = profile.get(key) ?? { ms: 0, count: 0 };
        profile.set(key, { ms: p.ms + performance.now() - t0, count: p.count + 1 });
      }
    }
    // Each output with a shape array of its own: the shapes are kept for the next call (`lastShapes`).
    const outputs = new Map(
      this.graph.outputs
        .filter((o) => !resident || resident.wanted(o.name))
        .map((o) => {
          const t = get(o.node);
          return [o.name, { ...t, shape: [...t.shape] } as Tensor];
        }),
    );
    // The buffers no output is a view of are kept for the next call (the caller owns the others).
    const handedOut = new Set<ArrayBufferLike>([...outputs.values()].map((t) => t.data.buffer));
    this.keepSpare(memory.filter((b) => !handedOut.has(b)));
    return { outputs, symbols, ...(profile ? { profile } : {}) };
  }

  /**
   * TFM6003 when this call would need more than the budget: what is held (load-time values, the
   * inputs), the planned buffers at the call's dims, and the largest transient a kernel makes.
   */
  private checkMemory(inputs: ReadonlyMap<string, Tensor>, sizes: readonly number[], symbols: ReadonlyMap<string, number>, shapeOf: (n: Node) => number[], states = 0): void {
    if (this.maxMemory === undefined) return;
    const held = this.heldBytes + distinctBytes([...inputs.values()]) + states;
    const planned = sizes.reduce((a, b) => a + b, 0);
    const { bytes: transient, kernel: at } = this.transients.largest(shapeOf, symbols);
    if (held + planned + transient <= this.maxMemory) return; // within it: no message to write (every decode step asks)
    const dims = [...symbols].map(([k, v]) => `${k}=${v}`).join(", ");
    const site = at && this.graph.nodes[at.anchor ?? at.nodes.at(-1)!]!.site;
    const parts = `weights and inputs ${showBytes(held)}, the memory plan's ${sizes.length} buffer${sizes.length === 1 ? "" : "s"} ${showBytes(planned)}, the largest kernel transient ${showBytes(transient)}${at ? ` in kernel k${at.id} (${at.kind})` : ""}`;
    checkBudget(held + planned + transient, this.maxMemory, `the run${dims ? ` at ${dims}` : ""}`, parts, planned >= transient ? undefined : site);
  }

  /** Value `id` as strides over a value computed outside kernel `k`, through the views k absorbed (strided.ts); undefined where it is not one. */
  private asStrides(k: Kernel, id: number, get: (i: number) => Tensor, shapeOf: (n: Node) => number[], symbols: ReadonlyMap<string, number>): Strided | undefined {
    if (!k.absorbed.includes(id)) return contiguous(get(id));
    const n = this.graph.nodes[id]!;
    const x = n.inputs.length === 1 ? this.asStrides(k, n.inputs[0]!, get, shapeOf, symbols) : undefined;
    return x && stridedView(n, x, shapeOf(n), (d) => dimValue(d, symbols));
  }

  /** How an op kernel reads its node's inputs: the views it absorbed (an `append`'s new positions) computed on first read (fused.ts `absorbedReader`). */
  private throughAbsorbed(k: Kernel, get: (i: number) => Tensor, shapeOf: (n: Node) => number[], symbols: ReadonlyMap<string, number>, shared?: SharedAbsorbed): (i: number) => Tensor {
    return absorbedReader(k, this.graph, get, (id) => this.asStrides(k, id, get, shapeOf, symbols), (n, read) => this.evaluate(n, read, symbols), shared);
  }

  /** A fused kernel evaluated node by node on whole tensors (for domains too small to tile). */
  private evaluateAll(k: Kernel, get: (i: number) => Tensor, symbols: ReadonlyMap<string, number>): Map<number, Tensor> {
    const local = new Map<number, Tensor>();
    const read = (i: number) => local.get(i) ?? get(i);
    for (const id of k.nodes) local.set(id, this.evaluate(this.graph.nodes[id]!, read, symbols));
    return new Map(k.outputs.map((id) => [id, local.get(id)!]));
  }

  /**
   * Each node's shape at these symbols' values, evaluated once: the last call's where none of the
   * symbols it mentions has changed (a decode step re-evaluates only the shapes that hold `past`),
   * the same function for calls at the same values (the budget check, then the run).
   */
  private shapesAt(symbols: ReadonlyMap<string, number>): (n: Node) => number[] {
    const last = this.lastShapes;
    const changed = new Set([...symbols].filter(([k, v]) => last?.symbols.get(k) !== v).map(([k]) => k));
    for (const k of last?.symbols.keys() ?? []) if (!symbols.has(k)) changed.add(k);
    if (last && changed.size === 0) return last.of;
    const shapes: (number[] | undefined)[] = [];
    const of = (n: Node): number[] => {
      let s = shapes[n.id];
      if (s) return s;
      const names = (this.shapeSymbols[n.id] ??= [...new Set(n.shape.flatMap(symbolsOf))]);
      const kept = last?.shapes[n.id];
      s = kept && !names.some((name) => changed.has(name)) ? kept : this.shape(n, symbols);
      return (shapes[n.id] = s);
    };
    this.lastShapes = { symbols, shapes, of };
    return of;
  }

  private shape(node: Node, symbols: ReadonlyMap<string, number>): number[] {
    return node.shape.map((d) => dimValue(d, symbols));
  }

  /** By output name: the kernel `lastRowsKernel` found for it (null: none). */
  private readonly lastRowKernels = new Map<string, Kernel | null>();

  /**
   * The fused kernel that computes output `name` ([batch, seq, ...], its domain) and nothing else
   * anyone reads, where there is one: a call that returns only the output's last position of each
   * sequence (`lastRow`) needs only the last rows of its blocks (GPT-2's LM head at a prefill:
   * 4 of the prompt's rows, not all).
   */
  private lastRowsKernel(name: string): Kernel | undefined {
    let k = this.lastRowKernels.get(name);
    if (k === undefined) {
      const g = this.graph;
      const port = g.outputs.find((o) => o.name === name);
      const n = port && g.nodes[port.node]!;
      const found = n && n.shape.length === 3 ? this.steps.find((s) => s.kind !== "op" && s.anchor === n.id && s.outputs.length === 1 && s.outputs[0] === n.id) : undefined;
      const mine = new Set(found?.nodes);
      const readElsewhere = !n || g.outputs.some((o) => o.node === n.id && o.name !== name) || g.nodes.some((m) => !mine.has(m.id) && m.inputs.includes(n.id));
      this.lastRowKernels.set(name, (k = found && !readElsewhere ? found : null));
    }
    return k ?? undefined;
  }

  /** One node's value from its inputs' values, by its op's semantics (semantics.ts). */
  private evaluate(node: Node, get: (i: number) => Tensor, symbols: ReadonlyMap<string, number>, out?: Tensor): Tensor {
    const dim = (d: Dim) => dimValue(d, symbols);
    try {
      return semantics[node.op]({ node, k: this.kernels, x: node.inputs.map(get), dtype: runtimeDType[node.dtype], out, dim, transB: this.transB.get(node.id) });
    } catch (e) {
      if (e instanceof KernelError) e.node ??= node.id;
      throw e;
    }
  }
}

/** A resident call's states: each one's view at the call's start (of its buffer), and the positions held. */
interface ResidentCall {
  readonly views: ReadonlyMap<string, CacheView>;
  readonly length: number;
  /** The outputs to return (not the states'). */
  readonly wanted: (name: string) => boolean;
  /** The kernel of which only the last rows are read (`lastRow`): it computes only those (fused.ts `lastRowsOnly`). */
  readonly lastRowsOf?: Kernel | undefined;
}

/** A state's buffer, zeroed (V8's refusal as TFM6003). */
/** A state's buffer: f32 where the kernels' products read it in place (`Kernels.stateArray`), else a plain array. */
function allocateState(dtype: Tensor["dtype"], shape: readonly number[], kernels: Kernels): Tensor {
  const n = numel(shape);
  const data = (dtype === "f32" && kernels.stateArray?.(n)) || allocate(n * (dtype === "bool" ? 1 : 4), () => arrayFor(dtype, n));
  return { dtype, shape: [...shape], data } as Tensor;
}

/** `symbol = value` when the dim is a bare symbol (a state's `past`); nothing otherwise. */
function symbolOf(d: Dim, value: number): [string, number][] {
  const terms = [...d.terms];
  return terms.length === 1 && terms[0]![1] === 1 && terms[0]![0] !== "" ? [[terms[0]![0], value]] : [];
}

/** The last position of each sequence of a [batch, seq, ...] output, [batch, 1, ...]. */
function lastRows(t: Tensor): Tensor {
  if (t.shape.length < 2) return t;
  const [batch, seq] = t.shape as [number, number];
  const inner = numel(t.shape.slice(2));
  const data = new (t.data.constructor as Float32ArrayConstructor)(batch * inner);
  for (let b = 0; b < batch; b++) data.set(t.data.subarray((b * seq + seq - 1) * inner, (b * seq + seq) * inner) as never, b * inner);
  return { dtype: t.dtype, shape: [batch, 1, ...t.shape.slice(2)], data } as Tensor;
}

/** Bytes of the distinct buffers under these tensors (views of one buffer counted once). */
function distinctBytes(ts: readonly Tensor[]): number {
  const seen = new Set<ArrayBufferLike>();
  let total = 0;
  for (const t of ts) {
    if (seen.has(t.data.buffer)) continue;
    seen.add(t.data.buffer);
    total += t.data.buffer.byteLength;
  }
  return total;
}

/** V8 refusing an allocation: "Array buffer allocation failed", "Invalid typed array length: …", "Invalid array buffer length". */
function isAllocationFailure(e: unknown): e is RangeError {
  // ... or WebAssembly memory refused to grow (the GEMM's operands, a compiled phase's slots).
  return e instanceof RangeError && /allocation failed|invalid typed array length|invalid array buffer length|memory\.grow\(\)/i.test(e.message);
}

/** `make()`, with V8's refusal to allocate (`bytes` of them) as TFM6003. */
function allocate<T>(bytes: number, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (isAllocationFailure(e)) throw allocationFailed(bytes, e);
    throw e;
  }
}

// `WebGpuProgram`: a model compiled to WGSL and loaded on a GPUDevice. `load` has the load-time
// values (weights, constants and what is computed from them alone) computed by the evaluator its
// caller supplies — the CPU interpreter's `loadTimeValues`, so they are exactly the CPU's — compiles
// the schedule's kernels, checks the device's limits and uploads; `run` checks the inputs and binds
// the symbolic dims by the backends' shared code (../shared/inputs.ts), fills the sizes uniform,
// runs every kernel and reads back the outputs. `runResident` keeps the model's state (a KV cache)
// in device buffers between calls, as the Decoder (src/generate/decoder.ts) uses it: one buffer per
// state at capacity, into which each call's `append` writes its new positions in place; only the
// token ids go up, and only what is asked for (the last position's logits) comes back. Inputs the
// same for a whole sequence (an encoder–decoder's cross-attention keys and values, `kept`) go up
// with its first call and stay in their buffers for the later ones. Failures a CPU run would report are RunErrors with
// the CPU's code and message (TFM6001 an index out of range or an empty reduction, TFM6002 bad inputs).
import { showBytes } from "../shared/budget.js";
import { evalDim, showDim, type Dim } from "../../core/dim.js";
import type { Graph } from "../../ir/graph.js";
import { schedule } from "../../schedule/fuse.js";
import type { Schedule } from "../../schedule/kernel.js";
import { type MemoryPlan, planMemory } from "../../schedule/memory.js";
import { numel, runtimeDType, showShape, type Tensor, unravel } from "../../core/tensor.js";
import { RunError } from "../shared/errors.js";
import { bindInputs, checkSizes, unboundMessage } from "../shared/inputs.js";
import { compile, type CompiledProgram } from "./compile.js";
import { errorBase } from "./codegen/expr.js";
import { sizeValues } from "./codegen/sizes.js";
import { GpuRunner, type Readback } from "./device.js";
import { WebGpuError } from "./errors.js";
import { checkDevice, type Limits, limitsOf, needs, splitGrid } from "./limits.js";

/**
 * Computes the load-time values `need` of graph `g` from the weights (src/ir/load-time.ts says which
 * nodes those are), raising a RunError where a CPU load would. The caller supplies it: the CPU
 * interpreter's `loadTimeValues` (src/backends/cpu/evaluate.ts).
 */
export type LoadTimeEvaluator = (g: Graph, need: readonly number[], weights: ReadonlyMap<string, Tensor>) => Map<number, Tensor>;

export interface LoadOptions {
  /** How the load-time values are computed (required: this backend runs no CPU code of its own). */
  readonly loadTime: LoadTimeEvaluator;
  /**
   * Share buffers as the schedule's memory plan says (the default: src/schedule/memory.ts, every
   * element 4 bytes here, outputs written in place over dying inputs where it allows); false gives
   * every kernel output a buffer of its own.
   */
  readonly reuse?: boolean;
  /** Limits lower than the device's, to behave as a smaller device would (tests, portability checks). */
  readonly limits?: Partial<Limits>;
  /**
   * "f16": the weights' matrices kept on the device as f16 (src/backends/webgpu/halves.ts), half
   * their bytes; "int8": as int8 with a scale per output channel (quarters.ts), a quarter of them.
   * The kernels read them as f32 and compute in f32 as before; default "f32".
   */
  readonly weightsDtype?: "f32" | "f16" | "int8";
}

/** How `runResident` runs a call (see there). */
export interface ResidentOptions {
  readonly fresh: boolean;
  readonly lastRow?: string;
  readonly capacity?: number;
  readonly kept?: readonly string[];
}

export interface WebGpuRunResult {
  readonly outputs: Map<string, Tensor>;
  readonly symbols: ReadonlyMap<string, number>;
}

export class WebGpuProgram {
  /** The symbols of the last run (batch, seq, ...). */
  lastSymbols: ReadonlyMap<string, number> = new Map();

  private constructor(
    readonly compiled: CompiledProgram,
    /** The memory plan the buffers follow (undefined: a buffer per value). */
    readonly plan: MemoryPlan | undefined,
    private readonly runner: GpuRunner,
    private readonly fixed: ReadonlyMap<number, Tensor>,
    private readonly limits: Limits,
  ) {}

  /** Compiles `source` (a graph: its fused schedule, as the CPU runs it; or a schedule) and loads it with `weights` on `device`. */
  static async load(source: Graph | Schedule, weights: ReadonlyMap<string, Tensor>, device: GPUDevice, opts: LoadOptions): Promise<WebGpuProgram> {
    const s = "kernels" in source ? source : schedule(source);
    const own = limitsOf(device.limits as unknown as Record<keyof Limits, number>);
    const limits = limitsOf({ ...own, ...Object.fromEntries(Object.entries(opts.limits ?? {}).map(([k, v]) => [k, Math.min(v!, own[k as keyof Limits])])) });
    let plan = opts.reuse === false ? undefined : planMemory(s, { elementBytes: () => 4 });
    const maxStorageBuffers = limits.maxStorageBuffersPerShaderStage;
    // A state's next value gets buffers of its own (device.ts): no output is written in place over another value's buffer there.
    const stateOutputs = new Set(s.graph.states.map((st) => owner(s, s.graph.outputs.find((o) => o.name === st.name)!.node)));
    const weightsDtype = opts.weightsDtype ?? "f32";
    let compiled = compile(s, { inPlace: plan?.inPlace.filter((x) => !stateOutputs.has(owner(s, x.output))), maxStorageBuffers, weightsDtype });
    // A fused kernel run as op kernels has intermediate values the plan does not know of, and
    // cannot write in place: such a program gets a buffer per value.
    if (plan && compiled.fallbacks.length) {
      plan = undefined;
      compiled = compile(s, { maxStorageBuffers, weightsDtype });
    }
    checkDevice(needs(compiled), limits);
    const fixed = opts.loadTime(s.graph, compiled.uploads, weights);
    const runner = await GpuRunner.create(device, compiled, fixed, plan?.buffers, compiled.stateLayouts.map((l) => ({ input: l.input, output: l.output })));
    return new WebGpuProgram(compiled, plan, runner, fixed, limits);
  }

  get graph(): Graph {
    return this.compiled.schedule.graph;
  }

  /** dispatchWorkgroups calls so far (all runs), and in the last run. */
  get dispatches(): { total: number; lastRun: number } {
    return { total: this.runner.dispatches, lastRun: this.runner.lastDispatches };
  }

  /** Bytes of the load-time values on the device (the weights, uploaded once; f16 ones at two bytes an element). */
  get weightBytes(): number {
    return this.runner.fixedBytes;
  }

  /** Bytes read back from the device (values, error words) so far and in the last run; bytes of inputs uploaded by the last run; value buffers created so far. */
  get transfers(): { readback: { values: number; errors: number }; lastReadback: { values: number; errors: number }; lastUpload: number; allocations: number } {
    return { readback: { ...this.runner.readback }, lastReadback: { ...this.runner.lastReadback }, lastUpload: this.runner.lastUploadBytes, allocations: this.runner.allocations };
  }

  /** Whether the model's state can stay on the device between runs (`runResident`): it has state, each kept in place (compile.ts `stateLayouts`). */
  get resident(): boolean {
    return this.graph.states.length > 0 && this.compiled.stateLayouts.length === this.graph.states.length;
  }

  /** The resident states' buffers (GPUBuffers, by state name) and the bytes ever copied between them: for tests that a step copies none. */
  get stateBuffers(): { readonly buffers: ReadonlyMap<string, unknown>; readonly capacity: number | undefined; readonly copiedBytes: number } {
    return { buffers: new Map(this.compiled.stateLayouts.map((l, i) => [l.name, this.runner.stateBuffer(i)])), capacity: this.stateCapacity, copiedBytes: this.runner.stateCopyBytes };
  }

  /**
   * Runs `inputs` (the model's own, no state) on the state kept on the device — empty when `fresh`
   * — and keeps the state's next value there, for the next call. Returns the outputs but the
   * state's; with `lastRow`, only that output, and of it only the last position of each sequence
   * (`[batch, 1, ...]`: the logits row generation samples from). `capacity`: the positions the
   * state's buffers are made with (kept by a `fresh` call of the same shape); past it (or without
   * one) a buffer grows to twice what is needed, keeping what it holds by one copy. `kept`: inputs
   * the same for the whole sequence (an encoder–decoder's states written once, src/ir/phases.ts),
   * given with the `fresh` call only: uploaded then, into buffers of their own that no kernel
   * writes, and read there by every later call of the sequence, which must not give them. A run
   * that fails leaves the state as it was.
   */
  runResident(inputs: ReadonlyMap<string, Tensor>, opts: ResidentOptions): Promise<Map<string, Tensor>> {
    const next = this.queue.then(() => this.runResidentNow(inputs, opts));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The shapes of the state's values on the device (undefined: empty). */
  private stateShapes: Map<string, number[]> | undefined;
  /** The positions the state buffers are laid out for (undefined: none made yet). */
  private stateCapacity: number | undefined;

  /** The shapes of the inputs kept on the device for the sequence (`runResident`'s `kept`), by name; undefined: none held. */
  private keptShapes: Map<string, number[]> | undefined;

  private async runResidentNow(inputs: ReadonlyMap<string, Tensor>, opts: ResidentOptions): Promise<Map<string, Tensor>> {
    const g = this.graph;
    if (!this.resident) throw new Error(`webgpu: the model \`${g.name}\` keeps no state on the device (a bug in tfm: check \`resident\` first)`);
    for (const st of g.states) if (inputs.has(st.name)) throw new RunError("TFM6002", `the state \`${st.name}\` is kept on the device: it is not an input of this call`);
    const all = new Map(inputs);
    if (opts.fresh) this.stateShapes = undefined;
    const kept = opts.kept ?? [];
    for (const name of kept) {
      const port = g.inputs.find((p) => p.name === name);
      if (!port || g.states.some((st) => st.name === name)) throw new Error(`webgpu: \`${name}\` is not an input of the model \`${g.name}\` that can be kept (a bug in tfm)`);
      if (opts.fresh) {
        if (!inputs.has(name)) throw new RunError("TFM6002", `the input \`${name}\` is kept on the device for the sequence: give it with the sequence's first call`);
        continue;
      }
      if (inputs.has(name)) throw new RunError("TFM6002", `the input \`${name}\` is kept on the device since the sequence's first call: a later call does not give it (call reset() for a new sequence)`);
      const shape = this.keptShapes?.get(name);
      if (!shape) throw new RunError("TFM6002", `the input \`${name}\` is not on the device (a plain run or a new sequence replaced it): start the sequence again with it`);
      all.set(name, { dtype: runtimeDType[g.nodes[port.node]!.dtype], shape, data: new Float32Array(0) } as Tensor);
    }
    // The states' shapes only (their values are on the device): the empty state's, or what the last run left.
    const partial = bindInputs({ ...g, inputs: g.inputs.filter((p) => !g.states.some((st) => st.name === p.name)) }, all);
    for (const st of g.states) {
      const port = g.inputs.find((p) => p.name === st.name)!;
      const n = g.nodes[port.node]!;
      const shape = this.stateShapes?.get(st.name) ?? n.shape.map((d) => evalDim(d, partial) ?? 0);
      all.set(st.name, { dtype: runtimeDType[n.dtype], shape, data: new Float32Array(0) } as Tensor);
    }
    const read = (_symbols: ReadonlyMap<string, number>, shapeOf: (id: number) => number[]): Readback[] => {
      const out: Readback[] = [];
      for (const o of g.outputs) {
        if (g.states.some((st) => st.name === o.name) || (opts.lastRow !== undefined && o.name !== opts.lastRow)) continue;
        const n = g.nodes[o.node]!;
        if (this.fixed.has(o.node) || n.op === "input" || out.some((r) => r.node === o.node)) continue;
        const shape = shapeOf(o.node);
        if (opts.lastRow === undefined || shape.length < 2) {
          out.push({ node: o.node, dtype: runtimeDType[n.dtype], shape });
          continue;
        }
        const [b, t, ...rest] = shape as [number, number, ...number[]];
        const length = numel(rest);
        out.push({ node: o.node, dtype: runtimeDType[n.dtype], shape: [b, Math.min(t, 1), ...rest], rows: { first: Math.max(0, t - 1) * length, stride: t * length, length: t > 0 ? length : 0, count: b } });
      }
      return out;
    };
    // The capacity the buffers are laid out at: kept while it holds; a new sequence may take a larger one, a running one grows (one copy).
    const symbols = bindInputs(g, all);
    const layouts = this.compiled.stateLayouts;
    const need = Math.max(0, ...layouts.map((l) => evalDim(g.nodes[l.output]!.shape[l.axis]!, symbols) ?? 0));
    let capacity = Math.max(need, opts.capacity ?? 0, this.stateCapacity ?? 0);
    if (!opts.fresh && this.stateCapacity !== undefined && need > this.stateCapacity) {
      capacity = Math.max(opts.capacity ?? 0, 2 * need);
      layouts.forEach((l, i) => {
        const shape = all.get(l.name)!.shape;
        const outer = numel(shape.slice(0, l.axis)), inner = numel(shape.slice(l.axis + 1));
        this.runner.growState(i, outer, inner, this.stateCapacity!, shape[l.axis]!, capacity);
      });
      this.stateCapacity = capacity;
    }
    if (opts.fresh) this.keptShapes = undefined;
    const r = await this.execute(all, read, { fresh: opts.fresh, capacity: () => capacity, kept: opts.fresh ? new Set() : new Set(kept) });
    if (opts.fresh && kept.length) this.keptShapes = new Map(kept.map((n) => [n, inputs.get(n)!.shape.slice()]));
    const shapes = new Map<string, number[]>();
    for (const st of g.states) shapes.set(st.name, r.shapeOf(g.outputs.find((o) => o.name === st.name)!.node));
    this.stateShapes = shapes;
    this.stateCapacity = capacity;
    const outputs = new Map<string, Tensor>();
    for (const o of g.outputs) {
      if (g.states.some((st) => st.name === o.name) || (opts.lastRow !== undefined && o.name !== opts.lastRow)) continue;
      const n = g.nodes[o.node]!;
      const v = this.fixed.get(o.node) ?? (n.op === "input" ? all.get(n.attrs.name!)! : r.values.get(o.node)!);
      outputs.set(o.name, v);
    }
    return outputs;
  }

  /** Frees the program's buffers (not the device). */
  destroy(): void {
    this.runner.destroy();
  }

  async run(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    return (await this.runWithSymbols(inputs)).outputs;
  }

  /** Runs one at a time: a run started while another is in flight waits for it (they share buffers). */
  runWithSymbols(inputs: ReadonlyMap<string, Tensor>): Promise<WebGpuRunResult> {
    const next = this.queue.then(() => this.runNow(inputs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async runNow(inputs: ReadonlyMap<string, Tensor>): Promise<WebGpuRunResult> {
    const g = this.graph;
    // A plain run writes every input into its buffer: what a sequence kept there is gone.
    this.keptShapes = undefined;
    const read = (_symbols: ReadonlyMap<string, number>, shapeOf: (id: number) => number[]): Readback[] => {
      const out: Readback[] = [];
      for (const o of g.outputs) {
        const n = g.nodes[o.node]!;
        if (this.fixed.has(o.node) || n.op === "input" || out.some((r) => r.node === o.node)) continue;
        out.push({ node: o.node, dtype: runtimeDType[n.dtype], shape: shapeOf(o.node) });
      }
      return out;
    };
    const r = await this.execute(inputs, read);
    const outputs = new Map<string, Tensor>();
    for (const o of g.outputs) {
      const n = g.nodes[o.node]!;
      outputs.set(o.name, this.fixed.get(o.node) ?? (n.op === "input" ? inputs.get(n.attrs.name!)! : r.values.get(o.node)!));
    }
    return { outputs, symbols: r.symbols };
  }

  /**
   * One run: the inputs checked and the dims bound, the device's limits checked, the kernels run
   * and `read` read back. With `resident` (the states' capacity), a resident run: the states stay
   * on the device, and `inputs` holds only their shapes; so do the inputs `kept` (their buffers
   * hold them since the sequence's first call: nothing is uploaded). A plain run lays each state
   * out at capacity past + seq: its input is uploaded into the buffer its `append` then writes after.
   */
  private async execute(
    inputs: ReadonlyMap<string, Tensor>,
    read: (symbols: ReadonlyMap<string, number>, shapeOf: (id: number) => number[]) => Readback[],
    resident?: { readonly fresh: boolean; readonly capacity: () => number; readonly kept: ReadonlySet<string> },
  ): Promise<{ values: Map<number, Tensor>; symbols: ReadonlyMap<string, number>; shapeOf: (id: number) => number[] }> {
    const g = this.graph;
    const p = this.compiled;
    const symbols = bindInputs(g, inputs);
    checkSizes(g, symbols);
    this.lastSymbols = symbols;
    const shapes = new Map<number, number[]>();
    const shapeOf = (id: number) => {
      let s = shapes.get(id);
      if (!s) {
        s = g.nodes[id]!.shape.map((d) => evalDim(d, symbols)!);
        shapes.set(id, s);
      }
      return s;
    };
    // The states' capacity symbols (compile.ts `stateLayouts`).
    const sized = new Map(symbols);
    for (const l of p.stateLayouts) sized.set(l.symbol, resident ? resident.capacity() : evalDim(g.nodes[l.output]!.shape[l.axis]!, symbols)!);
    // The error buffer: two words per gather that can fail, then a word per position of its indices.
    let errorWords = 2 * p.errorSlots.length;
    p.errorSlots.forEach((node, slot) => {
      sized.set(errorBase(slot), errorWords);
      errorWords += numel(shapeOf(g.nodes[node]!.inputs[1]!));
    });
    const layoutOf = new Map<number, readonly Dim[]>(p.stateLayouts.flatMap((l) => [[l.input, l.shape], [l.output, l.shape]] as const));
    const sv = sizeValues(p.sizes, sized);
    if (sv.unbound) throw new RunError("TFM6002", unboundMessage(sv.unbound));
    if (sv.tooLarge) throw new WebGpuError("TFM7001", `the size ${showDim(sv.tooLarge[0])} = ${sv.tooLarge[1]} does not fit in 32 bits`);
    const elements = (id: number) => {
      const layout = layoutOf.get(id);
      return layout ? numel(layout.map((d) => evalDim(d, sized)!)) : numel(shapeOf(id));
    };
    for (const k of p.kernels) {
      for (const c of k.checks) {
        if (evalDim(c.empty, symbols) === 0 && evalDim(c.rest, symbols)! > 0) {
          const n = g.nodes[c.node]!;
          const x = g.nodes[n.inputs[0]!]!;
          const ax = n.attrs.axis! < 0 ? n.attrs.axis! + x.shape.length : n.attrs.axis!;
          throw new RunError("TFM6001", `${n.op}: cannot reduce an empty axis: axis ${ax} of shape ${showShape(shapeOf(x.id))} has size 0 (IR node %${n.id})`, n.site);
        }
      }
      for (const b of k.binds) {
        if (b.kind === "err") continue;
        const bytes = elements(b.node) * 4;
        const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
        if (bytes > max) throw new WebGpuError("TFM7001", `a value of shape ${showShape(shapeOf(b.node))} needs ${showBytes(bytes)}, over the device's largest storage buffer of ${showBytes(max)} (maxStorageBufferBindingSize, maxBufferSize); refused before allocating it`);
      }
    }
    const maxBytes = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (errorWords * 4 > maxBytes) throw new WebGpuError("TFM7001", `the gathers' indices need ${showBytes(errorWords * 4)} of error words, over the device's largest storage buffer of ${showBytes(maxBytes)}; refused before allocating it`);
    const grids = p.kernels.map((k) => {
      const total = k.grid.reduce((acc, f) => acc * Math.ceil(evalDim(f.size, symbols)! / f.per), 1);
      return total > 0 ? splitGrid(total, this.limits.maxComputeWorkgroupsPerDimension) : undefined;
    });
    const stateInputs = new Set(resident ? g.states.map((st) => st.name) : []);
    const onGpu = new Map<number, Tensor>();
    for (const port of g.inputs) {
      if (stateInputs.has(port.name) || resident?.kept.has(port.name)) continue;
      const t = inputs.get(port.name)!;
      const layout = layoutOf.get(port.node);
      onGpu.set(port.node, layout ? spread(t, p.stateLayouts.find((l) => l.input === port.node)!.axis, sized.get(p.stateLayouts.find((l) => l.input === port.node)!.symbol)!) : t);
    }
    const res = await this.runner.run({ sizes: sv.data, elements, grids, errorWords }, onGpu, read(symbols, shapeOf), resident ? { fresh: resident.fresh } : undefined);
    await this.raiseGatherError(res.errors, shapeOf, sized);
    return { values: res.values, symbols, shapeOf };
  }

  /** The CPU's TFM6001 for the first gather (in graph order) that met an index out of range. */
  private async raiseGatherError(errors: Uint32Array, shapeOf: (id: number) => number[], sized: ReadonlyMap<string, number>): Promise<void> {
    const g = this.graph;
    let bad: { node: number; pos: number; slot: number } | undefined;
    this.compiled.errorSlots.forEach((node, slot) => {
      const pos = errors[2 * slot]!;
      if (pos !== 0xffffffff && (!bad || node < bad.node)) bad = { node, pos, slot };
    });
    if (!bad) return;
    const n = g.nodes[bad.node]!;
    const ind = g.nodes[n.inputs[1]!]!;
    const indShape = shapeOf(ind.id);
    // The value, stored by the threads that met it (codegen/expr.ts ErrorSlots).
    const v = (await this.runner.readErrorWord(sized.get(errorBase(bad.slot))! + bad.pos)) | 0;
    const ax = n.attrs.axis!;
    const size = shapeOf(n.inputs[0]!)[ax]!;
    const at = indShape.length === 0 ? "" : ` at position [${unravel(bad.pos, indShape).join(", ")}]`;
    const valid = size === 0 ? "the axis is empty" : `valid: 0..${size - 1}`;
    throw new RunError("TFM6001", `gather: index ${v}${at} is out of range for axis ${ax} of size ${size} (${valid}) (IR node %${n.id})`, n.site);
  }
}

/** A node's buffer owner (a view shares the buffer of the value it views). */
function owner(s: Schedule, node: number): number {
  return s.aliases.get(node) ?? node;
}

/** A state's value laid out at `capacity` positions along `axis` (the rest of each run left 0). */
function spread(t: Tensor, axis: number, capacity: number): Tensor {
  const outer = numel(t.shape.slice(0, axis)), inner = numel(t.shape.slice(axis + 1)), run = t.shape[axis]! * inner;
  const shape = t.shape.map((d, i) => (i === axis ? capacity : d));
  const data = new (t.data.constructor as Float32ArrayConstructor)(numel(shape));
  for (let o = 0; o < outer; o++) data.set(t.data.subarray(o * run, (o + 1) * run) as never, o * capacity * inner);
  return { dtype: t.dtype, shape, data } as Tensor;
}

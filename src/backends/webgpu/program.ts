// `WebGpuProgram`: a model compiled to WGSL and loaded on a GPUDevice. `load` has the load-time
// values (weights, constants and what is computed from them alone) computed by the evaluator its
// caller supplies — the CPU interpreter's `loadTimeValues`, so they are exactly the CPU's — compiles
// the schedule's kernels, checks the device's limits and uploads; `run` checks the inputs and binds
// the symbolic dims by the backends' shared code (../shared/inputs.ts), fills the sizes uniform,
// runs every kernel and reads back the outputs. Failures a CPU run would report are RunErrors with
// the CPU's code and message (TFM6001 an index out of range or an empty reduction, TFM6002 bad inputs).
import { showBytes } from "../shared/budget.js";
import { evalDim, showDim } from "../../core/dim.js";
import type { Graph } from "../../ir/graph.js";
import { schedule } from "../../schedule/fuse.js";
import type { Schedule } from "../../schedule/kernel.js";
import { type MemoryPlan, planMemory } from "../../schedule/memory.js";
import { numel, runtimeDType, showShape, type Tensor, unravel } from "../../core/tensor.js";
import { RunError } from "../shared/errors.js";
import { bindInputs, checkSizes, unboundMessage } from "../shared/inputs.js";
import { compile, type CompiledProgram } from "./compile.js";
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
    let compiled = compile(s, { inPlace: plan?.inPlace, maxStorageBuffers });
    // A fused kernel run as op kernels has intermediate values the plan does not know of, and
    // cannot write in place: such a program gets a buffer per value.
    if (plan && compiled.fallbacks.length) {
      plan = undefined;
      compiled = compile(s, { maxStorageBuffers });
    }
    checkDevice(needs(compiled), limits);
    const fixed = opts.loadTime(s.graph, compiled.uploads, weights);
    const runner = await GpuRunner.create(device, compiled, fixed, plan?.buffers);
    return new WebGpuProgram(compiled, plan, runner, fixed, limits);
  }

  get graph(): Graph {
    return this.compiled.schedule.graph;
  }

  /** dispatchWorkgroups calls so far (all runs), and in the last run. */
  get dispatches(): { total: number; lastRun: number } {
    return { total: this.runner.dispatches, lastRun: this.runner.lastDispatches };
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
    const p = this.compiled;
    const symbols = bindInputs(g, inputs);
    checkSizes(g, symbols);
    this.lastSymbols = symbols;
    const sv = sizeValues(p.sizes, symbols);
    if (sv.unbound) throw new RunError("TFM6002", unboundMessage(sv.unbound));
    if (sv.tooLarge) throw new WebGpuError("TFM7001", `the size ${showDim(sv.tooLarge[0])} = ${sv.tooLarge[1]} does not fit in 32 bits`);
    const shapes = new Map<number, number[]>();
    const shapeOf = (id: number) => {
      let s = shapes.get(id);
      if (!s) {
        s = g.nodes[id]!.shape.map((d) => evalDim(d, symbols)!);
        shapes.set(id, s);
      }
      return s;
    };
    const elements = (id: number) => numel(shapeOf(id));
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
    const grids = p.kernels.map((k) => {
      const total = k.grid.reduce((acc, f) => acc * Math.ceil(evalDim(f.size, symbols)! / f.per), 1);
      return total > 0 ? splitGrid(total, this.limits.maxComputeWorkgroupsPerDimension) : undefined;
    });
    const onGpu = new Map<number, Tensor>();
    for (const port of g.inputs) onGpu.set(port.node, inputs.get(port.name)!);
    const read: Readback[] = [];
    for (const o of g.outputs) {
      const n = g.nodes[o.node]!;
      if (this.fixed.has(o.node) || n.op === "input" || read.some((r) => r.node === o.node)) continue;
      read.push({ node: o.node, dtype: runtimeDType[n.dtype], shape: shapeOf(o.node) });
    }
    const res = await this.runner.run({ sizes: sv.data, elements, grids }, onGpu, read);
    this.raiseGatherError(res.errors, shapeOf, inputs);
    const outputs = new Map<string, Tensor>();
    for (const o of g.outputs) {
      const n = g.nodes[o.node]!;
      outputs.set(o.name, this.fixed.get(o.node) ?? (n.op === "input" ? inputs.get(n.attrs.name!)! : res.values.get(o.node)!));
    }
    return { outputs, symbols };
  }

  /** The CPU's TFM6001 for the first gather (in graph order) that met an index out of range. */
  private raiseGatherError(errors: Uint32Array, shapeOf: (id: number) => number[], inputs: ReadonlyMap<string, Tensor>): void {
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
    // A model input's or a load-time value's indices are here, an arange's is its position; others'
    // value was recorded by the kernel dispatched after the gather (codegen/gather-error.ts).
    const host = this.fixed.get(ind.id) ?? (ind.op === "input" ? inputs.get(ind.attrs.name!) : undefined);
    const v = host ? host.data[bad.pos]! : ind.op === "arange" ? bad.pos : errors[2 * bad.slot + 1]! | 0;
    const ax = n.attrs.axis!;
    const size = shapeOf(n.inputs[0]!)[ax]!;
    const at = indShape.length === 0 ? "" : ` at position [${unravel(bad.pos, indShape).join(", ")}]`;
    const valid = size === 0 ? "the axis is empty" : `valid: 0..${size - 1}`;
    throw new RunError("TFM6001", `gather: index ${v}${at} is out of range for axis ${ax} of size ${size} (${valid}) (IR node %${n.id})`, n.site);
  }
}

// Static memory planning: assigns every value a schedule materialises (each kernel output; see
// liveness.ts) to one of N buffers, so that a runtime allocates N buffers once per set of dim
// values instead of one per value. Sizes are symbolic: each buffer's size is the max of the values
// it holds, kept as an antichain of Dims (dim-max.ts) and evaluated when the dims are bound, so
// one plan serves every batch and sequence length; the CPU and WebGPU runtimes both allocate from it.
//
// The assignment is a linear scan over the kernels. At each step the kernel's outputs, largest
// first, take: the buffer of an input that dies in this kernel when the kernel may write over it
// (in-place.ts); else the free buffer that grows least (a buffer provably big enough grows by
// nothing; among those, the smallest), judged at `hint` dim values; else a new buffer. After the
// step, the buffers of the values it read for the last time are free. Reusing a free buffer never
// costs more than a new one: max(a, b) ≤ a + b whatever the dims.
import type { Dim } from "../core/dim.js";
import { addDim, constDim, showDim, subDim, symbolsOf } from "../core/dim.js";
import { evalMax, holds, maxima } from "./dim-max.js";
import { canWriteOver, inPlaceKinds } from "./in-place.js";
import type { KernelKind, Schedule } from "./kernel.js";
import { liveness, runtimeBytes, type ElementBytes, type Liveness, type Value } from "./liveness.js";

export interface PlanOptions {
  /** Bytes per element of each dtype (default: the CPU runtime's, `runtimeBytes`). */
  readonly elementBytes?: ElementBytes;
  /** Kernel kinds that may write an output over a dying input (default `inPlaceKinds`: all but attention); [] for none. */
  readonly inPlace?: readonly KernelKind[];
  /** Typical dim values, used only to choose between free buffers (120 for a dim not given). */
  readonly hint?: ReadonlyMap<string, number>;
}

/** An output written over the buffer of an input that dies in the same kernel. */
export interface InPlace {
  /** The step: the kernel's index in `schedule.kernels`. */
  readonly step: number;
  /** The value overwritten (its owner node). */
  readonly input: number;
  /** The kernel output written over it. */
  readonly output: number;
}

export interface MemoryPlan {
  readonly schedule: Schedule;
  readonly liveness: Liveness;
  readonly elementBytes: ElementBytes;
  readonly inPlaceKinds: readonly KernelKind[];
  /** Each buffer's size in bytes: the max of these Dims (pairwise incomparable; one when the sizes it holds are comparable). */
  readonly sizes: readonly (readonly Dim[])[];
  /** Value (a kernel output's node) → its buffer's index. */
  readonly buffers: ReadonlyMap<number, number>;
  readonly inPlace: readonly InPlace[];
  /**
   * Buffers holding a graph output when the run ends. The runtime hands those values to the
   * caller, so it must not reuse these buffers for the next run while the caller holds them.
   */
  readonly outputBuffers: ReadonlySet<number>;
  /**
   * Buffers holding a state's next value (an `append`) and nothing else: a run that keeps the
   * state in buffers of its own at capacity (CpuProgram.runResident) allocates none of these.
   */
  readonly stateBuffers: ReadonlySet<number>;
  /** The bytes of the values live at each step (an in-place output and its input counted once). */
  readonly live: readonly Dim[];
  /** The peak of `live`: its maxima (pairwise incomparable). */
  readonly peak: readonly Dim[];
  /** The buffer holding a node's value (through aliases); undefined for graph inputs, load-time nodes and nodes internal to a kernel. */
  bufferOf(node: number): number | undefined;
}

export class UnboundDim extends Error {}

/** Each buffer's size in bytes at the given dim values (every dim the graph uses must be bound). */
export function bufferBytes(plan: MemoryPlan, symbols: ReadonlyMap<string, number>): number[] {
  return plan.sizes.map((ds, b) => {
    const v = evalMax(ds, symbols);
    if (v === undefined) throw new UnboundDim(`buffer ${b}: its size depends on a dim that is not bound (or a quotient that is not exact): ${[...new Set(ds.flatMap(symbolsOf))].join(", ")}`);
    return v;
  });
}

/** Every dim the graph's shapes mention, at 120 (divisible by 2, 3, 4, 5, 6, 8, 10, 12). */
function defaultHint(s: Schedule): Map<string, number> {
  const names = new Set(s.graph.nodes.flatMap((n) => n.shape.flatMap(symbolsOf)));
  return new Map([...names].map((n) => [n, 120]));
}

export function planMemory(s: Schedule, opts: PlanOptions = {}): MemoryPlan {
  const elementBytes = opts.elementBytes ?? runtimeBytes;
  const kinds = opts.inPlace ?? inPlaceKinds;
  const hint = new Map([...defaultHint(s), ...(opts.hint ?? [])]);
  const lv = liveness(s, elementBytes);
  const at = (ds: readonly Dim[]) => evalMax(ds, hint) ?? 0;
  const byStep = (key: (v: Value) => number) => {
    const m: Value[][] = Array.from({ length: lv.steps + 1 }, () => []);
    for (const v of lv.values) m[key(v)]!.push(v);
    return m;
  };
  const [written, dying] = [byStep((v) => v.def), byStep((v) => v.last)];

  const sizes: (readonly Dim[])[] = [];
  /** The sizes of the values each buffer has held (each once): its size is their maxima. */
  const held: Dim[][] = [];
  /** The value each buffer holds now; -1 when free. */
  const holder: number[] = [];
  const free = new Set<number>();
  const buffers = new Map<number, number>();
  const inPlace: InPlace[] = [];
  const live: Dim[] = [];
  let running = constDim(0);
  const stateBuffers = new Set<number>();

  /** The free buffer that grows least to hold `bytes`; provably big enough first, then the smallest. */
  const pick = (bytes: Dim): number | undefined => {
    let best: { b: number; key: [number, number, number] } | undefined;
    for (const b of free) {
      const fits = holds(sizes[b]!, bytes);
      const key: [number, number, number] = [fits ? 0 : Math.max(0, at([bytes]) - at(sizes[b]!)), fits ? 0 : 1, at(sizes[b]!)];
      if (!best || key[0] < best.key[0] || (key[0] === best.key[0] && (key[1] < best.key[1] || (key[1] === best.key[1] && key[2] < best.key[2])))) best = { b, key };
    }
    return best?.b;
  };

  for (let step = 0; step < lv.steps; step++) {
    const k = s.kernels[step]!;
    const overwritten = new Set<number>();
    let shared = constDim(0);
    for (const v of [...written[step]!].sort((a, b) => at([b.bytes]) - at([a.bytes]) || a.node - b.node)) {
      let b: number | undefined;
      // A state's next value never shares a buffer: a resident run keeps it in place instead.
      const state = s.graph.nodes[v.node]!.op === "append";
      for (const i of state ? [] : new Set(k.inputs.map(lv.owner))) {
        const bi = buffers.get(i);
        if (bi === undefined || holder[bi] !== i || overwritten.has(i) || !holds(sizes[bi]!, v.bytes)) continue;
        if (!canWriteOver(s, lv, step, i, v.node, elementBytes, kinds)) continue;
        b = bi;
        overwritten.add(i);
        inPlace.push({ step, input: i, output: v.node });
        shared = addDim(shared, v.bytes);
        break;
      }
      if (b === undefined && !state) b = pick(v.bytes);
      if (b === undefined) {
        b = sizes.length;
        sizes.push([]);
        held.push([]);
        if (state) stateBuffers.add(b);
      }
      free.delete(b);
      // Kept whole (the prover is not transitive): every size held stays directly ≤ a member of the max.
      if (!held[b]!.some((d) => showDim(d) === showDim(v.bytes))) {
        held[b]!.push(v.bytes);
        sizes[b] = maxima(held[b]!);
      }
      holder[b] = v.node;
      buffers.set(v.node, b);
      running = addDim(running, v.bytes);
    }
    live.push(subDim(running, shared));
    for (const v of dying[step]!) {
      running = subDim(running, v.bytes);
      const b = buffers.get(v.node)!;
      if (holder[b] === v.node && !stateBuffers.has(b)) {
        holder[b] = -1;
        free.add(b);
      }
    }
  }

  const outputBuffers = new Set(lv.values.filter((v) => v.output).map((v) => buffers.get(v.node)!));
  return {
    schedule: s,
    liveness: lv,
    elementBytes,
    inPlaceKinds: kinds,
    sizes,
    buffers,
    inPlace,
    outputBuffers,
    stateBuffers,
    live,
    peak: maxima(live),
    bufferOf: (node) => {
      const v = lv.valueOf(node);
      return v && buffers.get(v.node);
    },
  };
}

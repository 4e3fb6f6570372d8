/// <reference types="@webgpu/types" />
// The one module that touches a GPUDevice. It creates a compute pipeline once per distinct kernel
// source, uploads the load-time values once, keeps one buffer per value computed per run (or per
// slot of a memory plan) and grows them when a run needs more, and runs a model as one command
// encoder: the sizes uniform and the inputs written, one compute pass with every dispatch, copies
// of the outputs (and the error buffer) to mappable buffers, one submit. It counts dispatches and
// the bytes uploaded and read back. A model's state (a KV cache: src/ir/graph.ts `states`) lives in
// one buffer per state, laid out at a capacity along its axis (compile.ts `stateLayouts`): the
// state's input and its `append` are the same buffer, and the append kernel writes only the new
// positions into it. In a resident run that buffer stays on the device between runs, so the state
// is neither uploaded, read back nor copied; a plain run has buffers of its own for it.
// No node-only imports: it is meant to be bundled for browsers.
import { packHalves } from "../../core/f16.js";
import { quantizeInt8 } from "./quarters.js";
import { arrayFor, numel, type DType, type Tensor } from "../../core/tensor.js";
import type { CompiledProgram } from "./compile.js";
import { WebGpuError } from "./errors.js";

/** Nodes that share one buffer: node → slot (the memory planner promises disjoint lifetimes). */
export type BufferPlan = ReadonlyMap<number, number>;

/** What one run needs, computed by the program from the bound symbols. */
export interface RunSizes {
  /** The sizes uniform's words. */
  readonly sizes: Uint32Array;
  /** Element count of each node's value (inputs, kernel outputs). */
  readonly elements: (node: number) => number;
  /** Per compiled kernel: its grid, or undefined when it has nothing to do (no dispatch). */
  readonly grids: readonly ([number, number, number] | undefined)[];
  /** Words of the error buffer: two per error slot, then the values of the slots' indices (codegen/expr.ts ErrorSlots). */
  readonly errorWords: number;
}

export interface Readback {
  readonly node: number;
  readonly dtype: DType;
  /** The shape of what is read back (the whole value's, or that of its rows when `rows` is given). */
  readonly shape: readonly number[];
  /**
   * Only some elements: `count` runs of `length` elements, run i starting at element
   * `first + i * stride` (the last position of each sequence's logits: first = (T − 1)·V, stride = T·V,
   * length = V, count = B). Undefined: the whole value.
   */
  readonly rows?: { readonly first: number; readonly stride: number; readonly length: number; readonly count: number };
}

/** A state kept on the device: the node of its value at the start of a run, and the node of its next value. */
export interface ResidentState {
  readonly input: number;
  readonly output: number;
}

/** How a run treats the resident states. */
export interface ResidentRun {
  /** A new sequence: a state buffer too small for this run's capacity may be made anew (nothing in it is kept). */
  readonly fresh: boolean;
}

const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, UNIFORM = 0x40, MAP_READ = 0x01; // GPUBufferUsage
const MAP_MODE_READ = 0x1; // GPUMapMode.READ
const COMPUTE = 0x4; // GPUShaderStage.COMPUTE

interface Slot {
  buffer: GPUBuffer;
  bytes: number;
}

export class GpuRunner {
  /** dispatchWorkgroups calls made by this runner, all runs together. */
  dispatches = 0;
  /** dispatchWorkgroups calls of the last run. */
  lastDispatches = 0;
  /** Bytes copied from the device to the host, all runs together: values, and error words. */
  readonly readback = { values: 0, errors: 0 };
  /** The same for the last run. */
  readonly lastReadback = { values: 0, errors: 0 };
  /** Bytes of the inputs written to the device by the last run (not the sizes uniform, nor the error words' reset). */
  lastUploadBytes = 0;
  /** Value buffers created so far (a run that reuses every buffer creates none). */
  allocations = 0;
  /** Bytes of the load-time values' buffers (weights, uploaded once; f16 ones two to a word). */
  fixedBytes = 0;
  /** Bytes copied between state buffers (a buffer grown past its capacity keeps what it holds); 0 while the capacity holds. */
  stateCopyBytes = 0;
  /** The states, and node → state index for their input and output nodes (one buffer each). */
  private readonly stateOf = new Map<number, number>();
  private readonly pipelines: GPUComputePipeline[];
  private readonly fixed = new Map<number, GPUBuffer>();
  private readonly slots = new Map<string, Slot>();
  private readonly staging = new Map<string, Slot>();
  private readonly sizesBuffer: GPUBuffer;
  private errBuffer: GPUBuffer;
  private errBytes: number;
  private lastSizes: Uint32Array | undefined;
  /** Bind groups per kernel, by the buffers they name: "p" a plain run, "r" a resident run. */
  private bindGroups = new Map<string, (GPUBindGroup | undefined)[]>();
  /** Whether the run being recorded is resident. */
  private residentRun = false;

  private constructor(private readonly device: GPUDevice, private readonly p: CompiledProgram, pipelines: GPUComputePipeline[], private readonly plan?: BufferPlan, readonly states: readonly ResidentState[] = []) {
    this.pipelines = pipelines;
    states.forEach((st, index) => {
      this.stateOf.set(st.input, index);
      this.stateOf.set(this.p.schedule.aliases.get(st.output) ?? st.output, index);
    });
    this.sizesBuffer = device.createBuffer({ size: p.sizeWords * 4, usage: UNIFORM | COPY_DST });
    this.errBytes = Math.max(1, 2 * p.errorSlots.length) * 4;
    this.errBuffer = device.createBuffer({ size: this.errBytes, usage: STORAGE | COPY_SRC | COPY_DST });
  }

  /** Compiles every kernel (once per distinct source) and uploads the load-time values. */
  static async create(device: GPUDevice, p: CompiledProgram, fixed: ReadonlyMap<number, Tensor>, plan?: BufferPlan, states: readonly ResidentState[] = []): Promise<GpuRunner> {
    device.pushErrorScope("validation");
    const bySource = new Map<string, Promise<GPUComputePipeline>>();
    const layouts = new Map<string, GPUPipelineLayout>();
    const pipelines = await Promise.all(
      p.kernels.map((k) => {
        let pl = bySource.get(k.wgsl);
        if (!pl) {
          const module = device.createShaderModule({ code: k.wgsl });
          pl = device.createComputePipelineAsync({ layout: layoutFor(device, layouts, k.binds), compute: { module, entryPoint: "main" } }).catch(async (e: unknown) => {
            const info = await module.getCompilationInfo();
            const msgs = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("\n");
            throw new Error(`webgpu: kernel k${k.kernel} does not compile (a bug in tfm): ${e instanceof Error ? e.message : String(e)}\n${msgs}`);
          });
          bySource.set(k.wgsl, pl);
        }
        return pl;
      }),
    );
    const err = await device.popErrorScope();
    if (err) throw new Error(`webgpu: creating the pipelines failed (a bug in tfm): ${err.message}`);
    const r = new GpuRunner(device, p, pipelines, plan, states);
    const halves = new Set(p.halves);
    for (const id of p.uploads) {
      const t = fixed.get(id);
      if (!t) throw new Error(`webgpu: load-time value %${id} was not computed`);
      // f16 values two to a word (halves.ts), int8 ones four (quarters.ts), the rest as they are.
      const channel = p.quarters.get(id);
      const x = () => (t.data as Float32Array).subarray(0, numel(t.shape));
      const data = halves.has(id) ? packHalves(x()) : channel ? quantizeInt8(x(), t.shape, channel) : words(t);
      const buf = device.createBuffer({ size: Math.max(4, data.byteLength), usage: STORAGE | COPY_SRC | COPY_DST });
      if (data.byteLength > 0) device.queue.writeBuffer(buf, 0, data);
      r.fixed.set(id, buf);
      r.fixedBytes += data.byteLength;
    }
    return r;
  }

  /** Frees every buffer (the device itself is the caller's). */
  destroy(): void {
    for (const b of this.fixed.values()) b.destroy();
    for (const s of [...this.slots.values(), ...this.staging.values()]) s.buffer.destroy();
    this.sizesBuffer.destroy();
    this.errBuffer.destroy();
  }

  /**
   * Runs every kernel once; returns the values of `read` and the error buffer's first two words per slot.
   * With `resident`, each state's input is what its buffer holds (`inputs` must not hold it), and
   * its `append` writes the new positions after it, in the same buffer; a run that fails has
   * written only positions past those the state holds.
   */
  async run(rs: RunSizes, inputs: ReadonlyMap<number, Tensor>, read: readonly Readback[], resident?: ResidentRun): Promise<{ values: Map<number, Tensor>; errors: Uint32Array }> {
    const d = this.device;
    this.residentRun = resident !== undefined;
    let grew = false;
    const ensure = (node: number): GPUBuffer => {
      const key = this.keyOf(node);
      const need = Math.max(4, rs.elements(node) * 4);
      let s = this.slots.get(key);
      if (!s || s.bytes < need) {
        const st = resident ? this.stateOf.get(this.p.schedule.aliases.get(node) ?? node) : undefined;
        // A resident state's buffer holds the positions kept so far: it grows only by growState (which keeps them), or anew for a new sequence.
        if (st !== undefined && s && !resident!.fresh) throw new Error(`webgpu: the state buffer of %${node} holds ${s.bytes} bytes, less than its value's ${need} (a bug in tfm)`);
        const bytes = need;
        s?.buffer.destroy();
        s = { buffer: d.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST }), bytes };
        this.slots.set(key, s);
        this.allocations++;
        grew = true;
      }
      return s.buffer;
    };
    if (this.errBytes < rs.errorWords * 4) {
      this.errBuffer.destroy();
      this.errBytes = rs.errorWords * 4;
      this.errBuffer = d.createBuffer({ size: this.errBytes, usage: STORAGE | COPY_SRC | COPY_DST });
      grew = true;
    }
    // Size every buffer this run uses before any bind group is made.
    for (const k of this.p.kernels) for (const b of k.binds) if (b.kind !== "err" && !this.fixed.has(b.node)) ensure(b.node);
    for (const r of read) if (!this.fixed.has(r.node)) ensure(r.node);
    let uploaded = 0;
    for (const [id, t] of inputs) {
      if (resident && this.stateOf.has(id)) throw new Error(`webgpu: a resident run was given the state %${id} (a bug in tfm)`);
      const buf = ensure(id);
      const n = numel(t.shape);
      if (n > 0) d.queue.writeBuffer(buf, 0, words(t));
      uploaded += n * 4;
    }
    this.lastUploadBytes = uploaded;
    if (grew) this.bindGroups.clear();
    const mode = resident ? "r" : "p";
    let groups = this.bindGroups.get(mode);
    if (!groups) this.bindGroups.set(mode, (groups = []));
    if (!this.lastSizes || !sameWords(this.lastSizes, rs.sizes)) {
      d.queue.writeBuffer(this.sizesBuffer, 0, rs.sizes as Uint32Array<ArrayBuffer>);
      this.lastSizes = rs.sizes.slice();
    }
    const errWords = 2 * this.p.errorSlots.length;
    if (errWords) d.queue.writeBuffer(this.errBuffer, 0, new Uint32Array(errWords).fill(0xffffffff));

    d.pushErrorScope("validation");
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    let count = 0;
    this.p.kernels.forEach((k, i) => {
      const grid = rs.grids[i];
      if (!grid) return;
      let bg = groups[i];
      if (!bg) {
        const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.sizesBuffer } }];
        k.binds.forEach((b, j) => entries.push({ binding: j + 1, resource: { buffer: b.kind === "err" ? this.errBuffer : this.bufferOf(b.node) } }));
        bg = d.createBindGroup({ layout: this.pipelines[i]!.getBindGroupLayout(0), entries });
        groups[i] = bg;
      }
      pass.setPipeline(this.pipelines[i]!);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
      count++;
    });
    pass.end();
    const copies: { r: Readback; s: Slot; bytes: number }[] = [];
    let valueBytes = 0;
    for (const r of read) {
      const rows = r.rows;
      const bytes = (rows ? rows.length * rows.count : rs.elements(r.node)) * 4;
      const s = this.stagingFor(`n${r.node}${rows ? "r" : ""}`, Math.max(4, bytes));
      const src = this.bufferOf(r.node);
      if (!rows) {
        if (bytes > 0) enc.copyBufferToBuffer(src, 0, s.buffer, 0, bytes);
      } else if (rows.length > 0) {
        for (let i = 0; i < rows.count; i++) enc.copyBufferToBuffer(src, (rows.first + i * rows.stride) * 4, s.buffer, i * rows.length * 4, rows.length * 4);
      }
      copies.push({ r, s, bytes });
      valueBytes += bytes;
    }
    const errStage = this.stagingFor("err", Math.max(1, errWords) * 4);
    if (errWords) enc.copyBufferToBuffer(this.errBuffer, 0, errStage.buffer, 0, errWords * 4);
    d.queue.submit([enc.finish()]);
    this.dispatches += count;
    this.lastDispatches = count;
    this.lastReadback.values = valueBytes;
    this.lastReadback.errors = errWords * 4;
    this.readback.values += valueBytes;
    this.readback.errors += errWords * 4;
    const invalid = await d.popErrorScope();
    if (invalid) throw new Error(`webgpu: running the kernels failed (a bug in tfm): ${invalid.message}`);

    await Promise.all([...copies.map((c) => c.s.buffer.mapAsync(MAP_MODE_READ)), errStage.buffer.mapAsync(MAP_MODE_READ)]);
    const values = new Map<number, Tensor>();
    for (const { r, s, bytes } of copies) values.set(r.node, unpack(r, s.buffer, bytes / 4));
    const errors = new Uint32Array(errStage.buffer.getMappedRange().slice(0));
    errStage.buffer.unmap();
    return { values, errors: errors.subarray(0, errWords) };
  }

  /** One word of the error buffer as the last run left it (a bad index's value: only after a run that met one). */
  async readErrorWord(index: number): Promise<number> {
    const s = this.stagingFor("errword", 4);
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.errBuffer, index * 4, s.buffer, 0, 4);
    this.device.queue.submit([enc.finish()]);
    await s.buffer.mapAsync(MAP_MODE_READ);
    const w = new Uint32Array(s.buffer.getMappedRange(0, 4).slice(0))[0]!;
    s.buffer.unmap();
    this.readback.errors += 4;
    return w;
  }

  /**
   * A resident state's buffer grown to `capacity` positions along its axis, keeping the `used`
   * positions it holds: `outer` runs (the dims before the axis) of `used · inner` elements, each
   * copied from `cap · inner` apart to `capacity · inner` apart. The one copy of a state, made only
   * when a sequence goes past the capacity its buffers were made at.
   */
  growState(index: number, outer: number, inner: number, cap: number, used: number, capacity: number): void {
    const key = `state${index}`;
    const old = this.slots.get(key);
    const bytes = Math.max(4, outer * capacity * inner * 4);
    const s = { buffer: this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST }), bytes };
    if (old && used > 0) {
      const enc = this.device.createCommandEncoder();
      for (let o = 0; o < outer; o++) enc.copyBufferToBuffer(old.buffer, o * cap * inner * 4, s.buffer, o * capacity * inner * 4, used * inner * 4);
      this.device.queue.submit([enc.finish()]);
      this.stateCopyBytes += outer * used * inner * 4;
    }
    old?.buffer.destroy();
    this.slots.set(key, s);
    this.allocations++;
    this.bindGroups.clear();
  }

  /** The buffer each resident state lives in (undefined before the first resident run): for tests of its identity across steps. */
  stateBuffer(index: number): GPUBuffer | undefined {
    return this.slots.get(`state${index}`)?.buffer;
  }

  private keyOf(node: number): string {
    const owner = this.p.schedule.aliases.get(node) ?? node;
    const st = this.stateOf.get(owner);
    if (st !== undefined) return `${this.residentRun ? "state" : "pstate"}${st}`;
    const slot = this.plan?.get(owner);
    return slot !== undefined ? `s${slot}` : `n${owner}`;
  }

  private bufferOf(node: number): GPUBuffer {
    const owner = this.p.schedule.aliases.get(node) ?? node;
    const f = this.fixed.get(owner) ?? this.fixed.get(node);
    if (f) return f;
    const key = this.keyOf(node);
    const s = this.slots.get(key);
    if (!s) throw new WebGpuError("TFM7001", `webgpu: no buffer for %${node}`);
    return s.buffer;
  }

  private stagingFor(key: string, bytes: number): Slot {
    let s = this.staging.get(key);
    if (!s || s.bytes < bytes) {
      s?.buffer.destroy();
      s = { buffer: this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST }), bytes };
      this.staging.set(key, s);
    }
    return s;
  }
}

/**
 * A kernel's pipeline layout, explicit (an "auto" layout drops the bindings a kernel does not use,
 * such as the sizes uniform of a kernel whose shapes are all static): binding 0 the sizes uniform,
 * then its storage buffers in order. One layout per distinct binding list.
 */
function layoutFor(device: GPUDevice, cache: Map<string, GPUPipelineLayout>, binds: CompiledProgram["kernels"][number]["binds"]): GPUPipelineLayout {
  const key = binds.map((b) => (b.kind === "read" ? "r" : "w")).join("");
  let l = cache.get(key);
  if (!l) {
    const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE, buffer: { type: "uniform" } }];
    binds.forEach((b, i) => entries.push({ binding: i + 1, visibility: COMPUTE, buffer: { type: b.kind === "read" ? "read-only-storage" : "storage" } }));
    l = device.createPipelineLayout({ bindGroupLayouts: [device.createBindGroupLayout({ entries })] });
    cache.set(key, l);
  }
  return l;
}

/** The first n words of a mapped buffer as a tensor (unmaps it). */
function unpack(r: Readback, buffer: GPUBuffer, n: number): Tensor {
  const data = arrayFor(r.dtype, n);
  const src = buffer.getMappedRange(0, Math.max(4, n * 4));
  if (r.dtype === "bool") {
    const u = new Uint32Array(src, 0, n);
    for (let i = 0; i < n; i++) data[i] = u[i] !== 0 ? 1 : 0;
  } else data.set(r.dtype === "f32" ? new Float32Array(src, 0, n) : new Int32Array(src, 0, n));
  buffer.unmap();
  return { dtype: r.dtype, shape: r.shape.slice(), data } as Tensor;
}

/** A tensor's elements as 4-byte words for a buffer: bool as u32 0/1. */
function words(t: Tensor): ArrayBufferView<ArrayBuffer> {
  const data = t.data.subarray(0, numel(t.shape));
  return (t.dtype === "bool" ? Uint32Array.from(data) : data) as ArrayBufferView<ArrayBuffer>;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Runs a schedule on the CPU out of a memory plan's buffers, for the tests: one ArrayBuffer per
// planned buffer, sized by the plan at the run's dims, and every kernel output written into a view
// of its buffer (in place where the plan says so). A plan that lets two live values share memory
// then gives wrong results, and a kernel given an output that overlaps an input it may not write
// over throws (the CPU kernels check). Fused kernels run through the CPU's runFused (block by
// block, as `tfm run` does), op kernels node by node with the plain kernels. The semantics of each
// op mirror CpuProgram.evaluate (src/backends/cpu/interpret.ts), which is private.
import { runFused, type FusedContext } from "../../../src/backends/cpu/fused.js";
import { plainKernels } from "../../../src/backends/cpu/kernels/index.js";
import { arrayFor, numel, runtimeDType, type Tensor } from "../../../src/backends/cpu/tensor.js";
import { evalDim, type Dim } from "../../../src/check/shapes/dim.js";
import type { Node } from "../../../src/ir/graph.js";
import { ops, type BinaryOp, type ReduceOp, type UnaryOp } from "../../../src/ir/ops.js";
import { bufferBytes, type MemoryPlan } from "../../../src/schedule/memory.js";

const K = plainKernels;

/** The graph's outputs, computed from the plan's buffers at the given dim values. */
export function runPlanned(plan: MemoryPlan, weights: ReadonlyMap<string, Tensor>, inputs: ReadonlyMap<string, Tensor>, symbols: ReadonlyMap<string, number>): Map<string, Tensor> {
  const s = plan.schedule;
  const g = s.graph;
  const dim = (d: Dim) => {
    const v = evalDim(d, symbols);
    if (v === undefined) throw new Error(`runPlanned: unbound dim in ${JSON.stringify([...d.terms])}`);
    return v;
  };
  const shape = (n: Node) => n.shape.map(dim);
  const transposed = new Map<number, Tensor>();

  const evaluate = (node: Node, get: (i: number) => Tensor, out?: Tensor): Tensor => {
    const [a, b, c] = node.inputs.map(get);
    const cls = ops[node.op].class;
    const dtype = runtimeDType[node.dtype];
    if (cls === "unary") return node.op === "cast" ? K.cast(a!, dtype, out) : K.unary(node.op as UnaryOp, a!, out);
    if (cls === "binary") return K.binary(node.op as BinaryOp, a!, b!, out);
    if (cls === "reduce") return K.reduce(node.op as ReduceOp, a!, node.attrs.axis!, node.attrs.keepdim, out);
    switch (node.op) {
      case "const": {
        const v = node.attrs.value!;
        const data = arrayFor(dtype, 1);
        data[0] = typeof v === "object" ? dim(v) : Number(v);
        return { dtype, shape: [], data } as Tensor;
      }
      case "arange": return K.arange(dim(node.shape[0]!), out);
      case "where": return K.where(a!, b!, c!, out);
      case "matmul": {
        if (node.attrs.transB) return K.matmulTransB(a!, b!, out);
        const bT = transposed.get(node.id);
        return bT ? K.matmulTransB(a!, bT, out) : K.matmul(a!, b!, out);
      }
      case "reshape": return K.reshape(a!, shape(node));
      case "permute": return K.permute(a!, node.attrs.perm!, out);
      case "slice": return K.slice(a!, node.attrs.axis!, dim(node.attrs.start!), dim(node.attrs.end!), out);
      case "concat": return K.concat(node.inputs.map(get), node.attrs.axis!, out);
      case "gather": return K.gather(a!, b!, node.attrs.axis!, out);
      case "expand": return K.expand(a!, shape(node), out);
      case "dropout": return a!;
      default: throw new Error(`runPlanned: no semantics for ${node.op}`);
    }
  };

  // Load time: weights, and what is computed from them alone; matmul weights laid out [n, k].
  const fixed = new Map<number, Tensor>();
  for (const n of g.nodes) {
    if (!s.atLoad.has(n.id)) continue;
    fixed.set(n.id, n.op === "weight" ? weights.get(n.attrs.name!)! : evaluate(n, (i) => fixed.get(i)!));
  }
  for (const n of g.nodes) {
    const b = n.inputs[1];
    if (n.op === "matmul" && !n.attrs.transB && !s.atLoad.has(n.id) && b !== undefined && fixed.has(b) && g.nodes[b]!.shape.length === 2) transposed.set(n.id, K.permute(fixed.get(b)!, [1, 0]));
  }

  // Run time: one ArrayBuffer per planned buffer; a value is a view of its buffer.
  const memory = bufferBytes(plan, symbols).map((bytes) => new ArrayBuffer(bytes));
  const planned = (n: Node): Tensor => {
    const b = plan.bufferOf(n.id);
    if (b === undefined) throw new Error(`runPlanned: %${n.id} has no buffer`);
    const dtype = runtimeDType[n.dtype];
    const size = numel(shape(n));
    const data = dtype === "f32" ? new Float32Array(memory[b]!, 0, size) : dtype === "i32" ? new Int32Array(memory[b]!, 0, size) : new Uint8Array(memory[b]!, 0, size);
    return { dtype, shape: shape(n), data } as Tensor;
  };
  /** Puts a value computed elsewhere into its planned buffer (a const, a reshape view, a small fused kernel). */
  const store = (n: Node, v: Tensor): Tensor => {
    const out = planned(n);
    return v.data.buffer === out.data.buffer && v.data.byteOffset === 0 ? v : K.reshape(v, out.shape, out);
  };
  const callerInputs = new Map(g.inputs.map((p) => [p.node, inputs.get(p.name)!]));
  const written = new Map<number, Tensor>();
  const get = (i: number): Tensor => {
    const src = s.aliases.get(i);
    if (src !== undefined) return K.reshape(get(src), shape(g.nodes[i]!));
    const v = callerInputs.get(i) ?? fixed.get(i) ?? written.get(i);
    if (!v) throw new Error(`runPlanned: %${i} is read before it is written`);
    return v;
  };
  const ctx: FusedContext = { graph: g, kernels: K, get, shape, evaluate: (n, getIn) => evaluate(n, getIn), transposed: (id) => transposed.get(id), allocate: planned };
  for (const k of s.kernels) {
    if (k.kind === "op") {
      const n = g.nodes[k.anchor!]!;
      written.set(n.id, store(n, evaluate(n, get, planned(n))));
      continue;
    }
    let outs = runFused(k, ctx);
    if (!outs) {
      // A domain too small to tile: every node on whole tensors first, then the outputs into their buffers.
      const local = new Map<number, Tensor>();
      for (const id of k.nodes) local.set(id, evaluate(g.nodes[id]!, (i) => local.get(i) ?? get(i)));
      outs = new Map(k.outputs.map((id) => [id, store(g.nodes[id]!, local.get(id)!)]));
    }
    for (const [id, v] of outs) written.set(id, v);
  }
  return new Map(g.outputs.map((o) => [o.name, get(o.node)]));
}

// A graph as an ONNX model (`tfm export --onnx`): every IR op by a table keyed by op (a
// `Record<Op, …>`, so a new op does not compile until it can be exported), the weights as
// initializers named by their checkpoint names (or as external data), symbolic dims as
// `dim_param`. The protobuf encoding is onnx-proto's (the ONNX schema compiled by protobufjs).
//
// What the graph computes with symbolic sizes (a reshape to [batch, seq, 12, 64], a slice to
// `past + seq`, `arange(seq)`) is computed in the ONNX graph too: each symbol is read from the
// shape of the first input that has it as a dim of its own (Shape → Gather), and a dim's
// polynomial is evaluated on int64 with Mul/Add/Div. Values are exported in the dtypes tfm
// computes them in (f16 and bf16 declared weights as f32, i64 as i32), so onnxruntime computes
// what tfm's CPU interpreter does.
//
// State (a KV cache): the state's value at the start of the call is the input `past.NAME`, its
// next value the output `present.NAME` (ONNX names a value once, so one name cannot be both); the
// exported graph is the decode step, and prefill is the same graph called with `past` = 0.
import onnxProto from "onnx-proto";
import { constValue, quotientOf, showDim, termsOf, type Dim } from "../core/dim.js";
import { runtimeDType, type DType, type DTypeName } from "../core/dtype.js";
import type { Tensor } from "../core/tensor.js";
import type { Graph, Node } from "../ir/graph.js";
import type { BinaryOp, Op, ReduceOp, UnaryOp } from "../ir/ops.js";

const { onnx } = onnxProto;
type INode = import("onnx-proto").onnx.INodeProto;
type ITensor = import("onnx-proto").onnx.ITensorProto;
type IValueInfo = import("onnx-proto").onnx.IValueInfoProto;
type IAttribute = import("onnx-proto").onnx.IAttributeProto;

export interface OnnxExportOptions {
  /** The ONNX opset (default 17; 13 to 21). */
  readonly opset?: number;
  /**
   * Weights as external data (`<model>.data`, ONNX's external-data format) rather than inside the
   * model: always when true; by default when the weights exceed what one protobuf message may hold.
   */
  readonly externalData?: boolean | "auto";
  /** The external data file's name, as the model refers to it (beside the model file). */
  readonly dataFile?: string;
}

export interface OnnxModel {
  /** The model's bytes (ModelProto). */
  readonly model: Uint8Array;
  /** The external data's chunks, in order, when the weights are external. */
  readonly data?: readonly Uint8Array[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly nodes: number;
  readonly initializers: number;
}

/** An export failure (an unexportable construct): the CLI reports it with its code. */
export class ExportError extends Error {
  constructor(readonly code: "TFM5220", message: string) {
    super(message);
  }
}

export const defaultOpset = 17;
/** Protobuf messages are limited to 2 GiB; weights beyond this go to external data. */
const inlineLimit = 1.8 * 2 ** 30;

const elemType: Record<DType | "i64", number> = { f32: onnx.TensorProto.DataType.FLOAT, i32: onnx.TensorProto.DataType.INT32, bool: onnx.TensorProto.DataType.BOOL, i64: onnx.TensorProto.DataType.INT64 };

export function exportOnnx(g: Graph, weights: ReadonlyMap<string, Tensor>, options: OnnxExportOptions = {}): OnnxModel {
  const opset = options.opset ?? defaultOpset;
  if (!Number.isInteger(opset) || opset < 13 || opset > 21) throw new ExportError("TFM5220", `opset ${opset} is not supported: tfm exports opsets 13 to 21`);
  return new Exporter(g, weights, opset).run(options);
}

const rt = (d: DTypeName): DType => runtimeDType[d];
const stateIn = (name: string) => `past.${name}`;
const stateOut = (name: string) => `present.${name}`;

class Exporter {
  private readonly nodes: INode[] = [];
  private readonly inits: ITensor[] = [];
  /** Every name in use: ports, initializers, then generated ones. */
  private readonly used = new Set<string>();
  /** The ONNX value of each IR node. */
  private readonly value = new Map<number, string>();
  /** Computed dims (int64 [1] tensors), by their text. */
  private readonly dims = new Map<string, string>();
  private readonly consts = new Map<string, string>();
  /** Where each symbol can be read: an input's value name and axis. */
  private readonly symbols = new Map<string, { input: string; axis: number }>();
  private readonly shapes = new Map<string, string>();

  constructor(readonly g: Graph, private readonly weights: ReadonlyMap<string, Tensor>, readonly opset: number) {}

  run(options: OnnxExportOptions): OnnxModel {
    const g = this.g;
    const states = new Set(g.states.map((s) => s.name));
    const inputName = (p: string) => (states.has(p) ? stateIn(p) : p);
    const outputName = (p: string) => (states.has(p) ? stateOut(p) : p);
    for (const p of g.inputs) this.reserve(inputName(p.name));
    for (const p of g.outputs) this.reserve(outputName(p.name));
    for (const n of g.nodes) if (n.op === "weight") this.reserve(n.attrs.name!);

    const inputs: IValueInfo[] = g.inputs.map((p) => {
      const n = g.nodes[p.node]!;
      const name = inputName(p.name);
      this.value.set(n.id, name);
      n.shape.forEach((d, axis) => {
        const [t] = termsOf(d);
        if (termsOf(d).length === 1 && t!.coef === 1 && t!.factors.length === 1 && !quotientOf(t!.factors[0]!) && !this.symbols.has(t!.factors[0]!)) this.symbols.set(t!.factors[0]!, { input: name, axis });
      });
      return valueInfo(name, rt(n.dtype), n.shape);
    });

    let external = options.externalData === true;
    if (options.externalData === undefined || options.externalData === "auto") {
      let bytes = 0;
      for (const n of g.nodes) if (n.op === "weight") bytes += this.weight(n).data.byteLength;
      external = bytes > inlineLimit;
    }
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const n of g.nodes) {
      if (n.op === "input") continue;
      if (n.op === "weight") {
        const t = this.weight(n);
        const name = n.attrs.name!;
        const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        const init: ITensor = { name, dataType: elemType[t.dtype], dims: [...t.shape] };
        if (external) {
          const pad = (64 - (offset % 64)) % 64; // aligned, as onnx's writer does
          if (pad) chunks.push(new Uint8Array(pad));
          offset += pad;
          init.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
          init.externalData = [
            { key: "location", value: options.dataFile ?? "model.onnx.data" },
            { key: "offset", value: String(offset) },
            { key: "length", value: String(raw.byteLength) },
          ];
          chunks.push(raw); // a view of the weight: written out before the weights are released
          offset += raw.byteLength;
        } else init.rawData = raw;
        this.inits.push(init);
        this.value.set(n.id, name);
        continue;
      }
      const ins = n.inputs.map((i) => this.value.get(i)!);
      this.value.set(n.id, lower[n.op](this, n, ins));
    }

    const outputs: IValueInfo[] = g.outputs.map((p) => {
      const n = g.nodes[p.node]!;
      const name = outputName(p.name);
      this.emit("Identity", [this.value.get(n.id)!], name);
      return valueInfo(name, rt(n.dtype), n.shape);
    });

    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: "", version: this.opset }],
      producerName: "tfm",
      graph: { name: g.name, node: this.nodes, initializer: this.inits, input: inputs, output: outputs },
    }).finish();
    return { model, ...(external ? { data: chunks } : {}), inputs: inputs.map((i) => i.name!), outputs: outputs.map((o) => o.name!), nodes: this.nodes.length, initializers: this.inits.length };
  }

  private weight(n: Node): Tensor {
    const t = this.weights.get(n.attrs.name!);
    if (!t) throw new ExportError("TFM5220", `the weight \`${n.attrs.name}\` has no value`);
    return t;
  }

  // ---- names and nodes ------------------------------------------------------------------------

  private reserve(name: string): void {
    this.used.add(name);
  }

  /** A fresh value name: `/op_N`, never one of the model's own. */
  fresh(hint: string): string {
    let i = this.used.size;
    let name = `/${hint}_${i}`;
    while (this.used.has(name)) name = `/${hint}_${++i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output; returns the output's name. */
  emit(op: string, inputs: readonly string[], out?: string, attrs: Record<string, number | readonly number[]> = {}): string {
    const output = out ?? this.fresh(op);
    this.nodes.push({ opType: op, input: [...inputs], output: [output], name: output, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return output;
  }

  /** A constant tensor (an initializer), shared by value. */
  constant(dtype: DType | "i64", shape: readonly number[], values: readonly (number | boolean)[]): string {
    const key = `${dtype}:${shape.join(",")}:${values.map(String).join(",")}`;
    const known = this.consts.get(key);
    if (known) return known;
    const name = this.fresh("const");
    const t: ITensor = { name, dataType: elemType[dtype], dims: [...shape] };
    if (dtype === "f32") t.rawData = new Uint8Array(Float32Array.from(values as number[]).buffer);
    else if (dtype === "i32") t.rawData = new Uint8Array(Int32Array.from(values as number[]).buffer);
    else if (dtype === "i64") t.rawData = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v as number))).buffer);
    else t.rawData = Uint8Array.from(values.map((v) => (v ? 1 : 0)));
    this.inits.push(t);
    this.consts.set(key, name);
    return name;
  }

  i64(values: readonly number[]): string {
    return this.constant("i64", [values.length], values);
  }

  // ---- symbolic dims ----------------------------------------------------------------------------

  /** A dim's value as an int64 [1] tensor. */
  dim(d: Dim): string {
    const c = constValue(d);
    if (c !== undefined) return this.i64([c]);
    const key = showDim(d);
    const known = this.dims.get(key);
    if (known) return known;
    let total: string | undefined;
    for (const { coef, factors } of termsOf(d)) {
      let term: string | undefined = factors.length ? undefined : this.i64([coef]);
      for (const f of factors) {
        const v = this.factor(f);
        term = term ? this.emit("Mul", [term, v]) : v;
      }
      if (factors.length && coef !== 1) term = this.emit("Mul", [term!, this.i64([coef])]);
      total = total ? this.emit("Add", [total, term!]) : term;
    }
    this.dims.set(key, total!);
    return total!;
  }

  private factor(f: string): string {
    const q = quotientOf(f);
    if (q) return this.emit("Div", [this.dim(q.num), this.dim(q.den)]); // exact: the checker proved it or the run checks it
    const at = this.symbols.get(f);
    if (!at) throw new ExportError("TFM5220", `the dim \`${f}\` is not the size of any input's axis, so the ONNX graph cannot know it`);
    let shape = this.shapes.get(at.input);
    if (!shape) this.shapes.set(at.input, (shape = this.emit("Shape", [at.input])));
    return this.emit("Gather", [shape, this.i64([at.axis])], undefined, { axis: 0 });
  }

  /** A shape as an int64 [rank] tensor. */
  shape(dims: readonly Dim[]): string {
    const cs = dims.map(constValue);
    if (cs.every((c) => c !== undefined)) return this.i64(cs as number[]);
    if (dims.length === 1) return this.dim(dims[0]!);
    return this.emit("Concat", dims.map((d) => this.dim(d)), undefined, { axis: 0 });
  }

  /** A dim as an int64 scalar. */
  scalar(d: Dim): string {
    const c = constValue(d);
    if (c !== undefined) return this.constant("i64", [], [c]);
    return this.emit("Reshape", [this.dim(d), this.i64([])]);
  }

  cast(x: string, from: DType | "i64", to: DType): string {
    return from === to ? x : this.emit("Cast", [x], undefined, { to: elemType[to] });
  }
}

function attribute(name: string, v: number | readonly number[]): IAttribute {
  if (typeof v === "number") return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] };
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): IValueInfo {
  const dim = shape.map((d) => {
    const c = constValue(d);
    return c !== undefined ? { dimValue: c } : { dimParam: showDim(d) };
  });
  return { name, type: { tensorType: { elemType: elemType[dtype], shape: { dim } } } };
}

// ---- the ops --------------------------------------------------------------------------------------

type Lower = (x: Exporter, n: Node, ins: readonly string[]) => string;

const inputDType = (x: Exporter, n: Node, i: number): DType => rt(nodeOf(x, n, i).dtype);
/** The IR node behind input `i` of `n`. */
const nodeOf = (x: Exporter, n: Node, i: number): Node => x.g.nodes[n.inputs[i]!]!;

const unaryOps: Record<UnaryOp, (x: Exporter, a: string) => string> = {
  neg: (x, a) => x.emit("Neg", [a]),
  not: (x, a) => x.emit("Not", [a]),
  exp: (x, a) => x.emit("Exp", [a]),
  log: (x, a) => x.emit("Log", [a]),
  sqrt: (x, a) => x.emit("Sqrt", [a]),
  rsqrt: (x, a) => x.emit("Reciprocal", [x.emit("Sqrt", [a])]),
  tanh: (x, a) => x.emit("Tanh", [a]),
  erf: (x, a) => x.emit("Erf", [a]),
  sigmoid: (x, a) => x.emit("Sigmoid", [a]),
  abs: (x, a) => x.emit("Abs", [a]),
  sin: (x, a) => x.emit("Sin", [a]),
  cos: (x, a) => x.emit("Cos", [a]),
};

const binaryOps: Record<BinaryOp, string> = {
  add: "Add", sub: "Sub", mul: "Mul", div: "Div", mod: "Mod", pow: "Pow", maximum: "Max", minimum: "Min",
  eq: "Equal", ne: "Equal", lt: "Less", le: "LessOrEqual", gt: "Greater", ge: "GreaterOrEqual", and: "And", or: "Or",
};

const unary = (op: UnaryOp): Lower => (x, _n, [a]) => unaryOps[op](x, a!);
const binary = (op: BinaryOp): Lower => (x, n, [a, b]) => {
  // Both operands have one dtype (the IR casts); `/` of integers is true division, in f32.
  let [l, r] = [a!, b!];
  if (op === "div") [l, r] = [x.cast(l, inputDType(x, n, 0), "f32"), x.cast(r, inputDType(x, n, 1), "f32")];
  const out = x.emit(binaryOps[op], [l, r], undefined, op === "mod" ? { fmod: 1 } : {}); // fmod: truncated toward zero, as tfm's %
  return op === "ne" ? x.emit("Not", [out]) : out;
};
const reduceOps: Record<Exclude<ReduceOp, "argmax">, string> = { sum: "ReduceSum", mean: "ReduceMean", max: "ReduceMax", min: "ReduceMin" };
const reduce = (op: ReduceOp): Lower => (x, n, [a]) => {
  const axis = n.attrs.axis!;
  const keepdims = n.attrs.keepdim ? 1 : 0;
  if (op === "argmax") return x.cast(x.emit("ArgMax", [a!], undefined, { axis, keepdims, select_last_index: 0 }), "i64", "i32"); // the first maximum, as tfm's
  const type = reduceOps[op];
  // ReduceSum takes its axes as an input from opset 13, the others from opset 18.
  if (op === "sum" || x.opset >= 18) return x.emit(type, [a!, x.i64([axis])], undefined, { keepdims });
  return x.emit(type, [a!], undefined, { axes: [axis], keepdims });
};

export const lower: Record<Op, Lower> = {
  input: () => {
    throw new Error("onnx: inputs are bound, not lowered");
  },
  weight: () => {
    throw new Error("onnx: weights are initializers, not lowered");
  },
  const: (x, n) => {
    const v = n.attrs.value!;
    const dtype = rt(n.dtype);
    if (typeof v === "object") return x.cast(x.scalar(v), "i64", dtype); // a size known at run time
    return x.constant(dtype, [], [dtype === "bool" ? Boolean(v) : Number(v)]);
  },
  arange: (x, n) => x.emit("Cast", [x.emit("Range", [x.constant("i64", [], [0]), x.scalar(n.shape[0]!), x.constant("i64", [], [1])])], undefined, { to: elemType.i32 }),
  neg: unary("neg"), not: unary("not"), exp: unary("exp"), log: unary("log"), sqrt: unary("sqrt"), rsqrt: unary("rsqrt"),
  tanh: unary("tanh"), erf: unary("erf"), sigmoid: unary("sigmoid"), abs: unary("abs"), sin: unary("sin"), cos: unary("cos"),
  add: binary("add"), sub: binary("sub"), mul: binary("mul"), div: binary("div"), mod: binary("mod"), pow: binary("pow"),
  maximum: binary("maximum"), minimum: binary("minimum"), eq: binary("eq"), ne: binary("ne"), lt: binary("lt"), le: binary("le"),
  gt: binary("gt"), ge: binary("ge"), and: binary("and"), or: binary("or"),
  cast: (x, n, [a]) => x.cast(a!, inputDType(x, n, 0), rt(n.dtype)),
  where: (x, _n, [c, a, b]) => x.emit("Where", [c!, a!, b!]),
  matmul: (x, n, [a, b]) => {
    if (!n.attrs.transB) return x.emit("MatMul", [a!, b!]);
    const rank = nodeOf(x, n, 1).shape.length;
    const perm = [...Array(rank).keys()];
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
    return x.emit("MatMul", [a!, x.emit("Transpose", [b!], undefined, { perm })]);
  },
  sum: reduce("sum"), mean: reduce("mean"), max: reduce("max"), min: reduce("min"), argmax: reduce("argmax"),
  // Inclusive, forward (exclusive = reverse = 0); the axis is an input (opset 11 on). onnxruntime sums f32 in f32, tfm in double.
  cumsum: (x, n, [a]) => x.emit("CumSum", [a!, x.constant("i64", [], [n.attrs.axis!])]),
  // allowzero: a 0 in the shape is a dim of size 0, not "copy the input's dim" (opset 14).
  reshape: (x, n, [a]) => x.emit("Reshape", [a!, x.shape(n.shape)], undefined, x.opset >= 14 ? { allowzero: 1 } : {}),
  permute: (x, n, [a]) => x.emit("Transpose", [a!], undefined, { perm: n.attrs.perm! }),
  slice: (x, n, [a]) => x.emit("Slice", [a!, x.dim(n.attrs.start!), x.dim(n.attrs.end!), x.i64([n.attrs.axis!])]),
  concat: (x, n, ins) => x.emit("Concat", ins, undefined, { axis: n.attrs.axis! }),
  // `present.NAME` = Concat(`past.NAME`, new): ONNX has no in-place state.
  append: (x, n, ins) => x.emit("Concat", ins, undefined, { axis: n.attrs.axis! }),
  gather: (x, n, [a, i]) => x.emit("Gather", [a!, i!], undefined, { axis: n.attrs.axis! }),
  expand: (x, n, [a]) => x.emit("Expand", [a!, x.shape(n.shape)]),
  dropout: (x, _n, [a]) => x.emit("Identity", [a!]),
};

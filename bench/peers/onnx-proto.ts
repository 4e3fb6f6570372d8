// Benchmark support: a minimal ONNX protobuf writer (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto), enough to hand onnxruntime a model built in TypeScript.
//
// Messages are built as ropes (lists of byte chunks with a known total length), so a large
// initializer's bytes are copied once, into the final buffer. Field numbers follow onnx/onnx.proto.

/** A protobuf message under construction: chunks and their total length. */
export class Msg {
  readonly parts: Uint8Array[] = [];
  len = 0;

  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.len += b.length;
    return this;
  }

  private varint(v: number | bigint): this {
    // int64 fields: negative values are 10-byte two's complement.
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    return this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: 0 | 2 | 5): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    return this.key(field, 0).varint(v);
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.key(field, 5).push(b);
  }

  bytes(field: number, b: Uint8Array): this {
    return this.key(field, 2).varint(b.length).push(b);
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Msg): this {
    this.key(field, 2).varint(m.len);
    for (const p of m.parts) this.push(p);
    return this;
  }

  /** Packed repeated int64. */
  ints(field: number, vs: readonly number[]): this {
    const m = new Msg();
    for (const v of vs) m.varint(v);
    return this.msg(field, m);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** TensorProto.DataType */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
/** AttributeProto.AttributeType */
const AT = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type Attr = number | number[] | string | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attr>;
  domain?: string;
}

export interface OnnxTensor {
  name: string;
  dtype: number;
  dims: readonly number[];
  /** Little-endian element bytes (a view of a typed array is fine: x86 and ARM are little-endian). */
  raw: Uint8Array;
}

export interface OnnxValue {
  name: string;
  dtype: number;
  /** Numbers are fixed sizes, strings are symbolic dims. */
  dims: readonly (number | string)[];
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export const f32Tensor = (name: string, dims: readonly number[], data: Float32Array): OnnxTensor => ({ name, dtype: DT.FLOAT, dims, raw: bytesOf(data) });
export const i64Tensor = (name: string, dims: readonly number[], values: readonly number[]): OnnxTensor => ({ name, dtype: DT.INT64, dims, raw: bytesOf(BigInt64Array.from(values.map(BigInt))) });
export const boolTensor = (name: string, dims: readonly number[], data: Uint8Array): OnnxTensor => ({ name, dtype: DT.BOOL, dims, raw: data });

function tensorMsg(t: OnnxTensor): Msg {
  const m = new Msg();
  for (const d of t.dims) m.int(1, d);
  return m.int(2, t.dtype).str(8, t.name).bytes(9, t.raw);
}

function attrMsg(name: string, v: Attr): Msg {
  const m = new Msg().str(1, name);
  if (typeof v === "number") return m.int(3, v).int(20, AT.INT);
  if (typeof v === "string") return m.str(4, v).int(20, AT.STRING);
  if (Array.isArray(v)) {
    for (const x of v) m.int(8, x);
    return m.int(20, AT.INTS);
  }
  return m.float(2, v.float).int(20, AT.FLOAT);
}

function nodeMsg(n: OnnxNode, i: number): Msg {
  const m = new Msg();
  for (const x of n.inputs) m.str(1, x);
  for (const x of n.outputs) m.str(2, x);
  m.str(3, `${n.op}_${i}`).str(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.msg(5, attrMsg(k, v));
  if (n.domain) m.str(7, n.domain);
  return m;
}

function valueMsg(v: OnnxValue): Msg {
  const shape = new Msg();
  for (const d of v.dims) shape.msg(1, typeof d === "number" ? new Msg().int(1, d) : new Msg().str(2, d));
  const tensorType = new Msg().int(1, v.dtype).msg(2, shape);
  return new Msg().str(1, v.name).msg(2, new Msg().msg(1, tensorType));
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
}

/** A ModelProto (IR version 8, default-domain opset `opset`) as bytes. */
export function encodeModel(g: OnnxGraph, opset = 17): Uint8Array {
  const graph = new Msg();
  g.nodes.forEach((n, i) => graph.msg(1, nodeMsg(n, i)));
  graph.str(2, g.name);
  for (const t of g.initializers) graph.msg(5, tensorMsg(t));
  for (const v of g.inputs) graph.msg(11, valueMsg(v));
  for (const v of g.outputs) graph.msg(12, valueMsg(v));
  const model = new Msg().int(1, 8).str(2, "tfm-bench").msg(7, graph).msg(8, new Msg().str(1, "").int(2, opset));
  return model.finish();
}

// Weights kept as int8 on the device (`weightsDtype: "int8"`): a quarter of the bytes uploaded, held
// and read per token. Which values: halves.ts's (the weights' matrices, as given or rearranged at
// load by layout ops), of concrete shape. Each is quantized per output channel — per column where a
// product reads it as its B [k, n] (GPT-2's Conv1D weights), else per row of its last axis (a
// Linear's or the LM head's Bt [n, k], an embedding's rows) — as the CPU's int8 weights are
// (src/backends/cpu/kernels/wasm/int8.ts): s = fround(max |x| / 127) over the channel and
// q = floor(x / s + 1/2) (0 where s = 0). The kernels read f32(q) · s, rounded to f32, and compute
// in f32: weight-only, unlike the CPU's int8, whose products also round the activations to int16.
//
// On the device: the channels' scales first (f32, one a word), then the values four to a word
// (element e in byte e & 3 of word scales + (e >> 2), two's complement), read by the kernels'
// leaves with extractBits (codegen/kernel.ts).
import { constValue } from "../../core/dim.js";
import type { Schedule } from "../../schedule/kernel.js";
import { halvesOf } from "./halves.js";

/** How a value's scales run: one per row of its last axis, or one per column (its last axis). */
export type Channel = "row" | "column";

/** The int8 values of a schedule and their channels. */
export function quartersOf(s: Schedule): Map<number, Channel> {
  const g = s.graph;
  const asB = new Set<number>();
  for (const n of g.nodes) if (n.op === "matmul" && !n.attrs["transB"]) asB.add(n.inputs[1]!);
  const out = new Map<number, Channel>();
  for (const id of halvesOf(s)) {
    if (g.nodes[id]!.shape.every((d) => constValue(d) !== undefined)) out.set(id, asB.has(id) ? "column" : "row");
  }
  return out;
}

/** The channels of a value of `shape`: their count and the channel of flat element e. */
function channels(shape: readonly number[], channel: Channel): { count: number; of: (e: number) => number } {
  const cols = shape.at(-1)!;
  const numel = shape.reduce((a, b) => a * b, 1);
  return channel === "column" ? { count: cols, of: (e) => e % cols } : { count: cols === 0 ? 0 : numel / cols, of: (e) => Math.floor(e / cols) };
}

/** The scales and int8 values of x, as the device holds them (words: the scales, then the values four to a word). */
export function quantizeInt8(x: Float32Array, shape: readonly number[], channel: Channel): Uint32Array<ArrayBuffer> {
  const { count, of } = channels(shape, channel);
  const max = new Float64Array(count);
  for (let e = 0; e < x.length; e++) max[of(e)] = Math.max(max[of(e)]!, Math.abs(x[e]!));
  const words = new Uint32Array(count + Math.ceil(x.length / 4));
  const scales = new Float32Array(words.buffer, 0, count);
  for (let c = 0; c < count; c++) scales[c] = Math.fround(max[c]! / 127);
  const q = new Int8Array(words.buffer, count * 4, x.length);
  for (let e = 0; e < x.length; e++) {
    const s = scales[of(e)]!;
    q[e] = s > 0 && s < Infinity ? Math.floor(x[e]! / s + 0.5) : 0;
  }
  return words;
}

/** What the kernels compute with: f32(q) · s for each element of the quantized x. */
export function dequantizeInt8(x: Float32Array, shape: readonly number[], channel: Channel): Float32Array {
  const words = quantizeInt8(x, shape, channel);
  const { count, of } = channels(shape, channel);
  const scales = new Float32Array(words.buffer, 0, count), q = new Int8Array(words.buffer, count * 4, x.length);
  return Float32Array.from(q, (v, e) => v * scales[of(e)]!);
}

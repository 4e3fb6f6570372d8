// A bundle's inputs and outputs: records `{ data, shape }` keyed by name. Inputs are checked
// (known names, every input given, a well-formed shape matching the data's length) and converted
// to the runtime dtype as `tfm run` converts them: f32 from any numbers, i32 from integers
// (BigInt64Array included) within the int32 range, bool from booleans or 0/1 — never by rounding
// or wrapping. The interpreter then checks each shape against the declared one (TFM6002).
// Outputs are copies, so a caller may keep or change them freely.
import { arrayFor, numel, runtimeDType, type Tensor } from "../core/tensor.js";
import { didYouMean } from "../diag/suggest.js";
import { TfmError } from "./errors.js";
import type { PortInfo } from "./model-data.js";
import { unravel } from "../core/tensor.js";

/** An input as a caller gives it. */
export interface TensorIn {
  readonly data: ArrayLike<number | bigint | boolean>;
  readonly shape: readonly number[];
}

/** An output: Float32Array for f32 (f16, bf16), Int32Array for i32 (i64), Uint8Array (0/1) for bool. */
export interface TensorOut {
  readonly data: Float32Array | Int32Array | Uint8Array;
  readonly shape: number[];
}

const showType = (p: PortInfo) => `${p.dtype}[${p.shape.join(", ")}]`;
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** `[0, 2]`: the multi-index of flat element `i` of `shape`. */
const indexOf = (i: number, shape: readonly number[]): string => `[${unravel(i, shape).join(", ")}]`;

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "an array";
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === "object") return "an object";
  if (typeof x === "string") return `a string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...` : x)}`;
  return `${typeof x} ${String(x)}`;
}

/** The inputs as runtime tensors, by name; throws TfmError (TFM5201–5206) for what does not fit. */
export function toInputs(ports: readonly PortInfo[], records: unknown, opts: { defaults?: boolean } = {}): Map<string, Tensor> {
  if (records === null || typeof records !== "object" || Array.isArray(records)) {
    throw new TfmError("TFM5204", `run() takes the inputs as an object { ${ports.map((p) => `${JSON.stringify(p.name)}: { data, shape }`).join(", ")} }, got ${describe(records)}`);
  }
  const byName = new Map(ports.map((p) => [p.name, p]));
  for (const k of Object.keys(records)) {
    if (!byName.has(k)) {
      const hint = didYouMean(k, byName.keys()).map((h) => ` (${h})`).join("");
      throw new TfmError("TFM5201", `the model has no input ${JSON.stringify(k)}${hint}; its inputs are: ${ports.map((p) => `${p.name}: ${showType(p)}`).join(", ")}`);
    }
  }
  const out = new Map<string, Tensor>();
  const filled: PortInfo[] = [];
  for (const p of ports) {
    if (!hasOwn(records, p.name)) {
      // A default of one value is filled in below, at the dims the given inputs bind.
      if (p.default !== undefined) {
        filled.push(p);
        continue;
      }
      // The compiler's API runs the graph as built, which applies an optional input's default.
      if (p.optional && opts.defaults) continue;
      const dflt = p.optional ? " (the model gives it a default, but bundles do not apply defaults yet)" : "";
      throw new TfmError("TFM5202", `input \`${p.name}\` (${showType(p)}) is required, but no value was given for it${dflt}`);
    }
    try {
      out.set(p.name, toTensor(p, (records as Record<string, unknown>)[p.name]));
    } catch (e) {
      // V8 refusing the converted copy ("Array buffer allocation failed"): the input is too large for this machine.
      if (e instanceof RangeError && /allocation failed|invalid typed array length|invalid array buffer length/i.test(e.message)) throw new TfmError("TFM6003", `input \`${p.name}\` is too large to convert to ${showType(p)} on this machine (${e.message})`);
      throw e;
    }
  }
  for (const p of filled) {
    const t = filledDefault(p, ports, out);
    if (t) out.set(p.name, t);
  }
  return out;
}

/**
 * An input left out that has a default of one value (`input attention_mask: i32[batch, seq] = 1`):
 * that value at every element, each dim a number or a symbol (`batch`) that a given input binds;
 * undefined when a dim is bound by none.
 */
function filledDefault(p: PortInfo, ports: readonly PortInfo[], given: ReadonlyMap<string, Tensor>): Tensor | undefined {
  const sizes = new Map<string, number>();
  for (const q of ports) {
    const t = given.get(q.name);
    if (t) q.shape.forEach((d, k) => /^[A-Za-z_]\w*$/.test(d) && !sizes.has(d) && t.shape[k] !== undefined && sizes.set(d, t.shape[k]!));
  }
  const shape = p.shape.map((d) => (/^\d+$/.test(d) ? Number(d) : sizes.get(d)));
  // Dims no given input binds (or binds wrongly): left out, so the run names what is wrong.
  if (shape.some((d) => d === undefined)) return undefined;
  const dtype = runtimeDType[p.dtype];
  const n = numel(shape as number[]);
  const v = Number(p.default);
  const data = arrayFor(dtype, n).fill(dtype === "bool" ? (v ? 1 : 0) : v);
  return { dtype, shape: shape as number[], data } as Tensor;
}

function toTensor(p: PortInfo, rec: unknown): Tensor {
  const expects = `input \`${p.name}\` expects ${showType(p)}`;
  const bad = (why: string) => new TfmError("TFM5204", `${expects}: ${why}`);
  if (rec === null || typeof rec !== "object") throw bad(`give it as { data, shape }, not ${describe(rec)}`);
  const given = rec as { data?: unknown; shape?: unknown };
  // Nested arrays (`[[1, 2], [3, 4]]`) are their elements row-major, and give the shape when none is.
  const nested = Array.isArray(given.data) && given.data.some(Array.isArray) ? flatten(given.data) : undefined;
  if (nested && "error" in nested) throw bad(nested.error);
  const data = nested ? nested.values : given.data;
  const shape = nested && given.shape === undefined ? nested.shape : given.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw bad(`its shape must be an array of integers ≥ 0, got ${Array.isArray(shape) ? JSON.stringify(shape.map(String)) : describe(shape)}`);
  const isTyped = ArrayBuffer.isView(data) && !(data instanceof DataView);
  if (!isTyped && !Array.isArray(data)) throw bad(`its data must be a typed array or an array, got ${describe(data)}`);
  const values = data as ArrayLike<unknown>;
  const n = numel(shape as number[]);
  if (values.length !== n) throw bad(`its shape [${shape.join(", ")}] has ${n} elements but its data has ${values.length}`);
  const dims = [...(shape as number[])];
  const rt = runtimeDType[p.dtype];
  const what = isTyped ? `a ${(data as object).constructor.name}` : "an array";
  const refuse = (kind: string) => new TfmError("TFM5205", `${expects}, but the data given is ${what}: ${kind} values cannot be converted to ${p.dtype}`);
  const badValue = (i: number, v: unknown, why: string) => new TfmError("TFM5206", `${expects}, but element ${indexOf(i, dims)} of the data given (${what}) is ${String(v)}, ${why}`);
  const isFloatArray = values instanceof Float32Array || values instanceof Float64Array;
  
  if (rt === "f32") {
    if (values instanceof Float32Array) return { dtype: "f32", shape: dims, data: values };
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === "number") f[i] = v;
      else if (typeof v === "bigint") f[i] = Number(v);
      else throw badValue(i, v, "not a number");
    }
    return { dtype: "f32", shape: dims, data: f };
  }
  if (rt === "i32") {
    if (values instanceof Int32Array) return { dtype: "i32", shape: dims, data: values };
    if (isFloatArray) throw refuse("floating-point");
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === "bigint") {
        if (v < -0x80000000n || v > 0x7fffffffn) throw badValue(i, v, "outside the int32 range");
        a[i] = Number(v);
      } else if (typeof v === "number") {
        if (!Number.isInteger(v)) throw badValue(i, v, "not an integer");
        if (v < -0x80000000 || v > 0x7fffffff) throw badValue(i, v, "outside the int32 range");
        a[i] = v;
      } else if (typeof v === "boolean") a[i] = Number(v);
      else throw badValue(i, v, "not an integer");
    }
    return { dtype: "i32", shape: dims, data: a };
  }
  if (isFloatArray) throw refuse("floating-point");
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === true || v === 1 || v === 1n) b[i] = 1;
    else if (v === false || v === 0 || v === 0n) b[i] = 0;
    else throw badValue(i, v, "not a bool (true/false or 0/1)");
  }
  return { dtype: "bool", shape: dims, data: b };
}

/** The deepest nesting of arrays an input may have (as for `tfm run`'s JSON literals). */
const maxNesting = 32;

/** Nested arrays as their elements row-major and their shape; an error for ragged ones. */
function flatten(data: readonly unknown[]): { values: unknown[]; shape: number[] } | { error: string } {
  const shape: number[] = [];
  // Bounded as `tfm run` bounds JSON literals (src/runtime/inputs.ts): a deeper (or self-containing) array is refused, not walked until the stack overflows.
  for (let d: unknown = data; Array.isArray(d); d = d[0]) {
    if (shape.length >= maxNesting) return { error: `its nested arrays are more than ${maxNesting} levels deep` };
    shape.push(d.length);
  }
  const values: unknown[] = [];
  const walk = (x: unknown, depth: number, at: number[]): string | undefined => {
    if (depth === shape.length) {
      if (Array.isArray(x)) return `its nested arrays are deeper at [${at.join(", ")}] than at [${at.map(() => 0).join(", ")}]`;
      values.push(x);
      return undefined;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) return `its nested arrays are ragged: [${at.join(", ")}] is not an array of ${shape[depth]} like [${at.map(() => 0).join(", ")}]`;
    for (let i = 0; i < x.length; i++) {
      const e = walk(x[i], depth + 1, [...at, i]);
      if (e) return e;
    }
    return undefined;
  };
  const error = walk(data, 0, []);
  return error ? { error } : { values, shape };
}

/** The outputs as records, in the model's order, each a copy of exactly its elements. */
export function toOutputs(ports: readonly PortInfo[], tensors: ReadonlyMap<string, Tensor>): Record<string, TensorOut> {
  return Object.fromEntries(
    ports.map((p) => {
      const t = tensors.get(p.name)!;
      return [p.name, { data: t.data.slice(0, numel(t.shape)), shape: [...t.shape] }];
    }),
  );
}

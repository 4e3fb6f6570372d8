// Model inputs for a run: values from .npy files or JSON literals (`--input ids='[[1,2,3]]'`,
// `--input ids=@ids.npy`), converted to each input's runtime dtype and checked against its declared
// type — the number of dims, fixed dims, and the symbolic dims (`batch`, `seq`), which must have
// one size across all inputs. The sizes so bound are returned: the interpreter needs them.
import type { DType as RtDType, Tensor } from "../core/tensor.js";
import type { CheckResult } from "../api.js";
import { equalDims, evalDim, showShape, symDim, symbolsOf, type Dim } from "../core/dim.js";
import { evaluate, type Value } from "../check/evaluate.js";
import { diag, type Diagnostic, hasErrors, type Related } from "../diag/diagnostic.js";
import type { Span } from "../diag/span.js";
import { didYouMean } from "../diag/suggest.js";
import type * as A from "../syntax/ast.js";
import { formatExpr } from "../syntax/format.js";
import { bf16ArrayToF32, type DType as FileDType, arrayFor, dtypes, f16ArrayToF32, type TypedArray } from "../weights/dtypes.js";
import { WeightFileError } from "../weights/errors.js";
import { maxNpyPrefixBytes, type NpyArray, readNpyHeader } from "../weights/npy.js";
import { hostIsLittleEndian, swapBytes } from "../weights/bytes.js";
import { runtimeBytes } from "../core/dtype.js";
import { showBytes } from "../backends/shared/budget.js";
import { makeTensor, runtimeDType, showDims } from "./convert.js";
import { fileErrorDiagnostic, readFileBytes, readFilePrefix, readFileRange } from "./files.js";
import { arrayFor as newArray, numel, unravel } from "../core/tensor.js";

/** Where an input's value comes from. */
export type InputSource =
  /** A JSON literal: a number, a boolean, or nested arrays of them (`[[1, 2, 3]]`). */
  | { readonly kind: "json"; readonly text: string }
  | { readonly kind: "jsonFile"; readonly path: string }
  | { readonly kind: "npyFile"; readonly path: string }
  /** An array already in memory (e.g. from a test or another tool). */
  | { readonly kind: "array"; readonly array: NpyArray };

export interface InputSpec {
  readonly name: string;
  readonly source: InputSource;
}

/**
 * Parses `name=value` as given to `--input`: `name=@file.npy` and `name=@file.json` read a file
 * (so does a bare `name=file.npy`); anything else is a JSON literal.
 */
export function parseInputArg(arg: string): InputSpec | { error: string } {
  const eq = arg.indexOf("=");
  if (eq <= 0) return { error: `--input expects name=value (a JSON literal, or @file.npy / @file.json), got \`${arg}\`` };
  const name = arg.slice(0, eq).trim();
  const value = arg.slice(eq + 1);
  const v = value.trim();
  if (v.startsWith("@")) {
    const path = v.slice(1);
    if (!path) return { error: `--input ${name}=@ needs a file name after @` };
    return { name, source: /\.npy$/i.test(path) ? { kind: "npyFile", path } : { kind: "jsonFile", path } };
  }
  if (/\.npy$/i.test(v) && !parsesAsJson(v)) return { name, source: { kind: "npyFile", path: v } };
  return { name, source: { kind: "json", text: value } };
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A model input as the checker sees it. */
export interface ModelInput {
  readonly name: string;
  readonly dtype: A.DTypeName;
  /** Symbolic dims: polynomials over `batch`, `seq`, ... with the model's parameters substituted. */
  readonly shape: readonly Dim[];
  readonly decl: A.InputDecl;
  /** It has a default (`input mask: bool[...] = true`), so it may be left out. */
  readonly optional: boolean;
}

/** The model's inputs in declaration order, for a result that checked without errors. */
export function modelInputs(r: CheckResult): ModelInput[] {
  const decls = r.model?.decl.body.filter((m): m is A.InputDecl => m.kind === "Input") ?? [];
  const out: ModelInput[] = [];
  for (const d of decls) {
    const v = r.shapes?.inputs.find((i) => i.name === d.name.name)?.value;
    if (v?.kind !== "tensor") continue;
    out.push({ name: d.name.name, dtype: v.dtype, shape: v.shape, decl: d, optional: d.default !== undefined });
  }
  return out;
}

/** `i32[batch, seq]`: an input's type with the model's parameters substituted. */
export const showInputType = (i: ModelInput): string => `${i.dtype}${showShape(i.shape)}`;

export interface LoadedInputs {
  /** Each given input as a runtime tensor; undefined when there are errors. Optional inputs left out are absent. */
  readonly tensors: Map<string, Tensor> | undefined;
  /** The size of each symbolic dim, as the inputs bind it (`batch` → 2, `seq` → 7). */
  readonly bindings: Map<string, number>;
  readonly diagnostics: Diagnostic[];
}

/** A value as read, before conversion: elements row-major, from a typed array or from JSON. */
type Raw = { readonly shape: readonly number[]; readonly what: string } & (
  /** `fresh`: the array is tfm's own (read from a file), so a tensor may use it as is. */
  | { readonly kind: "typed"; readonly dtype: FileDType; readonly data: TypedArray; readonly fresh?: boolean }
  | { readonly kind: "json"; readonly values: readonly (number | boolean)[] }
);

/**
 * The memory budget inputs are read under (TFM6003): `held` bytes are spoken for already (the
 * weights, from their declared shapes), and every input's bytes — its converted tensor, held for
 * the run, and while it is read its file's data or its JSON text and parse — must fit beside them.
 */
export interface InputBudget {
  readonly budget: number;
  readonly held: number;
}

/** JSON.parse of nested arrays takes up to ~16 bytes per character (`[0],`: an array each); the text, the flattened values and the tensor add the rest. */
export const jsonBytesPerChar = 24;

/** JSON input is parsed from one string, which V8 caps near 2^29 characters: larger values go in .npy files. */
export const maxJsonInputBytes = 2 ** 28;

/**
 * Reads, converts and checks the given inputs against the model `r` (a result of `check()` without
 * errors). Diagnostics point at the input's declaration, or at the file a value came from. With a
 * `budget`, an input that would not fit is refused (TFM6003) before its data is read or allocated:
 * a .npy file's shape and dtype come from its header, read first.
 */
export function loadInputs(r: CheckResult, specs: readonly InputSpec[], memory?: InputBudget): LoadedInputs {
  if (!r.model || !r.shapes || hasErrors(r.diagnostics)) throw new Error("loadInputs needs the result of check() for a model that checked without errors");
  const diagnostics: Diagnostic[] = [];
  const bindings = new Map<string, number>();
  const inputs = modelInputs(r);
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const at = (i: ModelInput) => i.decl.span;
  const modelSpan: Span = r.model.decl.name.span;
  const report = (code: Parameters<typeof diag>[1], span: Span, message: string, notes: string[] = [], related: Related[] = []) =>
    diagnostics.push(diag(r.file, code, span, message, { notes, related }));

  // ---- names -------------------------------------------------------------------------------
  const given = new Map<string, InputSpec>();
  for (const s of specs) {
    const input = byName.get(s.name);
    if (!input) {
      const list = inputs.map((i) => `${i.name}: ${showInputType(i)}${i.optional ? " (optional)" : ""}`).join(", ");
      report("TFM5201", modelSpan, `the model \`${r.model.name}\` has no input \`${s.name}\``, [...didYouMean(s.name, byName.keys()), `its inputs are: ${list || "(none)"}`]);
    } else if (given.has(s.name)) report("TFM5203", at(input), `input \`${s.name}\` is given more than once`);
    else given.set(s.name, s);
  }
  for (const i of inputs) {
    if (i.optional || given.has(i.name)) continue;
    report("TFM5202", at(i), `input \`${i.name}\` (${showInputType(i)}) is required, but no value was given for it`, [
      `give it as a JSON literal (\`${i.name}=[[1, 2, 3]]\`) or a file (\`${i.name}=@${i.name}.npy\`)`,
    ]);
  }

  // ---- values ------------------------------------------------------------------------------
  const values = new Map<string, { input: ModelInput; raw: Raw; tensor?: Tensor }>();
  let used = memory?.held ?? 0;
  for (const input of inputs) {
    const spec = given.get(input.name);
    if (!spec) continue;
    /** Whether `bytes` more fit the budget now (TFM6003 on the input otherwise); `held` says what else is spoken for. */
    const fits = (bytes: number, what: string): boolean => {
      if (!memory || used + bytes <= memory.budget) return true;
      const before = used === 0 ? "" : `; with the ${showBytes(used)} already needed (${used > memory.held ? (memory.held ? "the weights and the inputs before it" : "the inputs before it") : "the weights"}) that is`;
      report("TFM6003", at(input), `input \`${input.name}\` needs ${showBytes(bytes)} of memory (${what})${before} over the memory budget of ${showBytes(memory.budget)}; refused before allocating it (raise the budget with --max-memory)`);
      return false;
    };
    const raw = read(spec, input, r.file, diagnostics, fits);
    if (!raw) continue;
    const conv = convert(raw, input);
    if ("error" in conv) report(conv.code, at(input), conv.error, conv.notes);
    else used += conv.tensor.data.byteLength;
    values.set(input.name, { input, raw, ...("tensor" in conv ? { tensor: conv.tensor } : {}) });
  }

  // ---- shapes: rank, then symbolic dims bound across inputs, then every dim ----------------
  const from = new Map<string, { input: ModelInput; axis: number; shape: readonly number[] }>();
  const ranked: { input: ModelInput; shape: readonly number[] }[] = [];
  for (const { input, raw } of values.values()) {
    if (raw.shape.length !== input.shape.length) {
      report("TFM5207", at(input), `input \`${input.name}\` expects ${showInputType(input)} (${dimCount(input.shape.length)}), but the value given has ${dimCount(raw.shape.length)}: shape ${showDims(raw.shape)}`);
    } else ranked.push({ input, shape: raw.shape });
  }
  /** The symbol a dim is, when it is a bare symbol (`batch`), not an expression of one. */
  const symbolOf = (d: Dim): string | undefined => {
    const syms = symbolsOf(d);
    return syms.length === 1 && equalDims(d, symDim(syms[0]!)) === true ? syms[0] : undefined;
  };
  const conflict = (sym: string, value: number, input: ModelInput, axis: number, shape: readonly number[]) => {
    const first = from.get(sym)!;
    report(
      "TFM5209",
      at(input),
      `\`${sym}\` is ${bindings.get(sym)} in input \`${first.input.name}\` (dim ${first.axis} of ${showDims(first.shape)}) but ${value} in input \`${input.name}\` (dim ${axis} of ${showDims(shape)})`,
      [`\`${first.input.name}\` is ${showInputType(first.input)} and \`${input.name}\` is ${showInputType(input)}: dims with one name have one size`],
      [{ span: at(first.input), message: `\`${first.input.name}\` is declared here`, file: r.file }],
    );
  };
  const bind = (sym: string, value: number, input: ModelInput, axis: number, shape: readonly number[]): void => {
    if (!bindings.has(sym)) {
      bindings.set(sym, value);
      from.set(sym, { input, axis, shape });
    } else if (bindings.get(sym) !== value) conflict(sym, value, input, axis, shape);
  };
  for (const { input, shape } of ranked) input.shape.forEach((d, axis) => {
    const sym = symbolOf(d);
    if (sym !== undefined) bind(sym, shape[axis]!, input, axis, shape);
  });
  // A dim such as `2 * n` binds `n` when nothing else does.
  for (let progress = true; progress; ) {
    progress = false;
    for (const { input, shape } of ranked) input.shape.forEach((d, axis) => {
      if (evalDim(d, bindings) !== undefined) return;
      const solved = solveLinear(d, shape[axis]!, bindings);
      if (solved) {
        bind(solved.sym, solved.value, input, axis, shape);
        progress = true;
      }
    });
  }
  const hparams = r.instance?.model.hparams;
  for (const { input, shape } of ranked) {
    input.shape.forEach((d, axis) => {
      if (symbolOf(d) !== undefined) return; // a bare symbol that disagrees was reported as a conflict
      const want = evalDim(d, bindings) ?? evalExpr(input.decl.type.dims[axis], hparams, bindings);
      const got = shape[axis]!;
      if (want === got) return;
      const expr = input.decl.type.dims[axis];
      const source = expr && expr.kind !== "Ellipsis" && expr.kind !== "Pack" ? formatExpr(expr) : showShape([d]).slice(1, -1);
      const why =
        want === undefined
          ? `its size (\`${source}\`) cannot be worked out from the inputs given`
          : `it must be ${want}${source !== String(want) ? ` (\`${source}\`${symbolsOf(d).length ? `, with ${symbolsOf(d).map((s) => `${s} = ${bindings.get(s)}`).join(", ")}` : ""})` : ""}`;
      report("TFM5208", at(input), `input \`${input.name}\` expects ${showInputType(input)}, but the value given has shape ${showDims(shape)}: dim ${axis} is ${got}, and ${why}`);
    });
  }

  if (hasErrors(diagnostics)) return { tensors: undefined, bindings, diagnostics };
  const tensors = new Map<string, Tensor>();
  for (const [name, v] of values) tensors.set(name, v.tensor!);
  // An input left out whose default is one literal (`input attention_mask: i32[batch, seq] = 1`):
  // that value everywhere, at the dims the given inputs bind (else it stays out, as before).
  for (const input of inputs) {
    if (tensors.has(input.name) || !input.decl.default) continue;
    const d = input.decl.default;
    const value = d.kind === "Number" || d.kind === "Bool" ? Number(d.value) : d.kind === "Unary" && d.op === "-" && d.operand.kind === "Number" ? -d.operand.value : undefined;
    const shape = input.shape.map((dim) => evalDim(dim, bindings));
    if (value === undefined || shape.some((n) => n === undefined)) continue;
    const dtype = runtimeDType[input.dtype];
    const data = newArray(dtype, numel(shape as number[])).fill(dtype === "bool" ? (value ? 1 : 0) : value);
    tensors.set(input.name, makeTensor(dtype, shape as number[], data));
  }
  return { tensors, bindings, diagnostics };
}

const dimCount = (n: number) => (n === 1 ? "1 dim" : `${n} dims`);

/**
 * For a dim linear in one unbound symbol (`2 * n + 1`), the value of that symbol that gives
 * `actual`; worked out by evaluating the dim, so it needs nothing of how dims are represented.
 */
function solveLinear(d: Dim, actual: number, bindings: ReadonlyMap<string, number>): { sym: string; value: number } | undefined {
  const free = symbolsOf(d).filter((s) => !bindings.has(s));
  if (free.length !== 1) return undefined;
  const sym = free[0]!;
  const at = (v: number) => evalDim(d, new Map([...bindings, [sym, v]]));
  const [k, k1, k2] = [at(0), at(1), at(2)];
  if (k === undefined || k1 === undefined || k2 === undefined) return undefined;
  const c = k1 - k;
  if (c === 0 || k2 !== k + 2 * c) return undefined;
  const value = (actual - k) / c;
  return Number.isSafeInteger(value) && value >= 0 && at(value) === actual ? { sym, value } : undefined;
}

/** A dim's source expression evaluated with the model's parameters and the bound dims (for quotients such as `seq / 2`). */
function evalExpr(e: A.Dim | undefined, hparams: ReadonlyMap<string, Value> | undefined, bindings: ReadonlyMap<string, number>): number | undefined {
  if (!e || e.kind === "Ellipsis" || e.kind === "Pack") return undefined;
  let failed = false;
  // The runtime holds no resolved program: the dims it binds are known by their names.
  const v = evaluate(e, ({ name: n }) => hparams?.get(n) ?? (bindings.has(n) ? { kind: "int", v: bindings.get(n)! } : undefined), () => (failed = true));
  return !failed && v?.kind === "int" ? v.v : undefined;
}

// ---- reading ----------------------------------------------------------------------------------

const numpyName: Record<FileDType, string> = {
  F64: "float64", F32: "float32", F16: "float16", BF16: "bfloat16",
  I64: "int64", I32: "int32", I16: "int16", I8: "int8",
  U64: "uint64", U32: "uint32", U16: "uint16", U8: "uint8",
  BOOL: "bool",
};

const article = (word: string) => `${/^[aeio]/.test(word) ? "an" : "a"} ${word}`;

/** Reads a spec's value; file errors become diagnostics on the file, JSON errors on the input. `fits` is asked before anything large is read. */
function read(spec: InputSpec, input: ModelInput, file: string, out: Diagnostic[], fits: (bytes: number, what: string) => boolean): Raw | undefined {
  const src = spec.source;
  const bad = (message: string, notes: string[] = []) => {
    out.push(diag(file, "TFM5204", input.decl.span, message, { notes }));
    return undefined;
  };
  const rt = runtimeDType[input.dtype];
  try {
    switch (src.kind) {
      case "array":
        return { kind: "typed", dtype: src.array.dtype, data: src.array.data, shape: src.array.shape, what: `${article(numpyName[src.array.dtype])} array` };
      case "npyFile": {
        // The header first: the shape and dtype say what the data and its conversion take, before either is read.
        const { size, bytes } = readFilePrefix(src.path, maxNpyPrefixBytes);
        const h = readNpyHeader(bytes, size, src.path);
        const n = h.shape.reduce((a, b) => a * b, 1);
        const inPlace = h.dtype === "F32" && rt === "f32";
        const tensor = inPlace ? 0 : n * runtimeBytes[rt];
        const shape = `(${h.shape.join(", ")}${h.shape.length === 1 ? "," : ""})`;
        if (!fits(h.dataBytes + tensor, `${src.path} holds ${numpyName[h.dtype]}${shape}: ${showBytes(h.dataBytes)} of data${inPlace ? "" : `, then ${showBytes(tensor)} as ${input.dtype}`}`)) return undefined;
        const data = readFileRange(src.path, h.dataStart, h.dataBytes, size);
        if (h.bigEndian === hostIsLittleEndian) swapBytes(data, dtypes[h.dtype].size);
        const array = arrayFor(h.dtype, data.buffer as ArrayBuffer, 0, n);
        return { kind: "typed", dtype: h.dtype, data: array, shape: h.shape, what: `${article(numpyName[h.dtype])} array (${src.path})`, fresh: true };
      }
      case "jsonFile":
      case "json": {
        let text: string;
        if (src.kind === "json") text = src.text;
        else {
          // Its size first (a regular file's, from stat): over the string limit or the budget, it is never read.
          const { size } = readFilePrefix(src.path, 0);
          if (size > maxJsonInputBytes) {
            out.push(diag(file, "TFM5017", input.decl.span, `${src.path} (for input \`${input.name}\`) is ${showBytes(size)}; a JSON input is read as one string of at most ${showBytes(maxJsonInputBytes)}`, { notes: ["save a large input as .npy (np.save) and give it as name=@file.npy"] }));
            return undefined;
          }
          if (!fits(jsonBytesPerChar * size, `JSON of ${size.toLocaleString("en-US")} bytes, parsed at up to ${jsonBytesPerChar} bytes per character`)) return undefined;
          text = new TextDecoder("utf-8", { fatal: false }).decode(readFileBytes(src.path));
        }
        if (src.kind === "json" && !fits(jsonBytesPerChar * text.length, `JSON of ${text.length.toLocaleString("en-US")} characters, parsed at up to ${jsonBytesPerChar} bytes per character`)) return undefined;
        const where = src.kind === "json" ? `the value given for input \`${input.name}\`` : `${src.path} (for input \`${input.name}\`)`;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          return bad(`${where} is not valid JSON: ${(e as Error).message}`, [`write it as nested arrays of numbers, e.g. [[1, 2, 3]]`]);
        }
        const nested = flatten(parsed);
        if ("error" in nested) return bad(`${where}: ${nested.error}`);
        return { kind: "json", values: nested.values, shape: nested.shape, what: src.kind === "json" ? "a JSON literal" : `JSON (${src.path})` };
      }
    }
  } catch (e) {
    if (!(e instanceof WeightFileError)) throw e;
    out.push(fileErrorDiagnostic(e));
    return undefined;
  }
}

/** Nested JSON arrays → row-major values and a shape; every level must be rectangular. An element's path is worked out only for an error. */
function flatten(v: unknown): { values: (number | boolean)[]; shape: number[] } | { error: string } {
  const shape: number[] = [];
  let level: unknown[] = [v];
  /** `0, 2`: element `i` of the current level as indices into the levels above. */
  const path = (i: number) => unravel(i, shape).join(", ");
  for (;;) {
    const first = level.findIndex(Array.isArray);
    if (first < 0) break;
    const other = level.findIndex((x) => !Array.isArray(x));
    if (other >= 0) return { error: `element [${path(other)}] is ${describe(level[other])} but element [${path(first)}] is a list: the nesting must be the same everywhere` };
    if (shape.length >= 32) return { error: "more than 32 levels of nesting" };
    const len = (level[0] as unknown[]).length;
    const k = level.findIndex((x) => (x as unknown[]).length !== len);
    if (k >= 0) return { error: `the lists are ragged: [${path(0)}] has ${len} elements but [${path(k)}] has ${(level[k] as unknown[]).length}` };
    const next: unknown[] = [];
    for (const x of level) for (const y of x as unknown[]) next.push(y);
    shape.push(len);
    level = next;
  }
  const values: (number | boolean)[] = [];
  for (const [i, x] of level.entries()) {
    if (typeof x !== "number" && typeof x !== "boolean") return { error: `element [${path(i)}] is ${describe(x)}; inputs hold numbers or booleans` };
    values.push(x);
  }
  return { values, shape };
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (typeof x === "string") return `a string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}...` : x)}`;
  if (typeof x === "object") return "an object";
  return `${typeof x} ${String(x)}`;
}

// ---- converting -------------------------------------------------------------------------------

type Converted = { tensor: Tensor } | { error: string; code: "TFM5205" | "TFM5206"; notes: string[] };

/** `[0, 2]`: the multi-index of flat element `i` of `shape`. */
const indexOf = (i: number, shape: readonly number[]): string => `[${unravel(i, shape).join(", ")}]`;

/** Converts a read value to the input's runtime dtype: i32 from any integers (range-checked), bool from bools or 0/1, f32 from any numbers. */
function convert(raw: Raw, input: ModelInput): Converted {
  const rt: RtDType = runtimeDType[input.dtype];
  const n = raw.shape.reduce((a, b) => a * b, 1);
  const expects = `input \`${input.name}\` expects ${showInputType(input)}`;
  const refuse = (kind: string, notes: string[] = []): Converted => ({ code: "TFM5205", error: `${expects}, but the value given is ${raw.what}: ${kind} values cannot be converted to ${input.dtype}`, notes });
  const badValue = (i: number, value: string, why: string): Converted => ({ code: "TFM5206", error: `${expects}, but element ${indexOf(i, raw.shape)} of the value given (${raw.what}) is ${value}, ${why}`, notes: [] });

  if (raw.kind === "json") {
    const vs = raw.values;
    if (rt === "f32") {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = vs[i]!;
        if (typeof v === "boolean") return badValue(i, String(v), `not a number`);
        out[i] = v;
      }
      return { tensor: makeTensor("f32", raw.shape, out) };
    }
    if (rt === "i32") {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = vs[i]!;
        const x = typeof v === "boolean" ? Number(v) : v;
        if (!Number.isInteger(x)) return badValue(i, String(v), "not an integer");
        if (x < -0x80000000 || x > 0x7fffffff) return badValue(i, String(v), "outside the int32 range");
        out[i] = x;
      }
      return { tensor: makeTensor("i32", raw.shape, out) };
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = vs[i]!;
      if (v !== true && v !== false && v !== 0 && v !== 1) return badValue(i, String(v), "not a bool (true/false or 0/1)");
      out[i] = Number(v);
    }
    return { tensor: makeTensor("bool", raw.shape, out) };
  }

  const { dtype, data } = raw;
  const isFloat = dtype === "F64" || dtype === "F32" || dtype === "F16" || dtype === "BF16";
  const isBig = data instanceof BigInt64Array || data instanceof BigUint64Array;
  if (rt === "f32") {
    if (dtype === "BOOL") return refuse("bool", [`convert it first, e.g. a.astype(np.float32)`]);
    if (dtype === "F16") return { tensor: makeTensor("f32", raw.shape, f16ArrayToF32(data as Uint16Array)) };
    if (dtype === "BF16") return { tensor: makeTensor("f32", raw.shape, bf16ArrayToF32(data as Uint16Array)) };
    if (raw.fresh && data instanceof Float32Array) return { tensor: makeTensor("f32", raw.shape, data) };
    const out = new Float32Array(n);
    if (isBig) for (let i = 0; i < n; i++) out[i] = Number((data as BigInt64Array)[i]!);
    else out.set(data as ArrayLike<number>);
    return { tensor: makeTensor("f32", raw.shape, out) };
  }
  if (isFloat) return refuse("floating-point", [rt === "i32" ? "integer inputs take integer arrays: convert it, e.g. a.astype(np.int64)" : "bool inputs take bool arrays or 0/1 integers"]);
  if (rt === "i32") {
    const out = new Int32Array(n);
    if (isBig) {
      const b = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) {
        const v = b[i]!;
        if (v < -0x80000000n || v > 0x7fffffffn) return badValue(i, String(v), "outside the int32 range");
        out[i] = Number(v);
      }
    } else {
      const a = data as ArrayLike<number>;
      for (let i = 0; i < n; i++) {
        const v = dtype === "BOOL" ? (a[i] ? 1 : 0) : a[i]!;
        if (v > 0x7fffffff) return badValue(i, String(v), "outside the int32 range");
        out[i] = v;
      }
    }
    return { tensor: makeTensor("i32", raw.shape, out) };
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = isBig ? Number((data as BigInt64Array)[i]!) : (data as ArrayLike<number>)[i]!;
    if (dtype === "BOOL") out[i] = v ? 1 : 0;
    else if (v === 0 || v === 1) out[i] = v;
    else return badValue(i, String(isBig ? (data as BigInt64Array)[i] : v), "not 0 or 1 (a bool input takes bools or 0/1 integers)");
  }
  return { tensor: makeTensor("bool", raw.shape, out) };
}

// Fuzzing the readers of what a user hands tfm besides source: `.npy` arrays (src/weights/npy.ts),
// JSON input literals (src/runtime/inputs.ts `loadInputs`, as `tfm run --input` reads them, and
// nested arrays given to the API, src/bundle/io.ts `toInputs`), and safetensors checkpoints
// (src/weights/safetensors.ts, and `compile(...).load(bytes)`). Structured generators build a
// valid file and then break its fields one at a time — header lengths, versions, dtypes, shapes,
// offsets, sizes that overflow, duplicate keys, bad UTF-8, NaN-y JSON numbers, ragged or
// hostile-deep nested arrays, truncation and trailing bytes. Every input must either read — and
// then round-trip: the declared shape and the written values come back bit for bit — or be refused
// with a catalogued code (WeightFileError, TfmError, or a diagnostic with a span inside the
// model's text): no other exception, and no input over 1 s.
//
// The seed is printed; replay with TFM_FILES_FUZZ_SEED=<seed>, change the length with TFM_FILES_FUZZ_RUNS=<n>.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { check } from "../../src/api.js";
import { TfmError } from "../../src/bundle/errors.js";
import { toInputs } from "../../src/bundle/io.js";
import { compile } from "../../src/compile.js";
import { codes } from "../../src/diag/codes.js";
import { loadInputs, type InputSource } from "../../src/runtime/inputs.js";
import { arrayFor, dtypes, type DType, type TypedArray } from "../../src/weights/dtypes.js";
import { WeightFileError } from "../../src/weights/errors.js";
import { readNpy, writeNpy } from "../../src/weights/npy.js";
import { memorySource, parseSafetensors, writeSafetensors } from "../../src/weights/safetensors.js";
import { violations } from "../helpers/invariants.js";
import { pickSeed } from "../helpers/seed.js";

const seed = pickSeed("TFM_FILES_FUZZ_SEED");
const runs = Number(process.env["TFM_FILES_FUZZ_RUNS"] || 0);
const enc = new TextEncoder();

/** "ok", or the code of a catalogued refusal; anything else throws (fails the property). */
function coded(e: unknown, where: string): string {
  if ((e instanceof WeightFileError || e instanceof TfmError) && Object.hasOwn(codes, e.code) && e.code !== "TFM9001") return e.code;
  throw new Error(`${where}: not a TFM refusal: ${e instanceof Error ? `${e.constructor.name}: ${e.stack ?? e.message}` : String(e)}`);
}

function slowCheck(t0: number, what: string): void {
  const ms = performance.now() - t0;
  if (ms > 1000) throw new Error(`${what} took ${ms.toFixed(0)} ms`);
}

const outcomeCounts = () => new Map<string, number>();
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const show = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(", ");

/** Bytes as the reader sees them, with the same bits as `a` (for the round trip). */
const bitsOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: TypedArray, b: TypedArray) => Buffer.compare(Buffer.from(bitsOf(a)), Buffer.from(bitsOf(b))) === 0;

/** Random data for `dtype`, with NaN, ±∞ and −0 among the floats and the extremes among the integers. */
function randomData(dtype: DType, n: number, s: number): TypedArray {
  const size = dtypes[dtype].size;
  const bytes = new Uint8Array(n * size);
  let x = s >>> 0 || 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  if (dtype === "BOOL") for (let i = 0; i < n; i++) bytes[i] = bytes[i]! & 1;
  return arrayFor(dtype, bytes.buffer, 0, n);
}

// ---- .npy -------------------------------------------------------------------------------------

const npyDtypes: [DType, string][] = [["F64", "<f8"], ["F32", "<f4"], ["F16", "<f2"], ["I64", "<i8"], ["I32", "<i4"], ["I16", "<i2"], ["I8", "|i1"], ["U64", "<u8"], ["U32", "<u4"], ["U16", "<u2"], ["U8", "|u1"], ["BOOL", "|b1"]];
const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 });

type NpyField =
  | { f: "descr"; v: string }
  | { f: "fortran"; v: string }
  | { f: "shape"; v: string }
  | { f: "keys"; v: string }
  | { f: "syntax"; at: number; v: string }
  | { f: "version"; major: number; minor: number }
  | { f: "headerLen"; delta: number }
  | { f: "data"; delta: number }
  | { f: "magic"; at: number; byte: number };

const npyField: fc.Arbitrary<NpyField> = fc.oneof(
  fc.record({ f: fc.constant("descr" as const), v: fc.constantFrom("'<f4'", "'>f8'", "'>i4'", "'=i2'", "'|b1'", "'<c8'", "'<U10'", "'O'", "'<f3'", "'<f16'", "[('a', '<f4')]", "123", "None", "'<f4", "'\\u00e9'", "'<i0'", "'<V4'") }),
  fc.record({ f: fc.constant("fortran" as const), v: fc.constantFrom("True", "False", "1", "'False'", "None", "Tru") }),
  fc.record({
    f: fc.constant("shape" as const),
    v: fc.constantFrom("()", "(3,)", "(-1,)", "(9007199254740991,)", "(9007199254740992,)", "(4294967296, 4294967296)", "(0, 1000000000)", "(1000000000, 0)", "(2.0,)", "[2, 3]", "('a',)", "(2, 3", "(" + "1, ".repeat(40) + ")", "(((((2,),),),),)", "(1e3,)", "(0x10,)", "(True,)", "(18446744073709551617,)"),
  }),
  fc.record({ f: fc.constant("keys" as const), v: fc.constantFrom("'extra': 1, ", "'descr': '<f4', ", "", "'shape': (), ") }),
  fc.record({ f: fc.constant("syntax" as const), at: fc.nat(), v: fc.constantFrom("{", "}", "'", '"', "\\", ",", ":", "(".repeat(5000), "[".repeat(5000), "\0", "\u00ff", "\n", "# ", "é") }),
  fc.record({ f: fc.constant("version" as const), major: fc.constantFrom(1, 2, 3, 0, 4, 255), minor: fc.constantFrom(0, 0, 0, 1) }),
  fc.record({ f: fc.constant("headerLen" as const), delta: fc.constantFrom(-1, 1, -8, 16, 65535, 0x7fffffff, -100000, 1 << 20, (1 << 20) + 1) }),
  fc.record({ f: fc.constant("data" as const), delta: fc.constantFrom(-1, 1, -4, 8, -1000, 100) }),
  fc.record({ f: fc.constant("magic" as const), at: fc.integer({ min: 0, max: 7 }), byte: fc.integer({ min: 0, max: 255 }) }),
);

/** A .npy file from fields (np.save's layout), each field possibly broken. */
function buildNpy(dtype: [DType, string], shape: number[], dataSeed: number, breaks: readonly NpyField[]): { bytes: Uint8Array; valid: boolean; data: TypedArray } {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = randomData(dtype[0], n, dataSeed);
  if (!breaks.length) return { bytes: writeNpy(dtype[0], shape, data), valid: true, data };
  let descr = `'${dtype[1]}'`;
  let fortran = "False";
  let shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let extra = "";
  let [major, minor] = [1, 0];
  let lenDelta = 0;
  let dataDelta = 0;
  const syntax: { at: number; v: string }[] = [];
  const magic: { at: number; byte: number }[] = [];
  for (const b of breaks) {
    if (b.f === "descr") descr = b.v;
    else if (b.f === "fortran") fortran = b.v;
    else if (b.f === "shape") shapeText = b.v;
    else if (b.f === "keys") extra += b.v;
    else if (b.f === "syntax") syntax.push(b);
    else if (b.f === "version") [major, minor] = [b.major, b.minor];
    else if (b.f === "headerLen") lenDelta += b.delta;
    else if (b.f === "data") dataDelta += b.delta;
    else magic.push(b);
  }
  let dict = `{${extra}'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shapeText}, }`;
  for (const s of syntax) {
    const at = s.at % (dict.length + 1);
    dict = dict.slice(0, at) + s.v + dict.slice(at);
  }
  const prefix = major === 1 ? 10 : 12;
  const header = major === 3 ? enc.encode(dict + "\n") : Uint8Array.from(dict + "\n", (ch) => ch.charCodeAt(0) & 0xff);
  const payload = bitsOf(data);
  const dataLen = Math.max(0, payload.length + dataDelta);
  const out = new Uint8Array(prefix + header.length + dataLen);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, minor]);
  const len = Math.max(0, header.length + lenDelta);
  const view = new DataView(out.buffer);
  if (prefix === 10) view.setUint16(8, len & 0xffff, true);
  else view.setUint32(8, len >>> 0, true);
  out.set(header, prefix);
  out.set(payload.subarray(0, dataLen), prefix + header.length);
  for (const m of magic) out[m.at] = m.byte;
  return { bytes: out, valid: false, data };
}

// ---- JSON inputs ------------------------------------------------------------------------------

type JsonBreak =
  | { b: "ragged"; at: number }
  | { b: "deeper"; at: number }
  | { b: "element"; at: number; v: string }
  | { b: "token"; at: number; v: string }
  | { b: "truncate"; at: number }
  | { b: "deep"; depth: number };

const jsonBreak: fc.Arbitrary<JsonBreak> = fc.oneof(
  fc.record({ b: fc.constant("ragged" as const), at: fc.nat() }),
  fc.record({ b: fc.constant("deeper" as const), at: fc.nat() }),
  fc.record({ b: fc.constant("element" as const), at: fc.nat(), v: fc.constantFrom("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-400", "-0", "0x10", "null", '"1"', "{}", "true", "false", "2147483648", "-2147483649", "9007199254740993", "1.5", "[]", "[[]]", "01", "+1", ".5", "1.") }),
  fc.record({ b: fc.constant("token" as const), at: fc.nat(), v: fc.constantFrom(",", "[", "]", "]]", ",,", " ", "\u00a0", "\uFEFF", "\0", '"', "{", "//", "\ud800") }),
  fc.record({ b: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ b: fc.constant("deep" as const), depth: fc.constantFrom(31, 32, 33, 100, 10_000, 100_000) }),
);

/** A nested JSON array of `shape` (numbers, or booleans for bool), as text, then broken. */
function buildJson(shape: number[], kind: "f32" | "i32" | "bool", s: number, breaks: readonly JsonBreak[]): string {
  let x = s >>> 0 || 7;
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x);
  const elem = () => (kind === "bool" ? (next() & 1 ? "true" : "false") : kind === "i32" ? String((next() % 7) - 3) : String(((next() % 2001) - 1000) / 64));
  const build = (d: number): string => (d === shape.length ? elem() : `[${Array.from({ length: shape[d]! }, () => build(d + 1)).join(", ")}]`);
  let text = build(0);
  for (const b of breaks) {
    const brackets = [...text.matchAll(/\[/g)].map((m) => m.index);
    const numbers = [...text.matchAll(/-?[\d.]+|true|false/g)];
    if (b.b === "ragged" && brackets.length) {
      // Drop one element of one list (the lists at that level are then ragged).
      const at = brackets[b.at % brackets.length]!;
      text = text.slice(0, at + 1) + text.slice(at + 1).replace(/^(\s*(?:[^,[\]]+|\[[^\]]*\]))\s*,\s*/, "");
    } else if (b.b === "deeper" && numbers.length) {
      const m = numbers[b.at % numbers.length]!;
      text = `${text.slice(0, m.index)}[${m[0]}]${text.slice(m.index + m[0].length)}`;
    } else if (b.b === "element" && numbers.length) {
      const m = numbers[b.at % numbers.length]!;
      text = text.slice(0, m.index) + b.v + text.slice(m.index + m[0].length);
    } else if (b.b === "token") {
      const at = b.at % (text.length + 1);
      text = text.slice(0, at) + b.v + text.slice(at);
    } else if (b.b === "truncate") text = text.slice(0, b.at % (text.length + 1));
    else if (b.b === "deep") text = "[".repeat(b.depth) + text + "]".repeat(b.depth);
  }
  return text;
}

// ---- safetensors ------------------------------------------------------------------------------

const stDtypes: DType[] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"];

type StBreak =
  | { b: "dtype"; t: number; v: string }
  | { b: "shape"; t: number; v: string }
  | { b: "offsets"; t: number; v: string }
  | { b: "entry"; t: number; v: string }
  | { b: "header"; at: number; v: string }
  | { b: "headerLen"; v: bigint }
  | { b: "data"; delta: number }
  | { b: "byte"; at: number; v: number };

const stBreak: fc.Arbitrary<StBreak> = fc.oneof(
  fc.record({ b: fc.constant("dtype" as const), t: fc.nat(), v: fc.constantFrom('"F32"', '"I64"', '"BOOL"', '"F8_E4M3"', '"C64"', '"f32"', '"X"', "7", "null", '""') }),
  fc.record({ b: fc.constant("shape" as const), t: fc.nat(), v: fc.constantFrom("[]", "[-1]", "[2.0]", "[1e3]", "[9007199254740992]", "[4294967296, 4294967296]", "[0, 1000000000]", '["2"]', "[[2]]", "3", "null", "[18446744073709551616]", "[" + "1,".repeat(100) + "1]") }),
  fc.record({ b: fc.constant("offsets" as const), t: fc.nat(), v: fc.constantFrom("[0, 0]", "[4, 0]", "[0, 4]", "[0]", "[0, 4, 8]", "[-1, 3]", "[0, 18446744073709551616]", "[0, 9007199254740993]", "[1.0, 5.0]", '["0", "4"]', "null", "[0, 1e999]") }),
  fc.record({ b: fc.constant("entry" as const), t: fc.nat(), v: fc.constantFrom("null", "[]", '"x"', "{}", '{"dtype": "F32"}') }),
  fc.record({ b: fc.constant("header" as const), at: fc.nat(), v: fc.constantFrom("{", "}", '"', ",", ":", "\\", "\uFEFF", "[".repeat(100), '"__metadata__": 3, ', '"__metadata__": {"a": 1}, ', '"": {}, ', '"dup": 1, "dup": 2, ', "\ud800", "é", "\0") }),
  fc.record({ b: fc.constant("headerLen" as const), v: fc.constantFrom(0n, 1n, 7n, 100_000_001n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 31n) }),
  fc.record({ b: fc.constant("data" as const), delta: fc.constantFrom(-1, 1, -8, 8, -100) }),
  fc.record({ b: fc.constant("byte" as const), at: fc.nat(), v: fc.constantFrom(0, 0xff, 0x80, 0xc0, 0x22, 0x7b) }),
);

interface StTensor {
  name: string;
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/** A safetensors file of `tensors`, written by writeSafetensors and then broken field by field. */
function buildSafetensors(tensors: StTensor[], breaks: readonly StBreak[]): Uint8Array {
  const good = writeSafetensors(tensors);
  if (!breaks.length) return good;
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  let header = new TextDecoder().decode(good.subarray(8, 8 + n)).trimEnd();
  let data = good.subarray(8 + n);
  let lenOverride: bigint | undefined;
  const bytesAt: { at: number; v: number }[] = [];
  for (const b of breaks) {
    if (b.b === "dtype" || b.b === "shape" || b.b === "offsets" || b.b === "entry") {
      const t = tensors[b.t % tensors.length]!;
      const key = JSON.stringify(t.name);
      const start = header.indexOf(`${key}:{`);
      if (start < 0) continue;
      const from = start + key.length + 1;
      const end = header.indexOf("}", from) + 1;
      const entry = header.slice(from, end);
      const field = { dtype: /"dtype":("[^"]*"|[^,}]*)/, shape: /"shape":(\[[^\]]*\]|[^,}]*)/, offsets: /"data_offsets":(\[[^\]]*\]|[^,}]*)/ };
      const fixed = b.b === "entry" ? b.v : entry.replace(field[b.b], (m) => m.slice(0, m.indexOf(":") + 1) + b.v);
      header = header.slice(0, from) + fixed + header.slice(end);
    } else if (b.b === "header") {
      const at = 1 + (b.at % Math.max(1, header.length - 1));
      header = header.slice(0, at) + b.v + header.slice(at);
    } else if (b.b === "headerLen") lenOverride = b.v;
    else if (b.b === "data") data = b.delta < 0 ? data.subarray(0, Math.max(0, data.length + b.delta)) : new Uint8Array([...data, ...new Uint8Array(b.delta)]);
    else bytesAt.push(b);
  }
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  for (const b of bytesAt) if (out.length) out[b.at % out.length] = b.v;
  return out;
}

const stTensors: fc.Arbitrary<StTensor[]> = fc
  .uniqueArray(fc.record({ name: fc.constantFrom("w", "b", "emb.weight", "h.0.attn.c_attn.weight", "é", "a b", "x".repeat(300), "__m"), dtype: fc.constantFrom(...stDtypes), shape: shapeArb, s: fc.nat() }), { minLength: 1, maxLength: 4, selector: (t) => t.name })
  .map((ts) => ts.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: randomData(t.dtype, t.shape.reduce((a, b) => a * b, 1), t.s) })));

// ---- the properties ---------------------------------------------------------------------------

describe("fuzz: .npy, JSON inputs and safetensors", () => {
  it(`reads or refuses with a code every .npy, and valid ones round-trip (seed printed; replay with TFM_FILES_FUZZ_SEED)`, { timeout: 120_000 }, () => {
    const numRuns = runs || 6000;
    console.log(`[files-fuzz] npy: seed=${seed} numRuns=${numRuns} (replay: TFM_FILES_FUZZ_SEED=${seed})`);
    const seen = outcomeCounts();
    let slowest = 0;
    fc.assert(
      fc.property(fc.constantFrom(...npyDtypes), shapeArb, fc.nat(), fc.array(npyField, { maxLength: 3 }), (dt, shape, s, breaks) => {
        const { bytes, valid, data } = buildNpy(dt, shape, s, breaks);
        const t0 = performance.now();
        let outcome = "ok";
        try {
          const a = readNpy(bytes, "fuzz.npy");
          if (a.data.length !== a.shape.reduce((x, y) => x * y, 1)) throw new Error(`read ${a.data.length} elements for shape (${a.shape})`);
          if (valid) {
            expect(a.dtype).toBe(dt[0]);
            expect(a.shape).toEqual(shape);
            if (!sameBits(a.data, data)) throw new Error("the values read are not the bits written");
          }
        } catch (e) {
          if (valid) throw e;
          outcome = coded(e, "readNpy");
        }
        slowCheck(t0, "readNpy");
        slowest = Math.max(slowest, performance.now() - t0);
        bump(seen, valid ? "valid ok" : outcome);
      }),
      { seed, numRuns },
    );
    console.log(`[files-fuzz] npy outcomes: ${show(seen)}; slowest ${slowest.toFixed(1)} ms`);
    for (const c of ["TFM5001", "TFM5002", "TFM5008", "TFM5010", "TFM5011", "TFM5012", "TFM5016"]) expect(seen.has(c), c).toBe(true);
    expect(seen.get("valid ok") ?? 0).toBeGreaterThan(numRuns / 20);
  });

  it(`reads or refuses with a code every JSON input, for tfm run and for the API; valid ones round-trip (seed printed)`, { timeout: 120_000 }, () => {
    const numRuns = runs || 4000;
    console.log(`[files-fuzz] json: seed=${seed} numRuns=${numRuns} (replay: TFM_FILES_FUZZ_SEED=${seed})`);
    // One model per element type and rank (0 to 4, symbolic dims): a literal of rank r goes to the model of rank r, or (a quarter of the time) another.
    const models = (["f32", "i32", "bool"] as const).flatMap((kind) =>
      [0, 1, 2, 3, 4].map((rank) => {
        const text = `model M {\n  input x: ${kind}[${["a", "b", "c", "d"].slice(0, rank).join(", ")}]\n  output y = x\n}\n`;
        const r = check(text, "m.tfm");
        expect(violations(text, r)).toEqual([]);
        return { kind, rank, text, r, compiled: compile(text) };
      }),
    );
    for (const m of models) expect(m.compiled.ok, m.text).toBe(true);
    const seen = outcomeCounts();
    let slowest = 0;
    fc.assert(
      fc.property(fc.nat(2), fc.nat(19), shapeArb, fc.nat(), fc.array(jsonBreak, { maxLength: 2 }), (k, other, shape, s, breaks) => {
        // JSON cannot write the dims after an empty list: `[]` is shape [0], `[[], []]` is [2, 0].
        const written = shape.indexOf(0) >= 0 ? shape.slice(0, shape.indexOf(0) + 1) : shape;
        const rank = other < 5 ? other : written.length;
        const m = models[k * 5 + rank]!;
        const text = buildJson(shape, m.kind, s, breaks);
        const t0 = performance.now();
        // tfm run --input x=<text>
        const source: InputSource = { kind: "json", text };
        const loaded = loadInputs(m.r, [{ name: "x", source }]);
        for (const d of loaded.diagnostics) {
          if (!Object.hasOwn(codes, d.code) || d.code === "TFM9001") throw new Error(`diagnostic ${d.code} is not catalogued: ${d.message}`);
          if (d.file === m.r.file && !(d.span.start >= 0 && d.span.end <= m.text.length && d.span.start <= d.span.end)) throw new Error(`span ${JSON.stringify(d.span)} outside the model`);
        }
        const outcome = loaded.tensors ? "ok" : loaded.diagnostics.find((d) => d.severity === "error")!.code;
        if (!breaks.length && rank === written.length && outcome !== "ok") throw new Error(`a valid literal was refused: ${text} → ${loaded.diagnostics.map((d) => d.message).join("; ")}`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        if (loaded.tensors && parsed !== undefined) {
          // Round trip: the values and the shape of the literal.
          const t = loaded.tensors.get("x")!;
          const flat = [parsed].flat(Infinity) as (number | boolean)[];
          const want = Array.isArray(parsed) ? shapeOf(parsed) : [];
          if (t.shape.join() !== want.join()) throw new Error(`shape [${t.shape}] read for a literal of shape [${want}]`);
          flat.forEach((v, i) => {
            const w = m.kind === "f32" ? Math.fround(Number(v)) : Number(v) + 0; // an integer input holds no −0
            if (!Object.is(t.data[i], w)) throw new Error(`element ${i} read as ${t.data[i]}, written ${String(v)}`);
          });
        }
        // The API: run({ x: { data: nested } }), as parsed (when JSON.parse takes it).
        if (parsed !== undefined) {
          let api = "ok";
          try {
            toInputs(m.compiled.inputs, { x: { data: Array.isArray(parsed) ? parsed : [parsed], ...(Array.isArray(parsed) ? {} : { shape: [] }) } });
          } catch (e) {
            api = coded(e, "toInputs");
          }
          bump(seen, `api ${api}`);
        }
        slowCheck(t0, "reading a JSON input");
        slowest = Math.max(slowest, performance.now() - t0);
        bump(seen, `run ${outcome}`);
      }),
      { seed, numRuns },
    );
    console.log(`[files-fuzz] json outcomes: ${show(seen)}; slowest ${slowest.toFixed(1)} ms`);
    for (const c of ["run ok", "run TFM5204", "run TFM5206", "run TFM5207", "api ok", "api TFM5204", "api TFM5206"]) expect(seen.has(c), c).toBe(true);
  });

  it(`reads or refuses with a code every safetensors file, directly and through load(); valid ones round-trip (seed printed)`, { timeout: 120_000 }, async () => {
    const numRuns = runs || 6000;
    console.log(`[files-fuzz] safetensors: seed=${seed} numRuns=${numRuns} (replay: TFM_FILES_FUZZ_SEED=${seed})`);
    // A model whose one weight is `w`, so that load() binds a fuzzed file to it.
    const model = compile("model M {\n  input x: f32[n]\n  param w: f32[...]\n  output y = x\n}\n");
    const loadable = model.ok ? model : compile("model M {\n  input x: f32[2]\n  param w: f32[2]\n  output y = x + w\n}\n");
    expect(loadable.ok).toBe(true);
    const seen = outcomeCounts();
    let slowest = 0;
    await fc.assert(
      fc.asyncProperty(stTensors, fc.array(stBreak, { maxLength: 3 }), fc.nat(19), async (tensors, breaks, viaLoad) => {
        const bytes = buildSafetensors(tensors, breaks);
        const t0 = performance.now();
        let outcome = "ok";
        try {
          const f = parseSafetensors(memorySource(bytes), "fuzz.safetensors");
          for (const [name, e] of f.tensors) {
            if (e.numel !== e.shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: numel ${e.numel} for shape [${e.shape}]`);
            const d = e.decode();
            if (d.length !== e.numel) throw new Error(`${name}: decoded ${d.length} of ${e.numel} elements`);
            for (const conv of [() => e.toFloat32(), () => e.toInt32()]) {
              try {
                conv();
              } catch (err) {
                coded(err, `${name}: converting`);
              }
            }
            if (!breaks.length) {
              const t = tensors.find((x) => x.name === name)!;
              expect(e.dtype).toBe(t.dtype);
              expect([...e.shape]).toEqual(t.shape);
              if (!sameBits(d, t.data)) throw new Error(`${name}: the values read are not the bits written`);
            }
          }
          if (!breaks.length && f.tensors.size !== tensors.length) throw new Error(`read ${f.tensors.size} of ${tensors.length} tensors`);
        } catch (e) {
          if (!breaks.length) throw e;
          outcome = coded(e, "parseSafetensors");
        }
        if (viaLoad === 0) {
          // The public path: bytes bound to a model's weights, refused with a TfmError.
          try {
            (await loadable.load(bytes, { threads: 1, maxMemory: 1 << 26 })).dispose();
            bump(seen, "load ok");
          } catch (e) {
            bump(seen, `load ${coded(e, "load(bytes)")}`);
          }
        }
        slowCheck(t0, "reading a safetensors file");
        slowest = Math.max(slowest, performance.now() - t0);
        bump(seen, breaks.length ? outcome : "valid ok");
      }),
      { seed, numRuns },
    );
    console.log(`[files-fuzz] safetensors outcomes: ${show(seen)}; slowest ${slowest.toFixed(1)} ms`);
    for (const c of ["TFM5001", "TFM5002", "TFM5003", "TFM5004", "TFM5005", "TFM5006", "TFM5007", "TFM5008", "TFM5014"]) expect(seen.has(c), c).toBe(true);
    expect(seen.get("valid ok") ?? 0).toBeGreaterThan(numRuns / 20);
  });
});

/** The shape of a rectangular nested array (as its first elements give it). */
function shapeOf(v: unknown): number[] {
  const s: number[] = [];
  for (let d: unknown = v; Array.isArray(d); d = d[0]) s.push(d.length);
  return s;
}

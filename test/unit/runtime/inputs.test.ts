// Model inputs: JSON literals and .npy files, converted to the input's dtype (int64 accepted and
// range-checked), checked against the declared types — rank, fixed dims, and symbolic dims bound
// consistently across inputs — with the bindings returned for the interpreter.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toArray } from "../../../src/core/tensor.js";
import { type InputSpec, loadInputs, modelInputs, parseInputArg, showInputType } from "../../../src/runtime/inputs.js";
import type { DType } from "../../../src/weights/dtypes.js";
import type { TypedArray } from "../../../src/weights/dtypes.js";
import { writeNpy } from "../../../src/weights/npy.js";
import { checked, render, summary } from "./helpers.js";

const r = checked(
  `model In(d: int = 8) {
  input ids: i32[batch, seq]
  input mask: bool[batch, seq]
  input feats: f32[batch, seq, d]
  input pairs: i32[2 * seq] = 0
  output y = feats
}
`,
  "in.tfm",
);

const dir = mkdtempSync(join(tmpdir(), "tfm-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const npy = (name: string, dtype: DType, shape: number[], data: TypedArray): string => {
  const path = join(dir, name);
  writeFileSync(path, writeNpy(dtype, shape, data));
  return path;
};

const json = (name: string, text: string): InputSpec => ({ name, source: { kind: "json", text } });
const arr = (name: string, dtype: DType, shape: number[], data: TypedArray): InputSpec => ({ name, source: { kind: "array", array: { dtype, shape, data } } });
const feats = (b: number, s: number, d = 8) => arr("feats", "F32", [b, s, d], new Float32Array(b * s * d));
const good = () => [json("ids", "[[1, 2, 3], [4, 5, 6]]"), json("mask", "[[true, false, true], [1, 1, 0]]"), feats(2, 3)];

describe("loading inputs", () => {
  it("reads JSON literals and arrays, converts them, and binds the symbolic dims", () => {
    const l = loadInputs(r, good());
    expect(l.diagnostics).toEqual([]);
    expect(l.bindings).toEqual(new Map([["batch", 2], ["seq", 3]]));
    expect(l.tensors!.get("ids")).toMatchObject({ dtype: "i32", shape: [2, 3], data: new Int32Array([1, 2, 3, 4, 5, 6]) });
    expect(l.tensors!.get("mask")).toMatchObject({ dtype: "bool", shape: [2, 3], data: new Uint8Array([1, 0, 1, 1, 1, 0]) });
    expect(l.tensors!.get("feats")).toMatchObject({ dtype: "f32", shape: [2, 3, 8] });
    expect(l.tensors!.get("pairs")).toMatchObject({ dtype: "i32", shape: [6], data: new Int32Array(6) }); // left out: its default, at 2 * seq
  });

  it("accepts NumPy's default int64 for an i32 input, from a .npy file", () => {
    const path = npy("ids.npy", "I64", [2, 3], new BigInt64Array([1n, 2n, 3n, 4n, 5n, 2n ** 31n - 1n]));
    const l = loadInputs(r, [{ name: "ids", source: { kind: "npyFile", path } }, ...good().slice(1)]);
    expect(l.diagnostics).toEqual([]);
    expect(toArray(l.tensors!.get("ids")!)).toEqual([1, 2, 3, 4, 5, 2 ** 31 - 1]);
  });

  it("range-checks int64 values, naming the first bad element", () => {
    const path = npy("big.npy", "I64", [2, 3], new BigInt64Array([1n, 2n, 3n, 4n, 5n, 2n ** 31n]));
    const l = loadInputs(r, [{ name: "ids", source: { kind: "npyFile", path } }, ...good().slice(1)]);
    expect(l.tensors).toBeUndefined();
    expect(summary(l.diagnostics)).toEqual([`TFM5206 input \`ids\` expects i32[batch, seq], but element [1, 2] of the value given (an int64 array (${path})) is 2147483648, outside the int32 range`]);
    expect(l.diagnostics[0]).toMatchObject({ file: "in.tfm", span: r.model!.decl.body[0]!.span });
    const neg = loadInputs(r, [json("ids", "[[1, 2, -2147483649], [0, 0, 0]]"), ...good().slice(1)]);
    expect(neg.diagnostics[0]!.message).toContain("element [0, 2] of the value given (a JSON literal) is -2147483649, outside the int32 range");
  });

  it("converts f32 inputs from any float or integer array, and bool inputs from 0/1 integers", () => {
    const l = loadInputs(r, [
      arr("ids", "U8", [2, 3], new Uint8Array([1, 2, 3, 4, 5, 255])),
      arr("mask", "I64", [2, 3], new BigInt64Array([0n, 1n, 1n, 0n, 1n, 1n])),
      arr("feats", "I64", [2, 3, 8], new BigInt64Array(48).fill(3n)),
    ]);
    expect(l.diagnostics).toEqual([]);
    expect(toArray(l.tensors!.get("feats")!).every((v) => v === 3)).toBe(true);
    const half = loadInputs(r, [...good().slice(0, 2), arr("feats", "F16", [2, 3, 8], new Uint16Array(48).fill(0x3c00))]);
    expect(toArray(half.tensors!.get("feats")!).every((v) => v === 1)).toBe(true);
  });

  it("refuses conversions that lose meaning: float to i32, bool to f32, 2 to bool, 1.5 to i32", () => {
    const float = loadInputs(r, [arr("ids", "F64", [2, 3], new Float64Array(6)), ...good().slice(1)]);
    expect(summary(float.diagnostics)).toEqual(["TFM5205 input `ids` expects i32[batch, seq], but the value given is a float64 array: floating-point values cannot be converted to i32"]);
    expect(float.diagnostics[0]!.notes).toEqual(["integer inputs take integer arrays: convert it, e.g. a.astype(np.int64)"]);
    const bool = loadInputs(r, [...good().slice(0, 2), arr("feats", "BOOL", [2, 3, 8], new Uint8Array(48))]);
    expect(bool.diagnostics.map((d) => d.code)).toEqual(["TFM5205"]);
    const two = loadInputs(r, [good()[0]!, json("mask", "[[1, 0, 2], [0, 0, 0]]"), good()[2]!]);
    expect(summary(two.diagnostics)).toEqual(["TFM5206 input `mask` expects bool[batch, seq], but element [0, 2] of the value given (a JSON literal) is 2, not a bool (true/false or 0/1)"]);
    const frac = loadInputs(r, [json("ids", "[[1, 2.5, 3], [4, 5, 6]]"), ...good().slice(1)]);
    expect(frac.diagnostics[0]!.message).toContain("element [0, 1] of the value given (a JSON literal) is 2.5, not an integer");
  });
});

describe("checking inputs against the declared types", () => {
  it("the wrong number of dims", () => {
    const l = loadInputs(r, [json("ids", "[1, 2, 3]"), ...good().slice(1)]);
    expect(summary(l.diagnostics)).toEqual(["TFM5207 input `ids` expects i32[batch, seq] (2 dims), but the value given has 1 dim: shape [3]"]);
    expect(render(l.diagnostics, r)).toContain("in.tfm:2:3: error[TFM5207]");
  });

  it("a fixed dim of the wrong size, naming the parameter it comes from", () => {
    const l = loadInputs(r, [...good().slice(0, 2), feats(2, 3, 5)]);
    expect(summary(l.diagnostics)).toEqual(["TFM5208 input `feats` expects f32[batch, seq, 8], but the value given has shape [2, 3, 5]: dim 2 is 5, and it must be 8 (`d`)"]);
  });

  it("a symbolic dim with different sizes in two inputs", () => {
    const l = loadInputs(r, [json("ids", "[[1, 2, 3], [4, 5, 6]]"), json("mask", "[[1, 1, 1]]"), feats(2, 3)]);
    expect(summary(l.diagnostics)).toEqual(["TFM5209 `batch` is 2 in input `ids` (dim 0 of [2, 3]) but 1 in input `mask` (dim 0 of [1, 3])"]);
    const d = l.diagnostics[0]!;
    expect(d.span).toEqual(r.model!.decl.body[1]!.span);
    expect(d.related).toMatchObject([{ message: "`ids` is declared here", span: r.model!.decl.body[0]!.span }]);
    expect(d.notes).toEqual(["`ids` is i32[batch, seq] and `mask` is bool[batch, seq]: dims with one name have one size"]);
    const seq = loadInputs(r, [...good().slice(0, 2), feats(2, 4)]);
    expect(seq.diagnostics.map((x) => x.message)).toEqual(["`seq` is 3 in input `ids` (dim 1 of [2, 3]) but 4 in input `feats` (dim 1 of [2, 4, 8])"]);
  });

  it("a dim computed from symbols (`2 * seq`): checked when bound, solved when not", () => {
    const ok = loadInputs(r, [...good(), json("pairs", "[0, 1, 2, 3, 4, 5]")]);
    expect(ok.diagnostics).toEqual([]);
    const bad = loadInputs(r, [...good(), json("pairs", "[0, 1, 2, 3]")]);
    expect(summary(bad.diagnostics)).toEqual(["TFM5208 input `pairs` expects i32[2 * seq], but the value given has shape [4]: dim 0 is 4, and it must be 6 (`2 * seq`, with seq = 3)"]);
    // `n` is introduced by an optional input; when that is left out, `pairs` alone determines it.
    const r2 = checked("model P {\n  input a: f32[n] = 0.0\n  input pairs: i32[2 * n]\n  input sq: i32[n * n] = 0\n  output y = pairs\n}\n", "p.tfm");
    expect(loadInputs(r2, [json("pairs", "[1, 2, 3, 4]")]).bindings).toEqual(new Map([["n", 2]]));
    expect(summary(loadInputs(r2, [json("pairs", "[1, 2, 3]")]).diagnostics)).toEqual([
      "TFM5208 input `pairs` expects i32[2 * n], but the value given has shape [3]: dim 0 is 3, and its size (`2 * n`) cannot be worked out from the inputs given",
    ]);
    expect(summary(loadInputs(r2, [json("pairs", "[1, 2]"), json("sq", "[1, 2, 3, 4]")]).diagnostics)).toEqual([
      "TFM5208 input `sq` expects i32[n * n], but the value given has shape [4]: dim 0 is 4, and it must be 1 (`n * n`, with n = 1)",
    ]);
  });

  it("names: unknown (with did-you-mean), missing, given twice", () => {
    const l = loadInputs(r, [json("idz", "[[1]]"), json("mask", "[[1]]"), json("mask", "[[1]]"), feats(1, 1)]);
    expect(summary(l.diagnostics)).toEqual([
      "TFM5201 the model `In` has no input `idz`",
      "TFM5203 input `mask` is given more than once",
      "TFM5202 input `ids` (i32[batch, seq]) is required, but no value was given for it",
    ]);
    expect(l.diagnostics[0]!.notes).toEqual(["did you mean `ids`?", "its inputs are: ids: i32[batch, seq], mask: bool[batch, seq], feats: f32[batch, seq, 8], pairs: i32[2 * seq] (optional)"]);
  });

  it("invalid JSON, ragged lists and non-numbers are errors at the input", () => {
    const msg = (text: string) => loadInputs(r, [json("ids", text), ...good().slice(1)]).diagnostics.map((d) => `${d.code} ${d.message}`)[0];
    expect(msg("[[1, 2, 3], [4, 5")).toMatch(/^TFM5204 the value given for input `ids` is not valid JSON: /);
    expect(msg("[[1, 2, 3], [4, 5]]")).toBe("TFM5204 the value given for input `ids`: the lists are ragged: [0] has 3 elements but [1] has 2");
    expect(msg("[[1, 2, 3], 4]")).toBe("TFM5204 the value given for input `ids`: element [1] is number 4 but element [0] is a list: the nesting must be the same everywhere");
    expect(msg('[[1, "2", 3], [4, 5, 6]]')).toBe('TFM5204 the value given for input `ids`: element [0, 1] is a string "2"; inputs hold numbers or booleans');
  });

  it("reads JSON from a file, and reports unreadable files on the file", () => {
    const path = join(dir, "ids.json");
    writeFileSync(path, "[[7, 8, 9], [1, 2, 3]]");
    const l = loadInputs(r, [{ name: "ids", source: { kind: "jsonFile", path } }, ...good().slice(1)]);
    expect(toArray(l.tensors!.get("ids")!)).toEqual([7, 8, 9, 1, 2, 3]);
    const missing = loadInputs(r, [{ name: "ids", source: { kind: "npyFile", path: join(dir, "nope.npy") } }, ...good().slice(1)]);
    expect(missing.diagnostics).toMatchObject([{ code: "TFM5018", file: join(dir, "nope.npy") }]);
    const notNpy = loadInputs(r, [{ name: "ids", source: { kind: "npyFile", path } }, ...good().slice(1)]);
    expect(notNpy.diagnostics).toMatchObject([{ code: "TFM5010", file: path }]);
    expect(render(notNpy.diagnostics, r)).toBe(`${path}: error[TFM5010]: not a .npy file: it does not start with \\x93NUMPY`);
  });

  it("lists the model's inputs with their types", () => {
    expect(modelInputs(r).map((i) => `${i.name}: ${showInputType(i)}${i.optional ? "?" : ""}`)).toEqual(["ids: i32[batch, seq]", "mask: bool[batch, seq]", "feats: f32[batch, seq, 8]", "pairs: i32[2 * seq]?"]);
  });
});

describe("--input name=value", () => {
  it("parses JSON literals, @files and bare .npy paths", () => {
    expect(parseInputArg("ids=[[1,2,3]]")).toEqual({ name: "ids", source: { kind: "json", text: "[[1,2,3]]" } });
    expect(parseInputArg("ids=@x.npy")).toEqual({ name: "ids", source: { kind: "npyFile", path: "x.npy" } });
    expect(parseInputArg("ids=@x.json")).toEqual({ name: "ids", source: { kind: "jsonFile", path: "x.json" } });
    expect(parseInputArg("ids=data/ids.npy")).toEqual({ name: "ids", source: { kind: "npyFile", path: "data/ids.npy" } });
    expect(parseInputArg("flag=true")).toEqual({ name: "flag", source: { kind: "json", text: "true" } });
    expect(parseInputArg("x=1=2")).toEqual({ name: "x", source: { kind: "json", text: "1=2" } });
    expect(parseInputArg("novalue")).toHaveProperty("error");
    expect(parseInputArg("=1")).toHaveProperty("error");
    expect(parseInputArg("ids=@")).toHaveProperty("error");
  });
});

describe("inputs under a memory budget (.npy header first)", () => {
  it("reads .npy data by range after its header: big-endian and little-endian, every dtype's values", () => {
    const be = join(dir, "be.npy");
    // A big-endian <f4 written by hand: numpy's '>f4' descr, values 1.5, -2, 3.25 ... for feats [1, 1, 8].
    const vals = [1.5, -2, 3.25, 0, 1e-3, -7, 8, 9.5];
    const le = writeNpy("F32", [1, 1, 8], new Float32Array(vals));
    const bytes = new Uint8Array(le);
    bytes[Buffer.from(bytes).indexOf("'<f4'") + 1] = ">".charCodeAt(0);
    const data = new DataView(bytes.buffer, 128);
    vals.forEach((v, i) => data.setFloat32(4 * i, v, false));
    writeFileSync(be, bytes);
    const ids = npy("ids8.npy", "I8", [1, 1], new Int8Array([-3]));
    const l = loadInputs(r, [{ name: "ids", source: { kind: "npyFile", path: ids } }, json("mask", "[[1]]"), { name: "feats", source: { kind: "npyFile", path: be } }], { budget: 1 << 20, held: 0 });
    expect(summary(l.diagnostics)).toEqual([]);
    expect(toArray(l.tensors!.get("feats")!)).toEqual(vals.map((v) => Math.fround(v)));
    expect(toArray(l.tensors!.get("ids")!)).toEqual([-3]);
  });

  it("refuses a .npy whose header's shape does not fit, before reading its data (a 14.4 GB sparse file)", () => {
    const path = join(dir, "huge.npy");
    // The header of a (60000, 60000) float32 array, then a hole: the file takes no disk, and reading it would take 14.4 GB.
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 60000), }";
    h += " ".repeat(63 - ((h.length + 10) % 64)) + "\n";
    const prefix = new Uint8Array(10 + h.length);
    prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 255, h.length >> 8]);
    prefix.set(new TextEncoder().encode(h), 10);
    writeFileSync(path, prefix);
    truncateSync(path, prefix.length + 60000 * 60000 * 4);
    const big = checked("model S {\n  input x: f32[a, b]\n  output y = sum(x, 1)\n}\n", "s.tfm");
    const l = loadInputs(big, [{ name: "x", source: { kind: "npyFile", path } }], { budget: 2 ** 30, held: 1000 });
    expect(l.tensors).toBeUndefined();
    expect(summary(l.diagnostics)).toEqual([`TFM6003 input \`x\` needs 14,400,000,000 bytes (13.4 GiB) of memory (${path} holds float32(60000, 60000): 14,400,000,000 bytes (13.4 GiB) of data); with the 1,000 bytes already needed (the weights) that is over the memory budget of 1,073,741,824 bytes (1.0 GiB); refused before allocating it (raise the budget with --max-memory)`]);
    expect(l.diagnostics[0]!.span).toEqual(big.model!.decl.body[0]!.span);
  });

  it("counts the conversion (int8 to f32 is 4 bytes an element) and the inputs before it", () => {
    const a = npy("a.npy", "I8", [1000], new Int8Array(1000));
    const two = checked("model T {\n  input x: f32[n]\n  input z: i32[n]\n  output y = x\n}\n", "t.tfm");
    // x: 1,000 bytes read + 4,000 as f32 = 5,000; then z: 1,000 + 4,000 more beside x's 4,000 held.
    expect(loadInputs(two, [{ name: "x", source: { kind: "array", array: { dtype: "F32", shape: [1000], data: new Float32Array(1000) } } }, { name: "z", source: { kind: "npyFile", path: a } }], { budget: 9000, held: 0 }).diagnostics).toEqual([]);
    const over = loadInputs(two, [{ name: "x", source: { kind: "array", array: { dtype: "F32", shape: [1000], data: new Float32Array(1000) } } }, { name: "z", source: { kind: "npyFile", path: a } }], { budget: 8999, held: 0 });
    expect(summary(over.diagnostics)).toEqual([`TFM6003 input \`z\` needs 5,000 bytes (4.9 KiB) of memory (${a} holds int8(1000,): 1,000 bytes of data, then 4,000 bytes (3.9 KiB) as i32); with the 4,000 bytes (3.9 KiB) already needed (the inputs before it) that is over the memory budget of 8,999 bytes (8.8 KiB); refused before allocating it (raise the budget with --max-memory)`]);
  });

  it("refuses JSON before parsing it when its text could not be parsed within the budget; a JSON file past 256 MiB is TFM5017 unread", () => {
    const s = checked("model S {\n  input x: f32[a, b]\n  output y = sum(x, 1)\n}\n", "s.tfm");
    const text = `[${"[0],".repeat(10000)}[0]]`;
    const l = loadInputs(s, [json("x", text)], { budget: 100_000, held: 0 });
    expect(summary(l.diagnostics)).toEqual([`TFM6003 input \`x\` needs 960,120 bytes (937.6 KiB) of memory (JSON of 40,005 characters, parsed at up to 24 bytes per character) over the memory budget of 100,000 bytes (97.7 KiB); refused before allocating it (raise the budget with --max-memory)`]);
    expect(loadInputs(s, [json("x", text)], { budget: 1_000_000, held: 0 }).tensors!.get("x")!.shape).toEqual([10001, 1]);
    const path = join(dir, "huge.json");
    writeFileSync(path, "[");
    truncateSync(path, 2 ** 28 + 1);
    const f = loadInputs(s, [{ name: "x", source: { kind: "jsonFile", path } }], { budget: 2 ** 40, held: 0 });
    expect(f.diagnostics.map((d) => d.code)).toEqual(["TFM5017"]);
    expect(f.diagnostics[0]!.message).toContain("a JSON input is read as one string of at most 268,435,456 bytes (256.0 MiB)");
  });

  it("names a ragged or mixed element's indices (worked out only for the error)", () => {
    const s = checked("model S {\n  input x: f32[a, b, c]\n  output y = x\n}\n", "s.tfm");
    expect(summary(loadInputs(s, [json("x", "[[[1, 2], [3, 4]], [[5, 6], [7]]]")]).diagnostics)[0]).toContain("the lists are ragged: [0, 0] has 2 elements but [1, 1] has 1");
    expect(summary(loadInputs(s, [json("x", "[[[1, 2], [3, 4]], [[5, 6], [7, \"a\"]]]")]).diagnostics)[0]).toContain('element [1, 1, 1] is a string "a"');
  });
});

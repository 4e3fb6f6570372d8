// Tests for the safetensors reader and writer: round trips for every dtype, conversions, a table
// of corrupt and malicious files (each must fail with its own WeightFileError code), and property
// tests that random damage never escapes as anything but a WeightFileError.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arrayFor, type DType, dtypes, type TypedArray } from "../../../src/weights/dtypes.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../../../src/weights/safetensors.js";
import { readSafetensorsFile } from "../../../src/weights/file-source.js";
import { allDTypes, codeOf, contents, craft, nums, propertySeed, sample } from "./helpers.js";

const headerOf = (file: Uint8Array): { len: number; json: Record<string, unknown> } => {
  const len = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { len, json: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + len))) as Record<string, unknown> };
};

describe("safetensors round trip", () => {
  it("writes and reads back every dtype, bit for bit", () => {
    const tensors: NamedTensor[] = allDTypes.map((dtype) => {
      const data = sample(dtype);
      return { name: `t.${dtype}`, dtype, shape: [data.length], data };
    });
    const file = writeSafetensors(tensors, { format: "pt", note: "ünïcödé ✓" });
    const st = readSafetensors(file, "mem.safetensors");
    expect([...st.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    expect({ ...st.metadata }).toEqual({ format: "pt", note: "ünïcödé ✓" });
    for (const t of tensors) {
      const e = st.tensors.get(t.name)!;
      expect(e.dtype).toBe(t.dtype);
      expect(e.shape).toEqual(t.shape);
      expect(e.numel).toBe(t.data.length);
      expect(e.byteLength).toBe(t.data.length * dtypes[t.dtype].size);
      expect(contents(e.decode())).toEqual(contents(t.data));
    }
  });

  it("lays the file out as the reference writer does", () => {
    const file = writeSafetensors([
      { name: "a", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
      { name: "b", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
    ]);
    const { len, json } = headerOf(file);
    expect(len % 8).toBe(0);
    expect(file[8]).toBe("{".charCodeAt(0));
    expect(json).toEqual({
      a: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
      b: { dtype: "F32", shape: [2], data_offsets: [3, 11] },
    });
    expect(file.length).toBe(8 + len + 11);
    // b starts at an odd offset: reading must not depend on alignment.
    expect(Array.from(readSafetensors(file).tensors.get("b")!.toFloat32())).toEqual([1, 2]);
  });

  it("handles scalars, empty tensors and an empty file", () => {
    const file = writeSafetensors([
      { name: "scalar", dtype: "F32", shape: [], data: new Float32Array([2.5]) },
      { name: "empty", dtype: "I64", shape: [2, 0, 3], data: new BigInt64Array(0) },
      { name: "empty2", dtype: "F16", shape: [0], data: new Uint16Array(0) },
    ]);
    const st = readSafetensors(file);
    expect(st.tensors.get("scalar")!.shape).toEqual([]);
    expect(Array.from(st.tensors.get("scalar")!.toFloat32())).toEqual([2.5]);
    expect(st.tensors.get("empty")!.numel).toBe(0);
    expect(st.tensors.get("empty2")!.toFloat32().length).toBe(0);
    const none = readSafetensors(writeSafetensors([]));
    expect(none.tensors.size).toBe(0);
  });

  it("converts F16/BF16 from Float32Array and Float64Array when writing", () => {
    const file = writeSafetensors([
      { name: "h", dtype: "F16", shape: [3], data: new Float32Array([1, 65520, 2 ** -25]) },
      { name: "b", dtype: "BF16", shape: [2], data: new Float64Array([1, -2]) },
    ]);
    const st = readSafetensors(file);
    expect(nums(st.tensors.get("h")!.decode())).toEqual([0x3c00, 0x7c00, 0x0000]);
    expect(Array.from(st.tensors.get("b")!.toFloat32())).toEqual([1, -2]);
  });

  it("gives zero-copy bytes() views and fresh decoded arrays", () => {
    const file = writeSafetensors([{ name: "x", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]);
    const e = readSafetensors(file).tensors.get("x")!;
    expect(e.bytes().buffer).toBe(file.buffer);
    const f = e.toFloat32();
    f[0] = 99;
    expect(e.toFloat32()[0]).toBe(1);
  });

  it("reads from disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tfm-st-"));
    try {
      const path = join(dir, "w.safetensors");
      writeFileSync(path, writeSafetensors([{ name: "w", dtype: "I32", shape: [2], data: new Int32Array([7, -7]) }]));
      const st = await readSafetensorsFile(path);
      expect(Array.from(st.tensors.get("w")!.toInt32())).toEqual([7, -7]);
      await expect(readSafetensorsFile(join(dir, "missing"))).rejects.toMatchObject({ code: "TFM5018", file: join(dir, "missing") });
      await expect(readSafetensorsFile(dir)).rejects.toMatchObject({ code: "TFM5018" });
      // A sparse file just over 2 GiB (all zeros): read by range, so only its 8-byte length and empty header are read.
      const huge = join(dir, "huge.safetensors");
      writeFileSync(huge, "");
      truncateSync(huge, 2 ** 31 + 8);
      await expect(readSafetensorsFile(huge)).rejects.toMatchObject({ code: "TFM5003", file: huge });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("TensorEntry conversions", () => {
  const file = writeSafetensors(allDTypes.map((dtype) => ({ name: dtype, dtype, shape: [sample(dtype).length], data: sample(dtype) })));
  const st = readSafetensors(file);

  it("converts every float dtype to f32", () => {
    expect(Array.from(st.tensors.get("F16")!.toFloat32().subarray(2, 4))).toEqual([1, 65504]);
    expect(Array.from(st.tensors.get("BF16")!.toFloat32().subarray(2, 3))).toEqual([1]);
    expect(st.tensors.get("F64")!.toFloat32()[4]).toBe(Infinity); // 1e300 overflows f32
    expect(contents(st.tensors.get("F32")!.toFloat32())).toEqual(contents(sample("F32")));
  });

  it("converts integer dtypes to i32, range-checked", () => {
    expect(Array.from(st.tensors.get("I16")!.toInt32())).toEqual(Array.from(sample("I16") as Int16Array));
    expect(Array.from(st.tensors.get("U16")!.toInt32())).toEqual(Array.from(sample("U16") as Uint16Array));
    expect(Array.from(st.tensors.get("I8")!.toInt32())).toEqual(Array.from(sample("I8") as Int8Array));
    expect(Array.from(st.tensors.get("BOOL")!.toInt32())).toEqual([0, 1, 1, 0, 1]);
    expect(codeOf(() => st.tensors.get("I64")!.toInt32())).toBe("TFM5013");
    expect(codeOf(() => st.tensors.get("U64")!.toInt32())).toBe("TFM5013");
    expect(codeOf(() => st.tensors.get("U32")!.toInt32())).toBe("TFM5013");
    const ok = readSafetensors(writeSafetensors([{ name: "ids", dtype: "I64", shape: [3], data: new BigInt64Array([0n, -2147483648n, 2147483647n]) }]));
    expect(Array.from(ok.tensors.get("ids")!.toInt32())).toEqual([0, -2147483648, 2147483647]);
  });

  it("reports where an out-of-range value is", () => {
    const f = readSafetensors(writeSafetensors([{ name: "ids", dtype: "I64", shape: [3], data: new BigInt64Array([1n, 2n, 2n ** 31n]) }]), "ids.safetensors");
    try {
      f.tensors.get("ids")!.toInt32();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WeightFileError);
      expect(e).toMatchObject({ code: "TFM5013", tensor: "ids", file: "ids.safetensors", offset: f.tensors.get("ids")!.byteOffset + 16 });
    }
  });

  it("refuses conversions across kinds", () => {
    expect(codeOf(() => st.tensors.get("I32")!.toFloat32())).toBe("TFM5019");
    expect(codeOf(() => st.tensors.get("F32")!.toInt32())).toBe("TFM5019");
  });
});

describe("writeSafetensors rejects bad input", () => {
  const f32 = (shape: number[], n: number): NamedTensor => ({ name: "x", dtype: "F32", shape, data: new Float32Array(n) });
  it.each<[string, () => unknown, string]>([
    ["duplicate names", () => writeSafetensors([f32([1], 1), f32([1], 1)]), "TFM5009"],
    ["empty name", () => writeSafetensors([{ ...f32([1], 1), name: "" }]), "TFM5009"],
    ["reserved name", () => writeSafetensors([{ ...f32([1], 1), name: "__metadata__" }]), "TFM5009"],
    ["lone surrogate in name", () => writeSafetensors([{ ...f32([1], 1), name: "a\ud800" }]), "TFM5009"],
    ["unknown dtype", () => writeSafetensors([{ ...f32([1], 1), dtype: "F8" as DType }]), "TFM5004"],
    ["negative dim", () => writeSafetensors([f32([-1], 1)]), "TFM5008"],
    ["fractional dim", () => writeSafetensors([f32([1.5], 1)]), "TFM5008"],
    ["huge shape", () => writeSafetensors([f32([2 ** 40, 2 ** 40], 1)]), "TFM5008"],
    ["length mismatch", () => writeSafetensors([f32([2, 2], 3)]), "TFM5007"],
    ["array type mismatch", () => writeSafetensors([{ name: "x", dtype: "I32", shape: [1], data: new Float32Array(1) }]), "TFM5020"],
    ["non-string metadata", () => writeSafetensors([], { a: 1 as unknown as string }), "TFM5015"],
  ])("%s", (_, f, code) => {
    expect(codeOf(f)).toBe(code);
  });
});

/** A one-tensor header with the given entry fields. */
const entry = (fields: string, name = "x"): string => `{${JSON.stringify(name)}:{${fields}}}`;
const f32x2 = '"dtype":"F32","shape":[2],"data_offsets":[0,8]';

describe("readSafetensors rejects corrupt and malicious files", () => {
  const cases: [string, () => Uint8Array, string][] = [
    ["empty file", () => new Uint8Array(0), "TFM5001"],
    ["truncated length field", () => new Uint8Array(7), "TFM5001"],
    ["header length 2^63", () => craft("{}", 0, 2n ** 63n), "TFM5002"],
    ["header length 2^64 - 1", () => craft("{}", 0, 2n ** 64n - 1n), "TFM5002"],
    ["header length just over the cap", () => craft("{}", 0, 100_000_001n), "TFM5002"],
    ["header length past the end of the file", () => craft("{}", 0, 100n), "TFM5001"],
    ["truncated in the header", () => craft(entry(f32x2), 8).subarray(0, 20), "TFM5001"],
    ["invalid UTF-8", () => craft(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), "TFM5003"],
    ["overlong UTF-8", () => craft(new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])), "TFM5003"],
    ["UTF-8 BOM", () => craft("\ufeff{}"), "TFM5003"],
    ["JSON array instead of object", () => craft("[]"), "TFM5003"],
    ["JSON string", () => craft('"x"'), "TFM5003"],
    ["truncated JSON", () => craft('{"x":'), "TFM5003"],
    ["trailing garbage", () => craft("{} x"), "TFM5003"],
    ["NUL padding", () => craft("{}\0\0\0\0\0\0"), "TFM5003"],
    ["deep nesting", () => craft(`{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`), "TFM5003"],
    ["lone surrogate escape", () => craft(`{"\\ud800":{${f32x2}}}`, 8), "TFM5003"],
    ["control character in a name", () => craft(`{"a\nb":{${f32x2}}}`, 8), "TFM5003"],
    ["duplicate field in an entry", () => craft(`{"x":{${f32x2},"dtype":"I32"}}`, 8), "TFM5003"],
    ["unknown dtype", () => craft(entry('"dtype":"F128","shape":[2],"data_offsets":[0,8]'), 8), "TFM5004"],
    ["unsupported fp8 dtype", () => craft(entry('"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]'), 8), "TFM5004"],
    ["dtype named after a prototype property", () => craft(entry('"dtype":"constructor","shape":[2],"data_offsets":[0,8]'), 8), "TFM5004"],
    ["dtype __proto__", () => craft(entry('"dtype":"__proto__","shape":[2],"data_offsets":[0,8]'), 8), "TFM5004"],
    ["lower-case dtype", () => craft(entry('"dtype":"f32","shape":[2],"data_offsets":[0,8]'), 8), "TFM5004"],
    ["negative dimension", () => craft(entry('"dtype":"F32","shape":[-2],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["fractional dimension", () => craft(entry('"dtype":"F32","shape":[2.5],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["dimension written as 2.0", () => craft(entry('"dtype":"F32","shape":[2.0],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["dimension in exponent form", () => craft(entry('"dtype":"F32","shape":[2e0],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["dimension as a string", () => craft(entry('"dtype":"F32","shape":["2"],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["dimension 2^53", () => craft(entry('"dtype":"U8","shape":[9007199254740992],"data_offsets":[0,8]'), 8), "TFM5008"],
    ["dimension with 400 digits", () => craft(entry(`"dtype":"U8","shape":[${"9".repeat(400)}],"data_offsets":[0,8]`), 8), "TFM5008"],
    ["shape [2^40, 2^40]", () => craft(entry(`"dtype":"F32","shape":[${2 ** 40},${2 ** 40}],"data_offsets":[0,8]`), 8), "TFM5008"],
    ["many huge dimensions", () => craft(entry(`"dtype":"F32","shape":[${Array(10000).fill(2 ** 52).join(",")}],"data_offsets":[0,8]`), 8), "TFM5008"],
    ["shape [2^26, 2^26] wraps 32-bit size arithmetic", () => craft(entry(`"dtype":"U8","shape":[${2 ** 26},${2 ** 26}],"data_offsets":[0,0]`)), "TFM5007"],
    ["shape not an array", () => craft(entry('"dtype":"F32","shape":2,"data_offsets":[0,8]'), 8), "TFM5014"],
    ["entry not an object", () => craft('{"x":[1,2]}'), "TFM5014"],
    ["dtype missing", () => craft(entry('"shape":[2],"data_offsets":[0,8]'), 8), "TFM5014"],
    ["data_offsets missing", () => craft(entry('"dtype":"F32","shape":[2]'), 8), "TFM5014"],
    ["data_offsets with three numbers", () => craft(entry('"dtype":"F32","shape":[2],"data_offsets":[0,4,8]'), 8), "TFM5014"],
    ["negative offset", () => craft(entry('"dtype":"F32","shape":[2],"data_offsets":[-8,0]'), 8), "TFM5014"],
    ["fractional offset", () => craft(entry('"dtype":"F32","shape":[2],"data_offsets":[0,8.5]'), 8), "TFM5014"],
    ["offsets past the data", () => craft(entry('"dtype":"F32","shape":[2],"data_offsets":[0,8]'), 4), "TFM5005"],
    ["offsets at 2^64", () => craft(entry('"dtype":"U8","shape":[8],"data_offsets":[18446744073709551616,18446744073709551624]'), 8), "TFM5005"],
    ["offsets reversed", () => craft(entry('"dtype":"F32","shape":[2],"data_offsets":[8,0]'), 8), "TFM5005"],
    ["size mismatch", () => craft(entry('"dtype":"F32","shape":[3],"data_offsets":[0,8]'), 8), "TFM5007"],
    ["size mismatch with empty shape", () => craft(entry('"dtype":"F32","shape":[],"data_offsets":[0,8]'), 8), "TFM5007"],
    [
      "overlapping tensors",
      () => craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12),
      "TFM5006",
    ],
    [
      "identical ranges",
      () => craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', 8),
      "TFM5006",
    ],
    [
      "gap between tensors",
      () => craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12),
      "TFM5006",
    ],
    ["data not starting at 0", () => craft(entry('"dtype":"F32","shape":[1],"data_offsets":[4,8]'), 8), "TFM5006"],
    ["trailing data bytes", () => craft(entry('"dtype":"F32","shape":[1],"data_offsets":[0,4]'), 8), "TFM5006"],
    ["data but no tensors", () => craft("{}", 4), "TFM5006"],
    ["duplicate tensor name", () => craft(`{"x":{${f32x2}},"x":{${f32x2}}}`, 8), "TFM5009"],
    ["empty tensor name", () => craft(`{"":{${f32x2}}}`, 8), "TFM5009"],
    ["metadata value not a string", () => craft('{"__metadata__":{"a":1}}'), "TFM5015"],
    ["metadata value null", () => craft('{"__metadata__":{"a":null}}'), "TFM5015"],
    ["metadata an array", () => craft('{"__metadata__":["a"]}'), "TFM5015"],
    ["metadata a string", () => craft('{"__metadata__":"a"}'), "TFM5015"],
  ];

  it.each(cases)("%s", (_, make, code) => {
    const bytes = make();
    let thrown: unknown;
    try {
      readSafetensors(bytes, "bad.safetensors");
    } catch (e) {
      thrown = e;
    }
    expect(thrown, "must throw a WeightFileError").toBeInstanceOf(WeightFileError);
    const err = thrown as WeightFileError;
    expect(err.code).toBe(code);
    expect(err.file).toBe("bad.safetensors");
    expect(err.offset).toBeTypeOf("number");
    expect(err.offset!).toBeGreaterThanOrEqual(0);
    expect(err.offset!).toBeLessThanOrEqual(bytes.length);
  });

  it("points at the offending entry", () => {
    const header = `{"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"bad":{"dtype":"F99","shape":[1],"data_offsets":[4,8]}}`;
    try {
      readSafetensors(craft(header, 8));
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: "TFM5004", tensor: "bad", offset: 8 + header.indexOf('"bad"') });
    }
  });
});

describe("names that could pollute prototypes", () => {
  it("reads __proto__ and constructor as ordinary names", () => {
    const file = writeSafetensors(
      [
        { name: "__proto__", dtype: "F32", shape: [1], data: new Float32Array([1]) },
        { name: "constructor", dtype: "F32", shape: [1], data: new Float32Array([2]) },
      ],
      // JSON.parse makes "__proto__" an own key; an object literal would set the prototype instead.
      JSON.parse('{"__proto__": "meta", "polluted": "no"}') as Record<string, string>,
    );
    const st = readSafetensors(file);
    expect(st.tensors.get("__proto__")!.toFloat32()[0]).toBe(1);
    expect(st.tensors.get("constructor")!.toFloat32()[0]).toBe(2);
    expect(Object.entries(st.metadata)).toEqual([["__proto__", "meta"], ["polluted", "no"]]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps a __proto__ metadata key as plain data", () => {
    const st = readSafetensors(craft('{"__metadata__":{"__proto__":"x","constructor":"y"}}'));
    expect(Object.getPrototypeOf(st.metadata)).toBeNull();
    expect(Object.prototype.hasOwnProperty.call(st.metadata, "__proto__")).toBe(true);
    expect(st.metadata["__proto__"]).toBe("x");
    expect(st.metadata["constructor"]).toBe("y");
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe("safetensors properties", () => {
  const dtypeArb = fc.constantFrom<DType>(...(["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"] as const));

  /** An array of `n` elements of `dtype` with arbitrary bit patterns (every pattern is a valid element). */
  const randomArray = (dtype: DType, n: number, seedBytes: number[]): TypedArray => {
    const raw = new Uint8Array(n * dtypes[dtype].size).map((_, i) => seedBytes[i % seedBytes.length]! ^ (i * 31));
    if (dtype === "BOOL") return raw.map((b) => b & 1);
    return arrayFor(dtype, raw.buffer, 0, n);
  };

  const tensorsArb = fc.uniqueArray(
    fc.record({
      name: fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== "__metadata__" && !/\p{Surrogate}/u.test(s)),
      dtype: dtypeArb,
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
    }),
    { selector: (t) => t.name, maxLength: 6 },
  );

  it("round-trips random tensors", () => {
    const seed = propertySeed("safetensors round trip");
    fc.assert(
      fc.property(tensorsArb, fc.dictionary(fc.string(), fc.string()), (specs, meta) => {
        const tensors = specs.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape, data: randomArray(s.dtype, s.shape.reduce((a, b) => a * b, 1), s.bytes) }));
        const okMeta = Object.fromEntries(Object.entries(meta).filter(([k, v]) => !/\p{Surrogate}/u.test(k + v)));
        const st = readSafetensors(writeSafetensors(tensors, okMeta));
        expect([...st.tensors.keys()]).toEqual(tensors.map((t) => t.name));
        expect({ ...st.metadata }).toEqual({ ...okMeta });
        for (const t of tensors) {
          const e = st.tensors.get(t.name)!;
          expect(e.shape).toEqual(t.shape);
          expect(contents(e.decode())).toEqual(contents(t.data));
        }
      }),
      { seed, numRuns: 300 },
    );
  });

  const base = writeSafetensors(
    [
      { name: "emb", dtype: "BF16", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: "ids", dtype: "I64", shape: [3], data: new BigInt64Array([1n, 2n, 3n]) },
      { name: "w", dtype: "F32", shape: [2], data: new Float32Array([0.5, -1]) },
      { name: "mask", dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      { name: "h", dtype: "F16", shape: [], data: new Float32Array([1]) },
    ],
    { format: "pt" },
  );

  /** Parses, and if that succeeds checks the result is self-consistent; only WeightFileError may escape. */
  const parsesConsistently = (bytes: Uint8Array): boolean => {
    let st;
    try {
      st = readSafetensors(bytes);
    } catch (e) {
      if (e instanceof WeightFileError) return true;
      throw e;
    }
    const dataStart = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    let covered = 0;
    for (const e of st.tensors.values()) {
      const size = dtypes[e.dtype].size;
      expect(e.numel).toBe(e.shape.reduce((a, b) => a * b, 1));
      expect(e.byteLength).toBe(e.numel * size);
      expect(e.byteOffset).toBeGreaterThanOrEqual(dataStart);
      expect(e.byteOffset + e.byteLength).toBeLessThanOrEqual(bytes.length);
      expect(e.bytes().length).toBe(e.byteLength);
      expect(e.decode().length).toBe(e.numel);
      for (const conv of [() => e.toFloat32(), () => e.toInt32()]) {
        try {
          expect(conv().length).toBe(e.numel);
        } catch (err) {
          if (!(err instanceof WeightFileError)) throw err;
        }
      }
      covered += e.byteLength;
    }
    expect(covered).toBe(bytes.length - dataStart);
    return true;
  };

  it("survives random byte mutations and truncations of a valid file", () => {
    const seed = propertySeed("safetensors byte mutations");
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (edits, cut) => {
          const bytes = base.slice();
          for (const { at, byte } of edits) bytes[at % bytes.length] = byte;
          return parsesConsistently(cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { seed, numRuns: 3000 },
    );
  });

  it("survives random edits of the JSON header (length kept consistent)", () => {
    const seed = propertySeed("safetensors header edits");
    const len = Number(new DataView(base.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(base.subarray(8, 8 + len));
    const data = base.subarray(8 + len);
    const alphabet = fc.constantFrom(..."0123456789-.,:[]{}\"eE \\u".split(""), "1e400", "99999999999999999999", "-0", "__proto__", "F16", "U8");
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 3 }), ins: alphabet }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -8, max: 8 }),
        (edits, dataDelta) => {
          let h = header;
          for (const { at, del, ins } of edits) {
            const i = at % (h.length + 1);
            h = h.slice(0, i) + ins + h.slice(i + del);
          }
          const d = dataDelta >= 0 ? new Uint8Array([...data, ...new Uint8Array(dataDelta)]) : data.subarray(0, data.length + dataDelta);
          return parsesConsistently(craft(h, d));
        },
      ),
      { seed, numRuns: 3000 },
    );
  });
});

// Tests for the .npy reader and writer: round trips for every dtype numpy has, the header layout
// np.save produces, byte-order conversion, and a table of malformed headers and data.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DType, dtypes } from "../../../src/weights/dtypes.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { readNpy, readNpyFile, writeNpy } from "../../../src/weights/npy.js";
import { parsePyLiteral } from "../../../src/weights/pydict.js";
import { allDTypes, codeOf, contents, craftNpy, nums, propertySeed, sample } from "./helpers.js";

const npyDTypes = allDTypes.filter((d) => d !== "BF16");

describe("npy round trip", () => {
  it.each(npyDTypes)("%s", (dtype) => {
    const data = sample(dtype);
    const back = readNpy(writeNpy(dtype, [data.length], data));
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([data.length]);
    expect(contents(back.data)).toEqual(contents(data));
  });

  it("handles scalars, empty and multi-dimensional shapes", () => {
    for (const shape of [[], [0], [2, 0, 3], [2, 3], [1, 1, 1, 1]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n).map((_, i) => i - 1.5);
      const back = readNpy(writeNpy("F32", shape, data));
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
    }
  });

  it("writes the header as np.save does", () => {
    const file = writeNpy("F32", [3], new Float32Array(3));
    expect(Array.from(file.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const hlen = file[8]! | (file[9]! << 8);
    expect((10 + hlen) % 64).toBe(0);
    const header = new TextDecoder().decode(file.subarray(10, 10 + hlen));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3,\), \} *\n$/);
    expect(file.length).toBe(10 + hlen + 12);
    const scalar = new TextDecoder().decode(writeNpy("BOOL", [], new Uint8Array([1])).subarray(10, 74));
    expect(scalar).toContain("'descr': '|b1'");
    expect(scalar).toContain("'shape': ()");
    const two = new TextDecoder().decode(writeNpy("I64", [2, 3], new BigInt64Array(6)).subarray(10, 74));
    expect(two).toContain("'shape': (2, 3)");
  });

  it("switches to version 2.0 when the header outgrows 64 KiB", () => {
    const shape = new Array(25000).fill(1);
    const file = writeNpy("U8", shape, new Uint8Array([9]));
    expect(file[6]).toBe(2);
    const back = readNpy(file);
    expect(back.shape.length).toBe(25000);
    expect(nums(back.data)).toEqual([9]);
  });

  it("converts F16 from floats and refuses BF16", () => {
    const back = readNpy(writeNpy("F16", [2], new Float32Array([1, -2])));
    expect(nums(back.data)).toEqual([0x3c00, 0xc000]);
    expect(codeOf(() => writeNpy("BF16", [1], new Uint16Array(1)))).toBe("TFM5011");
    expect(codeOf(() => writeNpy("F32", [2], new Float32Array(3)))).toBe("TFM5007");
    expect(codeOf(() => writeNpy("F32", [2], new Int32Array(2)))).toBe("TFM5020");
  });

  it("reads from disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tfm-npy-"));
    try {
      const path = join(dir, "a.npy");
      writeFileSync(path, writeNpy("I32", [2], new Int32Array([5, 6])));
      expect(nums((await readNpyFile(path)).data)).toEqual([5, 6]);
      await expect(readNpyFile(join(dir, "nope.npy"))).rejects.toMatchObject({ code: "TFM5018" });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("npy headers", () => {
  const le = (bytes: number[]): Uint8Array => new Uint8Array(bytes);

  it("converts big-endian data", () => {
    const i4 = readNpy(craftNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", le([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe])));
    expect(i4.dtype).toBe("I32");
    expect(nums(i4.data)).toEqual([1, -2]);
    const f8 = readNpy(craftNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (), }", le([0x3f, 0xf8, 0, 0, 0, 0, 0, 0])));
    expect(nums(f8.data)).toEqual([1.5]);
    const u1 = readNpy(craftNpy("{'descr': '>u1', 'fortran_order': False, 'shape': (1,), }", le([200])));
    expect(nums(u1.data)).toEqual([200]);
  });

  it("accepts what older numpy versions and other writers produce", () => {
    // Python 2 wrote longs with an L suffix; key order and quoting may vary; '=' means native order.
    const a = readNpy(craftNpy('{"shape": (2L,), "fortran_order": False, "descr": "=i2"}', le([1, 0, 2, 0])));
    expect(nums(a.data)).toEqual([1, 2]);
    // Fortran order is the same layout when at most one dimension exceeds 1.
    const b = readNpy(craftNpy("{'descr': '<u1', 'fortran_order': True, 'shape': (1, 3), }", le([1, 2, 3])));
    expect(nums(b.data)).toEqual([1, 2, 3]);
    // Versions 2.0 and 3.0 (3.0: UTF-8 header).
    expect(readNpy(craftNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", le([1, 0]), 2)).dtype).toBe("BOOL");
    expect(readNpy(craftNpy("{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }", le([255]), 3)).data[0]).toBe(-1);
  });

  const cases: [string, () => Uint8Array, string][] = [
    ["empty file", () => new Uint8Array(0), "TFM5001"],
    ["magic only", () => le([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]), "TFM5001"],
    ["bad magic", () => new TextEncoder().encode("PK\x03\x04 this is a zip"), "TFM5010"],
    ["version 4.0", () => { const f = craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4); f[6] = 4; return f; }, "TFM5010"],
    ["version 1.1", () => { const f = craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4); f[7] = 1; return f; }, "TFM5010"],
    ["header length past the end", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4).subarray(0, 40), "TFM5001"],
    ["huge v2 header length", () => { const f = craftNpy("{}", 0, 2); new DataView(f.buffer).setUint32(8, 0xffffffff, true); return f; }, "TFM5002"],
    ["truncated data", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8), "TFM5012"],
    ["trailing data", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8), "TFM5012"],
    ["complex dtype", () => craftNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8), "TFM5011"],
    ["unicode string dtype", () => craftNpy("{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }", 20), "TFM5011"],
    ["object dtype", () => craftNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8), "TFM5011"],
    ["long double", () => craftNpy("{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", 16), "TFM5011"],
    ["structured dtype", () => craftNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4), "TFM5011"],
    ["Fortran order", () => craftNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24), "TFM5011"],
    ["missing key", () => craftNpy("{'descr': '<f4', 'shape': (1,), }", 4), "TFM5016"],
    ["extra key", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4), "TFM5016"],
    ["duplicate key", () => craftNpy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4), "TFM5016"],
    ["not a dict", () => craftNpy("[1, 2]", 4), "TFM5016"],
    ["JSON-style true", () => craftNpy("{'descr': '<f4', 'fortran_order': false, 'shape': (1,), }", 4), "TFM5016"],
    ["function call", () => craftNpy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }", 4), "TFM5016"],
    ["unterminated string", () => craftNpy("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", 4), "TFM5016"],
    ["shape as a list", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", 4), "TFM5016"],
    ["shape (3) is not a tuple", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12), "TFM5016"],
    ["fortran_order not a bool", () => craftNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", 4), "TFM5016"],
    ["negative dimension", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4), "TFM5008"],
    ["float dimension", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,), }", 4), "TFM5016"],
    ["string dimension", () => craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': ('1',), }", 4), "TFM5008"],
    ["shape (2^40, 2^40)", () => craftNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${2 ** 40}, ${2 ** 40}), }`, 4), "TFM5008"],
    ["200-digit dimension", () => craftNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (${"9".repeat(200)},), }`, 4), "TFM5008"],
    ["deep nesting", () => craftNpy(`{'descr': ${"(".repeat(5000)}${")".repeat(5000)}, 'fortran_order': False, 'shape': (1,), }`, 4, 2), "TFM5016"],
    ["invalid UTF-8 in a v3 header", () => { const f = craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 3); f[14] = 0xff; return f; }, "TFM5016"],
  ];

  it.each(cases)("rejects: %s", (_, make, code) => {
    const bytes = make();
    let thrown: unknown;
    try {
      readNpy(bytes, "bad.npy");
    } catch (e) {
      thrown = e;
    }
    expect(thrown, "must throw a WeightFileError").toBeInstanceOf(WeightFileError);
    expect((thrown as WeightFileError).code).toBe(code);
    expect((thrown as WeightFileError).file).toBe("bad.npy");
    expect((thrown as WeightFileError).offset).toBeTypeOf("number");
  });
});

describe("Python literal parser", () => {
  it("parses the subset np.save writes", () => {
    expect(parsePyLiteral("{'a': (1, 2), 'b': (), 'c': (3,), 'd': [True, None], 'e': \"x\\'y\"}")).toEqual({
      kind: "dict",
      entries: new Map<string, unknown>([
        ["a", { kind: "tuple", items: [{ kind: "int", value: 1n }, { kind: "int", value: 2n }] }],
        ["b", { kind: "tuple", items: [] }],
        ["c", { kind: "tuple", items: [{ kind: "int", value: 3n }] }],
        ["d", { kind: "list", items: [{ kind: "bool", value: true }, { kind: "none" }] }],
        ["e", { kind: "str", value: "x'y" }],
      ]),
    });
  });
  it("rejects leading zeros, bare names and trailing text", () => {
    for (const bad of ["007", "os", "{} {}", "{'a' 1}", "(1,,)", "{1: 2}"]) expect(() => parsePyLiteral(bad), bad).toThrow();
  });
});

describe("npy properties", () => {
  const base = writeNpy("I16", [2, 3], new Int16Array([1, -2, 3, -4, 5, -6]));

  it("survives random byte mutations and truncations of a valid file", () => {
    const seed = propertySeed("npy byte mutations");
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: base.length + 16 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (edits, cut) => {
          const bytes = base.slice();
          // Bias edits toward the header, where the parsing happens.
          for (const { at, byte } of edits) bytes[at % 80] = byte;
          const input = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          try {
            const a = readNpy(input);
            expect(a.data.length).toBe(a.shape.reduce((x, y) => x * y, 1));
            expect(a.data.byteLength).toBe(a.data.length * dtypes[a.dtype as DType].size);
          } catch (e) {
            if (!(e instanceof WeightFileError)) throw e;
          }
          return true;
        },
      ),
      { seed, numRuns: 3000 },
    );
  });
});

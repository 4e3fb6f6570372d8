// Cross-checks against real NumPy (through /usr/bin/python3): .npy files written here must load in
// numpy.load and vice versa, and safetensors files written by hand in Python (and by tfm, checked
// by a Python validator) must agree. Without python3 + numpy these tests are skipped with a
// message, except under CI, where they fail: a CI machine is expected to have numpy.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { DType, TypedArray } from "../../../src/weights/dtypes.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { readNpy, readNpyFile, writeNpy } from "../../../src/weights/npy.js";
import { writeSafetensors } from "../../../src/weights/safetensors.js";
import { readSafetensorsFile } from "../../../src/weights/file-source.js";
import { allDTypes, contents, nums, sample } from "./helpers.js";

// TFM_PYTHON overrides the interpreter (e.g. a venv, or a missing path to check the CI failure mode).
const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const fixtures = fileURLToPath(new URL("../../fixtures/", import.meta.url));
const probe = spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" });
const hasNumpy = probe.status === 0;

/** Runs python3 and returns its stdout; fails the test (never skips) if it is missing or fails. */
function py(args: string[]): string {
  if (!hasNumpy) throw new Error(`${python} with numpy is required (npm run test-it installs Debian's python3-torch), but "import numpy" failed: ${probe.error?.message ?? probe.stderr}`);
  const r = spawnSync(python, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 ${args[0]} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** numpy's dtype.str for each dtype (1-byte types have no byte order). */
const descr: Partial<Record<DType, string>> = {
  F64: "<f8", F32: "<f4", F16: "<f2", I64: "<i8", I32: "<i4", I16: "<i2", I8: "|i1",
  U64: "<u8", U32: "<u4", U16: "<u2", U8: "|u1", BOOL: "|b1",
};

/** Python that prints, for each .npy path, what numpy.load sees: dtype, shape and element bits. */
const loadScript = `
import json, sys
import numpy as np
out = {}
for path in sys.argv[1:]:
    a = np.load(path, allow_pickle=False)
    flat = a.reshape(-1)
    if a.dtype.kind == "f":
        vals = flat.view("<u%d" % a.dtype.itemsize).tolist()
    elif a.dtype.kind == "b":
        vals = flat.astype(np.uint8).tolist()
    else:
        vals = flat.tolist()
    out[path] = {"descr": a.dtype.str, "shape": list(a.shape), "values": [str(v) for v in vals]}
print(json.dumps(out))
`;

/** Python that saves a set of arrays with np.save and writes a manifest in the same form. */
const saveScript = `
import json, sys, os
import numpy as np
d = sys.argv[1]
cases = {
    "f32": np.array([1.5, -0.0, np.nan, np.inf, -np.inf, 1e-45, 3.4028235e38], dtype=np.float32),
    "f64": np.array([np.pi, -1e300, 5e-324, -0.0], dtype=np.float64),
    "f16": np.array([1, 65504, 6e-8, -np.inf, np.nan, 0.1, -0.0], dtype=np.float16),
    "i64": np.array([0, -1, 2**62, -2**63, 2**63 - 1], dtype=np.int64),
    "i32": np.array([-2**31, 2**31 - 1, 5], dtype=np.int32),
    "i16": np.array([-32768, 32767], dtype=np.int16),
    "i8": np.array([-128, 127], dtype=np.int8),
    "u8": np.array([0, 255], dtype=np.uint8),
    "u16": np.array([65535], dtype=np.uint16),
    "u32": np.array([2**32 - 1], dtype=np.uint32),
    "u64": np.array([2**64 - 1, 2**53 + 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "scalar_f32": np.float32(3.5),
    "scalar_i64": np.array(-7, dtype=np.int64),
    "scalar_bool": np.array(True),
    "empty_f32": np.zeros((0, 3), dtype=np.float32),
    "empty_i64": np.zeros((0,), dtype=np.int64),
    "empty_bool": np.zeros((2, 0), dtype=bool),
    "matrix": np.arange(12, dtype=np.int16).reshape(3, 4),
    "sliced": np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1:3],
    "big_endian_i4": np.arange(-2, 3, dtype=">i4"),
    "big_endian_f8": np.array([1.5, -2.25], dtype=">f8"),
    "big_endian_f2": np.array([1, -2, np.inf], dtype=">f2"),
}
manifest = {}
for name, a in cases.items():
    np.save(os.path.join(d, name + ".npy"), a)
    a = np.asarray(a)
    le = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    flat = le.reshape(-1)
    if a.dtype.kind == "f":
        vals = flat.view("<u%d" % a.dtype.itemsize).tolist()
    elif a.dtype.kind == "b":
        vals = flat.astype(np.uint8).tolist()
    else:
        vals = flat.tolist()
    manifest[name + ".npy"] = {"kind": a.dtype.kind, "size": a.dtype.itemsize, "shape": list(a.shape), "values": [str(v) for v in vals]}
for version in [(2, 0), (3, 0)]:
    name = "v%d.npy" % version[0]
    a = np.array([[1, 2, 3]], dtype=np.uint16)
    with open(os.path.join(d, name), "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    manifest[name] = {"kind": "u", "size": 2, "shape": [1, 3], "values": ["1", "2", "3"]}
np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
manifest["fortran.npy"] = {"error": "TFM5011"}
json.dump(manifest, open(os.path.join(d, "manifest.json"), "w"))
`;

const kindOf = (dtype: DType): string => (dtype === "BOOL" ? "b" : dtype.startsWith("F") ? "f" : dtype.startsWith("U") ? "u" : "i");

describe("cross-check with NumPy", () => {
  const dir = mkdtempSync(join(tmpdir(), "tfm-numpy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has python3 with numpy", () => {
    expect(hasNumpy, `${python} -c "import numpy" failed: ${probe.error?.message ?? probe.stderr}`).toBe(true);
  });

  it("numpy.load reads .npy files written by tfm", () => {
    const cases: { name: string; dtype: DType; shape: number[]; data: TypedArray }[] = allDTypes
      .filter((d) => d !== "BF16")
      .map((dtype) => ({ name: `all_${dtype}`, dtype, shape: [sample(dtype).length], data: sample(dtype) }));
    cases.push(
      { name: "scalar_f32", dtype: "F32", shape: [], data: new Float32Array([3.5]) },
      { name: "scalar_i64", dtype: "I64", shape: [], data: new BigInt64Array([-(2n ** 63n)]) },
      { name: "scalar_bool", dtype: "BOOL", shape: [], data: new Uint8Array([1]) },
      { name: "empty_f16", dtype: "F16", shape: [2, 0], data: new Uint16Array(0) },
      { name: "empty_i64", dtype: "I64", shape: [0], data: new BigInt64Array(0) },
      { name: "bool_2x2", dtype: "BOOL", shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
      { name: "i64_3x1", dtype: "I64", shape: [3, 1], data: new BigInt64Array([1n, 2n ** 62n, -5n]) },
      { name: "f32_2x3", dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, NaN]) },
    );
    const paths = cases.map((c) => {
      const path = join(dir, `${c.name}.npy`);
      writeFileSync(path, writeNpy(c.dtype, c.shape, c.data));
      return path;
    });
    const seen = JSON.parse(py(["-c", loadScript, ...paths])) as Record<string, { descr: string; shape: number[]; values: string[] }>;
    for (const [i, c] of cases.entries()) {
      expect(seen[paths[i]!], c.name).toEqual({ descr: descr[c.dtype], shape: c.shape, values: contents(c.data) });
    }
  });

  it("reads .npy files written by numpy.save", async () => {
    const out = mkdtempSync(join(dir, "np-"));
    py(["-c", saveScript, out]);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as Record<
      string,
      { kind: string; size: number; shape: number[]; values: string[] } | { error: string }
    >;
    expect(Object.keys(manifest).length).toBe(readdirSync(out).length - 1);
    for (const [file, want] of Object.entries(manifest)) {
      if ("error" in want) {
        await expect(readNpyFile(join(out, file)), file).rejects.toMatchObject({ code: want.error });
        continue;
      }
      const a = await readNpyFile(join(out, file));
      expect({ kind: kindOf(a.dtype), shape: a.shape, values: contents(a.data) }, file).toEqual({
        kind: want.kind,
        shape: want.shape,
        values: want.values,
      });
      expect(a.data.BYTES_PER_ELEMENT, file).toBe(want.size);
    }
  });

  it("round-trips through numpy (load then save again)", () => {
    const src = join(dir, "rt_src.npy");
    const dst = join(dir, "rt_dst.npy");
    writeFileSync(src, writeNpy("F16", [2, 2], new Float32Array([1, -0, Infinity, 0.1])));
    py(["-c", "import sys, numpy as np; np.save(sys.argv[2], np.load(sys.argv[1]))", src, dst]);
    const back = readNpy(readFileSync(dst));
    expect(back.shape).toEqual([2, 2]);
    expect(nums(back.data)).toEqual([0x3c00, 0x8000, 0x7c00, 0x2e66]);
  });

  it("reads a safetensors file written by hand in Python", async () => {
    const file = join(dir, "py.safetensors");
    const manifestPath = join(dir, "py.json");
    py([join(fixtures, "write_safetensors.py"), file, manifestPath]);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: DType; shape: number[]; values: string[]; f32?: string[] }>;
    };
    const st = await readSafetensorsFile(file);
    expect({ ...st.metadata }).toEqual(manifest.metadata);
    expect([...st.tensors.keys()].sort()).toEqual(Object.keys(manifest.tensors).sort());
    for (const [name, want] of Object.entries(manifest.tensors)) {
      const e = st.tensors.get(name)!;
      expect({ dtype: e.dtype, shape: e.shape, values: contents(e.decode()) }, name).toEqual({
        dtype: want.dtype,
        shape: want.shape,
        values: want.values,
      });
      if (want.f32) expect(contents(e.toFloat32()), name).toEqual(want.f32);
    }
    expect(Array.from(st.tensors.get("counts")!.toInt32())).toEqual([1, -2, 2 ** 31 - 1, -(2 ** 31)]);
    expect(() => st.tensors.get("ids")!.toInt32()).toThrow(WeightFileError);
  });

  it("writes safetensors files that pass a Python validator of the reference rules", () => {
    const tensors = allDTypes.map((dtype) => ({ name: `layer.${dtype.toLowerCase()}`, dtype, shape: [sample(dtype).length], data: sample(dtype) }));
    tensors.push({ name: "scalar", dtype: "F32", shape: [], data: new Float32Array([1]) });
    tensors.push({ name: "zero", dtype: "I64", shape: [0, 5], data: new BigInt64Array(0) });
    // JSON.parse makes "__proto__" an own key; an object literal would set the prototype instead.
    const metadata = JSON.parse('{"format": "pt", "__proto__": "x", "unicode": "✓ é"}') as Record<string, string>;
    const file = join(dir, "tfm.safetensors");
    writeFileSync(file, writeSafetensors(tensors, metadata));
    const seen = JSON.parse(py([join(fixtures, "check_safetensors.py"), file])) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; values: string[] }>;
    };
    expect(Object.entries(seen.metadata)).toEqual(Object.entries(metadata));
    for (const t of tensors) {
      expect(seen.tensors[t.name], t.name).toEqual({ dtype: t.dtype, shape: t.shape, values: contents(t.data) });
    }
  });
});

// The output writer: DIR/<name>.npy for each output, readable by numpy.load (checked with real
// NumPy through /usr/bin/python3, as test/unit/weights/python.test.ts does: skipped without it,
// except under CI, where it fails), never overwriting without --force.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromValues, type Tensor } from "../../../src/core/tensor.js";
import { writeOutputs } from "../../../src/runtime/outputs.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { readNpy } from "../../../src/weights/npy.js";

const root = mkdtempSync(join(tmpdir(), "tfm-outputs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const outputs = (): Map<string, Tensor> =>
  new Map<string, Tensor>([
    ["logits", fromValues("f32", [2, 3], [0.5, -1, NaN, Infinity, 1e-40, 3.25])],
    ["ids", fromValues("i32", [3], [-(2 ** 31), 0, 2 ** 31 - 1])],
    ["mask", fromValues("bool", [2, 2], [1, 0, 0, 1])],
    ["scalar", fromValues("f32", [], [7])],
    ["empty", fromValues("f32", [0, 4], [])],
  ]);

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof WeightFileError) return e.code;
    throw e;
  }
  return "no error";
};

describe("writeOutputs", () => {
  it("writes DIR/<name>.npy for each output, creating DIR", () => {
    const dir = join(root, "a", "b");
    const paths = writeOutputs(dir, outputs());
    expect(paths).toEqual(["logits", "ids", "mask", "scalar", "empty"].map((n) => join(dir, `${n}.npy`)));
    const logits = readNpy(readFileSync(join(dir, "logits.npy")));
    expect(logits.dtype).toBe("F32");
    expect(logits.shape).toEqual([2, 3]);
    expect(Array.from(logits.data as Float32Array)).toEqual(Array.from(outputs().get("logits")!.data));
    expect(readNpy(readFileSync(join(dir, "mask.npy")))).toMatchObject({ dtype: "BOOL", shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) });
    expect(readNpy(readFileSync(join(dir, "scalar.npy")))).toMatchObject({ dtype: "F32", shape: [] });
    expect(readdirSync(dir).sort()).toEqual(["empty.npy", "ids.npy", "logits.npy", "mask.npy", "scalar.npy"]);
  });

  it("writes only the elements of a tensor that is a view into a longer array", () => {
    const dir = join(root, "view");
    const t: Tensor = { dtype: "f32", shape: [2], data: new Float32Array([1, 2, 3, 4]).subarray(1) };
    writeOutputs(dir, [["v", t]]);
    expect(Array.from(readNpy(readFileSync(join(dir, "v.npy"))).data as Float32Array)).toEqual([2, 3]);
  });

  it("refuses to overwrite without force, before writing anything; replaces with force", () => {
    const dir = join(root, "exists");
    writeOutputs(dir, [["ids", outputs().get("ids")!]]);
    writeFileSync(join(dir, "mask.npy"), "precious");
    expect(codeOf(() => writeOutputs(dir, outputs()))).toBe("TFM5210");
    expect(readFileSync(join(dir, "mask.npy"), "utf8")).toBe("precious");
    expect(existsSync(join(dir, "logits.npy"))).toBe(false); // nothing was written
    expect(() => writeOutputs(dir, outputs())).toThrow(/2 output files already exist .*: not overwriting \(use --force to replace them\)/);
    writeOutputs(dir, outputs(), true);
    expect(readNpy(readFileSync(join(dir, "mask.npy"))).dtype).toBe("BOOL");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("refuses names that are not safe file names, and a path that is not a directory", () => {
    const t = outputs().get("ids")!;
    for (const bad of ["", ".", "..", "a/b", "..\\x", "a\u0000b"]) expect(codeOf(() => writeOutputs(join(root, "bad"), [[bad, t]])), JSON.stringify(bad)).toBe("TFM5009");
    expect(codeOf(() => writeOutputs(join(root, "bad"), [["x", t], ["x", t]]))).toBe("TFM5009");
    const file = join(root, "plain-file");
    writeFileSync(file, "");
    expect(codeOf(() => writeOutputs(file, [["x", t]]))).toBe("TFM5211");
  });
});

// TFM_PYTHON overrides the interpreter, as in test/unit/weights/python.test.ts.
const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const probe = spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" });
const hasNumpy = probe.status === 0;

describe("numpy.load reads the outputs", () => {
  it("has python3 with numpy", () => {
    expect(hasNumpy, `${python} -c "import numpy" failed: ${probe.error?.message ?? probe.stderr}`).toBe(true);
  });

  it("with the same dtypes, shapes and values", () => {
    const dir = join(root, "numpy");
    writeOutputs(dir, outputs());
    const script = `
import json, sys, os
import numpy as np
out = {}
for f in sorted(os.listdir(sys.argv[1])):
    a = np.load(os.path.join(sys.argv[1], f), allow_pickle=False)
    vals = a.reshape(-1).view("<u4").tolist() if a.dtype.kind == "f" else a.reshape(-1).astype(np.int64).tolist()
    out[f] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": vals}
print(json.dumps(out))
`;
    const r = spawnSync(python, ["-c", script, dir], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
    const bits = (t: Tensor) => Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
    const o = outputs();
    expect(seen).toEqual({
      "empty.npy": { dtype: "float32", shape: [0, 4], values: [] },
      "ids.npy": { dtype: "int32", shape: [3], values: [-(2 ** 31), 0, 2 ** 31 - 1] },
      "logits.npy": { dtype: "float32", shape: [2, 3], values: bits(o.get("logits")!) },
      "mask.npy": { dtype: "bool", shape: [2, 2], values: [1, 0, 0, 1] },
      "scalar.npy": { dtype: "float32", shape: [], values: bits(o.get("scalar")!) },
    });
  });
});

// Cross-check against NumPy (/usr/bin/python3 with numpy, or TFM_PYTHON): random inputs are
// written as .npy (src/weights/npy.ts), NumPy computes each case and writes its result as .npy,
// and the kernels' results must agree. Max abs errors are printed. Without python3 + numpy the
// suite is skipped with a warning, except under CI (CI set), where it fails.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { type DType, fromValues, numel, type Tensor } from "../../../../src/core/tensor.js";
import type { DType as FileDType } from "../../../../src/weights/dtypes.js";
import { readNpy, writeNpy } from "../../../../src/weights/npy.js";
import { maxAbsErr, probePython, randomTensor, runPython, seedFor } from "./helpers.js";

const probe = probePython("import numpy", "the NumPy cross-checks");
const seed = seedFor("numpy.test.ts");

const fileDType: Record<DType, FileDType> = { f32: "F32", i32: "I32", bool: "BOOL" };

/** Each case: NumPy expression over inputs a, b, c (loaded .npy arrays), and the kernel computing it. */
interface Case {
  name: string;
  inputs: Tensor[];
  numpy: string;
  kernel: (...xs: Tensor[]) => Tensor;
  /** Allowed |error| = atol + rtol·|expected|. */
  atol: number;
  rtol: number;
}

const T = (dt: DType, shape: number[], s: number, scale = 1) => randomTensor(dt, shape, seed + s, { scale, range: 50 });
const positive = (t: Tensor): Tensor => K.binary("add", K.unary("abs", t), fromValues("f32", [], [0.1]));

const cases: Case[] = [
  // matmul: plain, off-tile sizes, broadcast batches, 1-D operands, transposed B.
  { name: "matmul 64x200 @ 200x96", inputs: [T("f32", [64, 200], 1), T("f32", [200, 96], 2)], numpy: "a @ b", kernel: (a, b) => K.matmul(a!, b!), atol: 1e-4, rtol: 1e-5 },
  { name: "matmul 37x301 @ 301x71", inputs: [T("f32", [37, 301], 3), T("f32", [301, 71], 4)], numpy: "a @ b", kernel: (a, b) => K.matmul(a!, b!), atol: 1e-4, rtol: 1e-5 },
  { name: "matmul batch broadcast [2,1,17,33] @ [3,33,19]", inputs: [T("f32", [2, 1, 17, 33], 5), T("f32", [3, 33, 19], 6)], numpy: "a @ b", kernel: (a, b) => K.matmul(a!, b!), atol: 1e-4, rtol: 1e-5 },
  { name: "matmul [33] @ [2,33,5]", inputs: [T("f32", [33], 7), T("f32", [2, 33, 5], 8)], numpy: "a @ b", kernel: (a, b) => K.matmul(a!, b!), atol: 1e-4, rtol: 1e-5 },
  { name: "matmul [4,7,13] @ [13]", inputs: [T("f32", [4, 7, 13], 9), T("f32", [13], 10)], numpy: "a @ b", kernel: (a, b) => K.matmul(a!, b!), atol: 1e-4, rtol: 1e-5 },
  { name: "matmulTransB [2,9,40] @ [21,40]ᵀ", inputs: [T("f32", [2, 9, 40], 11), T("f32", [21, 40], 12)], numpy: "a @ b.T", kernel: (a, b) => K.matmulTransB(a!, b!), atol: 1e-4, rtol: 1e-5 },
  // elementwise
  { name: "add [3,1,5] + [4,5]", inputs: [T("f32", [3, 1, 5], 13), T("f32", [4, 5], 14)], numpy: "a + b", kernel: (a, b) => K.binary("add", a!, b!), atol: 0, rtol: 0 },
  { name: "div [6,8] / [8]", inputs: [T("f32", [6, 8], 15), T("f32", [8], 16)], numpy: "a / b", kernel: (a, b) => K.binary("div", a!, b!), atol: 0, rtol: 0 },
  { name: "mod (fmod) f32", inputs: [T("f32", [5, 7], 17, 10), T("f32", [7], 18, 3)], numpy: "np.fmod(a, b)", kernel: (a, b) => K.binary("mod", a!, b!), atol: 0, rtol: 0 },
  { name: "mod (fmod) i32", inputs: [T("i32", [5, 7], 19), T("i32", [7], 20, 1)], numpy: "np.fmod(a, b)", kernel: (a, b) => K.binary("mod", a!, b!), atol: 0, rtol: 0 },
  { name: "mul i32 (wrapping)", inputs: [T("i32", [9], 21), fromValues("i32", [9], [2147483647, -2147483648, 65537, 3, -5, 123457, 1, 0, 99991])], numpy: "a * b", kernel: (a, b) => K.binary("mul", a!, b!), atol: 0, rtol: 0 },
  { name: "pow", inputs: [positive(T("f32", [4, 6], 22, 3)), T("f32", [6], 23, 2)], numpy: "np.power(a, b)", kernel: (a, b) => K.binary("pow", a!, b!), atol: 0, rtol: 3e-7 },
  { name: "maximum / lt", inputs: [T("f32", [2, 3, 4], 24), T("f32", [3, 1], 25)], numpy: "np.where(a < b, np.maximum(a, b), np.minimum(a, b))", kernel: (a, b) => K.where(K.binary("lt", a!, b!), K.binary("maximum", a!, b!), K.binary("minimum", a!, b!)), atol: 0, rtol: 0 },
  { name: "exp", inputs: [T("f32", [50, 20], 26, 8)], numpy: "np.exp(a)", kernel: (a) => K.unary("exp", a!), atol: 0, rtol: 3e-7 },
  { name: "log", inputs: [positive(T("f32", [1000], 27, 100))], numpy: "np.log(a)", kernel: (a) => K.unary("log", a!), atol: 1e-7, rtol: 3e-7 },
  { name: "tanh", inputs: [T("f32", [1000], 28, 5)], numpy: "np.tanh(a)", kernel: (a) => K.unary("tanh", a!), atol: 1e-7, rtol: 3e-7 },
  { name: "sigmoid", inputs: [T("f32", [1000], 29, 20)], numpy: "1 / (1 + np.exp(-a))", kernel: (a) => K.unary("sigmoid", a!), atol: 1e-7, rtol: 3e-7 },
  { name: "rsqrt", inputs: [positive(T("f32", [1000], 30, 50))], numpy: "1 / np.sqrt(a)", kernel: (a) => K.unary("rsqrt", a!), atol: 0, rtol: 2e-7 },
  { name: "sin / cos", inputs: [T("f32", [1000], 31, 10)], numpy: "np.sin(a) * np.cos(a)", kernel: (a) => K.binary("mul", K.unary("sin", a!), K.unary("cos", a!)), atol: 1e-7, rtol: 1e-6 },
  { name: "cast f32 → i32", inputs: [T("f32", [100], 32, 1000)], numpy: "a.astype(np.int32)", kernel: (a) => K.cast(a!, "i32"), atol: 0, rtol: 0 },
  // reductions
  { name: "sum axis 1", inputs: [T("f32", [4, 50, 6], 33)], numpy: "a.sum(axis=1)", kernel: (a) => K.reduce("sum", a!, 1), atol: 1e-5, rtol: 1e-6 },
  { name: "mean axis -1 keepdim", inputs: [T("f32", [4, 50, 6], 34)], numpy: "a.mean(axis=-1, keepdims=True)", kernel: (a) => K.reduce("mean", a!, -1, true), atol: 3e-7, rtol: 1e-6 },
  { name: "max axis 0", inputs: [T("f32", [4, 50, 6], 35)], numpy: "a.max(axis=0)", kernel: (a) => K.reduce("max", a!, 0), atol: 0, rtol: 0 },
  { name: "min axis 2", inputs: [T("i32", [4, 50, 6], 36)], numpy: "a.min(axis=2)", kernel: (a) => K.reduce("min", a!, 2), atol: 0, rtol: 0 },
  { name: "argmax axis 1", inputs: [T("f32", [4, 50, 6], 37)], numpy: "a.argmax(axis=1).astype(np.int32)", kernel: (a) => K.reduce("argmax", a!, 1), atol: 0, rtol: 0 },
  // layout
  { name: "permute (0, 2, 3, 1)", inputs: [T("f32", [2, 3, 4, 5], 38)], numpy: "np.transpose(a, (0, 2, 3, 1))", kernel: (a) => K.permute(a!, [0, 2, 3, 1]), atol: 0, rtol: 0 },
  { name: "take axis 1", inputs: [T("f32", [3, 10, 4], 39), fromValues("i32", [2, 3], [0, 1, 9, 8, 4, 4])], numpy: "np.take(a, b, axis=1)", kernel: (a, b) => K.gather(a!, b!, 1), atol: 0, rtol: 0 },
  { name: "concat axis 1", inputs: [T("f32", [2, 3, 4], 40), T("f32", [2, 5, 4], 41)], numpy: "np.concatenate([a, b], axis=1)", kernel: (a, b) => K.concat([a!, b!], 1), atol: 0, rtol: 0 },
  { name: "broadcast_to", inputs: [T("f32", [3, 1], 42)], numpy: "np.broadcast_to(a, (2, 3, 4))", kernel: (a) => K.expand(a!, [2, 3, 4]), atol: 0, rtol: 0 },
  // the fused softmax
  {
    name: "masked softmax",
    inputs: [T("f32", [2, 4, 6, 6], 43, 5), K.binary("le", K.arange(6), K.reshape(K.arange(6), [6, 1]))],
    numpy: "(lambda e: e / np.maximum(e.sum(-1, keepdims=True), 1))(np.where(b, np.exp(a - np.where(b, a, -np.inf).max(-1, keepdims=True)), 0))",
    kernel: (a, b) => K.softmaxLastAxis!(a!, b!),
    atol: 1e-7,
    rtol: 1e-6,
  },
];

const script = `
import json, sys
import numpy as np
cases = json.load(sys.stdin)
for i, c in enumerate(cases):
    ins = [np.load(p) for p in c["inputs"]]
    env = {"np": np, "a": ins[0], "b": ins[1] if len(ins) > 1 else None, "c": ins[2] if len(ins) > 2 else None}
    with np.errstate(all="ignore"):
        r = np.asarray(eval(c["expr"], env))
    if r.dtype == np.float64:
        r = r.astype(np.float32)
    np.save(c["out"], np.ascontiguousarray(r))
    if c["f64"]:
        ins64 = [x.astype(np.float64) if x.dtype == np.float32 else x for x in ins] + [None, None]
        env64 = {"np": np, "a": ins64[0], "b": ins64[1], "c": ins64[2]}
        np.save(c["out"] + ".f64.npy", np.ascontiguousarray(np.asarray(eval(c["expr"], env64), dtype=np.float64)))
print("ok")
`;

describe("kernels vs NumPy", () => {
  const dir = mkdtempSync(join(tmpdir(), "tfm-kernels-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("agree on every case (max abs errors printed)", () => {
    const jobs = cases.map((c, i) => {
      const inputs = c.inputs.map((t, k) => {
        const path = join(dir, `in${i}_${k}.npy`);
        writeFileSync(path, writeNpy(fileDType[t.dtype], t.shape, t.data.subarray(0, numel(t.shape))));
        return path;
      });
      // For matmuls, NumPy also evaluates in float64: both f32 results are measured against it.
      return { inputs, expr: c.numpy, out: join(dir, `out${i}.npy`), f64: c.name.startsWith("matmul") };
    });
    expect(runPython(script, [], JSON.stringify(jobs)).trim()).toBe("ok");
    const report: string[] = [];
    for (const [i, c] of cases.entries()) {
      const ref = readNpy(readFileSync(jobs[i]!.out));
      const got = c.kernel(...c.inputs);
      expect([...got.shape], c.name).toEqual(ref.shape);
      const expected = Array.from(ref.data as ArrayLike<number>, Number);
      const actual = Array.from(got.data.subarray(0, numel(got.shape)));
      const err = maxAbsErr(actual, expected);
      let rel = 0;
      for (let k = 0; k < expected.length; k++) if (Number.isFinite(expected[k]) && expected[k] !== 0) rel = Math.max(rel, Math.abs(actual[k]! - expected[k]!) / Math.abs(expected[k]!));
      let line = `${c.name}: ${err.toExponential(2)} (max rel ${rel.toExponential(2)})`;
      if (jobs[i]!.f64) {
        const exact = Array.from(readNpy(readFileSync(jobs[i]!.out + ".f64.npy")).data as Float64Array);
        const kernelErr = maxAbsErr(actual, exact);
        line += `; vs float64: kernel ${kernelErr.toExponential(2)}, NumPy f32 ${maxAbsErr(expected, exact).toExponential(2)}`;
        // The kernel accumulates in double: it must be close to the float64 result, not just to NumPy's f32.
        expect(kernelErr, `${c.name}: kernel vs float64`).toBeLessThan(5e-6);
      }
      report.push(line);
      for (let k = 0; k < expected.length; k++) {
        const [x, y] = [actual[k]!, expected[k]!];
        if (Number.isNaN(x) && Number.isNaN(y)) continue;
        const tol = c.atol + c.rtol * Math.abs(y);
        if (!(x === y || Math.abs(x - y) <= tol)) throw new Error(`${c.name}: element ${k}: kernel ${x}, NumPy ${y} (|error| ${Math.abs(x - y)} > ${tol})`);
      }
    }
    console.log(`[kernels] max abs error vs NumPy ${runPython("import numpy; print(numpy.__version__)").trim()}:\n  ${report.join("\n  ")}`);
  });
});

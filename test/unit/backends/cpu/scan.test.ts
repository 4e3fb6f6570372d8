// The cumsum kernel (src/backends/cpu/kernels/scan.ts) against torch.cumsum on the CPU (Debian's
// python3-torch): random inputs are written as .npy, torch computes each case and writes its result,
// and the kernel's must be the same bits — f32 prefixes summed in double and rounded, i32 wrapping
// as torch.cumsum(x, dim, dtype=torch.int32). Also the kernel's own rules: axes, out, bad dtypes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { allocate, fromValues, numel, type Tensor } from "../../../../src/core/tensor.js";
import { readNpy, writeNpy } from "../../../../src/weights/npy.js";
import { kernelError, randomTensor, runPython, seedFor } from "./helpers.js";

const seed = seedFor("scan.test.ts");

interface Case {
  readonly name: string;
  readonly x: Tensor;
  readonly dim: number;
}

const T = (dtype: "f32" | "i32", shape: number[], s: number, opts = {}) => randomTensor(dtype, shape, seed + s, opts);
const ones = (n: number) => new Array<number>(n).fill(1);

const cases: Case[] = [
  { name: "f32 [4, 5000] dim -1", x: T("f32", [4, 5000], 1, { scale: 1 }), dim: -1 },
  { name: "f32 [3, 50, 6] dim 1 (inner 6)", x: T("f32", [3, 50, 6], 2), dim: 1 },
  { name: "f32 [7, 3, 2] dim 0", x: T("f32", [7, 3, 2], 3), dim: 0 },
  { name: "f32 [1e8, 1 × 16]: the double accumulator", x: fromValues("f32", [17], [1e8, ...ones(16)]), dim: 0 },
  { name: "f32 [2, 1000] of 0.1 and 1e7 (long, cancelling)", x: fromValues("f32", [2, 1000], Array.from({ length: 2000 }, (_, i) => (i % 7 === 0 ? 1e7 : i % 7 === 3 ? -1e7 : 0.1))), dim: 1 },
  { name: "f32 with NaN and ±∞", x: T("f32", [6, 40], 4, { special: 0.05 }), dim: 1 },
  { name: "i32 [5, 300] dim 0", x: T("i32", [5, 300], 5, { range: 1000 }), dim: 0 },
  { name: "i32 [2, 5000] dim -1", x: T("i32", [2, 5000], 6, { range: 1000000 }), dim: -1 },
  { name: "i32 wrapping past 2³¹", x: fromValues("i32", [2, 4], [2147483647, 1, 5, -2147483648, -2147483648, -1, 2147483647, 2]), dim: 1 },
  { name: "i32 [3, 4, 5] dim -2", x: T("i32", [3, 4, 5], 7), dim: -2 },
  { name: "f32 [3, 0] dim 1 (empty)", x: allocate("f32", [3, 0]), dim: 1 },
  { name: "i32 [0, 4] dim 1 (empty)", x: allocate("i32", [0, 4]), dim: 1 },
];

const script = `
import json, sys
import numpy as np
import torch
jobs = json.load(sys.stdin)
for j in jobs:
    x = torch.from_numpy(np.load(j["input"]))
    r = torch.cumsum(x, j["dim"], dtype=x.dtype)
    np.save(j["out"], np.ascontiguousarray(r.numpy()))
print("ok")
`;

describe("cumsum against torch.cumsum", () => {
  const dir = mkdtempSync(join(tmpdir(), "tfm-cumsum-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives torch's bits on every case", () => {
    const jobs = cases.map((c, i) => {
      const input = join(dir, `in${i}.npy`);
      writeFileSync(input, writeNpy(c.x.dtype === "f32" ? "F32" : "I32", c.x.shape, c.x.data.subarray(0, numel(c.x.shape))));
      return { input, dim: c.dim, out: join(dir, `out${i}.npy`) };
    });
    expect(runPython(script, [], JSON.stringify(jobs)).trim()).toBe("ok");
    const report: string[] = [];
    for (const [i, c] of cases.entries()) {
      const ref = readNpy(readFileSync(jobs[i]!.out));
      const got = K.cumsum(c.x, c.dim);
      expect(got.dtype, c.name).toBe(c.x.dtype);
      expect([...got.shape], c.name).toEqual(ref.shape);
      const want = Array.from(ref.data as ArrayLike<number>, Number);
      let differ = 0;
      for (let k = 0; k < want.length; k++) if (!Object.is(got.data[k], want[k]) && !(Number.isNaN(got.data[k]) && Number.isNaN(want[k]))) differ++;
      report.push(`${c.name}: ${differ} of ${want.length} differ`);
      expect(differ, c.name).toBe(0);
    }
    console.log(`[cumsum] vs torch ${runPython("import torch; print(torch.__version__)").trim()}:\n  ${report.join("\n  ")}`);
  });

  it("sums f32 in double: [1e8, 1 × 16] ends at 100000016, not the f32 running sum's 1e8", () => {
    expect(K.cumsum(fromValues("f32", [17], [1e8, ...ones(16)]), 0).data[16]).toBe(100000016);
  });

  it("writes into out, and refuses bool, bad axes and an out that overlaps its input", () => {
    const x = fromValues("i32", [2, 3], [1, 2, 3, 4, 5, 6]);
    const out = allocate("i32", [2, 3]);
    expect(K.cumsum(x, 0, out)).toBe(out);
    expect([...out.data]).toEqual([1, 2, 3, 5, 7, 9]);
    expect(kernelError(() => K.cumsum(fromValues("bool", [2], [1, 0]), 0))).toMatch(/must be f32 or i32, got bool/);
    expect(kernelError(() => K.cumsum(x, 2))).toMatch(/axis 2 is out of range for rank 2/);
    expect(kernelError(() => K.cumsum(x, 0, x))).toMatch(/cannot work in place/);
  });
});

// f32 → f16 (src/core/f16.ts) against PyTorch's `.half()` (/usr/bin/python3, or TFM_PYTHON): the
// same bits over a sweep of 4.2 million f32 bit patterns (every 1031st, so every sign and exponent)
// and the edges — the largest f16 and the ties just past it, the subnormals' ties, ±0, ±∞, NaN.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { f16Bits, f16Value, packHalves, roundToF16 } from "../../../src/core/f16.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const dir = mkdtempSync(join(tmpdir(), "tfm-f16-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const edges = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0x47800000, 0x33000000, 0x33000001, 0x32ffffff, 0x33800000, 0x33c00000, 0x38800000, 0x387fc000, 0x387fe000, 0x387ff000, 0x3f800000, 0x3f801000, 0x3f803000, 0xbf801000];

describe("f16 bits (core/f16.ts)", () => {
  it("are PyTorch's .half() bits over a sweep of f32 bit patterns and the edges", () => {
    const n = 1 << 22;
    const bits = new Uint32Array(n + edges.length);
    for (let i = 0; i < n; i++) bits[i] = Math.imul(i, 1031) >>> 0;
    bits.set(edges, n);
    writeFileSync(join(dir, "x.bin"), bits);
    const script = "import sys, numpy as np, torch\nx = np.fromfile(sys.argv[1], dtype=np.float32)\ntorch.from_numpy(x).half().view(torch.int16).numpy().tofile(sys.argv[2])";
    const r = spawnSync(python, ["-c", script, join(dir, "x.bin"), join(dir, "h.bin")], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, `${python} with numpy and torch: ${r.error?.message ?? r.stderr}`).toBe(0);
    const want = new Uint16Array(readFileSync(join(dir, "h.bin")).buffer.slice(0));
    const x = new Float32Array(bits.buffer);
    const bad: string[] = [];
    for (let i = 0; i < x.length; i++) {
      const got = f16Bits(x[i]!);
      // NaN: any quiet NaN of the same sign (PyTorch keeps payload bits the f16 has no room for).
      const same = x[i] !== x[i] ? (got & 0xfe00) === (want[i]! & 0xfe00) : got === want[i];
      if (!same && bad.length < 10) bad.push(`${bits[i]!.toString(16)}: ${got.toString(16)} vs ${want[i]!.toString(16)}`);
    }
    expect(bad).toEqual([]);
  });

  it("give back exactly the f16 values", () => {
    for (const v of [0, -0, 1, -2.5, 65504, 2 ** -24, 2 ** -14, 1 / 3, 1e-3, -7.1875]) {
      const h = f16Bits(v);
      expect(Object.is(f16Value(h), v) || Math.abs(f16Value(h) - v) <= Math.abs(v) * 2 ** -11).toBe(true);
      expect(f16Bits(f16Value(h))).toBe(h);
    }
    expect(f16Value(f16Bits(1 / 3))).toBe(0.333251953125);
    expect(f16Bits(1e6)).toBe(0x7c00);
    expect(f16Value(0x7e00)).toBeNaN();
  });

  it("pack two to a word, the first in the low half", () => {
    const w = packHalves(Float32Array.from([1, -2, 0.5]));
    expect([...w]).toEqual([(0x3c00 | (0xc000 << 16)) >>> 0, 0x3800]);
    expect([...roundToF16(Float32Array.from([1 / 3, 65520]))]).toEqual([0.333251953125, Infinity]);
  });
});

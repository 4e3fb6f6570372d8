// The fused kernels' tanh over a row in WebAssembly SIMD (src/backends/cpu/kernels/wasm/rowmath.ts)
// gives math.ts's tanh rounded to f32, bit for bit: over a sweep of every 997th f32 bit pattern
// (4.3 million values: every sign, exponent and the branch edges in between), the special values,
// and rows of every width up to 40 (the loop's tail), in place and in the module's own rows.
import { describe, expect, it } from "vitest";
import { rowScratch, tanhRow, ROW_FLOATS } from "../../../../src/backends/cpu/kernels/wasm/rowmath.js";
import { wasmGemmAvailable } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { tanh } from "../../../../src/core/math.js";

/** Indices where t differs from fround(tanh(x)) (NaN matching NaN). */
function mismatches(x: Float32Array, t: Float32Array): number[] {
  const bad: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const want = Math.fround(tanh(x[i]!));
    if (!Object.is(want, t[i]) && !(want !== want && t[i] !== t[i])) bad.push(i);
  }
  return bad;
}

describe("tanh over a row (rowmath.ts)", () => {
  it("runs in the module's memory where WebAssembly SIMD does", () => {
    const row = rowScratch(0, 100);
    expect(row.length).toBeGreaterThanOrEqual(100);
    // The module's rows lie after its table of 2^(j/32) (a plain array starts at 0).
    if (wasmGemmAvailable()) expect(row.byteOffset).toBeGreaterThanOrEqual(256);
    // A row too wide for the module's rows is a plain array (computed by math.ts in JavaScript).
    expect(rowScratch(3, ROW_FLOATS + 1).length).toBeGreaterThan(ROW_FLOATS);
  });

  it("gives math.ts's tanh rounded to f32 over a sweep of all f32 bit patterns", () => {
    const row = rowScratch(0, ROW_FLOATS);
    const bits = new Uint32Array(ROW_FLOATS);
    const x = new Float32Array(bits.buffer);
    let checked = 0;
    const bad: number[] = [];
    for (let b = 0, c = 0; b < 2 ** 32; b += 997) {
      bits[c++] = b;
      if (c === ROW_FLOATS || b + 997 >= 2 ** 32) {
        row.set(x.subarray(0, c));
        tanhRow(row, c);
        for (const i of mismatches(x.subarray(0, c), row.subarray(0, c))) bad.push(x[i]!);
        checked += c;
        c = 0;
      }
    }
    expect(checked).toBeGreaterThan(4_000_000);
    expect(bad.slice(0, 10)).toEqual([]);
  });

  it("at the special values and the branch edges", () => {
    const edges = [0, -0, NaN, Infinity, -Infinity, 0.125, -0.125, Math.fround(0.125 - 2 ** -27), 19.1, -19.1, Math.fround(19.1), 19.0999, 19.2, 1e-45, -1e-45, 1e-30, 3.4e38, -3.4e38, 0.5, -1, 2, 9];
    const x = Float32Array.from(edges);
    const row = rowScratch(1, x.length);
    row.set(x);
    tanhRow(row, x.length);
    expect(mismatches(x, row.subarray(0, x.length))).toEqual([]);
    expect(Object.is(row[1], -0)).toBe(true);
  });

  it("for every width to 40, leaving what lies past a row's own floats to the module", () => {
    for (let w = 1; w <= 40; w++) {
      const x = Float32Array.from({ length: w }, (_, i) => Math.sin(i * 7.3 + w) * 3);
      const row = rowScratch(2, w);
      row.set(x);
      tanhRow(row, w);
      expect(mismatches(x, row.subarray(0, w)), `width ${w}`).toEqual([]);
      // A plain array (not the module's memory): math.ts in JavaScript, the same values.
      const plain = new Float32Array(x);
      tanhRow(plain, w);
      expect([...plain]).toEqual([...row.subarray(0, w)]);
    }
  });
});

// Tests for the dtype table and the f16/bf16 conversions: exhaustive over all 65536 patterns,
// explicit edge cases (inf, NaN, subnormals, ties) and bit-level versus numeric agreement.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bf16ArrayToF32,
  bf16ToNumber,
  dtypes,
  f16ArrayToF32,
  f16ToNumber,
  f32BitsToBf16,
  f32BitsToF16,
  floatArrayToBf16,
  floatArrayToF16,
  isDType,
  numberToBf16,
  numberToF16,
} from "../../../src/weights/dtypes.js";
import { propertySeed } from "./helpers.js";

const isNaNF16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf16 = (b: number): boolean => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const bitsToF32 = (u: number): number => new Float32Array(new Uint32Array([u]).buffer)[0]!;

describe("dtype table", () => {
  it("has the sizes of the safetensors format", () => {
    expect(dtypes.F32.size).toBe(4);
    expect(dtypes.F16.size).toBe(2);
    expect(dtypes.BF16.size).toBe(2);
    expect(dtypes.I64.size).toBe(8);
    expect(dtypes.BOOL.size).toBe(1);
  });
  it("does not take Object.prototype names for dtypes", () => {
    for (const s of ["constructor", "__proto__", "toString", "hasOwnProperty", "f32", ""]) expect(isDType(s)).toBe(false);
    expect(isDType("BF16")).toBe(true);
  });
});

describe("f16", () => {
  it("decodes the landmark values", () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16ToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToNumber(0x0400)).toBe(2 ** -14);
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(f16ToNumber(0xfc01)).toBeNaN();
  });

  it("round-trips every non-NaN pattern through a number, and the bulk table agrees", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f32 = f16ArrayToF32(all);
    const back = floatArrayToF16(f32);
    for (let h = 0; h < 65536; h++) {
      const v = f16ToNumber(h);
      if (isNaNF16(h)) {
        expect(f32[h]).toBeNaN();
        expect(isNaNF16(back[h]!)).toBe(true);
        expect(isNaNF16(numberToF16(v))).toBe(true);
        continue;
      }
      expect(Object.is(f32[h], v)).toBe(true);
      if (numberToF16(v) !== h || back[h] !== h) throw new Error(`f16 0x${h.toString(16)} did not round-trip`);
    }
  });

  it("keeps NaN payloads and signs in the bulk conversions", () => {
    const out = f16ArrayToF32(new Uint16Array([0x7e01, 0xfe00, 0x7c01]));
    const bits = new Uint32Array(out.buffer);
    expect(bits[0]).toBe(0x7fc02000);
    expect(bits[1]).toBe(0xffc00000);
    expect(bits[2]).toBe(0x7f802000);
    // A signalling f32 NaN whose payload lives only in the low bits still converts to a NaN.
    const back = floatArrayToF16(new Float32Array(new Uint32Array([0x7f800001, 0xffc00000]).buffer));
    expect(isNaNF16(back[0]!)).toBe(true);
    expect(back[1]).toBe(0xfe00);
  });

  it("rounds to nearest, ties to even, at every midpoint between neighbours", () => {
    for (let h = 0; h < 0x7bff; h++) {
      const lo = f16ToNumber(h);
      const hi = f16ToNumber(h + 1);
      const mid = (lo + hi) / 2; // exact: f16 has 11 significant bits
      const even = h % 2 === 0 ? h : h + 1;
      const fromF32 = floatArrayToF16(new Float32Array([mid, -mid]));
      if (numberToF16(mid) !== even || fromF32[0] !== even || fromF32[1] !== (even | 0x8000)) {
        throw new Error(`midpoint after f16 0x${h.toString(16)} did not round to even`);
      }
      const above = mid + (hi - lo) / 1024;
      const below = mid - (hi - lo) / 1024;
      if (numberToF16(above) !== h + 1 || numberToF16(below) !== h) throw new Error(`near-midpoint after 0x${h.toString(16)}`);
    }
  });

  it("handles overflow, underflow and the special values", () => {
    expect(numberToF16(65504)).toBe(0x7bff);
    expect(numberToF16(65519.99)).toBe(0x7bff);
    expect(numberToF16(65520)).toBe(0x7c00); // the tie above the largest finite value rounds to even: infinity
    expect(numberToF16(1e10)).toBe(0x7c00);
    expect(numberToF16(-1e10)).toBe(0xfc00);
    expect(numberToF16(Infinity)).toBe(0x7c00);
    expect(numberToF16(-Infinity)).toBe(0xfc00);
    expect(numberToF16(NaN)).toBe(0x7e00);
    expect(numberToF16(-0)).toBe(0x8000);
    expect(numberToF16(2 ** -24)).toBe(0x0001);
    expect(numberToF16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal: even is 0
    expect(numberToF16(-(2 ** -25))).toBe(0x8000);
    expect(numberToF16(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(numberToF16(3 * 2 ** -25)).toBe(0x0002);
    expect(numberToF16(1e-30)).toBe(0x0000);
    expect(numberToF16(5e-324)).toBe(0x0000);
    expect(numberToF16(2 ** -14 - 2 ** -25)).toBe(0x0400); // subnormal/normal boundary tie goes up to even
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00);
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToF16(Number.MAX_VALUE)).toBe(0x7c00);
    const f = floatArrayToF16(new Float32Array([65520, 2 ** -25, 3 * 2 ** -25, 1e-45, -1e-45, 3.4e38]));
    expect(Array.from(f)).toEqual([0x7c00, 0x0000, 0x0002, 0x0000, 0x8000, 0x7c00]);
  });

  it("rounds a Float64Array once, not twice through f32", () => {
    // Just above the midpoint between 1 and 1 + 2^-10, by less than f32 can represent: rounding to
    // f32 first would land exactly on the tie and round down to 1.
    const x = 1 + 2 ** -11 + 2 ** -40;
    expect(numberToF16(x)).toBe(0x3c01);
    expect(floatArrayToF16(new Float64Array([x]))[0]).toBe(0x3c01);
    expect(floatArrayToF16(new Float32Array([x]))[0]).toBe(0x3c00);
  });

  it("agrees between the bit-level and numeric f32 → f16 paths (property)", () => {
    const seed = propertySeed("f32→f16 agreement");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (u) => {
        const a = f32BitsToF16(u);
        const b = numberToF16(bitsToF32(u));
        return Number.isNaN(bitsToF32(u)) ? isNaNF16(a) && isNaNF16(b) : a === b;
      }),
      { seed, numRuns: 20000 },
    );
  });
});

describe("bf16", () => {
  it("decodes the landmark values", () => {
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0x7f7f)).toBe((2 - 2 ** -7) * 2 ** 127);
    expect(bf16ToNumber(0x0001)).toBe(2 ** -133);
    expect(bf16ToNumber(0x7f80)).toBe(Infinity);
    expect(bf16ToNumber(0xff80)).toBe(-Infinity);
    expect(bf16ToNumber(0x7fc0)).toBeNaN();
    expect(Object.is(bf16ToNumber(0x8000), -0)).toBe(true);
  });

  it("round-trips every non-NaN pattern, and the bulk paths agree", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f32 = bf16ArrayToF32(all);
    const back = floatArrayToBf16(f32);
    for (let b = 0; b < 65536; b++) {
      const v = bf16ToNumber(b);
      if (isNaNBf16(b)) {
        expect(isNaNBf16(back[b]!)).toBe(true);
        continue;
      }
      if (!Object.is(f32[b], v) || numberToBf16(v) !== b || back[b] !== b) throw new Error(`bf16 0x${b.toString(16)} did not round-trip`);
    }
  });

  it("rounds to nearest, ties to even, at every midpoint between neighbours", () => {
    for (let b = 0; b < 0x7f7f; b++) {
      const lo = bf16ToNumber(b);
      const hi = bf16ToNumber(b + 1);
      const mid = (lo + hi) / 2;
      const even = b % 2 === 0 ? b : b + 1;
      if (numberToBf16(mid) !== even || f32BitsToBf16(f32Bits(mid)) !== even) throw new Error(`midpoint after bf16 0x${b.toString(16)}`);
    }
  });

  it("handles overflow, NaN and subnormals", () => {
    expect(numberToBf16(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds up past bf16 max
    expect(f32BitsToBf16(0x7f7fffff)).toBe(0x7f80);
    expect(f32BitsToBf16(0x7f800000)).toBe(0x7f80);
    expect(f32BitsToBf16(0xff800000)).toBe(0xff80);
    expect(f32BitsToBf16(0x7f800001)).toBe(0x7fc0); // signalling NaN stays NaN (does not become inf)
    expect(f32BitsToBf16(0xffffffff)).toBe(0xffff);
    expect(numberToBf16(NaN)).toBe(0x7fc0);
    expect(numberToBf16(-0)).toBe(0x8000);
    expect(numberToBf16(2 ** -133)).toBe(0x0001);
    expect(numberToBf16(2 ** -134)).toBe(0x0000);
    expect(numberToBf16(1e-45)).toBe(0x0000);
    expect(f32BitsToBf16(0x00000001)).toBe(0x0000);
    expect(f32BitsToBf16(0x00008000)).toBe(0x0000); // tie, even
    expect(f32BitsToBf16(0x00018000)).toBe(0x0002); // tie, rounds up to even
    expect(numberToBf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });

  it("agrees between the bit-level and numeric f32 → bf16 paths (property)", () => {
    const seed = propertySeed("f32→bf16 agreement");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (u) => {
        const a = f32BitsToBf16(u);
        const b = numberToBf16(bitsToF32(u));
        return Number.isNaN(bitsToF32(u)) ? isNaNBf16(a) && isNaNBf16(b) : a === b;
      }),
      { seed, numRuns: 20000 },
    );
  });
});

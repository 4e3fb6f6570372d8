// IEEE-754 binary16 (f16): the nearest f16 of an f32, as its 16 bits — round to nearest, ties to
// even, as PyTorch's `.half()` and WGSL's `pack2x16float` round; past the largest f16 (65504) an
// infinity, below the smallest subnormal's half a zero of the same sign, NaN a quiet NaN. Weights
// kept as f16 (`weightsDtype: "f16"` on WebGPU) are stored so, two to a 32-bit word, the first in
// the low half (the order `unpack2x16float` reads). No Float16Array here: Node 20 has none.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 nearest x (rounded to f32 first), as its bits. */
export function f16Bits(x: number): number {
  f32[0] = x;
  return f16OfF32Bits(u32[0]!);
}

/** The f16 nearest the f32 whose bits are b, as its bits. */
export function f16OfF32Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0); // ±∞, NaN (quiet)
  const e = exp - 127 + 15; // the f16 exponent field for a normal result
  if (e >= 0x1f) return sign | 0x7c00; // above the f16 range: ∞
  if (e <= 0) {
    // A subnormal f16 (or zero): the 24-bit significand shifted right by 14 − e, rounded to even.
    if (e < -10) return sign; // under half the smallest subnormal (2^-25): ±0
    const sig = man | 0x800000;
    const shift = 14 - e;
    const q = sig >>> shift;
    const rest = sig & ((1 << shift) - 1), half = 1 << (shift - 1);
    return sign | (q + (rest > half || (rest === half && (q & 1)) ? 1 : 0));
  }
  // A normal f16: 10 of the 23 bits kept, rounded to even (a carry into the exponent is right, up to ∞).
  const q = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  return sign | (q + (rest > 0x1000 || (rest === 0x1000 && (q & 1)) ? 1 : 0));
}

/** The value of f16 bits h, as a number (exact in f32). */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f, man = h & 0x3ff;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return exp === 0 ? sign * man * 2 ** -24 : sign * (1024 + man) * 2 ** (exp - 25);
}

/** x's values as f16, two to a word (element 2i in the low half of word i; an odd last one beside a zero). */
export function packHalves(x: Float32Array): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(Math.ceil(x.length / 2));
  for (let i = 0, j = 0; i < x.length; i += 2, j++) out[j] = f16Bits(x[i]!) | (i + 1 < x.length ? f16Bits(x[i + 1]!) << 16 : 0);
  return out;
}

/** The f32 bits of each f16's value, by its bits (made at the first rounding). */
let f32OfHalf: Uint32Array | undefined;

/** x's values rounded to the nearest f16 (what a kernel reading them as f16 computes with), as a new array. */
export function roundToF16(x: Float32Array): Float32Array<ArrayBuffer> {
  if (!f32OfHalf) {
    const v = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) v[h] = f16Value(h);
    f32OfHalf = new Uint32Array(v.buffer);
  }
  const table = f32OfHalf;
  const src = new Uint32Array(x.buffer, x.byteOffset, x.length), out = new Uint32Array(x.length);
  for (let i = 0; i < src.length; i++) out[i] = table[f16OfF32Bits(src[i]!)]!;
  return new Float32Array(out.buffer);
}

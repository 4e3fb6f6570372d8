// Deterministic random weights, initialised as PyTorch initialises each layer: a table of rules
// keyed by owning block and parameter name, a seeded PRNG (xoshiro128**) with a stream per weight
// (so adding a layer does not change the others), and normals by the ziggurat method (Marsaglia
// and Tsang, with the layer, sign and value drawn from separate bits as Doornik recommends). Every
// step is integer arithmetic or IEEE-754 +, −, ×, ÷ and √, which JavaScript defines exactly: log and
// exp are computed here by series rather than with Math.log/Math.exp, whose results the language
// leaves to the engine. So a seed gives the same bytes on every platform. GPT-2 small's 124M
// values take about a second: the ziggurat runs in WebAssembly where it can (normals-wasm.ts,
// the same values), at ~5 ns a value against 16–19 here in JavaScript.
import { TfmError } from "../bundle/errors.js";
import type { Tensor } from "../core/tensor.js";
import type { Weight } from "../check/elaborated.js";
import type { NamedTensor } from "../weights/safetensors.js";
import { CHUNK, fastNormals, type FastNormals } from "./normals-wasm.js";
import { fileDType, makeTensor, roundToDeclared, runtimeDType, transpose2d } from "./convert.js";

// ---- the rules --------------------------------------------------------------------------------

/** How a tensor's values are drawn. */
export type Init =
  | { readonly kind: "uniform"; readonly bound: number } // U(−bound, bound)
  | { readonly kind: "normal"; readonly std: number } // N(0, std²)
  | { readonly kind: "constant"; readonly value: number };

const uniform = (bound: number): Init => ({ kind: "uniform", bound: Number.isFinite(bound) ? bound : 0 });
const normal = (std: number): Init => ({ kind: "normal", std });
const constant = (value: number): Init => ({ kind: "constant", value });

/** 1/√n, and 0 for an empty fan (PyTorch skips the init then; the tensor is empty or all zeros anyway). */
const invSqrt = (n: number | undefined): number => (n ? 1 / Math.sqrt(n) : 0);

export interface InitRule {
  /** The distribution, as documentation. */
  readonly rule: string;
  /** Where PyTorch (or Hugging Face) does the same. */
  readonly source: string;
  /** The distribution for weight `w`; `sibling` finds another weight of the same layer by its parameter name. */
  readonly init: (w: Weight, sibling: (param: string) => Weight | undefined) => Init;
}

/**
 * Initialisation by `Owner.param`: the block that declares the weight and the weight's checkpoint
 * name within it (Linear's `param b ... as "bias"` is `Linear.bias`). Shapes are as declared, so a
 * Linear weight is [out_features, in_features] and its fan-in is shape[1].
 */
export const initRules: Readonly<Record<string, InitRule>> = {
  "Linear.weight": {
    rule: "U(±1/√in_features)",
    source: "torch.nn.Linear.reset_parameters: kaiming_uniform_(weight, a=√5)",
    init: (w) => uniform(invSqrt(w.shape[1])),
  },
  "Linear.bias": {
    rule: "U(±1/√in_features)",
    source: "torch.nn.Linear.reset_parameters: uniform_(bias, -1/√fan_in, 1/√fan_in)",
    init: (w, sibling) => uniform(invSqrt(sibling("weight")?.shape[1])),
  },
  "Embedding.weight": {
    rule: "N(0, 1)",
    source: "torch.nn.Embedding.reset_parameters: normal_(weight)",
    init: () => normal(1),
  },
  "RMSNorm.weight": {
    rule: "1",
    source: "torch.nn.RMSNorm.reset_parameters / HF LlamaRMSNorm: ones(hidden_size)",
    init: () => constant(1),
  },
  "LayerNorm.weight": {
    rule: "1",
    source: "torch.nn.LayerNorm.reset_parameters: ones_(weight)",
    init: () => constant(1),
  },
  "LayerNorm.bias": {
    rule: "0",
    source: "torch.nn.LayerNorm.reset_parameters: zeros_(bias)",
    init: () => constant(0),
  },
  "MultiheadAttention.in_proj_weight": {
    rule: "U(±√(6/(fan_in + fan_out))) (Xavier uniform)",
    source: "torch.nn.MultiheadAttention._reset_parameters: xavier_uniform_(in_proj_weight)",
    init: (w) => uniform(Math.sqrt(6 / ((w.shape[1] ?? 0) + (w.shape[0] ?? 0)))),
  },
  "MultiheadAttention.in_proj_bias": {
    rule: "0",
    source: "torch.nn.MultiheadAttention._reset_parameters: constant_(in_proj_bias, 0)",
    init: () => constant(0),
  },
  "Conv1D.weight": {
    rule: "N(0, 0.02²)",
    source: "transformers GPT2PreTrainedModel._init_weights: normal_(mean=0, std=initializer_range=0.02)",
    init: () => normal(0.02),
  },
  "Conv1D.bias": {
    rule: "0",
    source: "transformers GPT2PreTrainedModel._init_weights: zero_(bias)",
    init: () => constant(0),
  },
};

/** Weights no rule names: matrices and higher like a Linear weight, over their last dim; vectors and scalars 0. */
export const defaultRules: { readonly tensor: InitRule; readonly vector: InitRule } = {
  tensor: { rule: "U(±1/√shape[-1])", source: "tfm's default for 2-D and larger weights", init: (w) => uniform(invSqrt(w.shape[w.shape.length - 1])) },
  vector: { rule: "0", source: "tfm's default for 1-D and 0-D weights", init: () => constant(0) },
};

/** The weight's parameter name in its block: its checkpoint name relative to the block instance. */
const paramName = (w: Weight): string => w.decl.checkpointName?.value ?? w.decl.name.name;

/** The rule that initialises `w`. Integer and bool weights are always zeros. */
export function ruleFor(w: Weight): InitRule {
  const key = `${w.owner}.${paramName(w)}`;
  if (Object.hasOwn(initRules, key)) return initRules[key]!;
  return w.shape.length >= 2 ? defaultRules.tensor : defaultRules.vector;
}

/** The distribution each weight is drawn from, by checkpoint name. */
export function initsFor(weights: readonly Weight[]): Map<string, Init> {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const out = new Map<string, Init>();
  for (const w of weights) {
    const local = paramName(w);
    const prefix = w.name.slice(0, w.name.length - local.length);
    const sibling = (param: string) => byName.get(prefix + param);
    out.set(w.name, runtimeDType[w.dtype] === "f32" ? ruleFor(w).init(w, sibling) : constant(0));
  }
  return out;
}

// ---- generating -------------------------------------------------------------------------------

/**
 * Random values for every weight, in the declared layout and runtime dtype (what `bindCheckpoint`
 * returns for a checkpoint): for `tfm run --random-weights`. f16/bf16 weights are rounded to
 * their precision, so these equal what loading `randomCheckpoint`'s file gives.
 */
export function randomWeights(weights: readonly Weight[], seed: number): Map<string, Tensor> {
  checkSeed(seed);
  const inits = initsFor(weights);
  const out = new Map<string, Tensor>();
  for (const w of weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const rt = runtimeDType[w.dtype];
    if (rt === "f32") {
      const data = fillWeight(new Float32Array(n), inits.get(w.name)!, seed, w.name);
      out.set(w.name, makeTensor("f32", w.shape, roundToDeclared(data, w.dtype)));
    } else out.set(w.name, makeTensor(rt, w.shape, rt === "i32" ? new Int32Array(n) : new Uint8Array(n)));
  }
  return out;
}

/** The same values as a checkpoint: checkpoint names, the checkpoint layout (`transposed`) and declared dtypes. */
export function randomCheckpoint(weights: readonly Weight[], seed: number): NamedTensor[] {
  const values = randomWeights(weights, seed);
  return weights.map((w) => {
    const t = values.get(w.name)!;
    const dtype = fileDType[w.dtype];
    let data: NamedTensor["data"] = w.transposed ? transpose2d(t.data, w.shape[0]!, w.shape[1]!) : t.data;
    if (dtype === "I64") data = new BigInt64Array(data.length);
    const shape = w.transposed ? [w.shape[1]!, w.shape[0]!] : [...w.shape];
    return { name: w.name, dtype, shape, data };
  });
}

/** Seeds are integers from 0 to 2^53 − 1. */
export function checkSeed(seed: number): void {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) throw new TfmError("TFM6004", `a seed must be an integer from 0 to 2^53 - 1, got ${typeof seed === "string" ? JSON.stringify(seed) : String(seed)}`);
}

/** Parses a seed as given on the command line (decimal digits). */
export function parseSeed(text: string): number | { error: string } {
  const t = text.trim();
  if (!/^\d{1,16}$/.test(t) || !Number.isSafeInteger(Number(t))) return { error: `--seed expects an integer from 0 to 2^53 - 1, got \`${text}\`` };
  return Number(t);
}

/** Draws the values of the weight named `name` into `out` (f32, before rounding to a declared f16/bf16). */
export function fillWeight(out: Float32Array, init: Init, seed: number, name: string): Float32Array {
  return fill(out, init, new Rng(seed, name));
}

function fill(out: Float32Array, init: Init, rng: Rng): Float32Array {
  switch (init.kind) {
    case "constant":
      out.fill(init.value);
      return out;
    case "uniform": {
      const b = init.bound;
      for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * b;
      return out;
    }
    case "normal":
      return normalsInto(out, init.std, rng);
  }
}

// ---- log and exp by series: exact IEEE arithmetic only -------------------------------------------

const LN2 = 0.6931471805599453;
/** ln 2 as a sum (fdlibm's split): LN2_HI's low 21 bits are zero, so k·LN2_HI is exact for |k| < 2^21. */
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const SQRT2 = 1.4142135623730951;
/** 1/(2k+1) for the atanh series of log. */
const odd = Array.from({ length: 12 }, (_, k) => 1 / (2 * k + 1));
/** n!, exact in a double for n ≤ 22. */
const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/** Natural log of x > 0 (finite): x = m·2^e with m in [√2/2, √2), log m = 2·atanh((m−1)/(m+1)). */
export function log(x: number): number {
  let e = 0;
  let m = x;
  while (m >= SQRT2) {
    m /= 2;
    e++;
  }
  while (m < SQRT2 / 2) {
    m *= 2;
    e--;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let p = odd[11]!;
  for (let k = 10; k >= 0; k--) p = p * s2 + odd[k]!;
  return e * LN2 + 2 * s * p;
}

/** 1/k! for the Taylor series of exp, each one rounding of an exact factorial (k ≤ 18). */
const invFactorial = Array.from({ length: 19 }, (_, k) => 1 / factorial(k));

/**
 * e^x for finite x ≤ 709: x = k·ln2 + r with |r| ≤ ln2/2 (k rounded, r by two steps of ln2's
 * split so that it is exact to ~1e-16), the Taylor series of e^r, times 2^k (exact).
 */
export function exp(x: number): number {
  if (x < -745) return 0;
  const k = Math.round(x / LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = invFactorial[18]!;
  for (let j = 17; j >= 0; j--) p = p * r + invFactorial[j]!;
  // 2^k in two exact steps, so a k below −1022 still scales into the subnormals.
  const k1 = Math.trunc(k / 2);
  return p * 2 ** k1 * 2 ** (k - k1);
}

// ---- normals: the ziggurat ------------------------------------------------------------------------

/** Layers of the ziggurat; the base layer 0 holds the tail beyond R. */
const LAYERS = 128;
/** Where the tail starts, and the area of each layer (of the density e^(−x²/2), unnormalised), for 128 layers. */
const R = 3.442619855899;
const AREA = 9.91256303526217e-3;
/** x[i]: layer i spans [0, x[i]] (x[0] is the base layer's pseudo-width AREA/f(R)); x[LAYERS] = 0. */
const zx = new Float64Array(LAYERS + 1);
/** f[i] = e^(−x[i]²/2), the density at x[i]; ratio[i] = x[i+1]/x[i], the part of layer i under the curve everywhere. */
const zf = new Float64Array(LAYERS + 1);
const zratio = new Float64Array(LAYERS);
{
  const f = (x: number) => exp(-0.5 * x * x);
  zx[0] = AREA / f(R);
  zx[1] = R;
  for (let i = 2; i < LAYERS; i++) zx[i] = Math.sqrt(-2 * log(AREA / zx[i - 1]! + f(zx[i - 1]!)));
  zx[LAYERS] = 0;
  for (let i = 0; i <= LAYERS; i++) zf[i] = f(zx[i]!);
  zf[0] = f(R); // the base layer's top is the curve at R (its rectangle part is [0, R])
  for (let i = 0; i < LAYERS; i++) zratio[i] = zx[i + 1]! / zx[i]!;
}

/**
 * A standard normal: 7 bits pick the layer, 1 the sign and 24 a point along the layer; inside the
 * part of the layer under the curve everywhere (about 99% of draws) that is the value. Otherwise
 * the tail (layer 0) or the wedge is sampled exactly, by rejection.
 */
function standardNormal(rng: Rng): number {
  return normalFrom(rng.next(), rng);
}

/** standardNormal whose first draw (32 bits) was `u`. */
function normalFrom(u: number, rng: Rng): number {
  for (; ; u = rng.next()) {
    const i = u & (LAYERS - 1);
    const sign = u & LAYERS ? -1 : 1;
    const v = (u >>> 8) * 2 ** -24; // [0, 1)
    if (v < zratio[i]!) return sign * v * zx[i]!;
    if (i === 0) {
      // The tail beyond R (Marsaglia 1964): x = R + a with a exponential, accepted with probability e^(−a²/2).
      for (;;) {
        const a = -log(rng.open()) / R;
        const b = -log(rng.open());
        if (2 * b >= a * a) return sign * (R + a);
      }
    }
    const x = v * zx[i]!;
    // The wedge between x[i+1] and x[i]: a uniform height in the layer, under the curve or not.
    if (zf[i]! + rng.uniform() * (zf[i + 1]! - zf[i]!) < exp(-0.5 * x * x)) return sign * x;
  }
}

/** out[i] = standardNormal(rng) · σ: in WebAssembly where it runs, else in JavaScript (the same values, and the same state of rng after). */
export function normalsInto(out: Float32Array, sigma: number, rng: Rng): Float32Array {
  const fast = fastNormals({ zx, zratio, zf, invFactorial, ln2: { LN2, LN2_HI, LN2_LO } });
  return fast ? fillNormals(out, sigma, rng, fast) : fillNormalsJs(out, sigma, rng);
}

/** out[i] = standardNormal(rng) · σ in JavaScript: where WebAssembly is not available (and for tests). */
export function fillNormalsJs(out: Float32Array, sigma: number, rng: Rng): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = standardNormal(rng) * sigma;
  return out;
}

/**
 * out[i] = standardNormal(rng) · σ, the same values: in WebAssembly a chunk at a time
 * (normals-wasm.ts), each draw it stops on (the tail) finished here from its state.
 */
function fillNormals(out: Float32Array, sigma: number, rng: Rng, m: FastNormals): Float32Array {
  m.sigma[0] = sigma;
  rng.saveTo(m.state);
  for (let pos = 0; pos < out.length; pos += CHUNK) {
    const want = Math.min(CHUNK, out.length - pos);
    for (let done = 0; ; ) {
      m.run(done, want);
      done = m.stop[0]!;
      if (done === want) break;
      rng.loadFrom(m.state);
      m.values[done++] = normalFrom(m.stop[1]! >>> 0, rng) * sigma;
      rng.saveTo(m.state);
    }
    out.set(want === CHUNK ? m.values : m.values.subarray(0, want), pos);
  }
  rng.loadFrom(m.state);
  return out;
}

// ---- the generator ----------------------------------------------------------------------------

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * xoshiro128** (Blackman and Vigna), 128 bits of state, seeded from the seed and a stream name
 * (the weight's checkpoint name) by hashing both.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: string) {
    checkSeed(seed);
    const words = [seed % 2 ** 32, Math.floor(seed / 2 ** 32), ...new TextEncoder().encode(stream)];
    const hash = (salt: number) => {
      let h = fmix32(salt);
      for (const w of words) h = fmix32(Math.imul(h ^ w, 0x5bd1e995) + 0x6b43a9b5);
      return fmix32(h ^ words.length);
    };
    this.a = hash(0x243f6a88);
    this.b = hash(0x85a308d3);
    this.c = hash(0x13198a2e);
    this.d = hash(0x03707344);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the one state xoshiro cannot leave
  }

  /** Writes the state into s[0..4) (for normals-wasm.ts, which runs the same generator). */
  saveTo(s: Int32Array): void {
    s[0] = this.a;
    s[1] = this.b;
    s[2] = this.c;
    s[3] = this.d;
  }

  /** Takes the state from s[0..4). */
  loadFrom(s: Int32Array): void {
    this.a = s[0]!;
    this.b = s[1]!;
    this.c = s[2]!;
    this.d = s[3]!;
  }

  /** The next 32 random bits, as an unsigned integer. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform on [0, 1) with 24 random bits: every value is exactly an f32. */
  uniform(): number {
    return (this.next() >>> 8) * 2 ** -24;
  }

  /** Uniform on [0, 1) with 32 random bits. */
  unit(): number {
    return this.next() * 2 ** -32;
  }

  /** Uniform on (0, 1] with 32 random bits. */
  open(): number {
    return (this.next() + 1) * 2 ** -32;
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));


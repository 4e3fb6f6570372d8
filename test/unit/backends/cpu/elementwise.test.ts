// Unary, cast, binary and where kernels against naive references (one element at a time, with
// broadcasting done by explicit index arithmetic), on random shapes from fast-check: 0-d tensors,
// 0-size dims, every broadcasting pattern, and the kernels' fast paths (same shape, scalar,
// trailing broadcast) as well as the general strided walk.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BinaryOp, UnaryOp } from "../../../../src/ir/ops.js";
import { plainKernels as K } from "../../../../src/backends/cpu/kernels/index.js";
import { erf } from "../../../../src/backends/cpu/kernels/erf.js";
import { allocate, type DType, fromValues, numel, scalar, type Tensor } from "../../../../src/core/tensor.js";
import { broadcastIndex, broadcastShapesArb, expectTensor, f32, fcParams, kernelError, randomTensor, seedFor, unravel } from "./helpers.js";

const seed = seedFor("elementwise.test.ts");

// ---- references -----------------------------------------------------------------------------------

const unaryRef: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  not: (x) => (x ? 0 : 1),
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  erf,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
};

/** Rounds a double result to the dtype the way a typed-array store does. */
function store(dtype: DType, v: number): number {
  if (dtype === "f32") return f32(v);
  if (dtype === "i32") return v | 0 || 0; // ToInt32 (NaN → 0), no -0
  return v ? 1 : 0;
}

function binaryRef(op: BinaryOp, dt: DType, x: number, y: number): number {
  switch (op) {
    case "add": return store(dt, x + y);
    case "sub": return store(dt, x - y);
    case "mul": return dt === "i32" ? Number(BigInt.asIntN(32, BigInt(x) * BigInt(y))) : f32(x * y);
    case "div": return f32(x / y);
    case "mod": return dt === "i32" ? (y === 0 ? 0 : Number(BigInt.asIntN(32, BigInt(x) % BigInt(y)))) : f32(x % y);
    case "pow": return store(dt, x ** y);
    case "maximum": return store(dt, Number.isNaN(x) || Number.isNaN(y) ? NaN : x > y ? x : y);
    case "minimum": return store(dt, Number.isNaN(x) || Number.isNaN(y) ? NaN : x < y ? x : y);
    case "eq": return x === y ? 1 : 0;
    case "ne": return x !== y ? 1 : 0;
    case "lt": return x < y ? 1 : 0;
    case "le": return x <= y ? 1 : 0;
    case "gt": return x > y ? 1 : 0;
    case "ge": return x >= y ? 1 : 0;
    case "and": return x && y ? 1 : 0;
    case "or": return x || y ? 1 : 0;
  }
}

function naiveBinary(op: BinaryOp, a: Tensor, b: Tensor, shape: readonly number[]): number[] {
  const n = numel(shape);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    out.push(binaryRef(op, a.dtype, a.data[broadcastIndex(idx, a.shape)]!, b.data[broadcastIndex(idx, b.shape)]!));
  }
  return out;
}

const arithmetic: BinaryOp[] = ["add", "sub", "mul", "div", "mod", "pow", "maximum", "minimum"];
const comparisons: BinaryOp[] = ["eq", "ne", "lt", "le", "gt", "ge"];
const resultDType = (op: BinaryOp, dt: DType): DType => (comparisons.includes(op) || op === "and" || op === "or" ? "bool" : op === "div" ? "f32" : dt);

/** Operand pairs each binary op takes. */
const cases: { op: BinaryOp; dtype: DType }[] = [
  ...arithmetic.flatMap((op) => (["f32", "i32"] as DType[]).map((dtype) => ({ op, dtype }))),
  ...comparisons.flatMap((op) => (["f32", "i32", "bool"] as DType[]).map((dtype) => ({ op, dtype }))),
  { op: "and", dtype: "bool" },
  { op: "or", dtype: "bool" },
];

// ---- unary ----------------------------------------------------------------------------------------

describe("unary", () => {
  const floatOps: UnaryOp[] = ["exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "sin", "cos", "neg", "abs"];

  it("matches the reference on random f32 shapes, special values included", () => {
    fc.assert(
      fc.property(fc.constantFrom(...floatOps), broadcastShapesArb(1), fc.nat(), (op, { out }, s) => {
        const x = randomTensor("f32", out, s, { special: 0.1, scale: 8 });
        const y = K.unary(op, x);
        expectTensor(y, "f32", out, Array.from(x.data, (v) => f32(unaryRef[op](v))));
      }),
      fcParams(seed),
    );
  });

  it("neg and abs keep i32 (wrapping at -2^31), not negates bool", () => {
    const x = fromValues("i32", [4], [3, -7, 0, -2147483648]);
    expectTensor(K.unary("neg", x), "i32", [4], [-3, 7, 0, -2147483648]);
    expectTensor(K.unary("abs", x), "i32", [4], [3, 7, 0, -2147483648]);
    expectTensor(K.unary("not", fromValues("bool", [3], [1, 0, 1])), "bool", [3], [0, 1, 0]);
  });

  it("handles 0-d and empty tensors", () => {
    expectTensor(K.unary("exp", scalar("f32", 1)), "f32", [], [f32(Math.E)]);
    expectTensor(K.unary("tanh", allocate("f32", [2, 0, 3])), "f32", [2, 0, 3], []);
  });

  it("rejects dtypes the op does not take", () => {
    expect(kernelError(() => K.unary("exp", fromValues("i32", [1], [1])))).toMatch(/exp: input must be f32, got i32/);
    expect(kernelError(() => K.unary("not", fromValues("f32", [1], [1])))).toMatch(/not: input must be bool/);
    expect(kernelError(() => K.unary("neg", fromValues("bool", [1], [1])))).toMatch(/cast it first/);
    expect(kernelError(() => K.unary("nope" as UnaryOp, fromValues("f32", [1], [1])))).toMatch(/unknown op/);
  });

  it("writes into out, in place over its input too", () => {
    const x = fromValues("f32", [3], [0, 1, 2]);
    const out = allocate("f32", [3]);
    expect(K.unary("exp", x, out)).toBe(out);
    expectTensor(out, "f32", [3], [1, f32(Math.E), f32(Math.exp(2))]);
    expect(K.unary("neg", x, x)).toBe(x);
    expectTensor(x, "f32", [3], [-0, -1, -2]);
    expect(kernelError(() => K.unary("exp", x, allocate("f32", [4])))).toMatch(/out has shape \[4\] but the result has shape \[3\]/);
    expect(kernelError(() => K.unary("exp", x, allocate("i32", [3])))).toMatch(/out is i32 but the result is f32/);
  });
});

// ---- cast -----------------------------------------------------------------------------------------

describe("cast", () => {
  it("converts between f32, i32 and bool", () => {
    const x = fromValues("f32", [9], [1.9, -1.9, 0, -0, NaN, Infinity, -Infinity, 3e9, -3e9]);
    expectTensor(K.cast(x, "i32"), "i32", [9], [1, -1, 0, 0, 0, 2147483647, -2147483648, 2147483647, -2147483648]);
    expectTensor(K.cast(x, "bool"), "bool", [9], [1, 1, 0, 0, 1, 1, 1, 1, 1]);
    const i = fromValues("i32", [4], [0, -5, 16777217, 2147483647]);
    expectTensor(K.cast(i, "f32"), "f32", [4], [0, -5, 16777216, 2147483648]);
    expectTensor(K.cast(i, "bool"), "bool", [4], [0, 1, 1, 1]);
    const b = fromValues("bool", [2], [1, 0]);
    expectTensor(K.cast(b, "f32"), "f32", [2], [1, 0]);
    expectTensor(K.cast(b, "i32"), "i32", [2], [1, 0]);
    const same = K.cast(i, "i32");
    expect(same.data).not.toBe(i.data);
    expectTensor(same, "i32", [4], Array.from(i.data));
  });

  it("matches the reference on random shapes", () => {
    const dts: DType[] = ["f32", "i32", "bool"];
    fc.assert(
      fc.property(fc.constantFrom(...dts), fc.constantFrom(...dts), broadcastShapesArb(1), fc.nat(), (from, to, { out }, s) => {
        const x = randomTensor(from, out, s, { special: 0.1, scale: 100 });
        const expected = Array.from(x.data, (v) => (to === "bool" ? (v !== 0 ? 1 : 0) : to === "f32" ? f32(v) : Number.isNaN(v) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(v)))));
        expectTensor(K.cast(x, to), to, out, expected);
      }),
      fcParams(seed),
    );
  });
});

// ---- binary ---------------------------------------------------------------------------------------

describe("binary", () => {
  it("matches the naive broadcast reference for every op and dtype on random shapes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...cases), broadcastShapesArb(2), fc.nat(), fc.boolean(), ({ op, dtype }, { out, shapes }, s, swap) => {
        const [sa, sb] = swap ? [shapes[1]!, shapes[0]!] : [shapes[0]!, shapes[1]!];
        const a = randomTensor(dtype, sa, s, { special: 0.05 });
        const b = randomTensor(dtype, sb, s + 1, { special: 0.05 });
        const y = K.binary(op, a, b);
        expectTensor(y, resultDType(op, dtype), out, naiveBinary(op, a, b, out));
      }),
      fcParams(seed, 1000),
    );
  });

  // The fast paths, each checked on its own (random shapes hit them only sometimes).
  const patterns: [string, number[], number[]][] = [
    ["same shape", [2, 3, 5], [2, 3, 5]],
    ["same elements, extra leading 1s", [1, 6], [6]],
    ["right scalar (0-d)", [3, 4], []],
    ["left scalar (0-d)", [], [3, 4]],
    ["right all-ones", [2, 5], [1, 1]],
    ["trailing [B,T,D] + [D]", [2, 3, 7], [7]],
    ["trailing [B,T,D] + [1,T,D]", [2, 3, 7], [1, 3, 7]],
    ["trailing [D] + [B,T,D]", [7], [2, 3, 7]],
    ["column [B,T,1] + [B,T,D]", [2, 3, 1], [2, 3, 7]],
    ["outer [T,1] + [1,D]", [5, 1], [1, 6]],
    ["middle [B,1,D] + [1,T,1]", [2, 1, 4], [1, 3, 1]],
    ["both 0-d", [], []],
    ["0-size broadcast", [0, 3], [3]],
    ["0-size against 1", [2, 0], [2, 1]],
    ["long rows", [3, 300], [300]],
  ];
  for (const [name, sa, sb] of patterns) {
    it(`fast path: ${name}`, () => {
      for (const { op, dtype } of cases) {
        const a = randomTensor(dtype, sa, 11);
        const b = randomTensor(dtype, sb, 12);
        const shape = K.binary(op, a, b).shape;
        expectTensor(K.binary(op, a, b), resultDType(op, dtype), shape, naiveBinary(op, a, b, shape));
      }
    });
  }

  it("wraps i32 like NumPy: products modulo 2^32, mod by 0 gives 0, mod truncates", () => {
    const a = fromValues("i32", [4], [2147483647, 65537, -7, 7]);
    const b = fromValues("i32", [4], [2, 65537, 2, 0]);
    expectTensor(K.binary("mul", a, b), "i32", [4], [-2, 131073, -14, 0]);
    expectTensor(K.binary("add", a, b), "i32", [4], [-2147483647, 131074, -5, 7]);
    expectTensor(K.binary("mod", a, b), "i32", [4], [1, 0, -1, 0]);
    expectTensor(K.binary("div", a, b), "f32", [4], [f32(2147483647 / 2), 1, -3.5, Infinity]);
  });

  it("propagates NaN through maximum and minimum, and compares NaN as IEEE", () => {
    const a = fromValues("f32", [3], [NaN, 1, NaN]);
    const b = fromValues("f32", [3], [1, NaN, NaN]);
    expectTensor(K.binary("maximum", a, b), "f32", [3], [NaN, NaN, NaN]);
    expectTensor(K.binary("minimum", a, b), "f32", [3], [NaN, NaN, NaN]);
    expectTensor(K.binary("eq", a, b), "bool", [3], [0, 0, 0]);
    expectTensor(K.binary("ne", a, b), "bool", [3], [1, 1, 1]);
  });

  it("rejects mismatched dtypes, bool arithmetic, non-bool logic and shapes that do not broadcast", () => {
    const f = fromValues("f32", [2], [1, 2]);
    const i = fromValues("i32", [2], [1, 2]);
    const t = fromValues("bool", [2], [1, 0]);
    expect(kernelError(() => K.binary("add", f, i))).toMatch(/add: operands have different dtypes \(f32 and i32\)/);
    expect(kernelError(() => K.binary("add", t, t))).toMatch(/add: operands must be f32 or i32, got bool/);
    expect(kernelError(() => K.binary("and", f, f))).toMatch(/and: operands must be bool, got f32/);
    expect(kernelError(() => K.binary("add", f, fromValues("f32", [3], [1, 2, 3])))).toMatch(/add: shapes \[2\] and \[3\] do not broadcast: 2 vs 3 at dim -1/);
  });

  it("reuses out, in place over a full-shape operand, and refuses overlapping broadcast operands", () => {
    const a = randomTensor("f32", [4, 3], 1);
    const b = randomTensor("f32", [3], 2);
    const expected = naiveBinary("add", a, b, [4, 3]);
    const out = allocate("f32", [4, 3]);
    out.data.fill(NaN);
    expect(K.binary("add", a, b, out)).toBe(out);
    expectTensor(out, "f32", [4, 3], expected);
    expect(K.binary("add", a, b, a)).toBe(a);
    expectTensor(a, "f32", [4, 3], expected);
    // out aliasing the broadcast operand's memory would overwrite it while it is still being read.
    const arena = new Float32Array(12);
    const small = { dtype: "f32", shape: [3], data: arena.subarray(0, 3) } as Tensor;
    const big = { dtype: "f32", shape: [4, 3], data: arena } as Tensor;
    expect(kernelError(() => K.binary("add", a, small, big))).toMatch(/out overlaps an input/);
    // Disjoint views of one arena are fine.
    const left = { dtype: "f32", shape: [3], data: arena.subarray(3, 6) } as Tensor;
    K.binary("add", small, small, left);
  });
});

// ---- where ----------------------------------------------------------------------------------------

describe("where", () => {
  it("matches the naive three-way broadcast reference", () => {
    fc.assert(
      fc.property(fc.constantFrom<DType>("f32", "i32", "bool"), broadcastShapesArb(3), fc.nat(), fc.nat(2), (dtype, { out, shapes }, s, rot) => {
        const [sc, sa, sb] = [shapes[rot % 3]!, shapes[(rot + 1) % 3]!, shapes[(rot + 2) % 3]!];
        const c = randomTensor("bool", sc, s);
        const a = randomTensor(dtype, sa, s + 1, { special: 0.05 });
        const b = randomTensor(dtype, sb, s + 2, { special: 0.05 });
        const expected: number[] = [];
        for (let i = 0; i < numel(out); i++) {
          const idx = unravel(i, out);
          expected.push(c.data[broadcastIndex(idx, sc)] ? a.data[broadcastIndex(idx, sa)]! : b.data[broadcastIndex(idx, sb)]!);
        }
        expectTensor(K.where(c, a, b), dtype, out, expected);
      }),
      fcParams(seed, 500),
    );
  });

  it("takes scalar branches (a masked fill) and checks dtypes", () => {
    const c = fromValues("bool", [2, 2], [1, 0, 0, 1]);
    const x = fromValues("f32", [2, 2], [1, 2, 3, 4]);
    expectTensor(K.where(c, x, scalar("f32", -Infinity)), "f32", [2, 2], [1, -Infinity, -Infinity, 4]);
    expect(kernelError(() => K.where(x, x, x))).toMatch(/where: cond must be bool, got f32/);
    expect(kernelError(() => K.where(c, x, scalar("i32", 0)))).toMatch(/different dtypes \(f32 and i32\)/);
  });
});

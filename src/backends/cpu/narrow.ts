// Attention over the keys a block of queries can see. In a causal prefill, the query rows i0 .. i1
// of a head attend to keys 0 .. past + i1 only: the rest of each row's scores are masked out, and
// a fused kernel that computes them all (q · kᵀ, the softmax's exp, p · v) does about twice the
// work it needs. Here a kernel is checked once, from its nodes, for a mask whose false entries
// make a key column contribute nothing; then fused.ts computes each block of rows on the columns
// before the block's last visible key only (`visibleKeys`), with every value whose last dim is
// the keys' cut to that width.
//
// Exactness. A column c past the block's last visible key is masked in every row of the block.
// `narrowing` evaluates the kernel at such a column, as constants (`known`): the mask is false, a
// constant is itself, `where` on a known condition is the branch it takes, an op of known values
// is computed by the primitive kernels. The kernel may narrow when at column c:
// - every reduction over the keys reads its identity there (sum: ±0, max: −∞, min: +∞), which
//   leaves every partial sum or extremum as it was (0 adds nothing to a sum: a + ±0 = a for any a
//   but −0, and no sum of these starts at −0);
// - every matmul whose inner dim is the keys (p · v) reads 0 in its left operand there, so the
//   column adds ±0 to each sequential sum of the GEMM core (the same argument) — unless a masked
//   key's value is ±∞ or NaN, where the whole product would be NaN (0 · ∞) and the narrowed one
//   is not: masked keys are then ignored, as a mask means;
// - every matmul whose output's columns are the keys (q · kᵀ) reads them as the rows of its
//   right operand (transB), so fewer columns are fewer rows of it: each column's sum is the same;
// - no output of the kernel has the keys' width (its masked columns would not be written).
// `0 / x` counts as 0 where x is `maximum(·, c)` of a constant c > 0 (the softmax's guarded
// denominator): x is then ≥ c, or NaN — and a NaN denominator makes every column of the row NaN,
// the visible ones included, so the product is NaN either way.
// So the narrowed block gives the bits of the whole one; the fused tests compare them.
import { equalDims, type Dim } from "../../core/dim.js";
import { arrayFor, runtimeDType, type Tensor } from "../../core/tensor.js";
import type { Graph, Node } from "../../ir/graph.js";
import { ops, type BinaryOp, type UnaryOp } from "../../ir/ops.js";
import type { Kernel } from "../../schedule/kernel.js";
import { binary } from "./kernels/binary.js";
import { cast, unary } from "./kernels/unary.js";
import { where } from "./kernels/where.js";

/** How a kernel's blocks can be cut to their visible keys. */
export interface Narrowing {
  /** The bool value (read from outside the kernel) whose false entries mask a key out. */
  readonly mask: number;
  /** Values, own or read from outside, whose last dim is the keys: their width is a block's visible keys. */
  readonly wide: ReadonlySet<number>;
  /** Each matmul that reads the keys: "n" (its output's columns: its right operand's rows, transB) or "k" (its inner dim: its right operand's rows). */
  readonly matmuls: ReadonlyMap<number, "n" | "k">;
}

const cache = new WeakMap<Kernel, Narrowing | null>();

/** The kernel's narrowing (see the head of this file), or undefined where it has none. */
export function narrowing(k: Kernel, g: Graph, own: readonly Node[]): Narrowing | undefined {
  let hit = cache.get(k);
  if (hit === undefined) cache.set(k, (hit = find(k, g, own) ?? null));
  return hit ?? undefined;
}

function find(k: Kernel, g: Graph, own: readonly Node[]): Narrowing | undefined {
  if (k.kind !== "attention") return undefined;
  const node = (id: number) => g.nodes[id]!;
  // The keys: the columns of the first product whose right operand is read by rows (q · kᵀ).
  const scores = own.find((n) => n.op === "matmul" && n.attrs["transB"]);
  const keys = scores?.shape.at(-1);
  if (!keys) return undefined;
  const mine = new Set(own.map((n) => n.id));
  const isWide = (id: number) => {
    const d = node(id).shape.at(-1);
    return d !== undefined && equalDims(d, keys) === true && constOne(d) === false;
  };
  const wide = new Set<number>();
  const outside = new Set<number>();
  for (const n of own) {
    if (isWide(n.id)) wide.add(n.id);
    n.inputs.forEach((i, at) => {
      if (mine.has(i) || (n.op === "matmul" && at === 1)) return;
      outside.add(i);
      if (isWide(i)) wide.add(i);
    });
  }
  if (k.outputs.some((id) => wide.has(id))) return undefined;
  for (const mask of outside) {
    if (!wide.has(mask) || node(mask).dtype !== "bool") continue;
    const matmuls = check(own, node, wide, mask);
    if (matmuls) return { mask, wide, matmuls };
  }
  return undefined;
}

/** Whether d is the constant 1 (a broadcast column, never the keys). */
function constOne(d: Dim): boolean {
  return d.terms.size === 1 && d.terms.get("") === 1;
}

/** The matmuls' modes where the kernel at a masked column meets the conditions in the head of this file; else undefined. */
function check(own: readonly Node[], node: (id: number) => Node, wide: ReadonlySet<number>, mask: number): Map<number, "n" | "k"> | undefined {
  const known = new Map<number, number>([[mask, 0]]);
  /** A value at a masked column, or undefined where it is not known. */
  const at = (id: number): number | undefined => {
    if (known.has(id)) return known.get(id);
    const n = node(id);
    if (n.op === "const" && n.shape.length === 0 && typeof n.attrs.value === "number") return n.attrs.value;
    return undefined;
  };
  const matmuls = new Map<number, "n" | "k">();
  for (const n of own) {
    const cls = ops[n.op].class;
    const [a, b] = n.inputs;
    if (n.op === "matmul") {
      const outWide = wide.has(n.id), inWide = wide.has(a!);
      if (outWide && inWide) return undefined;
      if (outWide) {
        if (!n.attrs["transB"]) return undefined;
        matmuls.set(n.id, "n");
      } else if (inWide) {
        if (n.attrs["transB"] || !isZero(at(a!))) return undefined;
        matmuls.set(n.id, "k");
      }
      continue;
    }
    if (cls === "reduce") {
      if (!wide.has(a!)) continue;
      const v = at(a!);
      const identity = n.op === "sum" ? isZero(v) : n.op === "max" ? v === -Infinity : n.op === "min" ? v === Infinity : false;
      if (!identity) return undefined;
      continue;
    }
    if (!wide.has(n.id)) continue;
    const v = valueAt(n, at, node);
    if (v !== undefined) known.set(n.id, v);
  }
  return matmuls;
}

const isZero = (v: number | undefined) => v === 0;

/** An elementwise node's value at a masked column from its operands' there (`at`), by the primitive kernels; undefined where one is unknown. */
function valueAt(n: Node, at: (id: number) => number | undefined, node: (id: number) => Node): number | undefined {
  const cls = ops[n.op].class;
  const xs = n.inputs.map(at);
  if (cls === "where") {
    const c = xs[0];
    return c === undefined ? undefined : c ? xs[1] : xs[2];
  }
  // 0 ÷ (a guarded denominator) and 0 × it: 0 (see the head of this file).
  if ((n.op === "div" || n.op === "mul") && isZero(xs[0]) && guarded(node(n.inputs[1]!), node)) return xs[0];
  if (xs.some((x) => x === undefined)) return undefined;
  const scalar = (id: number, x: number): Tensor => {
    const t = { dtype: runtimeDType[node(id).dtype], shape: [], data: arrayFor(runtimeDType[node(id).dtype], 1) } as Tensor;
    t.data[0] = x;
    return t;
  };
  const ts = n.inputs.map((id, i) => scalar(id, xs[i]!));
  const dtype = runtimeDType[n.dtype];
  let out: Tensor;
  if (cls === "unary") out = n.op === "cast" ? cast(ts[0]!, dtype) : unary(n.op as UnaryOp, ts[0]!);
  else if (cls === "binary") out = binary(n.op as BinaryOp, ts[0]!, ts[1]!);
  else return undefined;
  return out.data[0];
}

/** Whether a row's value is `maximum(x, c)` (either order) of a finite constant c > 0: at least c, or NaN. */
function guarded(n: Node, node: (id: number) => Node): boolean {
  if (n.op !== "maximum") return false;
  return n.inputs.some((id) => {
    const c = node(id);
    return c.op === "const" && c.shape.length === 0 && typeof c.attrs.value === "number" && c.attrs.value > 0 && Number.isFinite(c.attrs.value);
  });
}

/**
 * The keys a block sees: 1 + the last column at which any of its rows of the mask is true (a
 * multiple of 8 from 1 on, the GEMM's panel width, at most `width`). `mask` holds the block's rows
 * (`rows` of them, or one broadcast) of `width` columns each.
 */
export function visibleKeys(mask: Uint8Array, rows: number, width: number): number {
  let last = -1;
  for (let i = 0; i < rows; i++) {
    const row = i * width;
    for (let j = width - 1; j > last; j--) {
      if (mask[row + j]) {
        last = j;
        break;
      }
    }
    if (last === width - 1) break;
  }
  return Math.min(width, Math.max(8, (last + 8) & ~7));
}

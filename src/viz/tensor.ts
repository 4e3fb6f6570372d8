// What `tfm viz tensor` draws: an .npy array (any dtype) sliced down to one or two dims, as plain
// numbers with the original index of every row and column kept (so `--slice :,4:8` still calls its
// columns 4..7), and downsampled when it is too big to draw (said in the picture).
import { bf16ToNumber, f16ToNumber } from "../weights/dtypes.js";
import { WeightFileError } from "../weights/errors.js";
import type { NpyArray } from "../weights/npy.js";

/** A 1-D or 2-D view: `values[r * cols + c]`; a 1-D tensor is one row. */
export interface Matrix {
  readonly rank: 1 | 2;
  readonly rows: number;
  readonly cols: number;
  /** The original index along the array's axis of each row and column (after slicing; after downsampling the first index of each block). */
  readonly rowIndex: readonly number[];
  readonly colIndex: readonly number[];
  /** NaN and ±∞ kept as they are (the plot leaves them out and says how many). */
  readonly values: Float64Array;
  readonly bool: boolean;
  /** Set when cells were averaged in blocks to fit: [rows per cell, cols per cell]. */
  readonly downsampled?: readonly [number, number];
}

/** One axis of `--slice`: an index (drops the axis) or a half-open range. */
type Part = { kind: "index"; i: number } | { kind: "range"; start?: number; end?: number };

const bad = (message: string) => new WeightFileError("TFM5212", message);

/** Parses `--slice` as NumPy writes it: `0`, `:,4:8`, `1:,-1` (no steps); axes not named are whole. */
export function parseSlice(text: string): Part[] {
  const int = (s: string, what: string): number => {
    const t = s.trim();
    if (!/^-?\d{1,9}$/.test(t)) throw bad(`--slice ${JSON.stringify(text)}: ${what} ${JSON.stringify(t)} is not an integer`);
    return Number(t);
  };
  return text.split(",").map((p) => {
    const bits = p.split(":");
    if (bits.length === 1) return { kind: "index", i: int(bits[0]!, "the index") };
    if (bits.length > 2) throw bad(`--slice ${JSON.stringify(text)}: steps (a:b:s) are not supported`);
    const [a, b] = bits.map((s) => s.trim());
    return { kind: "range", ...(a ? { start: int(a, "the start") } : {}), ...(b ? { end: int(b, "the end") } : {}) };
  });
}

/** The array's elements as numbers (bool as 0/1, F16/BF16 decoded). */
function numbers(a: NpyArray): (i: number) => number {
  const d = a.data;
  if (a.dtype === "F16") return (i) => f16ToNumber(d[i] as number);
  if (a.dtype === "BF16") return (i) => bf16ToNumber(d[i] as number);
  return (i) => Number(d[i]);
}

/** Slices `a` to at most two dims; an array of rank > 2 needs a slice that leaves at most two. */
export function toMatrix(a: NpyArray, slice?: string): Matrix {
  const parts = slice === undefined ? [] : parseSlice(slice);
  if (parts.length > a.shape.length) throw bad(`--slice ${JSON.stringify(slice)} names ${parts.length} axes; the tensor has ${a.shape.length} ([${a.shape.join(", ")}])`);
  // Per axis: the kept original indices, and whether the axis stays.
  const axes = a.shape.map((n, ax) => {
    const p: Part = parts[ax] ?? { kind: "range" };
    if (p.kind === "index") {
      const i = p.i < 0 ? n + p.i : p.i;
      if (i < 0 || i >= n) throw bad(`--slice ${JSON.stringify(slice)}: index ${p.i} is out of range for axis ${ax} of size ${n}`);
      return { keep: false, idx: [i] };
    }
    const clamp = (v: number | undefined, dflt: number) => (v === undefined ? dflt : Math.min(n, Math.max(0, v < 0 ? n + v : v)));
    const s = clamp(p.start, 0);
    const e = clamp(p.end, n);
    if (e <= s) throw bad(`--slice ${JSON.stringify(slice)}: the range on axis ${ax} (size ${n}) is empty`);
    return { keep: true, idx: Array.from({ length: e - s }, (_, k) => s + k) };
  });
  const kept = axes.filter((x) => x.keep);
  if (kept.length === 0) throw bad(`the tensor [${a.shape.join(", ")}]${slice ? ` sliced by ${JSON.stringify(slice)}` : ""} is a single number: give a slice that keeps one or two axes`);
  if (kept.length > 2) {
    throw bad(`the tensor has ${kept.length} axes left ([${a.shape.join(", ")}]${slice ? ` sliced by ${JSON.stringify(slice)}` : ""}); tfm draws 1-D and 2-D tensors: pick a 2-D slice with --slice, e.g. --slice ${[...Array(kept.length - 2).fill("0"), ":", ":"].join(",")}`);
  }
  const strides = a.shape.map((_, ax) => a.shape.slice(ax + 1).reduce((x, y) => x * y, 1));
  const get = numbers(a);
  const rowsAx = kept.length === 2 ? kept[0]! : { idx: [0] };
  const colsAx = kept[kept.length - 1]!;
  const rows = rowsAx.idx.length;
  const cols = colsAx.idx.length;
  const values = new Float64Array(rows * cols);
  // Walk every combination: the dropped axes contribute a fixed offset.
  const base = axes.reduce((o, x, ax) => (x.keep ? o : o + x.idx[0]! * strides[ax]!), 0);
  const keptAxes = axes.map((x, ax) => (x.keep ? ax : -1)).filter((ax) => ax >= 0);
  const rs = kept.length === 2 ? strides[keptAxes[0]!]! : 0;
  const cs = strides[keptAxes[keptAxes.length - 1]!]!;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = get(base + (kept.length === 2 ? rowsAx.idx[r]! * rs : 0) + colsAx.idx[c]! * cs);
  return { rank: kept.length as 1 | 2, rows, cols, rowIndex: rowsAx.idx, colIndex: colsAx.idx, values, bool: a.dtype === "BOOL" };
}

/** Averages blocks of cells so that a heatmap has at most `maxRows` × `maxCols` cells. */
export function downsample(m: Matrix, maxRows: number, maxCols: number): Matrix {
  const fr = Math.ceil(m.rows / maxRows);
  const fc = Math.ceil(m.cols / maxCols);
  if (fr === 1 && fc === 1) return m;
  const rows = Math.ceil(m.rows / fr);
  const cols = Math.ceil(m.cols / fc);
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      let n = 0;
      for (let i = r * fr; i < Math.min(m.rows, (r + 1) * fr); i++) for (let j = c * fc; j < Math.min(m.cols, (c + 1) * fc); j++) {
        sum += m.values[i * m.cols + j]!;
        n++;
      }
      values[r * cols + c] = sum / n;
    }
  }
  return { ...m, rows, cols, values, bool: false, rowIndex: Array.from({ length: rows }, (_, r) => m.rowIndex[r * fr]!), colIndex: Array.from({ length: cols }, (_, c) => m.colIndex[c * fc]!), downsampled: [fr, fc] };
}

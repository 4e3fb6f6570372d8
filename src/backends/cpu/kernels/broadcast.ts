// NumPy broadcasting and the strided walk the elementwise and layout kernels share.
//
// A kernel describes each operand by its strides in the output's dims (0 where the operand is
// broadcast). `plan` drops size-1 dims and merges adjacent dims that every operand walks
// contiguously, so [B, T, D] + [D] becomes rows of D over B·T, a permute of [B, T, H, Dh] to
// [B, H, T, Dh] becomes rows of Dh, and same-shape operands become a single row. `Rows` then walks
// the rows with an odometer: per row it updates a few offsets; per element nothing is allocated or
// called. The row itself is the kernel's own specialised loop.
import { KernelError } from "../../../core/errors.js";
import { showShape } from "../../../core/tensor.js";

/** The broadcast of shapes by NumPy's rules (align right; each dim equal or 1). */
export function broadcastShapes(kernel: string, ...shapes: (readonly number[])[]): number[] {
  let rank = 0;
  for (const s of shapes) rank = Math.max(rank, s.length);
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else throw new KernelError(kernel, `shapes ${shapes.map(showShape).join(" and ")} do not broadcast: ${o} vs ${d} at dim ${off + i - rank}`);
    }
  }
  return out;
}

/** Strides (in elements) of a contiguous operand of `shape` read in `outShape`'s dims; 0 where broadcast. */
export function broadcastStrides(kernel: string, shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const off = rank - shape.length;
  if (off < 0) throw new KernelError(kernel, `shape ${showShape(shape)} has more dims than ${showShape(outShape)}`);
  const st = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    const o = outShape[off + i]!;
    if (d === o) st[off + i] = d === 1 ? 0 : acc;
    else if (d !== 1) throw new KernelError(kernel, `shape ${showShape(shape)} does not broadcast to ${showShape(outShape)}`);
    acc *= d;
  }
  return st;
}

/** A walk over `shape` (coalesced), with each operand's strides; the output is walked contiguously. */
export interface Plan {
  /** Dims after dropping 1s and merging; [] for a single element. */
  readonly shape: number[];
  /** Per operand, its stride in each of `shape`'s dims. */
  readonly strides: number[][];
}

/** Drops size-1 dims and merges dim i into i+1 where every operand has stride[i] = stride[i+1]·shape[i+1]. */
export function plan(shape: readonly number[], strides: readonly (readonly number[])[]): Plan {
  const keep: number[] = [];
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1) keep.push(i);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const i of keep) {
    const d = shape[i]!;
    const last = outShape.length - 1;
    // Merge with the previous kept dim if every operand continues contiguously into it.
    let merge = last >= 0;
    for (let k = 0; merge && k < strides.length; k++) {
      if (outStrides[k]![last] !== strides[k]![i]! * d) merge = false;
    }
    if (merge) {
      outShape[last] = outShape[last]! * d;
      for (let k = 0; k < strides.length; k++) outStrides[k]![last] = strides[k]![i]!;
    } else {
      outShape.push(d);
      for (let k = 0; k < strides.length; k++) outStrides[k]!.push(strides[k]![i]!);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Walks the rows of a plan: `n` elements per row (the last dim), `count` rows. For each operand,
 * `off[k]` is the offset of the current row's first element and `step[k]` its stride along the row.
 * Call `next()` after each row.
 */
export class Rows {
  readonly n: number;
  readonly count: number;
  readonly step: number[];
  readonly off: number[];
  private readonly dims: number[];
  private readonly strides: number[][];
  private readonly idx: number[];

  constructor(p: Plan) {
    const r = p.shape.length;
    this.n = r === 0 ? 1 : p.shape[r - 1]!;
    let count = 1;
    for (let i = 0; i < r - 1; i++) count *= p.shape[i]!;
    this.count = count;
    this.step = p.strides.map((s) => (r === 0 ? 0 : s[r - 1]!));
    this.off = p.strides.map(() => 0);
    this.dims = p.shape.slice(0, Math.max(0, r - 1));
    this.strides = p.strides.map((s) => s.slice(0, Math.max(0, r - 1)));
    this.idx = this.dims.map(() => 0);
  }

  next(): void {
    const { dims, strides, idx, off } = this;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]!) {
        for (let k = 0; k < off.length; k++) off[k] += strides[k]![d]!;
        return;
      }
      idx[d] = 0;
      for (let k = 0; k < off.length; k++) off[k] -= strides[k]![d]! * (dims[d]! - 1);
    }
  }
}

/** Rows of `outShape` for contiguous operands of the given shapes broadcast into it (output excluded). */
export function broadcastRows(kernel: string, outShape: readonly number[], shapes: readonly (readonly number[])[]): Rows {
  return new Rows(plan(outShape, shapes.map((s) => broadcastStrides(kernel, s, outShape))));
}

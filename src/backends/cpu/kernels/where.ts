// where(cond, a, b): cond ? a : b elementwise, broadcasting all three (cond is bool; a and b share
// a dtype, which is the result's).
import { KernelError } from "../../../core/errors.js";
import { numel, sameShape, type Tensor, type TensorData } from "../../../core/tensor.js";
import { broadcastRows, broadcastShapes } from "./broadcast.js";
import { checkInputs, output, requireDType } from "./util.js";

function row(c: Uint8Array, ci: number, sc: number, a: TensorData, ai: number, sa: number, b: TensorData, bi: number, sb: number, o: TensorData, oi: number, n: number): void {
  if (sc === 1 && sa === 1 && sb === 1) {
    for (let j = 0; j < n; j++) o[oi + j] = c[ci + j] !== 0 ? a[ai + j]! : b[bi + j]!;
  } else {
    for (let j = 0; j < n; j++, ci += sc, ai += sa, bi += sb) o[oi + j] = c[ci] !== 0 ? a[ai]! : b[bi]!;
  }
}

export function where(cond: Tensor, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  checkInputs("where", cond, a, b);
  requireDType("where", cond, ["bool"], "cond");
  if (a.dtype !== b.dtype) throw new KernelError("where", `the two branches have different dtypes (${a.dtype} and ${b.dtype}); the IR must cast one of them`);
  const same = sameShape(cond.shape, a.shape) && sameShape(a.shape, b.shape);
  const shape = same ? a.shape : broadcastShapes("where", cond.shape, a.shape, b.shape);
  const o = output("where", a.dtype, shape, out, [cond, a, b], true);
  const total = numel(shape);
  if (total === 0) return o;
  const c = cond.data as Uint8Array;
  if (same) {
    row(c, 0, 1, a.data, 0, 1, b.data, 0, 1, o.data, 0, total);
    return o;
  }
  const w = broadcastRows("where", shape, [cond.shape, a.shape, b.shape]);
  const n = w.n, off = w.off, sc = w.step[0]!, sa = w.step[1]!, sb = w.step[2]!;
  for (let i = 0, oi = 0; i < w.count; i++, oi += n) {
    row(c, off[0]!, sc, a.data, off[1]!, sa, b.data, off[2]!, sb, o.data, oi, n);
    w.next();
  }
  return o;
}

// A cache-blocked 2-D transpose, used by permute's last-two-dims fast path and by matmul to pack
// B into k-contiguous rows.
import type { TensorData } from "../../../core/tensor.js";

const BLOCK = 32;

/** dst[dOff + c·rows + r] = src[sOff + r·cols + c] for r < rows, c < cols (same array type). */
export function transpose2d(src: TensorData, sOff: number, rows: number, cols: number, dst: TensorData, dOff: number): void {
  if (rows === 1 || cols === 1) {
    const n = rows * cols;
    for (let i = 0; i < n; i++) dst[dOff + i] = src[sOff + i]!;
    return;
  }
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c0 = 0; c0 < cols; c0 += BLOCK) {
      const c1 = Math.min(cols, c0 + BLOCK);
      for (let r = r0; r < r1; r++) {
        const s = sOff + r * cols;
        for (let c = c0; c < c1; c++) dst[dOff + c * rows + r] = src[s + c]!;
      }
    }
  }
}

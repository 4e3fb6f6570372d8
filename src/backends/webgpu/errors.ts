// The WebGPU backend's own failures, each with a stable code from src/diag/codes.ts (TFM7xxx):
// a device too small for the model, no adapter. Run-time errors the CPU would raise too (an index
// out of range, bad inputs) are RunErrors (src/backends/shared/errors.ts: TFM6001, TFM6002) with the CPU's messages.
import type { Code } from "../../diag/codes.js";

export type WebGpuCode = Extract<Code, `TFM7${string}`>;

export class WebGpuError extends Error {
  constructor(readonly code: WebGpuCode, message: string) {
    super(message);
    this.name = "WebGpuError";
  }
}

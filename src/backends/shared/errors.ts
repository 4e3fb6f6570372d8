// The run-time errors every backend raises alike: an index out of range or an empty reduction
// (TFM6001), inputs that do not match the model (TFM6002), a run that needs more memory than its
// budget (TFM6003, budget.ts). The CPU interpreter defines their
// messages; the WebGPU backend gives the same ones, so a model fails the same way on either.
import type { Site } from "../../ir/graph.js";

/** A run-time failure the user can act on (bad input, out-of-range index), with the node involved. */
export class RunError extends Error {
  constructor(readonly code: "TFM6001" | "TFM6002" | "TFM6003", message: string, readonly site?: Site) {
    super(message);
  }
}

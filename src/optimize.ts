// The optimizer as the tools run it: the passes of src/passes/pipeline.ts, with the CPU
// interpreter's semantics for what they compute at compile time (constant folding). The passes
// import no backend; this is where the two meet.
import { evaluateScalar } from "./backends/cpu/evaluate.js";
import type { Graph } from "./ir/graph.js";
import { type Optimized, runPasses } from "./passes/pipeline.js";

/**
 * Runs the passes in order, up to and including `until` (a pass name; "all", the default, runs
 * every pass; "none" runs none). Throws UnknownPass for another name.
 */
export function optimize(g: Graph, opts: { readonly until?: string } = {}): Optimized {
  return runPasses(g, { ...opts, evaluate: evaluateScalar });
}

// A bundle's CPU engine (src/bundle/api.ts's EngineFactory): the CPU interpreter over the decoded
// graph, its RunErrors (TFM6001, TFM6002, TFM6003) as TfmErrors; its products over Web Workers in a
// cross-origin isolated page (kernels/wasm/web-threads.ts). Nothing here may import a Node module statically.
import { CpuProgram } from "../backends/cpu/interpret.js";
import { f16Kernels, halfWeights, int8Kernels, threadedKernels } from "../backends/cpu/kernels/index.js";
import { defaultWebThreads, webThreads } from "../backends/cpu/kernels/wasm/web-threads.js";
import { RunError } from "../backends/shared/errors.js";
import type { EngineFactory } from "./api.js";
import { TfmError } from "./errors.js";

/** The backends' coded errors (TFM6001, TFM6002, TFM6003) as TfmErrors. */
async function coded<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RunError) throw new TfmError(e.code, e.message);
    throw e;
  }
}

export const cpuEngine: EngineFactory = async (graph, weights, options) => {
  // Workers where the page has them (cross-origin isolated), else one thread, said once.
  const pool = await webThreads(options.threads ?? defaultWebThreads(), (m) => console.info(m));
  let program: CpuProgram | undefined;
  try {
    const wd = options.weightsDtype ?? "f32";
    const kernels = wd === "f16" ? f16Kernels(pool.threads) : wd === "int8" ? int8Kernels(pool.threads) : pool.threads > 1 ? threadedKernels(pool.threads) : undefined;
    if (wd !== "f32" && !kernels) throw new TfmError("TFM6004", `weightsDtype "${wd}" needs WebAssembly SIMD, which this engine does not validate`);
    program = await coded(() => new CpuProgram(graph, wd === "f16" ? halfWeights(weights) : weights, kernels, options.maxMemory !== undefined ? { maxMemory: options.maxMemory } : {}));
  } catch (e) {
    pool.release();
    throw e;
  }
  return {
    threads: pool.threads,
    run: (inputs) => coded(() => program!.run(inputs).outputs),
    // Generation keeps the state in the program, in place (src/backends/cpu/cache.ts).
    ...(graph.states.length ? { resident: { run: (inputs, opts) => coded(() => program!.runResident(inputs, opts).outputs) } } : {}),
    dispose() {
      program?.dispose();
      program = undefined;
      pool.release();
    },
  };
};

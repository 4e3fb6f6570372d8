// A bundle's CPU engine (src/bundle/api.ts's EngineFactory): the CPU interpreter over the decoded
// graph, its RunErrors (TFM6001, TFM6002, TFM6003) as TfmErrors. Nothing here may import a Node module statically.
import { CpuProgram } from "../backends/cpu/interpret.js";
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
  let program: CpuProgram | undefined = await coded(() => new CpuProgram(graph, weights, undefined, options.maxMemory !== undefined ? { maxMemory: options.maxMemory } : {}));
  return {
    run: (inputs) => coded(() => program!.run(inputs).outputs),
    // Generation keeps the state in the program, in place (src/backends/cpu/cache.ts).
    ...(graph.states.length ? { resident: { run: (inputs, opts) => coded(() => program!.runResident(inputs, opts).outputs) } } : {}),
    dispose() {
      program = undefined;
    },
  };
};

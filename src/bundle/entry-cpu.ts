// The entry of a CPU bundle: the CPU interpreter (src/backends/cpu/) as the engine. esbuild bundles
// this file with what it imports into one ES module; `tfm build` puts the model's data before it
// as `__tfm_model` (src/bundle/build.ts). Nothing here may import a Node module statically.
import { CpuProgram } from "../backends/cpu/interpret.js";
import { RunError } from "../backends/shared/errors.js";
import { createBundle } from "./api.js";
import { TfmError } from "./errors.js";
import type { ModelData } from "./model-data.js";

declare const __tfm_model: ModelData;

/** The interpreter's RunErrors (TFM6001, TFM6002) as TfmErrors. */
function coded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RunError) throw new TfmError(e.code, e.message);
    throw e;
  }
}

const bundle = createBundle(__tfm_model, (graph, weights) => {
  let program: CpuProgram | undefined = coded(() => new CpuProgram(graph, weights));
  return {
    run: (inputs) => coded(() => program!.run(inputs).outputs),
    dispose() {
      program = undefined;
    },
  };
});

export const load = bundle.load;
export const model = bundle.model;
export { TfmError };

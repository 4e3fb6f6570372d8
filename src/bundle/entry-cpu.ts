// The entry of a CPU bundle: the CPU interpreter (src/backends/cpu/) as the engine. esbuild bundles
// this file with what it imports into one ES module; `tfm build` puts the model's data before it
// as `__tfm_model` (src/bundle/build.ts). Nothing here may import a Node module statically.
import { createBundle } from "./api.js";
import { cpuEngine } from "./engine-cpu.js";
import type { ModelData } from "./model-data.js";

declare const __tfm_model: ModelData;

const bundle = createBundle(__tfm_model, cpuEngine);

export const load = bundle.load;
export const model = bundle.model;
export { TfmError } from "./errors.js";

// The entry of a WebGPU bundle: the model compiled to WGSL and run by WebGpuProgram
// (src/backends/webgpu/; given the graph, it picks the schedule it compiles) on `options.device`,
// or on a device of navigator.gpu's first adapter (src/bundle/engine-webgpu.ts). tfm build puts the
// model's data before it as `__tfm_model` (src/bundle/build.ts).
// Nothing here may import a Node module statically.
import { createBundle } from "./api.js";
import { webgpuEngine } from "./engine-webgpu.js";
import type { ModelData } from "./model-data.js";

declare const __tfm_model: ModelData;

const bundle = createBundle(__tfm_model, webgpuEngine);

export const load = bundle.load;
export const model = bundle.model;
export { TfmError } from "./errors.js";

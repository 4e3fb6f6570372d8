// The runtime alone (the package's `./runtime` entry): a model the compiler made into data
// (`modelData(compile(text), target)`, JSON-serialisable, as `tfm build` embeds it) loaded and run
// without the compiler — the same `load` → `run`/`dispose` as a bundle's, on the data's target. It
// imports nothing of the compiler (no parser, no checker), so an application that ships
// precompiled models pays only for the interpreter or the WGSL runtime it runs.
import { createBundle, type LoadedModel, type LoadOptions, type ModelInfo } from "./api.js";
import { cpuEngine } from "./engine-cpu.js";
import type { ModelData } from "./model-data.js";
import type { WeightsSource } from "./weights.js";

/** Binds a checkpoint to the model described by `data` and prepares it on `data.target`. */
export async function load(data: ModelData, weights: WeightsSource, options: LoadOptions = {}): Promise<LoadedModel> {
  if (data?.format !== 1) throw new TypeError(`load() takes a model's data as modelData() gives it (format 1), got ${data?.format === undefined ? "something else" : `format ${String(data.format)}`}`);
  // The WebGPU runtime is loaded only for a WebGPU model.
  const engine = data.target === "webgpu" ? (await import("./engine-webgpu.js")).webgpuEngine : cpuEngine;
  return createBundle(data, engine).load(weights, options);
}

/** What the model takes and gives: its inputs and outputs with their dtypes and symbolic shapes. */
export function describe(data: ModelData): ModelInfo {
  return { name: data.name, target: data.target, inputs: data.inputs, outputs: data.outputs, ...(data.captures ? { captures: data.captures } : {}) };
}

export { TfmError, type TfmErrorDetails } from "./errors.js";
export type { LoadedModel, LoadOptions, ModelInfo, RunOptions } from "./api.js";
export type { ModelData, PortInfo, Target } from "./model-data.js";
export type { TensorIn, TensorOut } from "./io.js";
export type { WeightsSource } from "./weights.js";

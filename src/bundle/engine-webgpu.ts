/// <reference types="@webgpu/types" />
// A bundle's WebGPU engine (src/bundle/api.ts's EngineFactory): WebGpuProgram on `options.device`,
// or on a device of navigator.gpu's first adapter, requested with the adapter's limits for what
// large models need (as node.ts does in Node); its load-time values computed by the CPU
// interpreter (src/backends/cpu/evaluate.ts). Nothing here may import a Node module statically.
import { loadTimeValues } from "../backends/cpu/evaluate.js";
import { RunError } from "../backends/shared/errors.js";
import { WebGpuError } from "../backends/webgpu/errors.js";
import { limitNames } from "../backends/webgpu/limits.js";
import { WebGpuProgram } from "../backends/webgpu/program.js";
import type { EngineFactory } from "./api.js";
import { TfmError } from "./errors.js";

/** The backends' coded errors (TFM6001/6002 as on the CPU, TFM7xxx for the device) as TfmErrors. */
async function coded<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RunError || e instanceof WebGpuError) throw new TfmError(e.code, e.message);
    throw e;
  }
}

async function defaultDevice(): Promise<GPUDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new TfmError("TFM7003", "there is no WebGPU here (navigator.gpu is missing): pass a GPUDevice as options.device, or run in a browser with WebGPU");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new TfmError("TFM7003", "navigator.gpu.requestAdapter() gave no adapter: WebGPU is disabled or unsupported here");
  const requiredLimits: Record<string, number> = {};
  for (const k of limitNames) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k]!;
  return adapter.requestDevice({ requiredLimits });
}

export const webgpuEngine: EngineFactory = async (graph, weights, options) => {
  const given = options.device as GPUDevice | undefined;
  const device = given ?? (await defaultDevice());
  const program = await coded(() => WebGpuProgram.load(graph, weights, device, { loadTime: loadTimeValues, ...(options.weightsDtype && options.weightsDtype !== "f32" ? { weightsDtype: options.weightsDtype } : {}) }));
  return {
    run: (inputs) => coded(() => program.run(inputs)),
    // The states written once (an encoder–decoder's, passed as `kept`) stay on the device for the sequence.
    ...(program.resident ? { resident: { keepsInputs: true, run: (inputs, opts) => coded(() => program.runResident(inputs, opts)) } } : {}),
    dispose() {
      program.destroy();
      if (!given) device.destroy(); // a device this bundle made is its own to end
    },
  };
};

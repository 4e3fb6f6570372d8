/// <reference types="@webgpu/types" />
// A WebGPU device in Node: Dawn's binding (the `webgpu` package). Without a GPU, Dawn runs on
// SwiftShader's Vulkan driver (shipped with Chromium): VK_ICD_FILENAMES points the Vulkan loader
// at it, and is set here when unset and the driver is installed. The device is requested with the
// adapter's own limits for what large models need (buffer sizes, storage buffers per stage,
// workgroup memory), since WebGPU's defaults are small (a 128 MiB binding cannot hold GPT-2's
// embedding). Node only: device.ts and program.ts take the GPUDevice and never import this.
import { existsSync } from "node:fs";
import { WebGpuError } from "./errors.js";
import { limitNames } from "./limits.js";

export const swiftShaderIcd = "/usr/lib/chromium/vk_swiftshader_icd.json";

export interface NodeGpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** Destroys the device. A process that used Dawn may still need `process.exit()` to end. */
  close(): void;
}

export async function createNodeDevice(): Promise<NodeGpu> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(swiftShaderIcd)) process.env.VK_ICD_FILENAMES = swiftShaderIcd;
  let webgpu: { create: (flags: string[]) => GPU; globals: object };
  try {
    webgpu = (await import("webgpu")) as unknown as typeof webgpu;
  } catch (e) {
    // An optional dependency of tfm: left out by `--omit=optional`, or where its binaries failed to install.
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new WebGpuError("TFM7003", `cannot load Dawn's Node binding (the \`webgpu\` package, an optional dependency of tfm): ${why}; install it with \`npm install webgpu\``);
  }
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    const icd = process.env.VK_ICD_FILENAMES ?? "unset";
    throw new WebGpuError("TFM7003", `no WebGPU adapter (VK_ICD_FILENAMES=${icd}; without a GPU, install chromium and libvulkan1 for SwiftShader's Vulkan driver at ${swiftShaderIcd})`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of limitNames) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k]!;
  const device = await adapter.requestDevice({ requiredLimits });
  // Keep the binding's instance alive as long as the device (Dawn tears down with its GPU object).
  (device as unknown as { gpuInstance?: GPU }).gpuInstance = gpu;
  return { device, adapter, close: () => device.destroy() };
}

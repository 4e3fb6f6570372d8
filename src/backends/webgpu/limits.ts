// Device limits: what the compiled kernels need, checked at build time against WebGPU's default
// limits (a need above a default is a warning: the device must be requested with that limit
// raised, as node.ts does), at load time against the device's (an error, TFM7001), and at run
// time for sizes known only then (buffers, workgroup counts). Workgroup counts above 65,535 in one
// dimension are split over a 2-D or 3-D grid; the kernels recompute their linear index.
import { constValue } from "../../core/dim.js";
import type { CompiledProgram } from "./compile.js";
import { numelDim } from "./codegen/sizes.js";
import { WebGpuError } from "./errors.js";

/** The limits the kernels depend on (a subset of GPUSupportedLimits, by the same names). */
export interface Limits {
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxUniformBufferBindingSize: number;
}

/** WebGPU's default limits (what `requestDevice()` gives without requiredLimits). */
export const defaultLimits: Limits = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxStorageBuffersPerShaderStage: 8,
  maxUniformBufferBindingSize: 65536,
};

export const limitNames = Object.keys(defaultLimits) as (keyof Limits)[];

export interface Need {
  readonly limit: keyof Limits;
  readonly required: number;
  /** What needs it, for messages ("kernel k12", "a load-time buffer"). */
  readonly what: string;
}

/** The largest value of each limit the program needs, as far as it is known before a run. */
export function needs(p: CompiledProgram): Need[] {
  const out = new Map<keyof Limits, Need>();
  const need = (limit: keyof Limits, required: number, what: string) => {
    const had = out.get(limit);
    if (!had || had.required < required) out.set(limit, { limit, required, what });
  };
  for (const k of p.kernels) {
    need("maxComputeInvocationsPerWorkgroup", k.invocations, `kernel k${k.kernel}`);
    need("maxComputeWorkgroupSizeX", k.invocations, `kernel k${k.kernel}`);
    need("maxComputeWorkgroupStorageSize", k.workgroupBytes, `kernel k${k.kernel}`);
    need("maxStorageBuffersPerShaderStage", k.binds.length, `kernel k${k.kernel}`);
  }
  need("maxUniformBufferBindingSize", p.sizeWords * 4, "the sizes uniform");
  const g = p.schedule.graph;
  // Buffers whose size is known now: load-time values, and anything of a static shape.
  for (const n of g.nodes) {
    const count = constValue(numelDim(n.shape));
    if (count === undefined || n.op === "const") continue;
    need("maxStorageBufferBindingSize", count * 4, `a buffer of ${count} elements`);
    need("maxBufferSize", count * 4, `a buffer of ${count} elements`);
  }
  return [...out.values()];
}

/** The needs a device with `limits` does not meet. */
export function unmet(ns: readonly Need[], limits: Limits): Need[] {
  return ns.filter((n) => n.required > limits[n.limit]);
}

/** Build time: each need above WebGPU's default limits, as a TFM7002 warning (the device must raise it). */
export function defaultLimitWarnings(p: CompiledProgram): { readonly code: "TFM7002"; readonly message: string }[] {
  return unmet(needs(p), defaultLimits).map((n) => ({
    code: "TFM7002",
    message: `${n.limit}: ${n.what} needs ${n.required}, above WebGPU's default ${defaultLimits[n.limit]}: request the device with this limit raised (the adapter's own limit)`,
  }));
}

/** Throws TFM7001 unless the device meets every need. */
export function checkDevice(ns: readonly Need[], limits: Limits): void {
  const bad = unmet(ns, limits);
  if (bad.length === 0) return;
  const lines = bad.map((n) => `${n.limit}: ${n.what} needs ${n.required}, the device allows ${limits[n.limit]}`);
  throw new WebGpuError("TFM7001", `the WebGPU device's limits are too small for this model: ${lines.join("; ")}`);
}

/** A workgroup count as a grid of at most `maxPerDim` in each dimension (x fastest). */
export function splitGrid(total: number, maxPerDim: number): [number, number, number] {
  if (total <= maxPerDim) return [total, 1, 1];
  const x = maxPerDim;
  const rest = Math.ceil(total / x);
  if (rest <= maxPerDim) return [x, rest, 1];
  const y = maxPerDim;
  const z = Math.ceil(rest / y);
  if (z > maxPerDim) throw new WebGpuError("TFM7001", `a kernel needs ${total} workgroups, more than ${maxPerDim}³ (maxComputeWorkgroupsPerDimension)`);
  return [x, y, z];
}

/** The limits of a GPUDevice or adapter (any object with the limits' names as properties). */
export function limitsOf(l: Readonly<Record<keyof Limits, number>>): Limits {
  return Object.fromEntries(limitNames.map((k) => [k, Number(l[k])])) as unknown as Limits;
}

// Every TFM7xxx code (the WebGPU device and its limits) is produced: one minimal trigger each. They
// come from devices, not programs, so they have no example in test/errors/.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { constDim, symDim } from "../../src/core/dim.js";
import { codes } from "../../src/diag/codes.js";
import { GraphBuilder } from "../../src/ir/graph.js";
import { compile } from "../../src/backends/webgpu/compile.js";
import { WebGpuError } from "../../src/backends/webgpu/errors.js";
import { defaultLimitWarnings } from "../../src/backends/webgpu/limits.js";
import type { NodeGpu } from "../../src/backends/webgpu/node.js";
import { loadTimeValues } from "../../src/backends/cpu/evaluate.js";
import { WebGpuProgram } from "../../src/backends/webgpu/program.js";
import { unfused } from "../../src/schedule/fuse.js";
import { openGpu } from "./helpers.js";

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.close());

/** x: f32[rows, cols] → exp(x) + x. */
function graph(rows = symDim("n"), cols = constDim(4)) {
  const b = new GraphBuilder("G");
  const x = b.add("input", [], { name: "x" }, "f32", [rows, cols]);
  b.inputs.push({ name: "x", node: x });
  const e = b.add("exp", [x], {}, "f32", [rows, cols]);
  b.outputs.push({ name: "y", node: b.add("add", [e, x], {}, "f32", [rows, cols]) });
  return b.finish();
}

const triggers: Record<string, () => Promise<string[]>> = {
  // A device allowing one storage buffer per stage cannot bind an input and an output.
  TFM7001: async () => {
    const e = await WebGpuProgram.load(graph(), new Map(), gpu.device, { loadTime: loadTimeValues, limits: { maxStorageBuffersPerShaderStage: 1 } }).then(() => undefined, (e: unknown) => e);
    expect((e as Error).message).toMatch(/maxStorageBuffersPerShaderStage: kernel k\d+ needs \d, the device allows 1/);
    return e instanceof WebGpuError ? [e.code] : [];
  },
  // 6000 × 6000 f32 (144 MB) is above the default 128 MiB binding: a warning at build time.
  TFM7002: async () => defaultLimitWarnings(compile(unfused(graph(constDim(6000), constDim(6000))))).map((w) => w.code),
  // No Vulkan driver: no adapter.
  TFM7003: async () => {
    const script = "import { createNodeDevice } from './src/backends/webgpu/node.ts'; createNodeDevice().then(() => console.log('device'), (e) => console.log(e.code)).finally(() => process.exit(0));";
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/icd.json" } });
    return r.stdout.trim().split("\n").filter((l) => /^TFM/.test(l));
  },
};

describe("every TFM7xxx code in the catalogue is produced", () => {
  it("each code has a trigger", () => {
    expect(Object.keys(triggers).sort()).toEqual(Object.keys(codes).filter((c) => c.startsWith("TFM7")).sort());
  });
  for (const [code, trigger] of Object.entries(triggers)) it(code, async () => expect(await trigger()).toContain(code));
});

// `tfm run --backend webgpu`: the same outputs as the CPU's (within 1e-5), fused and op by op; the
// CPU's run-time errors with their codes; no adapter is TFM7003 (in a child process, whose Vulkan
// loader is pointed at no driver).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy } from "../../src/weights/npy.js";
import { swiftShaderIcd } from "../../src/backends/webgpu/node.js";

process.env.VK_ICD_FILENAMES ??= swiftShaderIcd;

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-webgpu-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const small = ["--set", "n_layer=2", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16"];
const run = (...extra: string[]) => ["run", "models/gpt2.tfm", ...small, "--random-weights", "--seed", "3", ...extra];

describe("tfm run --backend webgpu", () => {
  it("gives the CPU's outputs, fused and op by op", async () => {
    const ids = "input_ids=[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]";
    const cpu = await tfm(...run("--input", ids, "-o", join(dir, "cpu")));
    expect(cpu.code).toBe(0);
    const want = readNpy(readFileSync(join(dir, "cpu", "logits.npy")));
    for (const extra of [[], ["--no-fuse"]]) {
      const out = join(dir, `gpu${extra.length}`);
      const r = await tfm(...run("--input", ids, "-o", out, "--backend", "webgpu", ...extra));
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("model GPT2 (batch=2 seq=5 past=0)");
      expect(r.out).toMatch(/\d+ kernels on WebGPU.*, \d+ dispatches/);
      const got = readNpy(readFileSync(join(out, "logits.npy")));
      expect(got.shape).toEqual(want.shape);
      let max = 0;
      for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(Number(got.data[i]) - Number(want.data[i])));
      expect(max).toBeLessThan(1e-5);
    }
  });

  it("reports an index out of range as TFM6001 at the user's line, as the CPU does", async () => {
    const [cpu, gpu] = [await tfm(...run("--input", "input_ids=[[1, 2, 99]]")), await tfm(...run("--input", "input_ids=[[1, 2, 99]]", "--backend", "webgpu"))];
    expect(cpu.code).toBe(1);
    expect(gpu.code).toBe(1);
    expect(gpu.err).toContain("error[TFM6001]");
    expect(gpu.err).toBe(cpu.err);
  });

  it("reports a sequence longer than the position table (a position id out of range) as the CPU does", async () => {
    const ids = `input_ids=[[${Array.from({ length: 17 }, (_, i) => i + 1).join(", ")}]]`;
    const [cpu, gpu] = [await tfm(...run("--input", ids)), await tfm(...run("--input", ids, "--backend", "webgpu"))];
    expect(cpu.err).toContain("index 16 at position [0, 16] is out of range for axis 0 of size 16");
    expect(gpu.code).toBe(1);
    expect(gpu.err).toBe(cpu.err);
  });

  it("without an adapter fails with TFM7003", () => {
    const script = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, ...run("--input", "input_ids=[[1]]", "--backend", "webgpu")], { encoding: "utf8", env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/icd.json" } });
    expect(r.stderr).toContain("error[TFM7003]");
    expect(r.status).toBe(1);
  });
});

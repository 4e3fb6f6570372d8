// `tfm ir --report`: the memory section (src/schedule/memory-report.ts) and `--dims`.
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe("tfm ir --report: memory", () => {
  it("plans the fused schedule's buffers at batch=1, seq=128 by default", async () => {
    const r = await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nmemory plan at batch=1, seq=128: 63 kernels write \d+ values into \d+ buffers, \d+ of them in place\n/);
    expect(r.out).toContain("  peak activations    26,124,800 bytes (24.9 MiB)");
    // The logits dominate; no value of seq² is materialised (HF's position ids are a cumsum of the
    // mask; the causal && padding mask, [batch, 1, seq, seq], is recomputed by the attention kernels).
    expect(r.out).toContain("                      = 204100 * batch * seq\n");
    expect(r.out).toContain("  graph inputs        1,024 bytes (1.0 KiB)          the caller's\n");
  });

  it("evaluates at --dims (comma-separated or repeated)", async () => {
    const r = await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--dims", "batch=2,seq=64");
    expect(r.out).toContain("memory plan at batch=2, seq=64:");
    expect(r.out).toContain(`  peak activations    ${(204100 * 2 * 64).toLocaleString("en-US")} bytes`);
    expect((await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--dims", "batch=2", "--dims", "seq=64")).out).toBe(r.out);
    expect((await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--dims", "seq=1024")).out).toContain("memory plan at batch=1, seq=1024:");
  });

  it("rejects a malformed --dims or a dim the model does not have, exit 2", async () => {
    const bad = await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--dims", "seq=0");
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("tfm: --dims expects name=n with n ≥ 1, separated by commas (batch=1,seq=128), got `seq=0`\n");
    const unknown = await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--dims", "tokens=3");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe("tfm: --dims: the model has no dim `tokens`; its dims are batch, seq\n");
  });

  it("documents --dims in --help", async () => {
    const r = await tfm("ir", "--help");
    expect(r.out.replace(/\s+/g, " ")).toContain("--dims <name=n,...> with --report: the dim values to evaluate memory sizes at (repeatable; default batch=1 and 128 for any other dim, e.g. seq=128)");
  });
});

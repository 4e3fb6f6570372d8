// The `tfm` command: exit codes, output, and the installed bin on the built code.
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const scratch = mkdtempSync(join(tmpdir(), "tfm-cli-"));
const file = (name: string, text: string) => {
  const p = join(scratch, name);
  writeFileSync(p, text);
  return p;
};

describe("tfm check", () => {
  it("checks a model and prints its summary, exit 0", async () => {
    const r = await tfm("check", "models/gpt2.tfm");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("models/gpt2.tfm: ok");
    expect(r.out).toContain("inputs      input_ids: i32[batch, seq]");
    expect(r.out).toContain("outputs     logits: f32[batch, seq, 50257]");
    expect(r.out).toContain("148 tensors, 124,439,808 values, 474.7 MiB");
  });

  it("checks Llama at TinyLlama-1.1B's config (its defaults) and at Llama-2-7B's: Hugging Face's weight counts", async () => {
    const r = await tfm("check", "models/llama.tfm");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("outputs     logits: f32[batch, seq, 32000]");
    expect(r.out).toContain("201 tensors, 1,100,048,384 values, 4.1 GiB");
    const llama2 = ["hidden_size=4096", "intermediate_size=11008", "num_hidden_layers=32", "num_key_value_heads=32", "rms_norm_eps=1e-6"];
    const r7 = await tfm("check", "models/llama.tfm", ...llama2.flatMap((s) => ["--set", s]));
    expect(r7.code).toBe(0);
    expect(r7.out).toContain("291 tensors, 6,738,415,616 values");
  });

  it("applies --set and reports unknown parameters", async () => {
    expect((await tfm("check", "models/gpt2.tfm", "--set", "n_layer=2")).out).toContain("n_layer=2");
    const bad = await tfm("check", "models/gpt2.tfm", "--set", "n_layers=2");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("error[TFM2013]: model `GPT2` has no parameter `n_layers` (from --set)");
  });

  it("renders diagnostics with location, source line and carets, exit 1", async () => {
    const p = file("bad.tfm", "model M {\n  input x: f32[n]\n  output y = relu(xx)\n}\n");
    const r = await tfm("check", p);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${p}:3:19: error[TFM2001]: \`xx\` is not defined`);
    expect(r.err).toContain("3 |   output y = relu(xx)\n  | " + " ".repeat(18) + "^^");
    expect(r.err).toContain("help: did you mean `x`?");
  });

  it("checks several files in one run and fails if any fails", async () => {
    const good = file("good.tfm", "model M {\n  input x: f32[n]\n  output y = relu(x)\n}\n");
    const bad = file("bad2.tfm", "model M {");
    const r = await tfm("check", good, bad, "-q");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(`${bad}: 1 error(s)`);
    expect((await tfm("check", good, "models/gpt2.tfm")).code).toBe(0);
  });

  it("gives diagnostics to tools as JSON", async () => {
    const p = file("j.tfm", "model M {\n  input x: f32[n]\n  output y = relu(xx)\n}\n");
    const r = await tfm("check", "--json", p);
    const [entry] = JSON.parse(r.out);
    expect(entry.ok).toBe(false);
    expect(entry.diagnostics[0]).toMatchObject({ code: "TFM2001", severity: "error", span: { start: { line: 3, column: 19 }, end: { line: 3, column: 21 } }, notes: ["did you mean `x`?"] });
  });

  it("reports invalid UTF-8 as a diagnostic", async () => {
    const p = join(scratch, "latin1.tfm");
    writeFileSync(p, Buffer.from([0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x20, 0xe9]));
    const r = await tfm("check", p);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM1013]");
  });

  it("exits 2 on usage errors and 0 on --help", async () => {
    expect(await tfm("check", "no-such-file.tfm")).toMatchObject({ code: 2, err: "tfm: cannot read no-such-file.tfm: no such file\n" });
    expect((await tfm("check", "--bogus", "x")).code).toBe(2);
    expect((await tfm("check")).code).toBe(2);
    expect((await tfm("frobnicate")).code).toBe(2);
    expect((await tfm("check", "models/gpt2.tfm", "--set", "oops")).code).toBe(2);
    const help = await tfm("--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("Usage: tfm [options] [command]");
    expect((await tfm("check", "--help")).out).toContain("--set <name=value>");
  });
});

describe("tfm shapes", () => {
  it("prints every binding's shape and every weight with totals", async () => {
    const r = await tfm("shapes", "models/gpt2.tfm", "--set", "n_layer=2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/binding heads\s+f32\[batch, 12, seq, 64\]/);
    expect(r.out).toMatch(/output  logits\s+f32\[batch, seq, 50257\]/);
    expect(r.out).toMatch(/h\.1\.attn\.c_attn\.weight\s+\[768, 2304\]\s+1,769,472/);
    expect(r.out).toContain("total: 28 tensors, 53,561,088 values, 204.3 MiB");
    const j = JSON.parse((await tfm("shapes", "--json", "models/bert.tfm")).out);
    expect(j.total).toEqual({ tensors: 199, values: 109_482_240, bytes: 437_928_960 });
  });

  it("lists the states written once (an encoder–decoder's cross-attention keys and values) with their bytes per sequence", async () => {
    const r = await tfm("shapes", "models/transformer.tfm", "--set", "num_encoder_layers=1", "--set", "num_decoder_layers=1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/decoder\.layers\.0\.self_attn\.k_cache\s+f32\[batch, 8, past, 64\]\s+2048 \* batch\n/);
    expect(r.out).toMatch(/decoder\.layers\.0\.multihead_attn\.k_memory\s+f32\[batch, 8, src_len, 64\]\s+2048 \* batch \* src_len \(once per sequence\)/);
    expect(r.out).toMatch(/tgt_mask_cache\s+i32\[batch, past\]\s+4 \* batch\n/);
    expect(r.out).toContain("total: 6 tensors, 4100 * batch bytes per position (past + seq positions after a call) + 4100 * batch * src_len bytes written once per sequence (3 tensors)");
    const j = JSON.parse((await tfm("shapes", "--json", "models/transformer.tfm", "--set", "num_decoder_layers=1")).out) as { states: { name: string; bytesPerPosition?: string; bytesPerSequence?: string }[] };
    expect(j.states.find((s) => s.name === "src_mask_cache")).toEqual({ name: "src_mask_cache", dtype: "i32", shape: ["batch", "src_len"], bytesPerSequence: "4 * batch * src_len" });
  });

  it("exits 1 with diagnostics on a shape error", async () => {
    const p = file("shape-err.tfm", "model M(d = 10, h = 3) {\n  input x: f32[b, t, d]\n  layer attn = MultiheadAttention(d, h)\n  output y = attn(x, x, x)\n}\n");
    const r = await tfm("shapes", p);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${p}:4:14: error[TFM3001]: 10 / 3 is not a whole number`);
  });
});

describe("tfm ir", () => {
  const small = ["--set", "n_layer=1", "--set", "n_embd=8", "--set", "n_head=2", "--set", "vocab_size=11", "--set", "n_positions=16"];

  it("--phase prints an encoder–decoder's encode or step graph", async () => {
    const tiny = ["models/transformer.tfm", "--set", "num_encoder_layers=1", "--set", "num_decoder_layers=1", "--set", "d_model=8", "--set", "nhead=2", "--set", "dim_feedforward=16", "--set", "src_vocab_size=11", "--set", "tgt_vocab_size=13"];
    const step = await tfm("ir", ...tiny, "--phase", "step", "--after", "all");
    expect(step.code).toBe(0);
    expect(step.out).toMatch(/^graph Transformer\(tgt: i32\[batch, tgt_len\], tgt_mask: i32\[batch, tgt_len\], src_mask_cache: i32\[batch, src_len\], decoder\.layers\.0\.multihead_attn\.k_memory: f32\[batch, 2, src_len, 4\]/);
    expect(step.out).not.toContain('weight "encoder.');
    const encode = await tfm("ir", ...tiny, "--phase", "encode", "--kernels");
    expect(encode.code).toBe(0);
    expect(encode.out).toMatch(/^graph Transformer\(src: i32\[batch, src_len\], src_mask: i32\[batch, src_len\]\) -> \(src_mask_cache: /);
    expect(encode.out).toContain("schedule Transformer:");
    expect((await tfm("ir", "models/gpt2.tfm", "--phase", "step")).code).toBe(2);
    expect((await tfm("ir", ...tiny, "--phase", "decode")).code).toBe(2);
  });

  it("prints the IR as built by default, or after a pass with --after", async () => {
    const built = await tfm("ir", "models/gpt2.tfm", ...small);
    expect(built.code).toBe(0);
    expect(built.out).toBe(readFileSync("test/golden/ir/gpt2.ir", "utf8"));
    expect((await tfm("ir", "models/gpt2.tfm", ...small, "--after", "none")).out).toBe(built.out);
    expect((await tfm("ir", "models/gpt2.tfm", ...small, "--after", "all")).out).toBe(readFileSync("test/golden/ir/gpt2.opt.ir", "utf8"));
    const simplified = (await tfm("ir", "models/gpt2.tfm", ...small, "--after", "simplify")).out;
    expect(built.out).toContain(" = dropout ");
    expect(simplified).not.toContain(" = dropout ");
    expect(simplified).not.toContain("transB");
  });

  it("prints what each pass changed with --report", async () => {
    const r = await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^pass +nodes +kernels\nfold-constants +1028 → 1028 +\d+ → \d+ +no change\nsimplify +1028 → 975 +\d+ → \d+ +-12 add, -37 dropout, -4 slice\n/);
    expect(r.out).toMatch(/\ntotal +1028 → 893 +\d+ → 63 /);
    expect(r.out).toMatch(/\nfuse: 893 nodes → 63 kernels \(1 op, 1 elementwise, 49 matmul, 12 attention\); 682 unfused\n/);
    expect((await tfm("ir", "models/gpt2.tfm", "--set", "use_cache=false", "--report", "--after", "simplify")).out.split("\n").filter((l) => /^\S+ +\d+ → \d+ +\d+ → \d+ /.test(l)).length).toBe(3);
  });

  it("prints the fused kernels with --kernels", async () => {
    const r = await tfm("ir", "models/gpt2.tfm", ...small, "--after", "all", "--kernels");
    expect(r.code).toBe(0);
    expect(r.out).toContain(readFileSync("test/golden/ir/gpt2.opt.ir", "utf8"));
    expect(r.out).toContain(readFileSync("test/golden/ir/gpt2.kernels", "utf8"));
  });

  it("rejects an unknown pass, exit 2", async () => {
    const r = await tfm("ir", "models/gpt2.tfm", "--after", "fusion");
    expect(r.code).toBe(2);
    expect(r.err).toBe("tfm: --after: no pass `fusion`; the passes are: none, fold-constants, simplify, fold-transpose, cse, merge-qkv, dce, all\n");
  });
});

describe("tfm fmt", () => {
  const messy = "model  M{input x:f32[n]\n\n\n   output y=relu( x )}";
  const canonical = "model M {\n  input x: f32[n]\n\n  output y = relu(x)\n}\n";

  it("prints canonical text", async () => {
    expect(await tfm("fmt", file("m.tfm", messy))).toEqual({ code: 0, out: canonical, err: "" });
  });

  it("--check lists unformatted files; --write rewrites them", async () => {
    const p = file("w.tfm", messy);
    expect(await tfm("fmt", "--check", p)).toMatchObject({ code: 1, out: `${p}: would be reformatted\n` });
    expect((await tfm("fmt", "--write", p)).code).toBe(0);
    expect(readFileSync(p, "utf8")).toBe(canonical);
    expect(await tfm("fmt", "--check", p)).toMatchObject({ code: 0, out: "" });
  });

  it("never touches a file with syntax errors", async () => {
    const p = file("broken.tfm", "model M { input x: }");
    const r = await tfm("fmt", "--write", p);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM1003]");
    expect(readFileSync(p, "utf8")).toBe("model M { input x: }");
  });

  it("every model in models/ is already formatted", async () => {
    expect(await tfm("fmt", "--check", "models/gpt2.tfm")).toMatchObject({ code: 0, out: "" });
  });
});

describe("the installed command", () => {
  it("bin/tfm.js runs the built CLI", { timeout: 300_000 }, async () => {
    await promisify(execFile)("npx", ["tsc", "-p", "tsconfig.json"]); // the same build `npm run build` runs (asynchronously: the worker keeps answering vitest)
    const r = spawnSync(process.execPath, ["bin/tfm.js", "check", "models/gpt2.tfm"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("148 tensors");
    expect(spawnSync(process.execPath, ["bin/tfm.js", "check"], { encoding: "utf8" }).status).toBe(2);
  });
});

describe("tfm --help", () => {
  it("names the optimizer's passes as the pipeline runs them (main.ts lists them without loading the passes)", async () => {
    const { passNames } = await import("../../src/cli/main.js");
    const { passes } = await import("../../src/passes/pipeline.js");
    expect([...passNames]).toEqual(passes.map((p) => p.name));
  });
});

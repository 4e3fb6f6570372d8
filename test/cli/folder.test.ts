// Hugging Face-shaped folders (test/fixtures/hf_folder.py, built with Debian's PyTorch) run with
// `tfm run models/gpt2.tfm --weights DIR` and no other flag: sharded safetensors with
// model.safetensors.index.json, pytorch_model.bin (f16, a tied storage, a transposed view) and
// sharded pytorch_model.bin.index.json; names under `transformer.`, config.json setting the
// parameters. The logits are compared with PyTorch's (float64, rounded to f32); the max abs error
// is printed. BertModel folders (under `bert.`, safetensors and .bin) run models/bert.tfm the same way.
// Without python3 + torch the test fails (CI must have them), as the fixtures' tests do.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy } from "../../src/weights/npy.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const script = fileURLToPath(new URL("../fixtures/hf_folder.py", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tfm-folder-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe("tfm run --weights DIR on Hugging Face folders built by PyTorch", () => {
  let built = false;
  const build = () => {
    if (built) return;
    const r = spawnSync(python, [script, dir], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${python} ${script} failed (${r.status ?? r.signal}): ${r.error?.message ?? r.stderr}`);
    built = true;
  };

  for (const [folder, what] of [
    ["gpt2", "sharded model.safetensors.index.json"],
    ["gpt2_bin", "pytorch_model.bin (f16, tied storage, a transposed view)"],
    ["gpt2_bin_sharded", "sharded pytorch_model.bin.index.json"],
  ] as const) {
    it(`${folder}: ${what} equals PyTorch`, async () => {
      build();
      const d = join(dir, folder);
      const out = join(dir, `out-${folder}`);
      const r = await tfm("run", "models/gpt2.tfm", "--weights", d, "--input", `input_ids=${join(d, "input_ids.npy")}`, "-o", out);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain("output logits: f32[2, 9, 97]");
      expect(r.err).toMatch(/lm_head\.weight/); // the tied copy: dropped, said once
      const got = readNpy(readFileSync(join(out, "logits.npy")));
      const want = readNpy(readFileSync(join(d, "logits.npy")));
      expect(got.shape).toEqual(want.shape);
      const a = got.data as Float32Array;
      const b = want.data as Float32Array;
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
      console.log(`${folder}: max abs error vs PyTorch ${max.toExponential(2)} over ${a.length} logits`);
      expect(max).toBeLessThan(1e-4);
    }, 180_000);
  }

  for (const [folder, what] of [
    ["bert", "model.safetensors"],
    ["bert_bin", "pytorch_model.bin"],
  ] as const) {
    it(`${folder}: models/bert.tfm from a BertForPreTraining-shaped folder (${what}, names under bert., config.json) equals PyTorch`, async () => {
      build();
      const d = join(dir, folder);
      const out = join(dir, `out-${folder}`);
      const inputs = ["input_ids", "attention_mask", "token_type_ids"].flatMap((k) => ["--input", `${k}=${join(d, `${k}.npy`)}`]);
      const r = await tfm("run", "models/bert.tfm", "--weights", d, ...inputs, "-o", out);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain("stripped it to bind");
      expect(r.out).toContain("output pooler_output: f32[2, 32]");
      const errs = ["last_hidden_state", "pooler_output"].map((name) => {
        const got = readNpy(readFileSync(join(out, `${name}.npy`))).data as Float32Array;
        const want = readNpy(readFileSync(join(d, `${name}.npy`))).data as Float32Array;
        expect(got.length).toBe(want.length);
        let max = 0;
        for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
        return max;
      });
      console.log(`${folder}: max abs error vs PyTorch, last_hidden_state ${errs[0]!.toExponential(2)}, pooler_output ${errs[1]!.toExponential(2)}`);
      for (const e of errs) expect(e).toBeLessThan(1e-4);
    }, 180_000);
  }

  it("tfm generate --weights DIR: the folder's config.json sets the parameters; the first token is PyTorch's argmax", async () => {
    build();
    const d = join(dir, "gpt2");
    const ids = readNpy(readFileSync(join(d, "input_ids.npy")));
    const logits = readNpy(readFileSync(join(d, "logits.npy")));
    const [, T, V] = logits.shape as [number, number, number];
    const prompt = Array.from({ length: T }, (_, t) => Number(ids.data[t]));
    const last = Array.from({ length: V }, (_, v) => Number(logits.data[(T - 1) * V + v]));
    const r = await tfm("generate", "models/gpt2.tfm", "--weights", d, "--input-ids", prompt.join(","), "--max-new-tokens", "1", "--json");
    expect(r.code, r.err).toBe(0);
    const want = last.indexOf(Math.max(...last));
    expect(JSON.parse(r.out).tokens).toEqual([want]);
    // With the folder's tokenizer.json (a WordLevel vocabulary `w0` … `w96`), --prompt needs no --tokenizer.
    const vocab = Object.fromEntries(Array.from({ length: V }, (_, i) => [`w${i}`, i]));
    writeFileSync(join(d, "tokenizer.json"), JSON.stringify({ version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null, model: { type: "WordLevel", vocab, unk_token: "w0" } }));
    const t = await tfm("generate", "models/gpt2.tfm", "--weights", d, "--prompt", prompt.map((i) => `w${i}`).join(" "), "--max-new-tokens", "1", "--json");
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).tokens).toEqual([want]);
  }, 180_000);
});

// `tfm generate`: ids in (--input-ids) and out (--json), text through a tokenizer.json the test
// writes (WordLevel, read by @huggingface/tokenizers) and GPT-2's built-in BPE, stopping at the
// tokenizer's end-of-text token, seeded sampling, and the errors a user can make, each with a code.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function tfm(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-generate-cli-"));
const tokenizer = join(dir, "tokenizer.json");
const words = ["<|endoftext|>", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "[UNK]"];
writeFileSync(tokenizer, JSON.stringify({
  version: "1.0", truncation: null, padding: null, normalizer: null, post_processor: null,
  added_tokens: [{ id: 0, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  pre_tokenizer: { type: "Whitespace" },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordLevel", vocab: Object.fromEntries(words.map((w, i) => [w, i])), unk_token: "[UNK]" },
}));
const tiny = ["models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2", "--set", "vocab_size=10", "--random-weights"];

describe("tfm generate", () => {
  it("takes ids and prints tokens as JSON; the same seed gives the same tokens", async () => {
    const r = await tfm("generate", ...tiny, "--input-ids", "1,2,3", "--max-new-tokens", "6", "--stop", "", "--json");
    expect(r.code).toBe(0);
    const { tokens } = JSON.parse(r.out) as { tokens: number[] };
    expect(tokens).toHaveLength(6);
    const sampled = async () => JSON.parse((await tfm("generate", ...tiny, "--input-ids", "1,2,3", "--max-new-tokens", "8", "--temperature", "1.5", "--seed", "4", "--stop", "", "--json")).out).tokens;
    expect(await sampled()).toEqual(await sampled());
  });

  it("reads a Hugging Face tokenizer.json, streams text after the prompt, and stops at its end-of-text token", async () => {
    const r = await tfm("generate", ...tiny, "--tokenizer", tokenizer, "--prompt", "the quick brown fox", "--max-new-tokens", "20");
    expect(r.code).toBe(0);
    expect(r.out.startsWith("the quick brown fox")).toBe(true);
    const j = JSON.parse((await tfm("generate", ...tiny, "--tokenizer", tokenizer, "--prompt", "the quick brown fox", "--max-new-tokens", "20", "--json")).out) as { tokens: number[]; text: string };
    // Generation ends at <|endoftext|> (id 0) or after 20 tokens.
    expect(j.tokens.length === 20 || j.tokens.at(-1) === 0).toBe(true);
    expect(j.tokens.slice(0, -1)).not.toContain(0);
    expect(r.out.trim()).toBe(`the quick brown fox ${j.text}`.trim());
    expect(r.err).toMatch(/tokens from a 4-token prompt with its KV cache/);
  });

  it("generates a batch from several --input-ids or --prompt of different lengths: each sequence as it is alone", async () => {
    const alone = async (ids: string) => (JSON.parse((await tfm("generate", ...tiny, "--input-ids", ids, "--max-new-tokens", "5", "--stop", "", "--json")).out) as { tokens: number[] }).tokens;
    const r = await tfm("generate", ...tiny, "--input-ids", "1,2,3,4,5", "--input-ids", "6,7", "--input-ids", "8", "--max-new-tokens", "5", "--stop", "", "--json");
    expect(r.code).toBe(0);
    const { tokens } = JSON.parse(r.out) as { tokens: number[][] };
    expect(tokens).toEqual([await alone("1,2,3,4,5"), await alone("6,7"), await alone("8")]);
    const t = await tfm("generate", ...tiny, "--tokenizer", tokenizer, "--prompt", "the quick brown fox", "--prompt", "lazy dog", "--max-new-tokens", "4", "--stop", "");
    expect(t.code).toBe(0);
    const lines = t.out.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^the quick brown fox/);
    expect(lines[1]).toMatch(/^lazy dog/);
    expect(t.err).toContain("a batch of 2 (prompts of 4, 2 tokens, left-padded)");
  });

  it("has GPT-2's tokenizer built in", async () => {
    const r = await tfm("generate", "models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2", "--random-weights", "--tokenizer", "gpt2", "--prompt", "The quick brown fox", "--max-new-tokens", "2", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).tokens).toHaveLength(2);
  });

  it("reports bad input with a code, never a stack trace", async () => {
    const notTokenizer = join(dir, "not.json");
    writeFileSync(notTokenizer, JSON.stringify({ hello: 1 }));
    const cases: [string[], RegExp][] = [
      [["--tokenizer", notTokenizer, "--prompt", "the"], /TFM8005/],
      [["--tokenizer", join(dir, "missing.json"), "--prompt", "the"], /TFM8005/],
      [["--input-ids", "1,12"], /TFM8004/],
      [["--input-ids", "1,2", "--top-p", "3"], /TFM8002/],
      [["--input-ids", Array(1030).fill(1).join(",")], /TFM8003/],
    ];
    for (const [args, code] of cases) {
      const r = await tfm("generate", ...tiny, ...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err, args.join(" ")).toMatch(code);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    expect((await tfm("generate", ...tiny)).code).toBe(2); // neither --prompt nor --input-ids
    expect((await tfm("generate", ...tiny, "--prompt", "the")).code).toBe(2); // --prompt without --tokenizer
    expect((await tfm("generate", ...tiny, "--input-ids", "1,x")).code).toBe(2);
  });

  describe("an encoder–decoder (models/transformer.tfm)", () => {
    const settings = { d_model: 16, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 1, dim_feedforward: 32, src_vocab_size: 10, tgt_vocab_size: 10 };
    const encdec = ["models/transformer.tfm", ...Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`]), "--random-weights", "3"];
    const sessionTokens = async (src: number[][], mask: number[][]) => {
      const { compile } = await import("../../src/compile.js");
      const { readFileSync } = await import("node:fs");
      const s = await compile(readFileSync("models/transformer.tfm", "utf8"), { file: "models/transformer.tfm", settings }).load({ random: true, seed: 3 });
      const steps: number[][] = [];
      for await (const t of s.generate(src.map(() => [1]), { maxNewTokens: 6, source: { src: { data: src }, src_mask: { data: mask } } })) steps.push(t);
      s.dispose();
      return src.map((_, b) => steps.map((t) => t[b]!));
    };

    it("takes the source as ids (a batch: padded at the end, masked) or as --input, and starts from decoder_start_token_id", async () => {
      const r = await tfm("generate", ...encdec, "--source-ids", "4,5,6,7", "--source-ids", "8,9", "--max-new-tokens", "6", "--stop", "", "--json");
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { tokens: number[][] }).tokens).toEqual(await sessionTokens([[4, 5, 6, 7], [8, 9, 0, 0]], [[1, 1, 1, 1], [1, 1, 0, 0]]));
      const one = await tfm("generate", ...encdec, "--input", "src=[[4,5,6,7]]", "--start-token", "1", "--max-new-tokens", "6", "--stop", "", "--json");
      expect(one.code, one.err).toBe(0);
      expect([(JSON.parse(one.out) as { tokens: number[] }).tokens]).toEqual(await sessionTokens([[4, 5, 6, 7]], [[1, 1, 1, 1]]));
      // Streamed: the tokens, after the summary's mention of the source.
      const streamed = await tfm("generate", ...encdec, "--source-ids", "4,5,6,7", "--max-new-tokens", "6", "--stop", "");
      expect(streamed.out.trim()).toBe((JSON.parse(one.out) as { tokens: number[] }).tokens.join(" "));
      expect(streamed.err).toContain("from the source (src, src_mask) and start token 1 with its KV cache");
    });

    it("takes target prompts of different lengths (--input-ids per source): each sequence as it is alone", async () => {
      const alone = async (src: string, ids: string) => (JSON.parse((await tfm("generate", ...encdec, "--source-ids", src, "--input-ids", ids, "--max-new-tokens", "5", "--stop", "", "--json")).out) as { tokens: number[] }).tokens;
      const r = await tfm("generate", ...encdec, "--source-ids", "4,5,6,7", "--source-ids", "8,9", "--input-ids", "1,3,5", "--input-ids", "1", "--max-new-tokens", "5", "--stop", "", "--json");
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { tokens: number[][] }).tokens).toEqual([await alone("4,5,6,7", "1,3,5"), await alone("8,9", "1")]);
    });

    it("takes the source as text through the tokenizer, and prints the generated text", async () => {
      const r = await tfm("generate", ...encdec, "--tokenizer", tokenizer, "--source", "the quick brown fox", "--max-new-tokens", "6", "--stop", "", "--json");
      expect(r.code, r.err).toBe(0);
      const got = JSON.parse(r.out) as { tokens: number[]; text: string };
      expect([got.tokens]).toEqual(await sessionTokens([[1, 2, 3, 4]], [[1, 1, 1, 1]]));
      // Streamed, the same text (after the start token, which is not printed).
      const streamed = await tfm("generate", ...encdec, "--tokenizer", tokenizer, "--source", "the quick brown fox", "--max-new-tokens", "6", "--stop", "");
      expect(streamed.code, streamed.err).toBe(0);
      expect(streamed.out.trim()).toBe(got.text.trim());
      expect((await tfm("generate", ...encdec, "--source", "the fox", "--max-new-tokens", "2")).code).toBe(2); // --source without --tokenizer
    });

    it("what is missing is an error with a code", async () => {
      const none = await tfm("generate", ...encdec, "--input-ids", "1", "--max-new-tokens", "2");
      expect(none.code).toBe(1);
      expect(none.err).toContain("error[TFM5202]: input `src` (i32[batch, src_len]) is required");
      const gpt2 = await tfm("generate", ...tiny, "--source-ids", "1,2", "--max-new-tokens", "2");
      expect(gpt2.code).toBe(1);
      expect(gpt2.err).toContain("error[TFM8002]: the model `GPT2` takes no source");
      const bad = await tfm("generate", ...encdec, "--source-ids", "4,99", "--max-new-tokens", "2");
      expect(bad.code).toBe(1);
      expect(bad.err).toContain("error[TFM8004]: source `src`: token 99 at position 1 is not in the source vocabulary: ids are integers in [0, 10)");
      expect(bad.err).not.toMatch(/\n\s+at /);
      // A batch: the sequence is named too; a negative id is refused as well.
      const second = await tfm("generate", ...encdec, "--source-ids", "4,5,6", "--source-ids", "7,-1", "--max-new-tokens", "2");
      expect(second.code).toBe(1);
      expect(second.err).toContain("error[TFM8004]: source `src`: token -1 at position 1 of sequence 1 is not in the source vocabulary");
    });
  });
});

// A `tfm build --target cpu` bundle of a small GPT-2 (models/gpt2.tfm, random weights) generates in
// Node, in a child process from a directory with no node_modules: its greedy tokens (batch 2, and
// one sequence), its reset() and cacheLength, equal those of the session (`compile().load()`); and
// with a tokenizer.json given to load() (bytes; WordLevel, written here), `generate("text")` streams
// the text the session's tokens decode to, stopping at the tokenizer's end-of-text token.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { build, workDir } from "./helpers.js";
import { hfTokenizer, textStream } from "../../src/generate/tokenizer.js";

/** A WordLevel tokenizer.json of 61 words: w0 is the end-of-text token. */
const words = Array.from({ length: 61 }, (_, i) => (i === 0 ? "<|endoftext|>" : `w${i}`));
const tokenizerJson = {
  version: "1.0", truncation: null, padding: null, normalizer: null, post_processor: null,
  added_tokens: [{ id: 0, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  pre_tokenizer: { type: "Whitespace" },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordLevel", vocab: Object.fromEntries(words.map((w, i) => [w, i])), unk_token: "w60" },
};

const file = "models/gpt2.tfm";
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 61, n_positions: 24 };
const prompt = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
let dir = "";

beforeAll(() => {
  dir = workDir("tfm-bundle-generate-");
}, 60_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

const script = `
import { readFileSync } from "node:fs";
import { load } from "./bundles/gpt2.js";
const [weights, prompt] = [process.argv[2], JSON.parse(process.argv[3])];
const m = await load(weights);
const batch = [];
for await (const t of m.generate(prompt, { maxNewTokens: 10 })) batch.push(t);
const afterBatch = m.cacheLength;
m.reset();
const one = [];
for await (const t of m.generate(prompt[1], { maxNewTokens: 10 })) one.push(t);
const sampled = [];
for await (const t of m.generate(prompt[0], { maxNewTokens: 10, temperature: 0.8, topK: 20, topP: 0.9, seed: 5 })) sampled.push(t);
const t = await load(weights, { tokenizer: readFileSync(process.argv[4]) });
const text = [];
for await (const piece of t.generate("w3 w17 w42 w5 w9", { maxNewTokens: 10 })) text.push(piece);
let noTokenizer;
try { for await (const x of m.generate("w3", {})) void x; } catch (e) { noTokenizer = e.code; }
let badTokenizer;
try { await load(weights, { tokenizer: new TextEncoder().encode("{ not json") }); } catch (e) { badTokenizer = e.code; }
let error;
try { for await (const t of m.generate([[1, 61]], { maxNewTokens: 2 })) void t; } catch (e) { error = { name: e.name, code: e.code }; }
process.stdout.write(JSON.stringify({ batch, afterBatch, one, sampled, cacheLength: m.cacheLength, error, text, noTokenizer, badTokenizer }));
m.dispose();
`;

describe("a CPU bundle generates in Node as the session does (GPT-2, 2 layers)", () => {
  it("greedy tokens, batch 2 and one sequence, seeded sampling, reset and cacheLength", async () => {
    const model = compile(readFileSync(file, "utf8"), { file, settings });
    expect(model.diagnostics).toEqual([]);
    build(file, settings, join(dir, "bundles", "gpt2.js"));
    const weights = join(dir, "gpt2.safetensors");
    writeFileSync(weights, writeSafetensors(randomCheckpoint(model.checked.instance!.weights, 4)));
    writeFileSync(join(dir, "generate.mjs"), script);
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
    const r = spawnSync(process.execPath, ["generate.mjs", weights, JSON.stringify(prompt), join(dir, "tokenizer.json")], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { batch: number[][]; afterBatch: number; one: number[]; sampled: number[]; cacheLength: number; error: unknown; text: string[]; noTokenizer: string; badTokenizer: string };

    const s = await model.load(weights);
    const batch: number[][] = [];
    for await (const t of s.generate(prompt, { maxNewTokens: 10 })) batch.push(t);
    const one: number[] = [];
    for await (const t of s.generate(prompt[1]!, { maxNewTokens: 10 })) one.push(t);
    const sampled: number[] = [];
    for await (const t of s.generate(prompt[0]!, { maxNewTokens: 10, temperature: 0.8, topK: 20, topP: 0.9, seed: 5 })) sampled.push(t);
    console.log(`[bundle/generate] node bundle: ${JSON.stringify(got.batch.map((t) => t.join("/")))} greedy; ${got.sampled.join(",")} sampled`);
    expect(got.batch).toEqual(batch);
    expect(got.one).toEqual(one);
    expect(got.one).toEqual(batch.map((t) => t[1]));
    expect(got.sampled).toEqual(sampled);
    expect(got.afterBatch).toBe(5 + 9);
    expect(got.cacheLength).toBe(s.cacheLength);
    expect(got.error).toEqual({ name: "TfmError", code: "TFM8004" });
    // Text: the session's tokens after the encoded prompt, decoded piece by piece, up to end-of-text.
    const tok = await hfTokenizer(tokenizerJson);
    const ids = tok.encode("w3 w17 w42 w5 w9");
    expect(ids).toEqual([3, 17, 42, 5, 9]);
    const stream = textStream(tok, ids);
    const pieces: string[] = [];
    for await (const t of s.generate(ids, { maxNewTokens: 10, stop: [0] })) pieces.push(stream(t));
    console.log(`[bundle/generate] generate("w3 w17 w42 w5 w9") → ${JSON.stringify(got.text.join(""))}`);
    expect(got.text).toEqual(pieces);
    expect(got.text.join("").length).toBeGreaterThan(0);
    expect(got.noTokenizer).toBe("TFM8002");
    expect(got.badTokenizer).toBe("TFM8005");
    s.dispose();
  }, 120_000);
});

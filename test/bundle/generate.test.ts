// A `tfm build --target cpu` bundle of a small GPT-2 (models/gpt2.tfm, random weights) generates in
// Node, in a child process from a directory with no node_modules: its greedy tokens (batch 2, and
// one sequence), its reset() and cacheLength, equal those of the session (`compile().load()`).
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { build, workDir } from "./helpers.js";

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
let error;
try { for await (const t of m.generate([[1, 61]], { maxNewTokens: 2 })) void t; } catch (e) { error = { name: e.name, code: e.code }; }
process.stdout.write(JSON.stringify({ batch, afterBatch, one, sampled, cacheLength: m.cacheLength, error }));
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
    const r = spawnSync(process.execPath, ["generate.mjs", weights, JSON.stringify(prompt)], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { batch: number[][]; afterBatch: number; one: number[]; sampled: number[]; cacheLength: number; error: unknown };

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
    s.dispose();
  }, 120_000);
});

// A `tfm build --target cpu` bundle of the encoder–decoder (models/transformer.tfm, PyTorch's
// weights from test/fixtures/transformer_generate.py) generates in Node, in a child process from a
// directory with no node_modules: the bundle carries the encode and step phases' graphs, and its
// greedy tokens (batch 2, the second source padded) equal PyTorch's; a later step takes the
// decoder's tokens alone, and what is missing is an error with a code.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, workDir } from "./helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
let dir = "";

beforeAll(() => {
  dir = workDir("tfm-bundle-encdec-");
  const r = spawnSync(python, ["test/fixtures/transformer_generate.py", join(dir, "fixtures")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixture failed (${python}): ${r.error?.message ?? r.stderr}`);
}, 120_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

const script = `
import { readFileSync } from "node:fs";
import { load } from "./bundles/transformer.js";
const [weights, refFile] = process.argv.slice(2);
const ref = JSON.parse(readFileSync(refFile, "utf8"));
const m = await load(weights);
const source = { src: { data: ref.src }, src_mask: { data: ref.src_mask } };
const steps = [];
for await (const t of m.generate(ref.tokens.map(() => [ref.start]), { maxNewTokens: 32, source })) steps.push(t);
const code = async (f) => { try { await f(); return "no error"; } catch (e) { return e.code; } };
const drain = (opts) => code(async () => { for await (const _ of m.generate([ref.start], opts)) void _; });
const missing = await drain({ maxNewTokens: 2 });
// A source id past the source vocabulary (120) is refused before anything runs, as a prompt's would be.
let outOfRange = "no error";
try { for await (const _ of m.generate([ref.start], { maxNewTokens: 2, source: { src: { data: [[5, 120, 7]] } } })) void _; } catch (e) { outOfRange = e.code + " | " + e.message; }
// prefill with the source, then a step with the decoder's token alone.
await m.prefill({ ...source, tgt: { data: ref.tokens.map(() => [ref.start]) } });
const step = await m.step({ tgt: { data: ref.tokens.map((t) => [t[0]]) } });
const again = await code(() => m.step({ ...source, tgt: { data: ref.tokens.map((t) => [t[1]]) } }));
process.stdout.write(JSON.stringify({ tokens: ref.tokens.map((_, b) => steps.map((t) => t[b])), missing, outOfRange, stepShape: step.log_probs.shape, again, cacheLength: m.cacheLength }));
m.dispose();
`;

describe("a CPU bundle of the encoder–decoder generates in Node (models/transformer.tfm)", () => {
  it("32 greedy tokens × 2 equal PyTorch's", () => {
    const fixture = join(dir, "fixtures", "transformer_generate");
    const { settings } = JSON.parse(readFileSync(join(fixture, "manifest.json"), "utf8")) as { settings: Record<string, unknown> };
    build("models/transformer.tfm", settings, join(dir, "bundles", "transformer.js"));
    writeFileSync(join(dir, "generate.mjs"), script);
    const r = spawnSync(process.execPath, ["generate.mjs", join(fixture, "weights.safetensors"), join(fixture, "generate.json")], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { tokens: number[][]; missing: string; outOfRange: string; stepShape: number[]; again: string; cacheLength: number };
    const ref = JSON.parse(readFileSync(join(fixture, "generate.json"), "utf8")) as { tokens: number[][] };
    expect(got.tokens).toEqual(ref.tokens);
    expect(got.missing).toBe("TFM5202");
    expect(got.outOfRange).toBe("TFM8004 | TFM8004: source `src`: token 120 at position 1 is not in the source vocabulary: ids are integers in [0, 120)");
    expect(got.stepShape).toEqual([2, 1, 100]);
    expect(got.again).toBe("TFM5201");
    expect(got.cacheLength).toBe(2);
  }, 180_000);
});

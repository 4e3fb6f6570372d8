// `tfm build --tokenizer gpt2` compiles GPT-2's BPE into the bundle (src/bundle/tokenizer-gpt2.ts):
// `generate("text")` then works with no tokenizer given, in a fresh Node process and in headless
// Chromium (a page that fetches nothing but the bundle and the weights). For texts with Unicode,
// runs of spaces, tabs and newlines, and long words, the bundle's continuation is `tfm generate
// --tokenizer gpt2`'s: the same text streamed, and the same token ids from the ids the CLI's
// tokenizer gives (a GPT-2 with random weights and the full 50,257-token vocabulary, so a prompt
// tokenized differently continues differently). The runtime grows by the ranks (the sizes are
// printed); a bundle built without --tokenizer still has none (TFM8002), and an unknown name is a
// usage error.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBuild } from "../../src/cli/build.js";
import { main } from "../../src/cli/main.js";
import { buildRuntime } from "../../src/bundle/build.js";
import { compile } from "../../src/compile.js";
import { gpt2Tokenizer } from "../../src/generate/tokenizer.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { chromiumArgs, serve, workDir } from "./helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 1, n_embd: 16, n_head: 2, n_positions: 64 };
const sets = Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
const texts = ["Hello, world!", "  two  spaces,\ta tab\nand a newline ", "naïve café — 東京 🙂 Ωμέγα", "Pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism"];
const maxNewTokens = 5;

/** The bundle side: each text's continuation as text (streamed pieces) and, from the CLI tokenizer's ids, as ids. */
const script = `
export async function continuations(b, weights, texts, ids, maxNewTokens) {
  const m = await b.load(weights);
  const out = [];
  for (const [i, text] of texts.entries()) {
    const pieces = [];
    for await (const s of m.generate(text, { maxNewTokens })) pieces.push(s);
    const tokens = [];
    for await (const t of m.generate(ids[i], { maxNewTokens, stop: [50256] })) tokens.push(t);
    out.push({ text: pieces.join(""), tokens });
  }
  m.dispose();
  return out;
}
export async function withoutTokenizer(b, weights) {
  const m = await b.load(weights);
  try {
    for await (const s of m.generate("Hello")) void s;
    return { ok: true };
  } catch (e) {
    return { ok: false, code: e?.code, message: String(e?.message) };
  } finally {
    m.dispose();
  }
}
`;

let dir = "";
const cli: { text: string; tokens: number[] }[] = [];
let ids: number[][] = [];

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

beforeAll(async () => {
  dir = workDir("tfm-bundle-tokenizer-");
  writeFileSync(join(dir, "continue.mjs"), script);
  const model = compile(readFileSync(file, "utf8"), { file, settings });
  expect(model.diagnostics).toEqual([]);
  const weights = join(dir, "gpt2.safetensors");
  writeFileSync(weights, writeSafetensors(randomCheckpoint(model.weights, 5)));
  const tok = await gpt2Tokenizer();
  ids = texts.map((t) => tok.encode(t));
  for (const text of texts) {
    const plain = await tfm("generate", file, ...sets, "--weights", weights, "--tokenizer", "gpt2", "--prompt", text, "--max-new-tokens", String(maxNewTokens));
    const json = await tfm("generate", file, ...sets, "--weights", weights, "--tokenizer", "gpt2", "--prompt", text, "--max-new-tokens", String(maxNewTokens), "--json");
    if (plain.code !== 0 || json.code !== 0) throw new Error(plain.err + json.err);
    // The CLI prints the prompt decoded (byte-level BPE gives the text back), then the continuation as it streams.
    expect(plain.out.startsWith(text)).toBe(true);
    cli.push({ text: plain.out.slice(text.length, -1), tokens: (JSON.parse(json.out) as { tokens: number[] }).tokens });
  }
  const set = new Map(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  for (const [name, tokenizer] of [["gpt2", "gpt2"], ["plain", undefined]] as const) {
    let err = "";
    const code = runBuild(file, { set, target: "cpu", output: join(dir, "bundles", `${name}.js`), ...(tokenizer ? { tokenizer } : {}) }, () => {}, (s) => (err += s));
    if (code !== 0) throw new Error(err);
  }
}, 240_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

type Continuation = { text: string; tokens: number[] };
function expectCli(got: Continuation[]) {
  expect(got.map((c) => c.tokens)).toEqual(cli.map((c) => c.tokens));
  expect(got.map((c) => c.text)).toEqual(cli.map((c) => c.text));
}

describe("tfm build --tokenizer gpt2", () => {
  it("the runtime carries the ranks: the sizes it adds, and the .d.ts says so", () => {
    const gz = (s: string) => gzipSync(Buffer.from(s), { level: 9 }).length;
    const [plain, gpt2] = [buildRuntime("cpu"), buildRuntime("cpu", true, "gpt2")];
    console.log(`[bundle tokenizer] GPT-2's BPE adds ${gpt2.length - plain.length} B minified (${gz(gpt2) - gz(plain)} B gzipped) to the CPU runtime of ${plain.length} B (${gz(plain)} B gzipped)`);
    expect(gpt2.length - plain.length).toBeGreaterThan(300_000);
    const [withIt, without] = [readFileSync(join(dir, "bundles", "gpt2.js"), "utf8"), readFileSync(join(dir, "bundles", "plain.js"), "utf8")];
    expect(withIt.endsWith(gpt2) && without.endsWith(plain)).toBe(true);
    expect(without).not.toContain("50256");
    expect(readFileSync(join(dir, "bundles", "gpt2.d.ts"), "utf8")).toContain("replacing the gpt2 tokenizer built into this bundle");
    expect(JSON.parse(JSON.parse(/^const __tfm_model=JSON\.parse\((".*")\);$/m.exec(readFileSync(join(dir, "bundles", "gpt2.js"), "utf8"))![1]!)).tokenizer).toBe("gpt2");
  });

  it("in Node: generate(text) continues each text as tfm generate --tokenizer gpt2 does; without it, TFM8002", () => {
    writeFileSync(
      join(dir, "node-continue.mjs"),
      `import { continuations, withoutTokenizer } from "./continue.mjs";
const got = await continuations(await import("./bundles/gpt2.js"), "gpt2.safetensors", ${JSON.stringify(texts)}, ${JSON.stringify(ids)}, ${maxNewTokens});
const plain = await withoutTokenizer(await import("./bundles/plain.js"), "gpt2.safetensors");
process.stdout.write(JSON.stringify({ got, plain }));`,
    );
    const r = spawnSync(process.execPath, ["node-continue.mjs"], { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(r.stderr);
    const { got, plain } = JSON.parse(r.stdout) as { got: Continuation[]; plain: { ok: boolean; code?: string } };
    expectCli(got);
    expect(plain).toMatchObject({ ok: false, code: "TFM8002" });
    console.log(`[bundle tokenizer] Node: ${texts.length} texts, continuations as the CLI's: ${JSON.stringify(got.map((c) => c.text))}`);
  }, 120_000);

  it("in Chromium: the same, with nothing fetched but the bundle and the weights", async () => {
    const page$ = `<!doctype html><meta charset="utf-8"><title>tfm tokenizer</title>
<script type="module">
import { continuations } from "/continue.mjs";
globalThis.go = async () => continuations(await import("/bundles/gpt2.js"), new URL("/gpt2.safetensors", location.href), ${JSON.stringify(texts)}, ${JSON.stringify(ids)}, ${maxNewTokens});
globalThis.ready = true;
</script>`;
    const server = await serve(dir, { "/": page$, "/favicon.ico": "" });
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
      const page = await browser.newPage();
      const errors: string[] = [];
      const fetched: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("request", (q) => fetched.push(new URL(q.url()).pathname));
      await page.goto(server.url);
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      expectCli((await page.evaluate("go()")) as Continuation[]);
      expect(errors).toEqual([]);
      expect([...new Set(fetched)].sort()).toEqual(["/", "/bundles/gpt2.js", "/continue.mjs", "/gpt2.safetensors"]);
    } finally {
      await browser?.close();
      await server.close();
    }
  }, 180_000);

  it("an unknown tokenizer name is a usage error", async () => {
    const r = await tfm("build", file, ...sets, "--tokenizer", "llama", "-o", join(dir, "bundles", "bad.js"));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("gpt2");
  });
});

// The CPU bundle on Web Workers (src/backends/cpu/kernels/wasm/web-threads.ts), in headless Chromium
// (playwright-core, /usr/bin/chromium): a page served cross-origin isolated (COOP same-origin, COEP
// require-corp) runs the products of a GPT-2 (4 layers, 256 wide: products past the threading
// threshold) on 2 threads, with the logits of 1 thread bit for bit, and those of the session; a
// page that is not isolated runs on one thread and says why once, however many loads ask for more.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { build, chromiumArgs, serve, workDir } from "./helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 4, n_embd: 256, n_head: 4, vocab_size: 300, n_positions: 64 };
const prompt = [Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 300)];
const model = compile(readFileSync(file, "utf8"), { file, settings });

const page = `<!doctype html><meta charset="utf-8"><title>tfm threads</title>
<script type="module">
globalThis.logits = async (threads) => {
  const b = await import("/bundles/gpt2.js");
  const m = await b.load(new URL("/gpt2.safetensors", location.href), threads === undefined ? {} : { threads });
  const inputs = { input_ids: { data: ${JSON.stringify(prompt)} } };
  const { logits } = await m.run(inputs);
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await m.run(inputs);
    times.push(performance.now() - t0);
  }
  const used = m.threads;
  m.dispose();
  return { threads: used, ms: times.sort((a, b) => a - b)[2], bits: Array.from(new Uint32Array(logits.data.buffer, logits.data.byteOffset, logits.data.length)) };
};
globalThis.isolated = globalThis.crossOriginIsolated;
globalThis.ready = true;
</script>`;

let dir = "";
let browser: Browser;
const servers: Awaited<ReturnType<typeof serve>>[] = [];

beforeAll(async () => {
  expect(model.diagnostics).toEqual([]);
  dir = workDir("tfm-bundle-browser-threads-");
  build(file, settings, join(dir, "bundles", "gpt2.js"));
  writeFileSync(join(dir, "gpt2.safetensors"), writeSafetensors(randomCheckpoint(model.checked.instance!.weights, 9)));
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh page of a server with these headers: its console lines and errors, and `logits(threads)`. */
async function open(headers: Record<string, string>) {
  const server = await serve(dir, { "/": page, "/favicon.ico": "" }, headers);
  servers.push(server);
  const p = await browser.newPage();
  const console: string[] = [];
  const errors: string[] = [];
  p.on("console", (m) => console.push(m.text()));
  p.on("pageerror", (e) => errors.push(e.message));
  await p.goto(`${server.url}/`);
  await p.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  const logits = (threads?: number) => p.evaluate(`logits(${threads ?? "undefined"})`) as Promise<{ threads: number; ms: number; bits: number[] }>;
  return { p, console, errors, logits, isolated: (await p.evaluate("isolated")) as boolean };
}

describe("the CPU bundle's threads in Chromium", () => {
  it("a cross-origin isolated page: 2 threads on Web Workers, the logits of 1 thread bit for bit", async () => {
    const page = await open({ "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    expect(page.isolated).toBe(true);
    const one = await page.logits(1);
    const two = await page.logits(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.bits).toEqual(one.bits);
    console.log(`[bundle/chromium/threads] GPT-2 4 × 256, seq 40: a run takes ${one.ms.toFixed(1)} ms on 1 thread, ${two.ms.toFixed(1)} ms on 2 (median of 5; not a benchmark: other tests may share the cores)`);
    // The session (Node, its own threads) gives the same bits.
    const s = await model.load(join(dir, "gpt2.safetensors"), { threads: 2 });
    const want = (await s.run({ input_ids: { data: prompt } })).logits!.data as Float32Array;
    s.dispose();
    expect(one.bits).toEqual(Array.from(new Uint32Array(want.buffer, want.byteOffset, want.length)));
    expect(page.console).toEqual([]);
    expect(page.errors).toEqual([]);
    await page.p.close();
  }, 120_000);

  it("a page that is not isolated: one thread, and why, said once", async () => {
    const page = await open({});
    expect(page.isolated).toBe(false);
    const a = await page.logits(2);
    const b = await page.logits(4);
    expect([a.threads, b.threads]).toEqual([1, 1]);
    expect(b.bits).toEqual(a.bits);
    expect(page.console).toEqual(["tfm: the CPU kernels run on one thread, not 2: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"]);
    expect(page.errors).toEqual([]);
    await page.p.close();
  }, 120_000);
});

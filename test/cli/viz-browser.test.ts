// The HTML pages of `tfm viz` open in headless Chromium (Debian's chromium, playwright-core) from
// file:// with every network request refused: no console error, no request but the page itself,
// the drawn SVG present with its cells or nodes, and a screenshot that is not blank (kept under
// test/cli/.screenshots/ to be looked at; docs/pictures/ has two of them).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-viz-browser-"));
const shots = resolve("test/cli/.screenshots");
let browser: Browser;
beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens `file` from disk; returns what the page did and its screenshot's distinct colours. */
async function open(file: string, shot: string) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.route("**/*", (route) => {
    requests.push(route.request().url());
    return route.request().url() === pathToFileURL(file).href ? route.continue() : route.abort();
  });
  await page.goto(pathToFileURL(file).href);
  const png = await page.screenshot({ path: join(shots, shot), fullPage: false });
  return { page, errors, requests, png };
}

/** The number of distinct colours in a PNG screenshot, sampled in the browser (a blank page has 1). */
async function colours(page: import("playwright-core").Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement("canvas");
    [c.width, c.height] = [img.width, img.height];
    const ctx = c.getContext("2d")!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return seen.size;
  }, png.toString("base64"));
}

describe("tfm viz HTML in headless Chromium, offline", () => {
  it("the PE heatmap page shows one SVG with 6,400 cells, no errors, no requests", async () => {
    const figs = join(dir, "figs");
    expect((await tfm("run", "models/figures.tfm", "--random-weights", "-o", figs)).code).toBe(0);
    const html = join(dir, "pe.html");
    expect((await tfm("viz", "tensor", join(figs, "pe.npy"), "--x-title", "hidden dimension", "--y-title", "sequence position", "-o", html)).code).toBe(0);
    const { page, errors, requests, png } = await open(html, "pe-heatmap.png");
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(html).href]);
    expect(await page.locator("svg").count()).toBe(1);
    expect(await page.locator('path[aria-roledescription="rect mark"]').count()).toBe(6400);
    const box = await page.locator("svg").boundingBox();
    expect(box!.width).toBeGreaterThan(400);
    expect(await colours(page, png)).toBeGreaterThan(50); // viridis cells, not a blank page
    await page.close();
  }, 120_000);

  it("the graph page (GPT-2, 1 layer) shows its nodes and groups, and a group folds on click", async () => {
    const html = join(dir, "graph.html");
    const r = await tfm("viz", "graph", "models/gpt2.tfm", "--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16", "-o", html);
    expect(r.err).toBe("");
    const { page, errors, requests, png } = await open(html, "gpt2-graph.png");
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(html).href]);
    const nodes = await page.locator("g.node").count();
    expect(nodes).toBe(Number(/(\d+) nodes/.exec(r.out)![1]));
    expect(await page.locator('g.group[data-group="h.0.attn"]').count()).toBe(1);
    expect(await colours(page, png)).toBeGreaterThan(5);
    const group = page.locator('g.group[data-group="h.0.attn"]');
    const inside = await group.locator("g.node").count();
    expect(inside).toBeGreaterThan(0);
    await group.locator(":scope > text.group-title").click();
    expect(await group.evaluate((g) => g.classList.contains("folded"))).toBe(true);
    expect(await group.locator("g.node").first().isVisible()).toBe(false);
    await page.close();
  }, 120_000);
});

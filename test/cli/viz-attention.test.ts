// `tfm viz attention`: the picture carries the numbers: every heatmap cell's value (its aria-label)
// equals the captured attention weight `tfm run --capture` writes, its labels are the prompt's
// tokens, masked (causal, padding) cells are marked — from the attention's own mask, so a weight
// that underflows to exactly 0 is not greyed — --batch picks the item; the HTML page opens in
// headless Chromium from file:// with no console error and no request, one panel per layer × head.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { gpt2Tokenizer } from "../../src/generate/tokenizer.js";
import { readNpy } from "../../src/weights/npy.js";
import { broadcastMask } from "../../src/cli/viz-attention.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-viz-attention-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const small = ["--set", "n_layer=2", "--set", "n_embd=64", "--set", "n_head=4", "--random-weights", "--seed", "7"];
const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
/** Each rect mark's aria-label, parsed: `h.0.attn.weights; head 1; query 2: brown; key 0: The; value: 0.3`. */
function cells(svg: string) {
  return [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="rect mark"/g)].map((m) => {
    const r = /^(.*); head (\d+); query (\d+): (.*); key (\d+): (.*); value: (.*)$/.exec(unescape(m[1]!))!;
    return { layer: r[1]!, head: +r[2]!, q: +r[3]!, qt: r[4]!, k: +r[5]!, kt: r[6]!, value: r[7]! };
  });
}

describe("tfm viz attention", () => {
  const prompt = "The quick brown fox jumps over";
  it("draws every captured weight, labelled by token text, masked cells marked", async () => {
    const tok = await gpt2Tokenizer();
    const ids = tok.encode(prompt);
    const runOut = join(dir, "run");
    expect((await tfm("run", "models/gpt2.tfm", ...small, "--input", `input_ids=${JSON.stringify([ids])}`, "--capture", "h.*.attn.weights", "-o", runOut)).code).toBe(0);
    const out = join(dir, "viz");
    const r = await tfm("viz", "attention", "models/gpt2.tfm", ...small, "--tokenizer", "gpt2", "--prompt", prompt, "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("2 layers × 4 heads, 6 tokens");
    const cs = cells(readFileSync(join(out, "attention.svg"), "utf8"));
    const T = ids.length;
    expect(cs.length).toBe(2 * 4 * T * T);
    let masked = 0;
    for (const layer of [0, 1]) {
      const w = readNpy(readFileSync(join(runOut, `h.${layer}.attn.weights.npy`)));
      expect(w.shape).toEqual([1, 4, T, T]);
      for (const c of cs.filter((x) => x.layer === `h.${layer}.attn.weights`)) {
        const v = Number(w.data[(c.head * T + c.q) * T + c.k]);
        expect(c.qt).toBe(tok.decode([ids[c.q]!]));
        expect(c.kt).toBe(tok.decode([ids[c.k]!]));
        if (c.k > c.q) {
          expect(c.value).toBe("0 (masked)");
          masked++;
        } else expect(Number(c.value)).toBe(v);
      }
    }
    expect(masked).toBe(2 * 4 * ((T * (T - 1)) / 2));
    const data = JSON.parse(/<script type="application\/json" id="tfm-data">(.*?)<\/script>/s.exec(readFileSync(join(out, "attention.html"), "utf8"))![1]!) as { tokens: string[] };
    expect(data.tokens).toEqual(ids.map((i) => tok.decode([i])));
  });

  it("--batch picks the batch item; labels are the ids without a tokenizer", async () => {
    const input = "input_ids=[[1,2,3],[40,50,60]]";
    const runOut = join(dir, "run-b");
    expect((await tfm("run", "models/gpt2.tfm", ...small, "--input", input, "--capture", "h.1.attn.weights", "-o", runOut)).code).toBe(0);
    const out = join(dir, "viz-b");
    expect((await tfm("viz", "attention", "models/gpt2.tfm", ...small, "--input", input, "--batch", "1", "--capture", "h.1.attn.weights", "-o", out)).code).toBe(0);
    const w = readNpy(readFileSync(join(runOut, "h.1.attn.weights.npy")));
    const cs = cells(readFileSync(join(out, "attention.svg"), "utf8"));
    expect(cs.length).toBe(4 * 9);
    for (const c of cs) {
      expect([c.qt, c.kt]).toEqual([["40", "50", "60"][c.q], ["40", "50", "60"][c.k]]);
      if (c.k <= c.q) expect(Number(c.value)).toBe(Number(w.data[((4 + c.head) * 3 + c.q) * 3 + c.k]));
    }
    expect((await tfm("viz", "attention", "models/gpt2.tfm", ...small, "--input", input, "--batch", "2", "-o", join(dir, "x"))).code).toBe(2);
  });

  it("shows BERT's padding: the padded key's column is masked in every panel", async () => {
    const out = join(dir, "viz-bert");
    const r = await tfm("viz", "attention", "models/bert.tfm", "--set", "num_hidden_layers=2", "--set", "hidden_size=64", "--set", "num_attention_heads=2", "--set", "intermediate_size=64", "--random-weights",
      "--input", "input_ids=[[101,2000,2001,102,0]]", "--input", "token_type_ids=[[0,0,0,0,0]]", "--input", "attention_mask=[[1,1,1,1,0]]", "-o", out);
    expect(r.code).toBe(0);
    const cs = cells(readFileSync(join(out, "attention.svg"), "utf8"));
    expect(cs.length).toBe(2 * 2 * 25);
    expect(new Set(cs.map((c) => c.layer))).toEqual(new Set(["encoder.layer.0.attention.self.weights", "encoder.layer.1.attention.self.weights"]));
    for (const c of cs) expect(c.value === "0 (masked)").toBe(c.k === 4);
  });

  it("greys what the mask forbids, not a weight that underflows to 0", async () => {
    const file = join(dir, "underflow.tfm");
    writeFileSync(file, "model Underflow {\n  input q: f32[T, D]\n  input k: f32[S, D]\n  input v: f32[S, D]\n  input m: bool[T, S]\n  output y = scaled_dot_product_attention(q, k, v, m)\n}\n");
    // Scores 1000, 0, 500 for query 0: key 1's weight is exp(-1000) = 0 in f32, yet allowed; key 2 is masked.
    const inputs = ["--input", "q=[[1000],[1]]", "--input", "k=[[1],[0],[0.5]]", "--input", "v=[[1],[2],[3]]", "--input", "m=[[true,true,false],[true,false,true]]"];
    const runOut = join(dir, "run-u");
    expect((await tfm("run", file, "--random-weights", ...inputs, "--capture", "weights", "-o", runOut)).code).toBe(0);
    const w = readNpy(readFileSync(join(runOut, "weights.npy")));
    expect(Array.from(w.data, Number)[1]).toBe(0); // underflowed, not masked
    const out = join(dir, "viz-u");
    const r = await tfm("viz", "attention", file, "--random-weights", ...inputs, "-o", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const cs = cells(readFileSync(join(out, "attention.svg"), "utf8"));
    expect(cs.length).toBe(6);
    const masked = (q: number, k: number) => cs.find((c) => c.q === q && c.k === k)!.value.endsWith("(masked)");
    expect([0, 1].map((q) => [0, 1, 2].map((k) => masked(q, k)))).toEqual([[false, false, true], [false, true, false]]);
    expect(cs.find((c) => c.q === 0 && c.k === 1)!.value).toBe("0");
    // The grey layer holds exactly the masked cells: the page's data says which, cell by cell.
    const data = JSON.parse(/<script type="application\/json" id="tfm-data">(.*?)<\/script>/s.exec(readFileSync(join(out, "attention.html"), "utf8"))![1]!) as { cells: { q: number; k: number; value: number; masked: boolean }[] };
    expect(data.cells.filter((c) => c.masked).map((c) => [c.q, c.k])).toEqual([[0, 2], [1, 1]]);
    expect(data.cells.find((c) => c.q === 0 && c.k === 1)).toMatchObject({ value: 0, masked: false });
  });

  it("broadcasts a mask to the weights as numpy does", () => {
    const causal = { shape: [3, 3], data: [1, 0, 0, 1, 1, 0, 1, 1, 1] };
    expect(Array.from(broadcastMask(causal, [2, 2, 3, 3], 1)!)).toEqual([...causal.data, ...causal.data]);
    const padding = { shape: [2, 1, 1, 3], data: [1, 1, 1, 1, 1, 0] };
    expect(Array.from(broadcastMask(padding, [2, 1, 2, 3], 1)!)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(Array.from(broadcastMask(padding, [2, 1, 2, 3], 0)!)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(broadcastMask({ shape: [], data: [0] }, [2, 2], 0)!)).toEqual([0, 0, 0, 0]);
    expect(broadcastMask({ shape: [4], data: [1, 1, 1, 1] }, [2, 3], 0)).toBeUndefined();
  });

  it("opens in headless Chromium: no console error, no request, a non-blank panel per layer × head", async () => {
    const out = join(dir, "viz");
    const html = join(out, "attention.html");
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("pageerror", (e) => errors.push(e.message));
      await page.route("**/*", (route) => {
        requests.push(route.request().url());
        return route.request().url() === pathToFileURL(html).href ? route.continue() : route.abort();
      });
      await page.goto(pathToFileURL(html).href);
      mkdirSync(resolve("test/cli/.screenshots"), { recursive: true });
      const png = await page.screenshot({ path: resolve("test/cli/.screenshots/attention-gpt2.png") });
      expect(errors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(html).href]);
      // One panel (a cell group) per layer × head: Vega draws each facet cell as a `g.mark-group.role-scope.cell` child.
      expect(await page.locator("g.cell > g > path.background").count()).toBe(8);
      expect(await page.locator('path[aria-roledescription="rect mark"]').count()).toBe(2 * 4 * 36);
      const distinct = await page.evaluate(async (b64) => {
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
      expect(distinct).toBeGreaterThan(20);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

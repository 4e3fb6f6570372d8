// `tfm viz tensor` through the CLI: the pictures carry the numbers (each heatmap cell's value, read
// back from its aria-label, equals the tensor's; one path per curve), axis titles are there, HTML is
// one page with the SVG inline and no external resource, PNG is a PNG; bad input is a coded error.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readNpy, writeNpy } from "../../src/weights/npy.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "tfm-viz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

/** The figures model's outputs: the PE table [100, 64] and the causal mask [8, 8]. */
async function figures(): Promise<{ pe: string; mask: string }> {
  const out = at("figs");
  const r = await tfm("run", "models/figures.tfm", "--random-weights", "-o", out, "--force");
  expect(r.err).toBe("");
  return { pe: join(out, "pe.npy"), mask: join(out, "mask.npy") };
}

/** The rect marks of a Vega SVG heatmap, as their aria-labels. */
const cells = (svg: string) => [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="rect mark"/g)].map((m) => m[1]!);
const field = (label: string, name: string) => Object.fromEntries(label.split("; ").map((kv) => kv.split(": ") as [string, string]))[name];

describe("tfm viz tensor", () => {
  it("draws the 100 × 64 PE table as a heatmap whose 6,400 cells carry the table's values", async () => {
    const { pe } = await figures();
    const svg = at("pe.svg");
    const r = await tfm("viz", "tensor", pe, "--x-title", "hidden dimension", "--y-title", "sequence position", "-o", svg);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("heatmap of 100 × 64 values, 100 × 64 cells");
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg")).toBe(true);
    expect(text.trimEnd().endsWith("</svg>")).toBe(true);
    expect(text).toContain(">hidden dimension</text>");
    expect(text).toContain(">sequence position</text>");
    expect(text).toContain(">value</text>"); // the colour scale's title
    const labels = cells(text);
    expect(labels).toHaveLength(100 * 64);
    const table = readNpy(readFileSync(pe)).data as Float32Array;
    let worst = 0;
    for (const l of labels) {
      const pos = Number(field(l, "sequence position"));
      const d = Number(field(l, "hidden dimension"));
      const i = Math.floor(d / 2);
      const angle = pos * Math.exp((-2 * i * Math.log(10000)) / 64);
      const want = d % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      expect(Number(field(l, "value"))).toBe(table[pos * 64 + d]); // exactly the tensor's value
      worst = Math.max(worst, Math.abs(Number(field(l, "value")) - want));
    }
    expect(worst).toBeLessThan(1e-5); // f32 PE against the formula in f64 (the labels are exact f32 values)
  });

  it("draws dimensions 4..7 as four curves with a legend (--as lines --slice :,4:8)", async () => {
    const { pe } = await figures();
    const svg = at("lines.svg");
    const r = await tfm("viz", "tensor", pe, "--as", "lines", "--slice", ":,4:8", "--legend", "dimension", "--x-title", "sequence position", "-o", svg);
    expect(r.code).toBe(0);
    expect(r.out).toContain("4 curves of 100 points");
    const text = readFileSync(svg, "utf8");
    const lines = [...text.matchAll(/aria-roledescription="line mark"/g)];
    expect(lines).toHaveLength(4);
    for (const d of [4, 5, 6, 7]) expect(text).toContain(`>dimension ${d}</text>`);
    expect(text).toContain(">sequence position</text>");
    expect(text).toContain(">value</text>");
  });

  it("draws the causal mask as 8 × 8 true/false cells, lower triangle true", async () => {
    const { mask } = await figures();
    const html = at("mask.html");
    expect((await tfm("viz", "tensor", mask, "-o", html)).code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page).not.toMatch(/\b(src|href)=/); // nothing to fetch: the SVG is inline
    const labels = cells(page);
    expect(labels).toHaveLength(64);
    for (const l of labels) expect(field(l, "value")).toBe(String(Number(field(l, "axis 0")) >= Number(field(l, "axis 1"))));
    const data = JSON.parse(/<script type="application\/json" id="tfm-data">([^<]*)<\/script>/.exec(page)![1]!);
    expect(data.shape).toEqual([8, 8]);
    expect(data.values).toHaveLength(64);
  });

  it("writes a PNG", async () => {
    const { mask } = await figures();
    const png = at("mask.png");
    expect((await tfm("viz", "tensor", mask, "-o", png)).code).toBe(0);
    const bytes = readFileSync(png);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.readUInt32BE(16)).toBeGreaterThan(100); // width
  });

  it("slices a 3-D tensor with --slice and keeps the original indices", async () => {
    const f = at("t3.npy");
    writeFileSync(f, writeNpy("F32", [2, 3, 4], Float32Array.from({ length: 24 }, (_, i) => i)));
    const svg = at("t3.svg");
    expect((await tfm("viz", "tensor", f, "--slice", "1,1:", "-o", svg)).code).toBe(0);
    const labels = cells(readFileSync(svg, "utf8"));
    expect(labels).toHaveLength(2 * 4);
    for (const l of labels) expect(Number(field(l, "value"))).toBe(12 + Number(field(l, "axis 0")) * 4 + Number(field(l, "axis 1")));
  });

  it("downsamples a tensor too big to draw, and says so in the picture", async () => {
    const f = at("big.npy");
    writeFileSync(f, writeNpy("F32", [1000, 600], new Float32Array(600_000).fill(2)));
    const svg = at("big.svg");
    const r = await tfm("viz", "tensor", f, "-o", svg);
    expect(r.code).toBe(0);
    const text = readFileSync(svg, "utf8");
    expect(cells(text)).toHaveLength(250 * 200);
    expect(text).toContain("downsampled from 1000 × 600: each cell is the mean of 4 × 3 values");
  });

  it("gives coded errors for bad input and never overwrites without --force", async () => {
    const t3 = at("t3.npy");
    writeFileSync(t3, writeNpy("F32", [2, 3, 4], new Float32Array(24)));
    let r = await tfm("viz", "tensor", t3, "-o", at("x.svg"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM5212]: the tensor has 3 axes left ([2, 3, 4])");
    r = await tfm("viz", "tensor", t3, "--slice", "0,9", "-o", at("x.svg"));
    expect(r.err).toContain("error[TFM5212]: --slice \"0,9\": index 9 is out of range for axis 1 of size 3");
    writeFileSync(at("bad.npy"), "not numpy");
    r = await tfm("viz", "tensor", at("bad.npy"), "-o", at("x.svg"));
    expect(r.err).toContain("error[TFM5010]");
    r = await tfm("viz", "tensor", t3, "--slice", "0", "-o", join(dir, "no-such-dir", "x.svg"));
    expect(r.err).toContain("error[TFM5211]");
    writeFileSync(at("taken.svg"), "mine");
    r = await tfm("viz", "tensor", t3, "--slice", "0", "-o", at("taken.svg"));
    expect(r.err).toContain("error[TFM5210]");
    expect(readFileSync(at("taken.svg"), "utf8")).toBe("mine");
    expect((await tfm("viz", "tensor", t3, "--slice", "0", "-o", at("taken.svg"), "--force")).code).toBe(0);
    expect(readFileSync(at("taken.svg"), "utf8").startsWith("<svg")).toBe(true);
    r = await tfm("viz", "tensor", t3, "--slice", "0", "-o", at("x.txt"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("must end in .svg, .html, .png");
  });
});

describe("tfm viz graph", () => {
  const small = ["--set", "n_layer=2", "--set", "n_embd=32", "--set", "n_head=4", "--set", "vocab_size=50", "--set", "n_positions=16"];
  const attr = (svg: string, name: string) => [...svg.matchAll(new RegExp(`<g class="node"[^>]* ${name}="([^"]*)"`, "g"))].map((m) => m[1]!);

  it("draws GPT-2's optimized graph: every node once, layers as groups, weights by checkpoint name, edges labelled with shapes", async () => {
    const svg = at("gpt2.svg");
    const r = await tfm("viz", "graph", "models/gpt2.tfm", ...small, "-o", svg);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg")).toBe(true);
    const ir = await tfm("ir", "models/gpt2.tfm", ...small, "--after", "all");
    const irNodes = ir.out.split("\n").filter((l) => /^ {2}%\d+: /.test(l));
    expect(attr(text, "data-node")).toHaveLength(irNodes.length);
    expect(r.out).toContain(`${irNodes.length} nodes`);
    // Every input of every node is one edge, labelled with the shape of the value it carries.
    const uses = irNodes.reduce((a, l) => a + (l.split(" = ")[1]!.match(/%\d+/g)?.length ?? 0), 0);
    expect([...text.matchAll(/<g class="edge" /g)]).toHaveLength(uses);
    expect(text).toContain(">f32[batch, seq, 32]</text>");
    // Weights carry their checkpoint names, and sit in the group of their layer.
    const weights = attr(text, "data-weight").sort();
    const declared = irNodes.map((l) => /= weight "([^"]*)"/.exec(l)?.[1]).filter((w) => w !== undefined).sort();
    expect(weights).toEqual(declared);
    expect(weights).toContain("h.1.attn.c_attn.weight");
    for (const g of ["h", "h.0", "h.0.attn", "h.0.attn.c_attn", "h.1.mlp", "ln_f"]) expect(text).toContain(`data-group="${g}"`);
    expect(text).toMatch(/data-weight="h\.0\.attn\.c_attn\.weight" data-shape="f32\[32, 96\]" data-layer="h\.0\.attn\.c_attn"/);
    expect(text).toMatch(/data-op="(softmax|exp|max)"[^>]*data-layer="h\.0\.attn"/);
  });

  it("--kernels groups by fused kernel, coloured by kind; --after none draws the graph as built", async () => {
    const svg = at("gpt2-kernels.svg");
    expect((await tfm("viz", "graph", "models/gpt2.tfm", ...small, "--kernels", "-o", svg)).code).toBe(0);
    const text = readFileSync(svg, "utf8");
    const kernels = (await tfm("ir", "models/gpt2.tfm", ...small, "--after", "all", "--kernels")).out.split("\n").filter((l) => /^ {2}k\d+ /.test(l));
    const groups = [...text.matchAll(/data-group="kernel \d+ · (\w+)"/g)];
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.length).toBe(kernels.length);
    expect(groups.some((g) => g[1] === "attention")).toBe(true);
    expect(groups.some((g) => g[1] === "matmul")).toBe(true);
    const built = at("gpt2-built.svg");
    expect((await tfm("viz", "graph", "models/gpt2.tfm", ...small, "--after", "none", "-o", built)).code).toBe(0);
    expect(attr(readFileSync(built, "utf8"), "data-node").length).toBeGreaterThan(attr(readFileSync(at("gpt2.svg"), "utf8"), "data-node").length);
  });

  it("writes one offline HTML page and gives coded errors", async () => {
    const html = at("fig-graph.html");
    expect((await tfm("viz", "graph", "models/figures.tfm", "-o", html)).code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page).not.toMatch(/\b(src|href)=/);
    expect(page).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="tfm-graph"');
    let r = await tfm("viz", "graph", "models/figures.tfm", "-o", html);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM5210]");
    r = await tfm("viz", "graph", "models/figures.tfm", "--after", "fold-everything", "-o", at("y.svg"));
    expect(r.code).toBe(2);
    r = await tfm("viz", "graph", "models/gpt2.tfm", ...small, "--set", "n_layer=40", "-o", at("too-big-graph.svg"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/models\/gpt2\.tfm: error\[TFM5213\]: the graph has \d+ nodes; tfm viz graph lays out at most 2000/);
    r = await tfm("viz", "graph", "models/figures.tfm", "-o", at("y.png"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("must end in .svg, .html");
  });
});

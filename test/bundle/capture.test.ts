// Bundles built with `tfm build --capture` return the captured values from
// `run(inputs, { capture })`, in a fresh Node process and in headless Chromium (playwright-core,
// /usr/bin/chromium), bit for bit equal to `tfm run --capture`'s .npy files: GPT-2's attention
// weights, a name bound by tuple unpacking (`q, k, v = chunk(...)`: `h.0.attn.q`) and a block's
// `output y` (`h.1.attn.y`); the WebGPU bundle's to within 1e-5. Without `capture` a run returns
// the outputs only; a bundle built without captures carries none (no `captures` in its data or
// .d.ts, the same graph as before); a pattern matching none of the compiled-in names, or any
// capture of a bundle built without, is TFM5215.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBuild } from "../../src/cli/build.js";
import { main } from "../../src/cli/main.js";
import { compile } from "../../src/compile.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { readNpy } from "../../src/weights/npy.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { chromiumArgs, type NodeResults, runNode, serve, workDir } from "./helpers.js";

const file = "models/gpt2.tfm";
const settings = { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 61, n_positions: 24 };
const sets = Object.entries(settings).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
const ids = [
  [3, 17, 42, 5, 9],
  [60, 0, 11, 29, 33],
];
const inputs = { input_ids: { data: ids.flat(), shape: [2, 5] } };
const patterns = ["h.*.attn.weights", "h.0.attn.q", "h.1.attn.y"];
const captured = ["h.0.attn.q", "h.0.attn.weights", "h.1.attn.weights", "h.1.attn.y"];

type Out = Record<string, { shape: number[]; type: string; data: (number | string)[] }>;
const f32 = (data: readonly (number | string)[]) => Float32Array.from(data, (x) => (x === "-0" ? -0 : Number(x)));
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

let dir = "";
let weights = "";
/** `tfm run --capture`'s .npy files, by name. */
const cli = new Map<string, { shape: number[]; data: Float32Array }>();
let node: NodeResults;

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

function build(output: string, capture: readonly string[], target = "cpu"): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const set = new Map(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  const code = runBuild(file, { set, target, output, capture }, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

beforeAll(async () => {
  dir = workDir("tfm-bundle-capture-");
  const model = compile(readFileSync(file, "utf8"), { file, settings });
  weights = join(dir, "gpt2.safetensors");
  writeFileSync(weights, writeSafetensors(randomCheckpoint(model.weights, 11)));
  const r = await tfm("run", file, ...sets, "--weights", weights, "--input", `input_ids=${JSON.stringify(ids)}`, ...patterns.flatMap((p) => ["--capture", p]), "-o", join(dir, "cli"));
  if (r.code !== 0) throw new Error(r.err);
  for (const name of ["logits", ...captured]) {
    const t = readNpy(readFileSync(join(dir, "cli", `${name}.npy`)));
    cli.set(name, { shape: [...t.shape], data: t.data as Float32Array });
  }
  for (const [name, capture, target] of [["captures", patterns, "cpu"], ["plain", [], "cpu"], ["captures-webgpu", patterns, "webgpu"]] as const) {
    const b = build(join(dir, "bundles", `${name}.js`), capture, target);
    if (b.code !== 0) throw new Error(b.err);
  }
  const bundle = (name: string) => join(dir, "bundles", `${name}.js`);
  const run = (name: string, b: string, options?: unknown) => ({ name, bundle: bundle(b), weights, inputs, ...(options !== undefined ? { options } : {}) });
  const fails = (name: string, b: string, options: unknown) => ({ name, bundle: bundle(b), weights, inputs, options });
  node = runNode(dir, {
    runs: [run("none", "captures"), run("all", "captures", { capture: true }), run("some", "captures", { capture: ["h.1.**"] }), run("plain", "plain"), run("output-name", "captures", { capture: ["logits"] }), run("empty", "captures", { capture: [] })],
    errors: [fails("unmatched", "captures", { capture: ["h.*.atn.weights"] }), fails("not-built", "plain", { capture: ["h.0.attn.weights"] }), fails("not-built-all", "plain", { capture: true }), fails("bad-type", "captures", { capture: "h.0.attn.q" })],
  });
}, 240_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

const outputsOf = (name: string) => (node.models[name] as { outputs: Out }).outputs;
const modelOf = (name: string) => (node.models[name] as { model: { outputs: { name: string }[]; captures?: { name: string; dtype: string; shape: string[] }[] } }).model;

/** Each returned value equals `tfm run --capture`'s .npy file, byte for byte. */
function expectCliValues(out: Out, names: readonly string[]) {
  for (const name of names) {
    const want = cli.get(name)!;
    expect(out[name]!.shape, name).toEqual(want.shape);
    expect(out[name]!.type, name).toBe("Float32Array");
    expect(bytes(f32(out[name]!.data)).equals(bytes(want.data)), `${name} is bit for bit tfm run --capture's`).toBe(true);
  }
}

describe("a bundle built with --capture, in Node", () => {
  it("returns the outputs only without `capture`, and every captured value with `capture: true`", () => {
    expect(Object.keys(outputsOf("none"))).toEqual(["logits"]);
    expect(Object.keys(outputsOf("all"))).toEqual(["logits", ...captured]);
    expectCliValues(outputsOf("all"), ["logits", ...captured]);
    expect(modelOf("all").captures?.map((c) => c.name)).toEqual(captured);
    expect(modelOf("all").captures?.[1]).toEqual({ name: "h.0.attn.weights", dtype: "f32", shape: ["batch", "2", "seq", "past + seq"] });
    expect(modelOf("all").outputs.map((o) => o.name)).toEqual(["logits"]);
  });

  it("matches run-time patterns against the compiled-in names as --capture does", () => {
    expect(Object.keys(outputsOf("some"))).toEqual(["logits", "h.1.attn.weights", "h.1.attn.y"]);
    expectCliValues(outputsOf("some"), ["logits", "h.1.attn.weights", "h.1.attn.y"]);
    expect(Object.keys(outputsOf("output-name"))).toEqual(["logits"]);
    expect(Object.keys(outputsOf("empty"))).toEqual(["logits"]);
  });

  it("built without captures, carries none and gives the same logits", () => {
    expect(modelOf("plain").captures).toBeUndefined();
    expectCliValues(outputsOf("plain"), ["logits"]);
    const js = readFileSync(join(dir, "bundles", "plain.js"), "utf8");
    const line = js.split("\n")[1]!;
    expect(line).toMatch(/^const __tfm_model=/);
    expect(line).not.toContain("captures");
    expect(readFileSync(join(dir, "bundles", "captures.js"), "utf8").split("\n")[1]).toContain("captures");
    expect(readFileSync(join(dir, "bundles", "plain.d.ts"), "utf8")).not.toMatch(/Captures|capture/);
    expect(readFileSync(join(dir, "bundles", "captures.d.ts"), "utf8")).toContain('readonly "h.0.attn.q": TensorOut<Float32Array>;');
    // The plain bundle's graph is the one compiled without captures: nothing is kept for them.
    const data = JSON.parse(JSON.parse(/^const __tfm_model=JSON\.parse\((".*")\);$/.exec(line)![1]!)) as { graph: { outputs: unknown[]; nodes: unknown[] } };
    const g = compile(readFileSync(file, "utf8"), { file, settings }).graph!;
    expect(data.graph.outputs.length).toBe(g.outputs.length);
    expect(data.graph.nodes.length).toBe(g.nodes.length);
  });

  it("its .d.ts types the captures: an overload of run, and model.captures", () => {
    const use = join(dir, "use-captures.ts");
    writeFileSync(
      use,
      `import { load, model, type Inputs } from "./bundles/captures.js";
import { load as loadPlain } from "./bundles/plain.js";
const m = await load(new Uint8Array(0));
const inputs: Inputs = { input_ids: { data: new Int32Array(2), shape: [1, 2] } };
const o = await m.run(inputs, { capture: ["h.*.attn.weights"] });
const w: Float32Array | undefined = o["h.0.attn.weights"]?.data;
const l: Float32Array = o.logits.data;
const all = await m.run(inputs, { capture: true });
const q: number[] | undefined = all["h.0.attn.q"]?.shape;
const first: "h.0.attn.q" = model.captures[0].name;
// @ts-expect-error: without options, run returns the outputs only
void (await m.run(inputs))["h.0.attn.q"];
// @ts-expect-error: a bundle built without captures takes no capture option
await (await loadPlain(new Uint8Array(0))).run(inputs, { capture: true });
export { w, l, q, first };
`,
    );
    const program = ts.createProgram([use], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts"], types: [] });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
  });

  it("refuses what it was not built to capture with TFM5215, naming the nearest", () => {
    const e = node.errors;
    expect(e["unmatched"]).toMatchObject({ ok: false, code: "TFM5215", isTfmError: true });
    expect(e["unmatched"]!.message).toContain("capture `h.*.atn.weights` matches none of the values this bundle was built to capture");
    expect(e["unmatched"]!.message).toContain("h.0.attn.weights");
    expect(e["not-built"]).toMatchObject({ ok: false, code: "TFM5215", isTfmError: true });
    expect(e["not-built"]!.message).toContain("built without captures");
    expect(e["not-built-all"]).toMatchObject({ ok: false, code: "TFM5215" });
    expect(e["bad-type"]).toMatchObject({ ok: false, code: "TFM5215" });
  });

  it("tfm build --capture: a pattern matching no name in the model is TFM5214", async () => {
    const b = await tfm("build", file, ...sets, "--capture", "h.*.atn.weights", "-o", join(dir, "bundles", "bad.js"));
    expect(b.code).toBe(1);
    expect(b.err).toContain("error[TFM5214]: --capture `h.*.atn.weights` matches no name in the model");
    expect(b.err).toContain("h.0.attn.weights");
  });
});

describe("a bundle built with --capture, in Chromium", () => {
  const page$ = `<!doctype html><meta charset="utf-8"><title>tfm capture</title>
<script type="module">
globalThis.runCaptures = async (bundle, inputs, options) => {
  const b = await import(bundle);
  const m = await b.load(new URL("/gpt2.safetensors", location.href));
  const outs = await m.run(inputs, options);
  m.dispose();
  return Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, { shape: v.shape, type: v.data.constructor.name, data: Array.from(v.data, (x) => (Object.is(x, -0) ? "-0" : x)) }]));
};
globalThis.ready = true;
</script>`;
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  beforeAll(async () => {
    server = await serve(dir, { "/": page$, "/favicon.ico": "" });
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
    page = await browser.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(server.url);
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("returns the same captured values, bit for bit", async () => {
    const run = (options: unknown) => page.evaluate(`runCaptures("/bundles/captures.js", ${JSON.stringify(inputs)}, ${JSON.stringify(options)})`) as Promise<Out>;
    const all = await run({ capture: true });
    expect(Object.keys(all)).toEqual(["logits", ...captured]);
    expectCliValues(all, ["logits", ...captured]);
    expect(Object.keys(await run({ capture: ["h.0.**"] }))).toEqual(["logits", "h.0.attn.q", "h.0.attn.weights"]);
    expect(Object.keys(await run(undefined))).toEqual(["logits"]);
    expect(errors).toEqual([]);
  }, 120_000);

  it("the WebGPU bundle (SwiftShader) returns them too, to within 1e-5 of the CLI's", async () => {
    const all = (await page.evaluate(`runCaptures("/bundles/captures-webgpu.js", ${JSON.stringify(inputs)}, { capture: true })`)) as Out;
    expect(Object.keys(all)).toEqual(["logits", ...captured]);
    let worst = 0;
    for (const name of captured) {
      const want = cli.get(name)!;
      expect(all[name]!.shape, name).toEqual(want.shape);
      const got = f32(all[name]!.data);
      for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want.data[i]!));
    }
    console.log(`WebGPU bundle captures vs tfm run --capture (CPU): max abs difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
    expect(errors).toEqual([]);
  }, 120_000);
});

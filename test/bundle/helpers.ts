// Shared by the bundle tests: the PyTorch fixtures built into a temp dir, bundles built with
// `tfm build` (in-process), a directory without node_modules where Node runs them in a child
// process (node-main.mjs), and a static file server on 127.0.0.1 for the browser.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { buildGraph, check } from "../../src/api.js";
import { CpuProgram } from "../../src/backends/cpu/interpret.js";
import { optimize } from "../../src/optimize.js";
import { bindCheckpoint } from "../../src/runtime/bind.js";
import { randomCheckpoint } from "../../src/runtime/init.js";
import { runBuild } from "../../src/cli/build.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const here = fileURLToPath(new URL(".", import.meta.url));

export const fixtures = ["additive_attention", "bert", "cosine_attention", "decoder_layer", "decoder_layer_norm_first", "encoder_layer", "encoder_layer_norm_first", "gpt2", "gpt2_generate", "llama", "multihead_attention_cross", "multihead_attention_self", "sinusoidal", "transformer"];
export const TOLERANCE = 1e-4;

/** A fresh directory with no node_modules: package.json (an ES module package), the runner scripts, bundles/ and fixtures/. */
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  for (const f of ["runner.mjs", "node-main.mjs"]) copyFileSync(join(here, f), join(dir, f));
  mkdirSync(join(dir, "bundles"));
  return dir;
}

/** Builds every PyTorch fixture into DIR/fixtures (no skipping: python3 + torch are required, as in test/conformance). */
export function buildFixtures(dir: string): string {
  const out = join(dir, "fixtures");
  const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
  return out;
}

/** `tfm build` in-process; throws with its stderr when it fails. */
export function build(file: string, settings: Record<string, unknown>, output: string, target = "cpu"): { out: string; err: string } {
  let out = "";
  let err = "";
  const set = new Map(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  const code = runBuild(file, { set, target, output }, (s) => (out += s), (s) => (err += s));
  if (code !== 0) throw new Error(`tfm build ${file} failed (${code}):\n${err}`);
  return { out, err };
}

/** Builds the fixture's model into DIR/bundles/<name>.js with the fixture's settings. */
export function buildFixtureBundle(dir: string, fixtureDir: string, name: string): string {
  const m = JSON.parse(readFileSync(join(fixtureDir, name, "manifest.json"), "utf8")) as { model: string; settings: Record<string, unknown> };
  const output = join(dir, "bundles", `${name}.js`);
  build(m.model, m.settings, output);
  return output;
}

export interface NodeResults {
  fixtures: Record<string, { outputs: Record<string, { shape: number[]; wantShape: number[]; type: string; maxErr: number; data: number[] }>; ms: number }>;
  errors: Record<string, { ok: boolean; name?: string; code?: string; message?: string; isError?: boolean; isTfmError?: boolean }>;
  models: Record<string, unknown>;
}

/** Runs node-main.mjs on a plan in DIR, a fresh `node` process; its results. */
export function runNode(dir: string, plan: unknown): NodeResults {
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
  const r = spawnSync(process.execPath, ["node-main.mjs", "plan.json"], { cwd: dir, encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`node node-main.mjs failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as NodeResults;
}

const mime: Record<string, string> = { ".js": "text/javascript", ".mjs": "text/javascript", ".html": "text/html; charset=utf-8", ".json": "application/json" };

/** Serves DIR's files on 127.0.0.1 (GET only, nothing outside DIR); `pages` adds HTML pages by path; `headers` go with every response (COOP/COEP for a cross-origin isolated page). */
export async function serve(dir: string, pages: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (pages[path] !== undefined) {
      res.writeHead(200, { "content-type": mime[".html"] });
      return res.end(pages[path]);
    }
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep)) return res.writeHead(403).end();
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": mime[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The Chromium flags of /work/shared/webgpu-on-cpu.md (WebGPU on SwiftShader). */
export const chromiumArgs = ["--no-sandbox", "--enable-unsafe-webgpu", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

// ---- a model whose names would break generated code if they were pasted into it -------------

/** Quotes, backticks, `${`, `*\/`, `</script>`, `<!--`, backslashes and non-ASCII in the model's, inputs', outputs' and weights' names and an `ignore` pattern; a quotient dim and a -0 constant. */
export const hostileSource = `# Names that would break generated code if pasted into it.
block Dense(d_in: int, d_out: int) {
  input x: f32[*batch, d_in]
  param w: f32[d_in, d_out] as "w\\"\`\${x}*/</script>"
  param b: f32[d_out] as "b\\\\'<!--é"
  output y = x @ w + b
}

model Modèle_名前 {
  input données: f32[n, 4]
  ignore "</script>.*"
  layer couche = Dense(4, 3) as "</script><script>alert(1)</script>"
  output sortie_ñ = couche(données)
  output 出力 = reshape(données, [n / 2, 8]) * -0.0
}
`;
/** The file name is data too (the bundle records it). */
export const hostileFile = 'h"\`\${x}<!--*\u2028é.tfm';
export const hostileInputs = { données: { data: [0.5, -1, 2, 3, -4, 5, 6.25, -7], shape: [2, 4] } };

/** Builds the hostile model into DIR/bundles/hostile.js with a random checkpoint; its outputs as the compiler's interpreter gives them (-0 as "-0"). */
export function prepareHostile(dir: string): { bundle: string; weights: string; expected: Record<string, { shape: number[]; data: (number | string)[] }> } {
  const file = join(dir, hostileFile);
  writeFileSync(file, hostileSource);
  const bundle = join(dir, "bundles", "hostile.js");
  build(file, {}, bundle);
  const r = check(hostileSource, file);
  const weights = join(dir, "hostile.safetensors");
  writeFileSync(weights, writeSafetensors(randomCheckpoint(r.instance!.weights, 7)));
  const bound = bindCheckpoint(r.instance!.weights, readFileSync(weights), r.instance!.ignored);
  const program = new CpuProgram(optimize(buildGraph(r)!).graph, bound.tensors!);
  const x = hostileInputs.données;
  const res = program.run(new Map([["données", { dtype: "f32", shape: x.shape, data: new Float32Array(x.data) }]]));
  const expected = Object.fromEntries([...res.outputs].map(([k, t]) => [k, { shape: [...t.shape], data: Array.from(t.data, (v) => (Object.is(v, -0) ? "-0" : v)) }]));
  return { bundle, weights, expected };
}

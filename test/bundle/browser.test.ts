// `tfm build` bundles in a real browser: headless Chromium (playwright-core, /usr/bin/chromium)
// loads them from a server on 127.0.0.1, fetches the weights by URL and runs every PyTorch fixture
// to within 1e-4 of PyTorch and to the same outputs as Node; the hostile-names bundle runs too,
// and pasted whole into an inline <script> it still parses (no `</script>` can end it). WebGPU:
// the adapter the webgpu target runs on must be there (a missing one fails, never skips), and the
// webgpu bundles (fused kernels) run every fixture here against PyTorch too.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { build, buildFixtureBundle, buildFixtures, chromiumArgs, fixtures, hostileInputs, type NodeResults, prepareHostile, runNode, serve, TOLERANCE, workDir } from "./helpers.js";

type Run = NodeResults["fixtures"][string];
const webgpuReady = existsSync(new URL("../../src/bundle/entry-webgpu.ts", import.meta.url));

let dir = "";
let server: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
let page: Page;
let node: NodeResults;
let inBrowser: Record<string, Run>;
let hostile: ReturnType<typeof prepareHostile>;
const pageErrors: string[] = [];

/**
 * The page: a module script that defines what the tests call (page.evaluate's functions may not
 * hold `import()`, which vitest would rewrite). Bundles, weights and fixture files come by URL.
 */
const indexPage = `<!doctype html><meta charset="utf-8"><title>tfm bundles</title>
<script type="module">
import { runFixture } from "/runner.mjs";
const tfm = (globalThis.tfm = {});
tfm.runFixtures = async (names, suffix = "", ownDevice = false) => {
  const out = {};
  // ownDevice: the page's device, given as options.device (else each bundle makes its own).
  const device = ownDevice ? await (await navigator.gpu.requestAdapter()).requestDevice() : undefined;
  for (const name of names) {
    const bundle = await import(\`/bundles/\${name}\${suffix}.js\`);
    const read = async (rel) => new Uint8Array(await (await fetch(\`/fixtures/\${name}/\${rel}\`)).arrayBuffer());
    out[name] = await runFixture(bundle, \`/fixtures/\${name}/weights.safetensors\`, read, { device });
  }
  return out;
};
tfm.runError = async (bundle, weights, inputs) => {
  const b = await import(bundle);
  try {
    await (await b.load(weights)).run(inputs);
    return { ok: true };
  } catch (e) {
    return { ok: false, name: e.name, code: e.code, message: e.message, isTfmError: e instanceof b.TfmError };
  }
};
tfm.runHostile = async (inputs) => {
  const b = await import("/bundles/hostile.js");
  const m = await b.load(new URL("/hostile.safetensors", location.href));
  const outs = await m.run(inputs);
  return Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data, (x) => (Object.is(x, -0) ? "-0" : x)) }]));
};
tfm.adapter = async () => (navigator.gpu ? ((await navigator.gpu.requestAdapter()) ? "adapter" : "requestAdapter() gave null") : "no navigator.gpu");
tfm.ready = true;
</script>`;

/** Calls `tfm.<method>(...args)` in the page (arguments as JSON). */
const call = <T>(method: string, ...args: unknown[]): Promise<T> => page.evaluate(`tfm.${method}(${args.map((a) => JSON.stringify(a)).join(", ")})`) as Promise<T>;
async function open(path = "/") {
  await page.goto(`${server.url}${path}`);
  await page.waitForFunction(() => (globalThis as { tfm?: { ready?: boolean } }).tfm?.ready === true);
}

beforeAll(async () => {
  dir = workDir("tfm-bundle-browser-");
  const fx = buildFixtures(dir);
  for (const name of fixtures) buildFixtureBundle(dir, fx, name);
  hostile = prepareHostile(dir);
  node = runNode(dir, { fixtures: fixtures.map((name) => ({ name, bundle: join(dir, "bundles", `${name}.js`), dir: join(fx, name) })) });
  const inline = `<!doctype html><meta charset="utf-8"><script type="module">${readFileSync(hostile.bundle, "utf8")}\nglobalThis.__parsed = true;</script>`;
  server = await serve(dir, { "/": indexPage, "/inline.html": inline });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: chromiumArgs });
  page = await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await open();
  inBrowser = await call<Record<string, Run>>("runFixtures", fixtures);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("CPU bundles in Chromium", () => {
  for (const name of fixtures) {
    it(`${name}: as PyTorch, and as in Node`, () => {
      const b = inBrowser[name]!;
      const report: string[] = [];
      for (const [o, v] of Object.entries(b.outputs)) {
        const n = node.fixtures[name]!.outputs[o]!;
        let vsNode = 0;
        v.data.forEach((x, i) => (vsNode = Math.max(vsNode, Math.abs(x - n.data[i]!))));
        report.push(`${o} max |Δ| = ${v.maxErr.toExponential(2)}, vs Node ${vsNode.toExponential(2)}`);
        expect(v.shape, o).toEqual(v.wantShape);
        expect(v.type, o).toBe("Float32Array");
        expect(v.maxErr, `${name}.${o}`).toBeLessThanOrEqual(TOLERANCE);
        expect(v.data, `${name}.${o}: the same values as in Node`).toEqual(n.data);
      }
      console.log(`[bundle/chromium] ${name}: ${report.join("; ")} (run ${b.ms.toFixed(1)} ms)`);
    });
  }

  it("the hostile-names bundle runs, and parses when pasted into an inline <script>", async () => {
    const got = await call("runHostile", hostileInputs);
    expect(got).toEqual(hostile.expected);
    await page.goto(`${server.url}/inline.html`);
    await page.waitForFunction(() => (globalThis as { __parsed?: boolean }).__parsed === true, undefined, { timeout: 5000 });
    expect(pageErrors).toEqual([]);
  });
});

describe("the webgpu target in Chromium", () => {
  it(webgpuReady ? "runs every fixture on a WebGPU device, as PyTorch" : "has a WebGPU adapter to run on (the target itself is not in this build yet)", async () => {
    await open();
    const adapter = await call<string>("adapter");
    expect(adapter, "Chromium with --enable-unsafe-webgpu on SwiftShader (see /work/shared/webgpu-on-cpu.md)").toBe("adapter");
    if (!webgpuReady) {
      let err = "";
      expect(await main(["build", "models/gpt2.tfm", "--target", "webgpu", "-o", join(dir, "gpu.js")], { out: () => {}, err: (s) => (err += s) })).toBe(1);
      expect(err).toContain("the webgpu target needs the WebGPU runtime");
      return;
    }
    for (const name of fixtures) {
      const m = JSON.parse(readFileSync(join(dir, "fixtures", name, "manifest.json"), "utf8")) as { model: string; settings: Record<string, unknown> };
      build(m.model, m.settings, join(dir, "bundles", `${name}-webgpu.js`), "webgpu");
    }
    // Half on devices the bundles make, half on one device the page gives them.
    const half = Math.ceil(fixtures.length / 2);
    const runs = { ...(await call<Record<string, Run>>("runFixtures", fixtures.slice(0, half), "-webgpu")), ...(await call<Record<string, Run>>("runFixtures", fixtures.slice(half), "-webgpu", true)) };
    for (const name of fixtures) {
      const report: string[] = [];
      for (const [o, v] of Object.entries(runs[name]!.outputs)) {
        const cpu = inBrowser[name]!.outputs[o]!;
        let vsCpu = 0;
        v.data.forEach((x, i) => (vsCpu = Math.max(vsCpu, Math.abs(x - cpu.data[i]!))));
        report.push(`${o} max |Δ| = ${v.maxErr.toExponential(2)}, vs CPU ${vsCpu.toExponential(2)}`);
        expect(v.shape, `${name}.${o}`).toEqual(v.wantShape);
        expect(v.maxErr, `${name}.${o}`).toBeLessThanOrEqual(TOLERANCE);
      }
      console.log(`[bundle/chromium/webgpu] ${name}: ${report.join("; ")} (run ${runs[name]!.ms.toFixed(1)} ms)`);
    }
  }, 600_000); // every fixture's pipelines compiled by SwiftShader in Chromium: 104 s on an idle 2-core machine (Chromium 156)

  it.runIf(webgpuReady)("gives the CPU's errors, with their codes", async () => {
    const e = await call<{ ok: boolean; code?: string; message?: string; isTfmError?: boolean }>("runError", "/bundles/gpt2-webgpu.js", "/fixtures/gpt2/weights.safetensors", { input_ids: { data: [1, 211], shape: [1, 2] } });
    expect(e).toMatchObject({ ok: false, code: "TFM6001", isTfmError: true });
    expect(e.message).toMatch(/^TFM6001: gather: index 211 at position \[0, 1\] is out of range for axis 0 of size 211/);
    const shape = await call<{ code?: string }>("runError", "/bundles/gpt2-webgpu.js", "/fixtures/gpt2/weights.safetensors", { input_ids: { data: [1, 2], shape: [2] } });
    expect(shape.code).toBe("TFM6002");
  });
});

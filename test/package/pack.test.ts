// The package as a user gets it: `npm pack` (which builds dist/), the tarball installed into an
// empty project outside the repository, and there `npx tfm check`, `npx tfm run`, and a TypeScript
// program that imports `compile` by the package's name, type-checked strictly and run. Nothing here
// may reach the repository: every command runs in the temporary project, and the package must
// resolve inside its node_modules. `webgpu` (an optional dependency, 130 MB) is left out, so
// `--backend webgpu` must say how to install it.
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const name = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { name: string }).name;
const work = realpathSync(mkdtempSync(join(tmpdir(), "tfm-pack-")));
const app = join(work, "app");
let tarball = "";

/** The environment without npm's own variables (vitest may run under `npm test`) or a NODE_PATH into the repository. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "NODE_PATH" && k !== "INIT_CWD"));

/** A command in the project: its exit code, stdout and stderr (asynchronously, so the test worker keeps answering vitest). */
function sh(cmd: string, args: string[], cwd = app): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { cwd, env, encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 26 }, (_e, out, err) => done({ code: child.exitCode, out, err }));
  });
}

/** GPT-2 at a size that runs in a moment: the real file, its parameters set small. */
const tiny = ["--set", "n_layer=1", "--set", "n_embd=32", "--set", "n_head=2", "--set", "vocab_size=100", "--set", "n_positions=16"];

const program = `import { compile, TfmError, type CompiledModel } from "${name}";
import { load, type ModelData } from "${name}/runtime";
import { readFileSync } from "node:fs";

const model: CompiledModel = compile(readFileSync("gpt2.tfm", "utf8"), {
  file: "gpt2.tfm",
  settings: { n_layer: 1, n_embd: 32, n_head: 2, vocab_size: 100, n_positions: 16 },
});
const session = await model.load({ random: true, seed: 1 });
const { logits } = await session.run({ input_ids: { data: [[1, 2, 3]] } });
const bad = compile("model M() { output y = nope }", { file: "bad.tfm" });
let code = "";
try {
  await bad.load({ random: true });
} catch (e) {
  if (e instanceof TfmError) code = e.code;
}
const data: ModelData = JSON.parse(JSON.stringify((await import("${name}")).modelData(model, "cpu")));
const weights = model.weights.map((w) => w.name).length;
const runtime = await load(data, new Uint8Array(0)).catch((e: { code: string }) => e.code);
console.log(JSON.stringify({
  ok: model.ok, name: model.name, ops: model.graph!.nodes.length, kernels: model.schedule!.kernels.length,
  shape: logits!.shape, dtype: logits!.dtype, finite: Array.from(logits!.data).every(Number.isFinite),
  bad: code, diagnostics: bad.diagnostics.map((d) => d.code), weights, runtime,
}));
`;

const run = promisify(execFile);

beforeAll(async () => {
  // Packing runs `prepack` (tsc to dist/): the tarball holds what was just built.
  const packed = JSON.parse((await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: repo, env, maxBuffer: 1 << 26 })).stdout) as { filename: string }[];
  tarball = join(work, packed[0]!.filename);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }, null, 2));
  await run("npm", ["install", tarball, "typescript@~5.9", "@types/node@^20", "--omit=optional", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: app, env });
  copyFileSync(join(repo, "models", "gpt2.tfm"), join(app, "gpt2.tfm"));
}, 600_000);

describe(`the packed package (${name})`, () => {
  it("holds the built code, its types, the standard library and the command, and no tests or sources", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, ""));
    for (const f of ["bin/tfm.js", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/bundle/runtime.d.ts", "dist/src/cli/main.js", "dist/src/bundle/entry-cpu.js", "src/std/nn.tfm", "README.md", "LICENSE", "package.json"]) expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith("test/") || f.includes(".test.") || (f.endsWith(".ts") && !f.endsWith(".d.ts")))).toEqual([]);
  });

  it("resolves inside the project's node_modules, not the repository", async () => {
    const r = await sh("node", ["--input-type=module", "-e", `console.log(fileURLToPath(import.meta.resolve("${name}")))`.replace("fileURLToPath", "(await import('node:url')).fileURLToPath")]);
    expect(r.err).toBe("");
    const at = realpathSync(r.out.trim());
    expect(relative(join(app, "node_modules", name), at).startsWith("..")).toBe(false);
    expect(relative(repo, at).startsWith("..")).toBe(true);
  });

  it("runs `npx tfm check` and `npx tfm run` on a model", async () => {
    const check = await sh("npx", ["tfm", "check", "gpt2.tfm", ...tiny]);
    expect(check.err).toBe("");
    expect(check.out).toContain("gpt2.tfm: ok");
    const ran = await sh("npx", ["tfm", "run", "gpt2.tfm", ...tiny, "--random-weights", "--input", "input_ids=[[1, 2, 3]]", "-o", "out"]);
    expect(ran.err).toBe("");
    expect(ran.out).toContain("output logits: f32[1, 3, 100]");
    expect(readFileSync(join(app, "out", "logits.npy")).length).toBeGreaterThan(1200);
    expect((await sh("npx", ["tfm", "--help"])).code).toBe(0);
  });

  it("says how to install WebGPU for Node when it is left out (TFM7003)", async () => {
    const r = await sh("npx", ["tfm", "run", "gpt2.tfm", ...tiny, "--random-weights", "--input", "input_ids=[[1]]", "--backend", "webgpu"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[TFM7003]");
    expect(r.err).toContain("npm install webgpu");
  });

  it("type-checks a TypeScript program that imports compile (strict, NodeNext, library types checked) and runs a model through it", async () => {
    writeFileSync(join(app, "main.ts"), program);
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false, types: ["node"] }, files: ["main.ts"] }));
    const tsc = await sh("npx", ["tsc", "-p", "."]);
    expect(tsc.out + tsc.err).toBe("");
    const r = await sh("node", ["main.js"]);
    expect(r.err).toBe("");
    expect(JSON.parse(r.out)).toEqual({
      ok: true,
      name: "GPT2",
      ops: expect.any(Number),
      kernels: expect.any(Number),
      shape: [1, 3, 100],
      dtype: "f32",
      finite: true,
      bad: "TFM2001",
      diagnostics: ["TFM2001"],
      weights: 16,
      runtime: "TFM5001",
    });
  });
});

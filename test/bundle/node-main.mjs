// The Node side of the bundle tests, run as `node node-main.mjs plan.json` in a directory with no
// node_modules: imports each bundle, runs the fixtures and the error cases the plan lists, and
// prints the results as JSON on stdout.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runFixture } from "./runner.mjs";

const plan = JSON.parse(await readFile(process.argv[2], "utf8"));
const out = { fixtures: {}, errors: {}, models: {} };
const bundles = new Map();
const bundle = async (path) => {
  if (!bundles.has(path)) bundles.set(path, await import(pathToFileURL(path).href));
  return bundles.get(path);
};

for (const f of plan.fixtures ?? []) {
  const b = await bundle(f.bundle);
  const file = join(f.dir, "weights.safetensors");
  // The ways load() takes weights in Node: a path, a file: URL, bytes; and a path on a Node
  // without process.getBuiltinModule (before 20.16), where the loader imports fs itself.
  const weights = f.weights === "url" ? pathToFileURL(file) : f.weights === "bytes" ? await readFile(file) : file;
  const hidden = f.weights === "old-node" ? process.getBuiltinModule : undefined;
  if (hidden) process.getBuiltinModule = undefined;
  out.fixtures[f.name] = await runFixture(b, weights, (rel) => readFile(join(f.dir, rel)));
  if (hidden) process.getBuiltinModule = hidden;
  out.models[f.name] = b.model;
}
for (const c of plan.errors ?? []) {
  const b = await bundle(c.bundle);
  try {
    const m = await b.load(c.bytesFrom ? await readFile(c.bytesFrom) : c.weights);
    if (c.inputs) await m.run(c.inputs, ...(c.options !== undefined ? [c.options] : []));
    out.errors[c.name] = { ok: true };
  } catch (e) {
    out.errors[c.name] = { ok: false, name: e?.name, code: e?.code, message: String(e?.message), isError: e instanceof Error, isTfmError: e instanceof b.TfmError };
  }
}
for (const r of plan.runs ?? []) {
  const b = await bundle(r.bundle);
  const m = await b.load(r.weights);
  const outputs = await m.run(r.inputs, ...(r.options !== undefined ? [r.options] : []));
  out.models[r.name] = { model: b.model, outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { shape: v.shape, type: v.data.constructor.name, data: Array.from(v.data, (x) => (Object.is(x, -0) ? "-0" : x)) }])) };
}
process.stdout.write(JSON.stringify(out));

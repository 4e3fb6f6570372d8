// `tfm build --target cpu` bundles run by Node in a child process, from a directory with no
// node_modules: every PyTorch fixture (test/fixtures/) within 1e-4 of PyTorch (max errors
// printed), weights given as a path (also as Node < 20.16 reads one), a file: URL and bytes; and
// the errors load and run give, each a TfmError with a catalogue code.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../../src/weights/safetensors.js";
import { buildFixtureBundle, buildFixtures, fixtures, type NodeResults, runNode, TOLERANCE, workDir } from "./helpers.js";

let dir = "";
let fx = "";
let results: NodeResults;

/** The gpt2 fixture's checkpoint with `edit` applied to its tensors, written to DIR/<name>.safetensors. */
function variant(name: string, edit: (ts: NamedTensor[]) => NamedTensor[]): string {
  const file = readSafetensors(readFileSync(join(fx, "gpt2", "weights.safetensors")));
  const ts = [...file.tensors.values()].map((e): NamedTensor => ({ name: e.name, dtype: e.dtype, shape: [...e.shape], data: e.decode() }));
  const path = join(dir, `${name}.safetensors`);
  writeFileSync(path, writeSafetensors(edit(ts)));
  return path;
}

beforeAll(() => {
  dir = workDir("tfm-bundle-node-");
  fx = buildFixtures(dir);
  for (const name of fixtures) buildFixtureBundle(dir, fx, name);
  const gpt2 = join(dir, "bundles", "gpt2.js");
  const weights = join(fx, "gpt2", "weights.safetensors");
  const whole = readFileSync(weights);
  writeFileSync(join(dir, "header-cut.safetensors"), whole.subarray(0, 100));
  writeFileSync(join(dir, "data-cut.safetensors"), whole.subarray(0, whole.length - 100));
  const wrongDType = variant("wrong-dtype", (ts) => ts.map((t) => (t.name === "ln_f.bias" ? { ...t, dtype: "I32", data: new Int32Array(t.data.length) } : t)));
  const wrongShape = variant("wrong-shape", (ts) => ts.map((t) => (t.name === "ln_f.bias" ? { ...t, shape: [t.data.length / 2, 2] } : t)));
  const missing = variant("missing", (ts) => ts.filter((t) => t.name !== "ln_f.bias"));
  const extra = variant("extra", (ts) => [...ts, { name: "lm_head.weight", dtype: "F32", shape: [2], data: new Float32Array(2) }]);
  const ids = (data: unknown[], shape: number[]) => ({ input_ids: { data, shape } });
  results = runNode(dir, {
    fixtures: fixtures.map((name, i) => ({ name, bundle: join(dir, "bundles", `${name}.js`), dir: join(fx, name), weights: ["path", "url", "bytes", "old-node"][i % 4] })),
    errors: [
      { name: "no such file", bundle: gpt2, weights: join(dir, "nothing.safetensors") },
      { name: "header cut", bundle: gpt2, weights: join(dir, "header-cut.safetensors") },
      { name: "data cut", bundle: gpt2, bytesFrom: join(dir, "data-cut.safetensors") },
      { name: "wrong dtype", bundle: gpt2, weights: wrongDType },
      { name: "wrong shape", bundle: gpt2, weights: wrongShape },
      { name: "missing tensor", bundle: gpt2, weights: missing },
      { name: "unexpected tensor", bundle: gpt2, weights: extra },
      { name: "input rank", bundle: gpt2, weights, inputs: ids([1, 2, 3], [3]) },
      { name: "input length", bundle: gpt2, weights, inputs: ids([1, 2, 3], [1, 4]) },
      { name: "input not an integer", bundle: gpt2, weights, inputs: ids([1, 2.5], [1, 2]) },
      { name: "input out of int32", bundle: gpt2, weights, inputs: ids([1, 2 ** 31], [1, 2]) },
      { name: "unknown input", bundle: gpt2, weights, inputs: { input_id: { data: [1], shape: [1, 1] } } },
      { name: "missing input", bundle: gpt2, weights, inputs: {} },
      { name: "index out of range", bundle: gpt2, weights, inputs: ids([1, 211], [1, 2]) },
      { name: "sequence too long", bundle: gpt2, weights, inputs: ids(new Array(33).fill(1), [1, 33]) },
      { name: "fine", bundle: gpt2, weights, inputs: ids([1, 2], [1, 2]) },
    ],
  });
}, 120_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe("CPU bundles in Node vs PyTorch", () => {
  for (const name of fixtures) {
    it(name, () => {
      const r = results.fixtures[name]!;
      const report = Object.entries(r.outputs).map(([o, v]) => `${o} ${JSON.stringify(v.shape)} max |Δ| = ${v.maxErr.toExponential(2)}`);
      console.log(`[bundle/node] ${name}: ${report.join("; ")} (run ${r.ms.toFixed(1)} ms)`);
      for (const [o, v] of Object.entries(r.outputs)) {
        expect(v.shape, o).toEqual(v.wantShape);
        expect(v.type, o).toBe("Float32Array");
        expect(v.maxErr, `${name}.${o}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
});

describe("errors from a bundle are TfmErrors with a catalogue code", () => {
  const cases: [string, string, RegExp][] = [
    ["no such file", "TFM5018", /nothing\.safetensors: no such file or directory/],
    ["header cut", "TFM5001", /truncated/],
    ["data cut", "TFM5005", /go past the end/],
    ["wrong dtype", "TFM5104", /ln_f\.bias is I32, which cannot be converted to the weight's dtype f32/],
    ["wrong shape", "TFM5103", /ln_f\.bias is declared f32\[48\], but the checkpoint holds \[24, 2\]/],
    ["missing tensor", "TFM5101", /weight ln_f\.bias \(f32\[48\]\) is not in the checkpoint/],
    ["unexpected tensor", "TFM5102", /has tensor lm_head\.weight \(F32\[2\]\), which the model does not declare/],
    ["input rank", "TFM6002", /input `input_ids` has 1 dims \[3\], but the model takes i32\[batch, seq\]/],
    ["input length", "TFM5204", /shape \[1, 4\] has 4 elements but its data has 3/],
    ["input not an integer", "TFM5206", /element \[0, 1\] .* is 2\.5, not an integer/],
    ["input out of int32", "TFM5206", /is 2147483648, outside the int32 range/],
    ["unknown input", "TFM5201", /no input "input_id" \(did you mean `input_ids`\?\)/],
    ["missing input", "TFM5202", /input `input_ids` \(i32\[batch, seq\]\) is required/],
    ["index out of range", "TFM6001", /gather: index 211 .* out of range/],
    ["sequence too long", "TFM6001", /out of range/],
  ];
  for (const [name, code, message] of cases) {
    it(`${name}: ${code}`, () => {
      const e = results.errors[name]!;
      expect(e, name).toMatchObject({ ok: false, name: "TfmError", code, isError: true, isTfmError: true });
      expect(e.message).toMatch(new RegExp(`^${code}: `));
      expect(e.message).toMatch(message);
    });
  }

  it("and a good input runs", () => {
    expect(results.errors["fine"]).toEqual({ ok: true });
  });
});

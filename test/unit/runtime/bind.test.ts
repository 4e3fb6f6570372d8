// Binding a checkpoint to the model's weights: names (missing, unexpected, ignored, a prefix),
// shapes (with `transposed`), dtype conversions, and that nothing is converted before all matched.
import { describe, expect, it } from "vitest";
import { toArray } from "../../../src/core/tensor.js";
import { bindCheckpoint } from "../../../src/runtime/bind.js";
import { type NamedTensor, readSafetensors, type SafetensorsFile, type TensorEntry, writeSafetensors } from "../../../src/weights/safetensors.js";
import { checked, fullCheckpoint, render, seq, summary, tiny, weightsOf } from "./helpers.js";

const r = tiny();
const weights = weightsOf(r);
const ignored = r.instance!.ignored;
const at = { file: r.file, span: r.model!.decl.name.span };
const bind = (tensors: readonly NamedTensor[], opts = { path: "w.safetensors", at }) => bindCheckpoint(weights, writeSafetensors(tensors), ignored, opts);
const without = (name: string) => fullCheckpoint(weights).filter((t) => t.name !== name);
const replace = (t: NamedTensor) => [...without(t.name), t];

describe("a checkpoint that matches", () => {
  it("gives every weight in the declared layout and runtime dtype", () => {
    const b = bind(fullCheckpoint(weights));
    expect(b.diagnostics).toEqual([]);
    expect([...b.tensors!.keys()]).toEqual(["emb.weight", "proj.weight", "proj.bias", "norm.weight", "norm.bias", "head.kernel", "scale"]);
    const emb = b.tensors!.get("emb.weight")!;
    expect(emb).toMatchObject({ dtype: "f32", shape: [10, 4] });
    expect(toArray(emb)).toEqual(Array.from(seq([10, 4])));
  });

  it("transposes a `transposed` weight once, at load", () => {
    // The checkpoint holds [d, h] = [4, 3] with values 0..11 row-major; the model wants [h, d] = [3, 4].
    const k = bind(fullCheckpoint(weights)).tensors!.get("head.kernel")!;
    expect(k.shape).toEqual([3, 4]);
    expect(toArray(k)).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  });

  it("accepts a parsed file as well as bytes", () => {
    const file = readSafetensors(writeSafetensors(fullCheckpoint(weights)));
    expect(bindCheckpoint(weights, file, ignored).tensors?.size).toBe(7);
  });

  it("skips tensors that match an `ignore` pattern (`*` is one segment)", () => {
    const extra: NamedTensor[] = [
      { name: "extra.anything", dtype: "F32", shape: [2], data: new Float32Array(2) },
      { name: "rotary.0.inv_freq", dtype: "F32", shape: [2], data: new Float32Array(2) },
      { name: "rotary.11.inv_freq", dtype: "BOOL", shape: [1], data: new Uint8Array(1) },
    ];
    expect(bind([...fullCheckpoint(weights), ...extra]).diagnostics).toEqual([]);
    const b = bind([...fullCheckpoint(weights), { name: "rotary.inv_freq", dtype: "F32", shape: [2], data: new Float32Array(2) }]);
    expect(summary(b.diagnostics)).toEqual(["TFM5102 the checkpoint w.safetensors has tensor rotary.inv_freq (F32[2]), which the model does not declare"]);
    expect(b.tensors).toBeUndefined();
  });
});

describe("missing and unexpected tensors (errors, as load_state_dict(strict=True))", () => {
  it("a missing weight points at its declaration, with did-you-mean over the checkpoint's names", () => {
    const b = bind([...without("proj.bias"), { name: "proj.bais", dtype: "F32", shape: [3], data: new Float32Array(3) }]);
    expect(b.tensors).toBeUndefined();
    const [missing, unexpected] = b.diagnostics;
    expect(missing).toMatchObject({ code: "TFM5101", severity: "error", message: "weight proj.bias (f32[3]) is not in the checkpoint w.safetensors", notes: ["did you mean proj.bais?"] });
    // Linear's bias is declared in the standard library: the diagnostic points there.
    expect(missing!.file).toBe(weights.find((w) => w.name === "proj.bias")!.file);
    expect(missing!.span).toEqual(weights.find((w) => w.name === "proj.bias")!.decl.span);
    expect(unexpected).toMatchObject({ code: "TFM5102", file: "tiny.tfm", span: at.span, notes: ["did you mean proj.bias, which the model declares?", 'if the model does not use it, declare in the model: ignore "proj.bais"'] });
    expect(render(b.diagnostics, r)).toContain("error[TFM5101]: weight proj.bias (f32[3]) is not in the checkpoint w.safetensors");
  });

  it("a missing weight of the user's file points at its line", () => {
    const b = bind(without("scale"));
    expect(b.diagnostics.map((d) => [d.code, d.file, d.span.start])).toEqual([["TFM5101", "tiny.tfm", r.instance!.weights.find((w) => w.name === "scale")!.decl.span.start]]);
    expect(render(b.diagnostics, r)).toMatch(/^tiny\.tfm:8:3: error\[TFM5101\]: weight scale \(f32\[4\]\) is not in the checkpoint w\.safetensors\n.*\n8 \|   param scale: f32\[d\]/);
  });

  it("many missing weights fold into one diagnostic with a count", () => {
    const b = bind([{ name: "unrelated", dtype: "F32", shape: [1], data: new Float32Array(1) }]);
    expect(summary(b.diagnostics)).toEqual([
      "TFM5101 7 of the model's 7 weights are not in the checkpoint w.safetensors",
      "TFM5102 the checkpoint w.safetensors has tensor unrelated (F32[1]), which the model does not declare",
    ]);
    expect(b.diagnostics[0]!.notes).toEqual([
      "none of the model's 7 weights is in w.safetensors: is it the checkpoint for this model?",
      "missing:", "emb.weight", "proj.weight", "proj.bias", "norm.weight", "norm.bias", "head.kernel", "scale",
    ]);
  });

  it("many unexpected tensors fold into one diagnostic, grouped by pattern, with counts", () => {
    const extra: NamedTensor[] = [];
    for (let i = 0; i < 12; i++) extra.push({ name: `layers.${i}.attn.bias`, dtype: "F32", shape: [2], data: new Float32Array(2) });
    extra.push({ name: "lm_head.weight", dtype: "F16", shape: [2, 2], data: new Uint16Array(4) });
    const b = bind([...fullCheckpoint(weights), ...extra]);
    expect(summary(b.diagnostics)).toEqual(["TFM5102 the checkpoint w.safetensors has 13 tensors the model does not declare"]);
    expect(b.diagnostics[0]!.notes).toEqual([
      'if the model does not use them, declare in the model: ignore "layers.*.attn.bias", "lm_head.weight"',
      "not in the model:",
      "layers.*.attn.bias ×12 (F32[2])",
      "lm_head.weight (F16[2, 2])",
    ]);
  });

  it("recognises a wrapper's prefix on every checkpoint name", () => {
    const b = bind(fullCheckpoint(weights).map((t) => ({ ...t, name: `transformer.${t.name}` })));
    expect(b.diagnostics.map((d) => d.code)).toEqual(["TFM5101", "TFM5102"]);
    expect(b.diagnostics[0]!.notes).toContain("7 of the missing weights are in the checkpoint under the prefix transformer. (e.g. a wrapper module's name): strip it from the checkpoint's names");
  });

  it("recognises a prefix the checkpoint lacks", () => {
    const b = bind(fullCheckpoint(weights).map((t) => (t.name.startsWith("proj.") ? { ...t, name: t.name.slice(5) } : t)));
    expect(b.diagnostics[0]!.notes).toContain("2 of the missing weights are in the checkpoint without the prefix proj.: the checkpoint was saved from a module without it");
  });

  it("reports a file that is not a safetensors file as a diagnostic on the file", () => {
    const b = bindCheckpoint(weights, new Uint8Array([1, 2, 3]), ignored, { path: "bad.safetensors" });
    expect(b.tensors).toBeUndefined();
    expect(b.diagnostics).toMatchObject([{ code: "TFM5001", file: "bad.safetensors" }]);
    expect(render(b.diagnostics, r)).toBe("bad.safetensors: error[TFM5001]: file is 3 bytes, too short for a safetensors header (at least 8)");
  });
});

describe("shapes", () => {
  it("reports both shapes, and a note when the checkpoint holds the transpose", () => {
    const b = bind(replace({ name: "proj.weight", dtype: "F32", shape: [4, 3], data: new Float32Array(12) }));
    expect(summary(b.diagnostics)).toEqual(["TFM5103 weight proj.weight is declared f32[3, 4], but the checkpoint holds [4, 3]"]);
    expect(b.diagnostics[0]!.notes).toEqual(["the checkpoint holds the transpose of the declared shape: declare the weight `transposed`"]);
  });

  it("explains a `transposed` weight's expected checkpoint shape, and notes one stored untransposed", () => {
    const b = bind(replace({ name: "head.kernel", dtype: "F32", shape: [3, 4], data: new Float32Array(12) }));
    expect(summary(b.diagnostics)).toEqual(["TFM5103 weight head.kernel is declared f32[3, 4] `transposed`, so the checkpoint should hold [4, 3], but it holds [3, 4]"]);
    expect(b.diagnostics[0]!.notes).toEqual(["the checkpoint holds the weight as declared, not transposed: remove `transposed`"]);
    expect(b.diagnostics[0]!.file).toBe("tiny.tfm");
  });

  it("a plain mismatch has no note; rank differences are mismatches too", () => {
    const b = bind([...without("scale").filter((t) => t.name !== "norm.weight"), { name: "scale", dtype: "F32", shape: [5], data: new Float32Array(5) }, { name: "norm.weight", dtype: "F32", shape: [1, 3], data: new Float32Array(3) }]);
    expect(summary(b.diagnostics).sort()).toEqual([
      "TFM5103 weight norm.weight is declared f32[3], but the checkpoint holds [1, 3]",
      "TFM5103 weight scale is declared f32[4], but the checkpoint holds [5]",
    ]);
    expect(b.diagnostics.every((d) => d.notes.length === 0)).toBe(true);
  });

  it("folds many wrong shapes into one diagnostic (e.g. a checkpoint of another size)", () => {
    const r2 = checked(`model M(n: int = 6) {\n  input x: f32[n]\n  layer a = Linear(n, n)\n  layer b = Linear(n, n)\n  layer c = Linear(n, n)\n  output y = c(b(a(x)))\n}\n`);
    const small = checked(`model M(n: int = 5) {\n  input x: f32[n]\n  layer a = Linear(n, n)\n  layer b = Linear(n, n)\n  layer c = Linear(n, n)\n  output y = c(b(a(x)))\n}\n`);
    const b = bindCheckpoint(weightsOf(r2), writeSafetensors(fullCheckpoint(weightsOf(small))), [], { path: "small.safetensors" });
    expect(summary(b.diagnostics)).toEqual(["TFM5103 6 weights have a different shape in the checkpoint small.safetensors"]);
    expect(b.diagnostics[0]!.notes).toContain("a.weight: model [6, 6], checkpoint [5, 5]");
    expect(b.diagnostics[0]!.file).toBe("small.safetensors");
  });
});

describe("dtypes", () => {
  const r3 = checked(`model D {\n  input x: f32[n]\n  param a: f32[3]\n  param h: f16[2]\n  param i: i64[2]\n  param j: i32[2]\n  param b: bool[2]\n  output y = x\n}\n`, "d.tfm");
  const w3 = weightsOf(r3);
  const base: NamedTensor[] = [
    { name: "a", dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) },
    { name: "h", dtype: "F16", shape: [2], data: new Float32Array([0.5, 2]) },
    { name: "i", dtype: "I64", shape: [2], data: new BigInt64Array([-5n, 2n ** 31n - 1n]) },
    { name: "j", dtype: "U8", shape: [2], data: new Uint8Array([0, 255]) },
    { name: "b", dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
  ];
  const load = (...changes: NamedTensor[]) => bindCheckpoint(w3, writeSafetensors(base.map((t) => changes.find((c) => c.name === t.name) ?? t)), [], { path: "d.safetensors" });

  it("converts F16, BF16 and F64 to f32, and integers of any width to i32", () => {
    const b = load();
    expect(b.diagnostics).toEqual([]);
    expect(b.tensors!.get("h")).toMatchObject({ dtype: "f32", data: new Float32Array([0.5, 2]) });
    expect(b.tensors!.get("i")).toMatchObject({ dtype: "i32", data: new Int32Array([-5, 2 ** 31 - 1]) });
    expect(b.tensors!.get("j")).toMatchObject({ dtype: "i32", data: new Int32Array([0, 255]) });
    expect(b.tensors!.get("b")).toMatchObject({ dtype: "bool", data: new Uint8Array([1, 0]) });
    expect(toArray(load({ name: "a", dtype: "BF16", shape: [3], data: new Float32Array([1, 2, 3]) }).tensors!.get("a")!)).toEqual([1, 2, 3]);
    expect(toArray(load({ name: "a", dtype: "F64", shape: [3], data: new Float64Array([0.1, 2, 3]) }).tensors!.get("a")!)).toEqual([Math.fround(0.1), 2, 3]);
  });

  it("rounds a value to a declared f16 weight's precision when the file holds more", () => {
    const b = load({ name: "h", dtype: "F32", shape: [2], data: new Float32Array([0.1, 65504]) });
    expect(toArray(b.tensors!.get("h")!)).toEqual([0.0999755859375, 65504]);
  });

  it("range-checks integers: a value outside int32 is an error at the weight", () => {
    const b = load({ name: "i", dtype: "I64", shape: [2], data: new BigInt64Array([0n, 2n ** 40n]) });
    expect(b.tensors).toBeUndefined();
    expect(summary(b.diagnostics)).toEqual([`TFM5013 cannot load weight i (i64[2]) from d.safetensors: tensor "i" (I64) holds 1099511627776 at element 1, outside the int32 range`]);
    expect(b.diagnostics[0]!.file).toBe("d.tfm");
  });

  it("refuses dtypes that cannot convert: bool to f32, float to int, int to bool", () => {
    const b = load(
      { name: "a", dtype: "BOOL", shape: [3], data: new Uint8Array(3) },
      { name: "i", dtype: "F32", shape: [2], data: new Float32Array(2) },
      { name: "b", dtype: "U8", shape: [2], data: new Uint8Array(2) },
    );
    expect(summary(b.diagnostics)).toEqual([
      "TFM5104 checkpoint tensor a is BOOL, which cannot be converted to the weight's dtype f32",
      "TFM5104 checkpoint tensor i is F32, which cannot be converted to the weight's dtype i64",
      "TFM5104 checkpoint tensor b is U8, which cannot be converted to the weight's dtype bool",
    ]);
    expect(b.diagnostics[0]!.notes).toEqual(["f32 weights load from F32, F16, BF16, F64"]);
  });
});

describe("nothing is converted before the whole header has been matched", () => {
  /** A parsed file whose entries count every access to their data. */
  function spied(tensors: readonly NamedTensor[]): { file: SafetensorsFile; reads: () => number } {
    const real = readSafetensors(writeSafetensors(tensors));
    let reads = 0;
    const wrap = (e: TensorEntry): TensorEntry =>
      new Proxy(e, {
        get(target, key, receiver) {
          const v = Reflect.get(target, key, receiver) as unknown;
          if (typeof v === "function" && ["bytes", "decode", "toFloat32", "toInt32"].includes(String(key))) {
            return (...args: unknown[]) => {
              reads++;
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return v;
        },
      });
    return { file: { metadata: real.metadata, tensors: new Map([...real.tensors].map(([k, e]) => [k, wrap(e)])) }, reads: () => reads };
  }

  it("touches no tensor data when any name, shape or dtype is wrong", () => {
    for (const broken of [without("scale"), replace({ name: "scale", dtype: "F32", shape: [9], data: new Float32Array(9) }), replace({ name: "scale", dtype: "BOOL", shape: [4], data: new Uint8Array(4) }), [...fullCheckpoint(weights), { name: "zzz", dtype: "F32", shape: [1], data: new Float32Array(1) }]]) {
      const s = spied(broken as NamedTensor[]);
      const b = bindCheckpoint(weights, s.file, ignored);
      expect(b.tensors).toBeUndefined();
      expect(s.reads()).toBe(0);
    }
    const ok = spied(fullCheckpoint(weights));
    expect(bindCheckpoint(weights, ok.file, ignored).tensors?.size).toBe(7);
    expect(ok.reads()).toBeGreaterThan(0);
  });
});

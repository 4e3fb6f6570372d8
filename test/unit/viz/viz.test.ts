// src/viz/: slicing and downsampling what is drawn, and the layer paths recovered for the graph.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../../src/index.js";
import { layerPaths } from "../../../src/viz/graph.js";
import { downsample, parseSlice, toMatrix } from "../../../src/viz/tensor.js";
import { WeightFileError } from "../../../src/weights/errors.js";

const iota = (shape: number[]) => ({ dtype: "F32" as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i) });
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof WeightFileError ? e.code : "other";
  }
  return undefined;
};

describe("toMatrix", () => {
  it("slices like NumPy, keeping the original indices", () => {
    expect(parseSlice(" 1 , -2: ,:3")).toEqual([{ kind: "index", i: 1 }, { kind: "range", start: -2 }, { kind: "range", end: 3 }]);
    const m = toMatrix(iota([2, 3, 4]), "-1,1:,-3:-1");
    expect([m.rank, m.rows, m.cols]).toEqual([2, 2, 2]);
    expect(m.rowIndex).toEqual([1, 2]);
    expect(m.colIndex).toEqual([1, 2]);
    expect([...m.values]).toEqual([12 + 4 + 1, 12 + 4 + 2, 12 + 8 + 1, 12 + 8 + 2]);
    const v = toMatrix(iota([3, 4]), ":,2");
    expect([v.rank, v.cols, ...v.values]).toEqual([1, 3, 2, 6, 10]);
  });

  it("decodes F16 and bool", () => {
    const h = toMatrix({ dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) });
    expect([...h.values]).toEqual([1, -2]);
    const b = toMatrix({ dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) });
    expect(b.bool).toBe(true);
    expect([...b.values]).toEqual([1, 0]);
  });

  it("refuses what it cannot draw with TFM5212", () => {
    expect(code(() => toMatrix(iota([2, 2, 2])))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "0,0"))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "0,0,0"))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "1:1"))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "::2"))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "x"))).toBe("TFM5212");
    expect(code(() => toMatrix(iota([2, 2]), "-3"))).toBe("TFM5212");
  });

  it("downsamples by block means", () => {
    const m = downsample(toMatrix(iota([4, 6])), 2, 2);
    expect([m.rows, m.cols, m.downsampled]).toEqual([2, 2, [2, 3]]);
    expect([...m.values]).toEqual([(0 + 1 + 2 + 6 + 7 + 8) / 6, (3 + 4 + 5 + 9 + 10 + 11) / 6, (12 + 13 + 14 + 18 + 19 + 20) / 6, (15 + 16 + 17 + 21 + 22 + 23) / 6]);
    expect(m.rowIndex).toEqual([0, 2]);
  });
});

describe("layerPaths", () => {
  it("puts GPT-2's nodes in the layers their weights name", () => {
    const text = readFileSync("models/gpt2.tfm", "utf8");
    const g = compile(text, { file: "models/gpt2.tfm", settings: new Map([["n_layer", "2"], ["n_embd", "32"], ["n_head", "4"], ["vocab_size", "50"], ["n_positions", "16"]]), until: "all" }).optimized!.graph;
    const paths = layerPaths(g);
    for (const n of g.nodes) if (n.op === "weight") expect(paths[n.id]).toBe(n.attrs.name!.split(".").slice(0, -1).join("."));
    const softmaxish = g.nodes.filter((n) => n.op === "exp").map((n) => paths[n.id]);
    expect(softmaxish).toEqual(expect.arrayContaining(["h.0.attn", "h.1.attn"]));
    expect(new Set(paths)).toContain("h.1.mlp");
  });
});

// `repeat(n, i)`: each copy of a stack knows its index, so copies may differ in their parameters
// (here layer 0 has a bias the others do not) and so in their weights.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/api.js";
import { formatText } from "../../../src/syntax/format.js";
import { codes, run } from "../../helpers.js";

const firstDiffers = readFileSync("test/fixtures/first_layer_differs.tfm", "utf8");

describe("repeat(n, i)", () => {
  it("gives each copy its index: layer 0 has a bias the others do not", () => {
    const r = run(firstDiffers);
    expect(r.diagnostics).toEqual([]);
    expect(r.instance!.weights.map((w) => `${w.name} [${w.shape.join(", ")}]`)).toEqual(["h.0.proj.weight [8, 8]", "h.0.proj.bias [8]", "h.1.proj.weight [8, 8]", "h.2.proj.weight [8, 8]"]);
    expect(r.instance!.model.children.map((c) => [c.path, c.hparams.get("first"), c.hparams.get("scale")])).toEqual([
      ["h.0", { kind: "bool", v: true }, { kind: "float", v: 1 }],
      ["h.1", { kind: "bool", v: false }, { kind: "float", v: 0.5 }],
      ["h.2", { kind: "bool", v: false }, { kind: "float", v: 1 / 3 }],
    ]);
    const weights = buildGraph(r)!.nodes.filter((n) => n.op === "weight").map((n) => n.attrs.name);
    expect(weights.sort()).toEqual(["h.0.proj.bias", "h.0.proj.weight", "h.1.proj.weight", "h.2.proj.weight"]);
  });

  it("takes the index in the arguments only, as a fresh name", () => {
    expect(codes(firstDiffers.replace("output y = h(x)", "output y = h(x) + i"))).toEqual([expect.stringMatching(/^TFM2001@12:21/)]);
    expect(codes(firstDiffers.replace("repeat(n_layer, i)", "repeat(n_layer, d)").replace(/i == 0|i \+ 1/g, "d"))).toEqual([expect.stringMatching(/^TFM2002@11:29/)]);
    expect(codes(firstDiffers.replace("1.0 / (i + 1)", "1.0 / (i - 1)"))).toEqual([expect.stringMatching(/^TFM3003@11:61/)]);
  });

  it("checks a stack of unknown length, outside the model, with its index as a symbol", () => {
    expect(codes(firstDiffers.replace("model Stack(n_layer: int = 3", "block Stack(n_layer: int") + "model M {\n  input x: f32[2]\n  output y = x\n}\n")).toEqual([]);
  });

  it("parses and formats back", () => {
    expect(formatText(firstDiffers).text).toBe(firstDiffers);
    expect(formatText(firstDiffers.replace("repeat(n_layer, i)", "repeat( n_layer ,i )")).text).toContain("layer h = repeat(n_layer, i) Layer(d, first=i == 0, scale=1.0 / (i + 1))");
  });
});

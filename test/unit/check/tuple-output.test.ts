// Found by the fuzz shards (test/property/fuzz-shard-*.test.ts; the inputs are kept in
// test/property/regressions/): an output bound to a tuple — a block with several outputs called
// as one value — passed the checker and crashed the IR builder ("a tuple value has no node"); a
// chunk count of 2^53 made the checker allocate that many parts (TFM9001 "Invalid array length").
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";

const errors = (text: string) => check(text, "m.tfm").diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`);
const twoOutputs = "block B2 {\n  input x: f32[B, T]\n  output y = x\n  output z = x * 2.0\n}\n";

describe("values the checker used to let through", () => {
  it("refuses an output that is a tuple (TFM4010), plain or from a repeat stack", () => {
    for (const layer of ["B2()", "repeat(2) B2()"]) {
      const text = `${twoOutputs}model M {\n  input x: f32[B, T]\n  layer l = ${layer}\n  v = l(x)\n  output y = v\n}\n`;
      expect(errors(text)).toEqual(["TFM4010 output `y` is a tuple of 2 values, not one: unpack it first (`a, b = ...`) and output each"]);
    }
    expect(errors("model M {\n  input x: f32[B, 4]\n  output y = chunk(x, 2, dim=1)\n}\n")[0]).toMatch(/^TFM4010 output `y` is a tuple of 2 values/);
  });

  it("still builds a tuple unpacked into outputs", () => {
    const r = check(`${twoOutputs}model M {\n  input x: f32[B, T]\n  layer l = B2()\n  a, b = l(x)\n  output y = a\n  output z = b\n}\n`, "m.tfm");
    expect(errors(r.sources.get("m.tfm")!)).toEqual([]);
    expect(buildGraph(r)?.outputs.map((o) => o.name)).toEqual(["y", "z"]);
  });

  it("refuses a chunk count over 10,000 with TFM3004 instead of allocating it", () => {
    expect(errors("model M {\n  input x: f32[B, T]\n  a, b = chunk(x, 20000)\n  output y = a\n}\n")).toEqual(["TFM3004 chunk count must be at most 10000, found 20000"]);
    // 2^53 + 1 is TFM1004 first; the shapes the editor still shows after it used to end in TFM9001.
    const codes = check("model M {\n  input x: f32[B, T]\n  a, b = chunk(x, 9007199254740993)\n  output y = a\n}\n", "m.tfm").diagnostics.map((d) => d.code);
    expect(codes).toContain("TFM1004");
    expect(codes).not.toContain("TFM9001");
  });
});

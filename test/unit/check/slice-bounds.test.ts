// A slice bound that is not an integer (`x[:, :0.0]`, `x[1:true]`) is TFM4010, as PyTorch raises
// "slice indices must be integers". The checker used to give the slice an opaque size and the IR
// builder kept the whole dim: a silently wrong tensor. Found by the fuzz shards
// (test/property/fuzz-shard-grammar.test.ts; the input is kept in test/property/regressions/).
import { describe, expect, it } from "vitest";
import { check } from "../../../src/api.js";

const errors = (body: string) =>
  check(`model M {\n  input x: f32[B, T]\n${body}}\n`, "m.tfm").diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`);

describe("slice bounds", () => {
  it("refuses a float, bool or string bound with TFM4010", () => {
    expect(errors("  output y = x[:, :0.0]\n")).toEqual(["TFM4010 a slice bound must be an integer, found float 0"]);
    expect(errors("  output y = x[:, 1:true]\n")).toEqual(["TFM4010 a slice bound must be an integer, found bool true"]);
    expect(errors('  output y = x["a":]\n')).toHaveLength(1);
    expect(errors("  output y = concat([x[:, :0.5], x[:, 1:]], dim=1)\n")[0]).toMatch(/^TFM4010 a slice bound must be an integer/);
  });

  it("still takes integer bounds, constant and symbolic", () => {
    expect(errors("  output y = x[:, 1:]\n")).toEqual([]);
    expect(errors("  output y = x[:, :T - 1]\n")).toEqual([]);
    expect(errors("  output y = x[-1:]\n")).toEqual([]);
  });
});

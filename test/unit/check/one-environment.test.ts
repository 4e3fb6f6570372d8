// The instantiation and the shape checker read one binding of every name: a name rebound in the
// branch of an `if` the parameters select has its new value after the `if`, for the checkpoint's
// weights as for the checked types and the IR. (The instantiation used to evaluate the taken
// branch on a copy of its environment, so the weight was [4] in the checkpoint and f32[8] in the
// checker and the IR.)
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { showDim } from "../../../src/core/dim.js";

const text = `model M(flag = true) {
  input x: f32[b, 4]
  d = 4
  if flag {
    d = 8
  }
  param w: f32[d]
  output y = w
}
`;

function facts(settings: Record<string, string> = {}) {
  const r = check(text, "t.tfm", { settings: new Map(Object.entries(settings)) });
  const at = text.indexOf("w: f32[d]");
  return {
    diagnostics: r.diagnostics.map((d) => d.code),
    weight: r.instance!.weights.map((w) => `${w.name} [${w.shape.join(", ")}]`),
    type: r.shapes!.types.get(`t.tfm:${at}:${at + 1}`),
    ir: buildGraph(r)!.nodes.filter((n) => n.op === "weight").map((n) => `${String(n.attrs.name)} [${n.shape.map(showDim).join(", ")}]`),
  };
}

describe("one environment for the instantiation and the checker", () => {
  it("a name rebound in the taken branch of an `if` sizes the weight after it", () => {
    const f = facts();
    expect(f.diagnostics).toEqual([]);
    expect(f.weight).toEqual(["w [8]"]);
    expect(f.type).toEqual(["f32[8]"]);
    expect(f.ir).toEqual(["w [8]"]);
  });

  it("and the other branch keeps the value before it", () => {
    const f = facts({ flag: "false" });
    expect(f.diagnostics).toEqual([]);
    expect(f.weight).toEqual(["w [4]"]);
    expect(f.type).toEqual(["f32[4]"]);
    expect(f.ir).toEqual(["w [4]"]);
  });
});

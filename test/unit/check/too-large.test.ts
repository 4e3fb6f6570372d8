// TFM3008: a model past the limits on instances or weights is reported at the instance or weight
// that passes the limit counting in declaration order (depth first: a layer's copy, then what it
// contains), whether the copies are walked one by one or the first copy of a stack stands for the
// rest; and a stack far past the limit is not walked copy by copy to find that out.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { check } from "../../../src/api.js";

/** A stack of `outer` copies of B, each a stack of `inner` copies of C; `indexed` gives each copy of B its own parameter, so no copy stands for another. */
function nested(outer: number, inner: number, indexed: boolean): string {
  const h = indexed ? `repeat(${outer}, i) B(i)` : `repeat(${outer}) B(0)`;
  return `block C() {\n  input x: f32[n]\n  output y = x\n}\nblock B(k: int) {\n  input x: f32[n]\n  layer c = repeat(${inner}) C()\n  output y = c(x)\n}\nmodel M() {\n  input x: f32[n]\n  layer h = ${h}\n  output y = h(x)\n}\n`;
}

const trace = (text: string) => {
  const r = check(text, "t.tfm");
  return r.diagnostics.map((d) => ({ code: d.code, message: d.message, at: (d.related ?? []).map((x) => x.message) }));
};

describe("TFM3008 in declaration order", () => {
  it("reports the 100,001st instance depth first, as a walk in declaration order meets it", () => {
    // M is the 1st instance; each copy h.k holds 1 + 300 instances: 1 + 301 × 332 = 99,933, so h.332 is the
    // 99,934th, its c.0 the 99,935th and its c.66 the 100,001st.
    const expected = [{ code: "TFM3008", message: "the model has more than 100000 layer instances", at: ["in `C` (h.332.c.66), instantiated here", "in `B` (h.332), instantiated here"] }];
    expect(trace(nested(400, 300, false))).toEqual(expected); // copy 0 stands for the others
    expect(trace(nested(400, 300, true))).toEqual(expected); // every copy walked
  });

  it("finds it in repeat(1500) of repeat(1500) without walking the copies before it", () => {
    // 1 + 1501 × 66 = 99,067 instances before h.66; its c.932 is the 100,001st.
    // (test/unit/bad-input.test.ts bounds its time: walking the 66 copies before it took 0.7–1.0 s there.)
    expect(trace(nested(1500, 1500, false))).toEqual([{ code: "TFM3008", message: "the model has more than 100000 layer instances", at: ["in `C` (h.66.c.932), instantiated here", "in `B` (h.66), instantiated here"] }]);
  });

  it("reports the 100,001st weight at its declaration, in the copy that holds it", () => {
    // 10,000 copies of 11 weights: copy 9,090 holds weights 99,991 to 100,001, the last of them `l`.
    const text = readFileSync("test/errors/TFM3008-model-too-large.tfm", "utf8");
    const r = check(text, "t.tfm");
    expect(r.diagnostics.map((d) => [d.code, text.slice(d.span.start, d.span.end), d.message, (d.related ?? []).map((x) => x.message)])).toEqual([
      ["TFM3008", "param l: f32[d]", "the model has more than 100000 weight tensors", ["in `Wide` (h.9090), instantiated here"]],
    ]);
  });
});

// The IR: every model lowers to a graph that verifies; small models' IR is kept as golden files.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { printGraph } from "../../../src/ir/print.js";
import { verify } from "../../../src/ir/verify.js";

const graphOf = (file: string, settings: Record<string, string> = {}) => {
  const r = check(readFileSync(file, "utf8"), file, { settings: new Map(Object.entries(settings)) });
  expect(r.diagnostics).toEqual([]);
  return buildGraph(r)!;
};

describe("IR", () => {
  for (const f of readdirSync("models").filter((x) => x.endsWith(".tfm"))) {
    it(`${f} lowers to a graph that verifies`, () => {
      const g = graphOf(`models/${f}`);
      expect(verify(g)).toEqual([]);
      expect(g.outputs.length).toBeGreaterThan(0);
      expect(Object.isFrozen(g.nodes[0])).toBe(true);
    });
  }

  it("names weights by checkpoint name, one node each, as the instantiation does", () => {
    const r = check(readFileSync("models/gpt2.tfm", "utf8"), "models/gpt2.tfm", { settings: new Map([["n_layer", "2"]]) });
    const g = buildGraph(r)!;
    const weights = g.nodes.filter((n) => n.op === "weight").map((n) => n.attrs.name).sort();
    expect(weights).toEqual(r.instance!.weights.map((w) => w.name).sort());
  });

  // Golden IR for small settings of the models, reviewed as diffs (`vitest -u` regenerates).
  const small: Record<string, Record<string, string>> = {
    "gpt2.tfm": { n_layer: "1", n_embd: "8", n_head: "2", vocab_size: "11", n_positions: "16" },
    "additive_attention.tfm": {},
  };
  for (const [f, settings] of Object.entries(small)) {
    it(`golden IR of ${f}`, async () => {
      await expect(printGraph(graphOf(`models/${f}`, settings))).toMatchFileSnapshot(`../../golden/ir/${f.replace(".tfm", ".ir")}`);
    });
  }

  it("verify catches a malformed graph", () => {
    const g = graphOf("models/additive_attention.tfm");
    const broken = { ...g, nodes: g.nodes.map((n) => (n.op === "matmul" ? { ...n, shape: n.shape.slice(1) } : n)) };
    expect(verify(broken).some((p) => p.includes("matmul"))).toBe(true);
  });
});

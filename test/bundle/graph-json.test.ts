// The graph as JSON data (src/bundle/graph-json.ts): every model's optimized graph comes back the
// same through JSON text — same printed IR, const values to the bit (-0, -Infinity), quotient
// atoms registered again and evaluating at run time.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { addDim, constDim, divDim, evalDim, symDim } from "../../src/core/dim.js";
import type { Graph } from "../../src/ir/graph.js";
import { printGraph } from "../../src/ir/print.js";
import { optimize } from "../../src/optimize.js";
import { decodeGraph, encodeGraph, type GraphJson } from "../../src/bundle/graph-json.js";

const graphOf = (text: string, file: string): Graph => {
  const r = check(text, file);
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return optimize(buildGraph(r)!).graph;
};
const roundTrip = (g: Graph): Graph => decodeGraph(JSON.parse(JSON.stringify(encodeGraph(g))) as GraphJson);

const files = [...readdirSync("models").filter((f) => f.endsWith(".tfm")).map((f) => `models/${f}`), ...readdirSync("test/fixtures/models").map((f) => `test/fixtures/models/${f}`)];

describe("graph JSON round trip", () => {
  for (const file of files) {
    it(file, () => {
      const g = graphOf(readFileSync(file, "utf8"), file);
      const back = roundTrip(g);
      expect(printGraph(back)).toBe(printGraph(g));
      back.nodes.forEach((n, i) => {
        const v = g.nodes[i]!.attrs.value;
        if (typeof v === "number") expect(Object.is(n.attrs.value, v), `%${i} ${v}`).toBe(true);
      });
    });
  }

  it("keeps -0 and -Infinity constants, and quotient atoms that evaluate", () => {
    const g = graphOf(
      `model Q {
        input x: f32[batch, seq, 4]
        h = reshape(x, [batch, seq / 2, 8])
        output y = where(h > 0, h * -0.0, -inf)
        output z = reshape(h, [batch * (seq / 2), 8])
      }`,
      "q.tfm",
    );
    const json = encodeGraph(g);
    expect(json.atoms.map(([name]) => name)).toEqual(["(seq / 2)"]);
    const text = JSON.stringify(json);
    expect(text).toContain('{"n":"-0"}');
    expect(text).toContain('{"n":"-Infinity"}');
    const back = roundTrip(g);
    expect(printGraph(back)).toBe(printGraph(g));
    const z = back.nodes[back.outputs.find((o) => o.name === "z")!.node]!;
    expect(z.shape.map((d) => evalDim(d, new Map([["batch", 3], ["seq", 6]])))).toEqual([9, 8]);
  });

  it("writes nested quotients after the ones they mention, and NaN and Infinity as tagged numbers", () => {
    const half = divDim(symDim("s"), constDim(2)).q; // (s / 2)
    const nested = divDim(addDim(half, constDim(1)), constDim(3)).q; // ((s / 2) + 1) / 3, as an atom
    const g: Graph = {
      name: "N",
      states: [],
      nodes: [
        { id: 0, op: "input", inputs: [], attrs: { name: "x" }, dtype: "f32", shape: [nested, half] },
        { id: 1, op: "const", inputs: [], attrs: { value: NaN }, dtype: "f32", shape: [] },
        { id: 2, op: "const", inputs: [], attrs: { value: Infinity }, dtype: "f32", shape: [] },
      ],
      inputs: [{ name: "x", node: 0 }],
      outputs: [{ name: "x", node: 0 }],
    };
    const json = encodeGraph(g);
    expect(json.atoms.map(([name]) => name)).toEqual(["(s / 2)", "((1 + (s / 2)) / 3)"]);
    const back = roundTrip(g);
    expect(back.nodes[0]!.shape.map((d) => evalDim(d, new Map([["s", 10]])))).toEqual([2, 5]);
    expect(back.nodes[1]!.attrs.value).toBeNaN();
    expect(back.nodes[2]!.attrs.value).toBe(Infinity);
  });
});

// Shared by the pass tests: graphs from .tfm text or built by hand, op counts, and running a graph
// on the CPU interpreter.
import { expect } from "vitest";
import { buildGraph, check } from "../../../src/api.js";
import { CpuProgram } from "../../../src/backends/cpu/interpret.js";
import { fromValues, type Tensor } from "../../../src/core/tensor.js";
import { constDim } from "../../../src/core/dim.js";
import type { Graph } from "../../../src/ir/graph.js";
import { verify } from "../../../src/ir/verify.js";

/** The IR of a program that must check cleanly. */
export function graphOf(src: string, settings: Record<string, string> = {}): Graph {
  const r = check(src, "test.tfm", { settings: new Map(Object.entries(settings)) });
  expect(r.diagnostics).toEqual([]);
  const g = buildGraph(r)!;
  expect(verify(g)).toEqual([]);
  return g;
}

/** A model of one f32 input `x: f32[b, 4]` (and a bool mask `m`), with the given body lines. */
export const model = (...body: string[]) => graphOf(`model M {\n  input x: f32[b, 4]\n  input m: bool[b, 4]\n${body.map((l) => `  ${l}\n`).join("")}}\n`);

export const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

export const dims = (...ns: number[]) => ns.map(constDim);

/** Runs `g` and returns its outputs' values as plain arrays (−0 kept). */
export function runValues(g: Graph, inputs: Record<string, Tensor>, weights: ReadonlyMap<string, Tensor> = new Map()): Record<string, number[]> {
  const res = new CpuProgram(g, weights).run(new Map(Object.entries(inputs)));
  return Object.fromEntries([...res.outputs].map(([k, t]) => [k, [...t.data]]));
}

/** x: f32[2, 4] with −0, NaN, ±∞ among ordinary values; m: a bool mask of the same shape. */
export const specialInputs = (): Record<string, Tensor> => ({
  x: fromValues("f32", [2, 4], [-0, 0, NaN, Infinity, -Infinity, 1.5, -2.25, 3]),
  m: fromValues("bool", [2, 4], [1, 0, 1, 0, 0, 1, 1, 0]),
});

// Benchmark support: the GPT-2 workloads (models/gpt2.tfm at two sizes), their deterministic weights from tfm's randomWeights, token inputs, and FLOP counts.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildGraph, check } from "../src/api.js";
import type { Tensor } from "../src/core/tensor.js";
import { evalDim } from "../src/core/dim.js";
import { hasErrors } from "../src/diag/diagnostic.js";
import type { Graph } from "../src/ir/graph.js";
import { randomWeights } from "../src/runtime/init.js";

export type Weights = ReadonlyMap<string, Tensor>;

export interface Gpt2Config {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly vocab: number;
  readonly nPositions: number;
  readonly eps: number;
}

export interface Workload {
  readonly name: string;
  readonly cfg: Gpt2Config;
  readonly seq: number;
  /** Timed rounds per engine (after one warm-up each). */
  readonly rounds: number;
}

export const workloads: readonly Workload[] = [
  { name: "gpt2-small", cfg: { nLayer: 12, nEmbd: 768, nHead: 12, vocab: 50257, nPositions: 1024, eps: 1e-5 }, seq: 128, rounds: 5 },
  { name: "small", cfg: { nLayer: 4, nEmbd: 256, nHead: 4, vocab: 1000, nPositions: 64, eps: 1e-5 }, seq: 64, rounds: 15 },
];

export const modelFile = resolve(import.meta.dirname, "../models/gpt2.tfm");
export const SEED = 0;

export interface Built {
  readonly graph: Graph;
  readonly weights: Map<string, Tensor>;
  /** Milliseconds: check + IR, and drawing the random weights. */
  readonly checkMs: number;
  readonly weightsMs: number;
}

/** Checks models/gpt2.tfm with the workload's settings (as `--set` gives them), lowers it, and draws its weights. */
export function buildWorkload(w: Workload): Built {
  const t0 = performance.now();
  const { cfg } = w;
  const settings = new Map([
    ["n_layer", String(cfg.nLayer)],
    ["n_embd", String(cfg.nEmbd)],
    ["n_head", String(cfg.nHead)],
    ["vocab_size", String(cfg.vocab)],
    ["n_positions", String(cfg.nPositions)],
    ["layer_norm_epsilon", String(cfg.eps)],
  ]);
  const r = check(readFileSync(modelFile, "utf8"), modelFile, { settings });
  const graph = buildGraph(r);
  if (hasErrors(r.diagnostics) || !graph || !r.instance) throw new Error(`models/gpt2.tfm does not check with ${[...settings].map(([k, v]) => `${k}=${v}`).join(" ")}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  const t1 = performance.now();
  const weights = randomWeights(r.instance.weights, SEED);
  return { graph, weights, checkMs: t1 - t0, weightsMs: performance.now() - t1 };
}

/** Deterministic token ids in [0, vocab). */
export function tokens(seq: number, vocab: number): Int32Array {
  const ids = new Int32Array(seq);
  let s = 12345;
  for (let i = 0; i < seq; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = s % vocab;
  }
  return ids;
}

/** The prefill's FLOPs by formula: 2·m·n·k per matmul — the four projections, attention's two products, the LM head. */
export function prefillFlops(cfg: Gpt2Config, seq: number, batch = 1): { total: number; parts: [string, number][] } {
  const { nLayer: L, nEmbd: C, nHead: H, vocab: V } = cfg;
  const T = batch * seq;
  const parts: [string, number][] = [
    ["projections (c_attn, c_proj, c_fc, mlp.c_proj)", L * 2 * T * C * (3 * C + C + 4 * C + 4 * C)],
    ["attention (q·kᵀ, p·v)", L * 2 * 2 * batch * H * seq * seq * (C / H)],
    ["LM head", 2 * T * C * V],
  ];
  return { total: parts.reduce((a, [, f]) => a + f, 0), parts };
}

/** One decode step (one new token after `past` cached ones): the same count with m = 1 and past + 1 keys. */
export function decodeFlops(cfg: Gpt2Config, past: number): number {
  const { nLayer: L, nEmbd: C, nHead: H, vocab: V } = cfg;
  return L * (2 * C * 12 * C + 2 * 2 * H * (past + 1) * (C / H)) + 2 * C * V;
}

/** The FLOPs of every matmul node in tfm's graph, from its dims at the given symbol values (a check on the formula). */
export function graphFlops(graph: Graph, symbols: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const node of graph.nodes) {
    if (node.op !== "matmul") continue;
    const a = graph.nodes[node.inputs[0]!]!.shape.map((d) => evalDim(d, symbols)!);
    const out = node.shape.map((d) => evalDim(d, symbols)!);
    total += 2 * out.reduce((x, y) => x * y, 1) * a[a.length - 1]!;
  }
  return total;
}

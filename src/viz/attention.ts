// `tfm viz attention`: captured attention weights ([batch,] heads, queries, keys; src/ir/capture.ts)
// as heatmaps with the tokens as axis labels: one panel per layer and head (rows: layers, columns:
// heads, as bertviz's "model view"). Masked cells — where the attention's own mask is false
// (`allowed`, the captured `weights_mask` the library's attention binds: causal, padding or any
// other), never merely where a weight is 0, which a real weight can underflow to — are drawn grey,
// apart from the colour scale. Every cell's aria-label holds its layer, head, query and key tokens and value.
import type { TopLevelSpec } from "vega-lite";
import { font } from "./render.js";

export interface AttentionMap {
  /** The capture's path (`h.0.attn.weights`). */
  readonly name: string;
  /** heads × queries × keys, row-major. */
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
  readonly values: Float32Array | Float64Array;
  /** Where attention is allowed (1) or masked (0), heads × queries × keys like `values`; absent: nothing is known masked. */
  readonly allowed?: Uint8Array;
}

/** At most this many queries and keys are drawn (a longer sequence: its first tokens, said in the title). */
export const maxTokens = 64;

export interface AttentionCell {
  readonly layer: string;
  readonly head: number;
  readonly q: number;
  readonly k: number;
  readonly value: number | null;
  readonly masked: boolean;
}

/** The cells drawn, and the model-view spec: a panel per layer (rows) and head (columns). */
export function attentionSpec(maps: readonly AttentionMap[], tokens: readonly string[], options: { title?: string; cell?: number } = {}): { spec: TopLevelSpec; cells: AttentionCell[]; truncated: boolean } {
  const label = (i: number) => `${i}: ${tokens[i] ?? String(i)}`;
  const cells: (AttentionCell & { qt: string; kt: string; label: string })[] = [];
  let truncated = false;
  for (const m of maps) {
    const [nq, nk] = [Math.min(m.queries, maxTokens), Math.min(m.keys, maxTokens)];
    if (nq < m.queries || nk < m.keys) truncated = true;
    for (let h = 0; h < m.heads; h++) {
      for (let q = 0; q < nq; q++) {
        for (let k = 0; k < nk; k++) {
          const v = m.values[(h * m.queries + q) * m.keys + k]!;
          const value = Number.isFinite(v) ? v : null;
          const masked = m.allowed !== undefined && m.allowed[(h * m.queries + q) * m.keys + k] === 0;
          cells.push({ layer: m.name, head: h, q, k, value, masked, qt: label(q), kt: label(k), label: `${m.name}; head ${h}; query ${label(q)}; key ${label(k)}; value: ${String(value)}${masked ? " (masked)" : ""}` });
        }
      }
    }
  }
  const n = Math.max(1, ...maps.map((m) => Math.min(maxTokens, Math.max(m.queries, m.keys))));
  const cell = options.cell ?? Math.max(3, Math.min(24, Math.floor(240 / n)));
  const width = cell * Math.min(maxTokens, Math.max(...maps.map((m) => m.keys), 1));
  const height = cell * Math.min(maxTokens, Math.max(...maps.map((m) => m.queries), 1));
  const order = maps.map((m) => m.name);
  const unknown = maps.filter((m) => !m.allowed).map((m) => m.name);
  const notes = [...(truncated ? [`the first ${maxTokens} tokens`] : []), ...(unknown.length ? [`no mask bound beside ${unknown.join(", ")} (\`weights_mask\`): none of its cells greyed`] : [])];
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: options.title ?? "attention weights", ...(notes.length ? { subtitle: notes } : {}) },
    data: { values: cells },
    facet: {
      row: { field: "layer", type: "nominal", sort: order, title: "layer", header: { labelAngle: 0, labelAlign: "left" } },
      column: { field: "head", type: "ordinal", title: "head" },
    },
    spec: {
      width,
      height,
      layer: [
        {
          transform: [{ filter: "!datum.masked" }],
          mark: { type: "rect" },
          encoding: {
            x: { field: "kt", type: "ordinal", sort: { field: "k" }, title: "key", axis: { labelAngle: -60, labelLimit: 90 } },
            y: { field: "qt", type: "ordinal", sort: { field: "q" }, title: "query", axis: { labelLimit: 90 } },
            color: { field: "value", type: "quantitative", title: "weight", scale: { scheme: "viridis", domain: [0, 1] } },
            description: { field: "label" },
          },
        },
        {
          transform: [{ filter: "datum.masked" }],
          mark: { type: "rect", color: "#d9d9d9" },
          encoding: {
            x: { field: "kt", type: "ordinal", sort: { field: "k" }, title: "key" },
            y: { field: "qt", type: "ordinal", sort: { field: "q" }, title: "query" },
            description: { field: "label" },
          },
        },
      ],
    },
    resolve: { scale: { x: "independent", y: "independent" } },
    config: { font, view: { stroke: "#ccc" }, axis: { labelFont: font, titleFont: font, labelFontSize: 9 }, header: { labelFont: font, titleFont: font }, legend: { labelFont: font, titleFont: font }, title: { font } },
  };
  return { spec, cells: cells.map(({ layer, head, q, k, value, masked }) => ({ layer, head, q, k, value, masked })), truncated };
}

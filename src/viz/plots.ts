// The Vega-Lite specs of `tfm viz tensor`: a heatmap with a colour scale, or curves (one per
// column) with a legend. Every mark carries its value in its `aria-label` (Vega writes one per
// mark), so the numbers can be read back from the SVG.
import type { TopLevelSpec } from "vega-lite";
import { font } from "./render.js";
import { downsample, type Matrix } from "./tensor.js";

export interface PlotOptions {
  readonly title?: string;
  readonly xTitle?: string;
  readonly yTitle?: string;
  /** lines: each curve is named `<legend> <column index>` (default "column"). */
  readonly legend?: string;
}

/** At most this many cells are drawn; a bigger heatmap is averaged in blocks (and says so). */
export const maxCells = { rows: 256, cols: 256 } as const;
/** At most this many curves, and points per curve (more are thinned, and it says so). */
export const maxSeries = 20;
export const maxPoints = 2000;

const config = { font, view: { stroke: null }, axis: { labelFont: font, titleFont: font }, legend: { labelFont: font, titleFont: font }, title: { font } };

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/** Axis values to label: every index when few, else about ten round steps. */
function ticks(index: readonly number[]): number[] {
  if (index.length <= 24) return [...index];
  const span = index[index.length - 1]! - index[0]!;
  const raw = span / 10;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw)!;
  return index.filter((i) => i % step === 0);
}

function subtitle(notes: string[]): { subtitle?: string[] } {
  return notes.length ? { subtitle: notes } : {};
}

export function heatmapSpec(m0: Matrix, o: PlotOptions): { spec: TopLevelSpec; drawn: Matrix } {
  const m = downsample(m0, maxCells.rows, maxCells.cols);
  // Each cell's aria-label (Vega-Lite's description channel): its indices and its exact value.
  const xTitle = o.xTitle ?? (m.rank === 1 ? "index" : "axis 1");
  const yTitle = o.yTitle ?? (m.rank === 1 ? "row" : "axis 0");
  const values: { row: number; col: number; value: number | boolean | null; label: string }[] = [];
  let nonFinite = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const v = m.values[r * m.cols + c]!;
      if (!Number.isFinite(v)) nonFinite++;
      const value = m.bool ? v !== 0 : finite(v);
      values.push({ row: m.rowIndex[r]!, col: m.colIndex[c]!, value, label: `${yTitle}: ${m.rowIndex[r]}; ${xTitle}: ${m.colIndex[c]}; value: ${value === null ? String(v) : String(value)}` });
    }
  }
  const notes: string[] = [];
  if (m.downsampled) notes.push(`downsampled from ${m0.rows} × ${m0.cols}: each cell is the mean of ${m.downsampled[0]} × ${m.downsampled[1]} values`);
  if (nonFinite) notes.push(`${nonFinite} NaN or infinite value${nonFinite === 1 ? "" : "s"} not drawn (blank)`);
  const cell = Math.max(4, Math.min(40, Math.floor(640 / Math.max(m.cols, m.rows))));
  const color = m.bool
    ? { field: "value", type: "nominal" as const, title: "value", scale: { domain: [false, true], range: ["#440154", "#fde725"] } }
    : { field: "value", type: "quantitative" as const, title: "value", scale: { scheme: "viridis" } };
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(o.title || notes.length ? { title: { text: o.title ?? "", ...subtitle(notes) } } : {}),
    data: { values },
    mark: { type: "rect" },
    width: cell * m.cols,
    height: cell * m.rows,
    encoding: {
      x: { field: "col", type: "ordinal", title: xTitle, axis: { values: ticks(m.colIndex), labelAngle: 0 } },
      y: { field: "row", type: "ordinal", title: m.rank === 1 ? null : yTitle, axis: { values: ticks(m.rowIndex) } },
      color,
      description: { field: "label" },
    },
    config,
  };
  return { spec, drawn: m };
}

export function linesSpec(m: Matrix, o: PlotOptions): { spec: TopLevelSpec; series: number; points: number } {
  // A 1-D tensor is one curve over its index; a 2-D one is a curve per column over the rows.
  const series = m.rank === 1 ? 1 : Math.min(m.cols, maxSeries);
  const length = m.rank === 1 ? m.cols : m.rows;
  const stride = Math.ceil(length / maxPoints);
  const notes: string[] = [];
  if (m.rank === 2 && m.cols > maxSeries) notes.push(`the first ${maxSeries} of ${m.cols} columns`);
  if (stride > 1) notes.push(`every ${stride}th of ${length} points`);
  const legend = o.legend ?? "column";
  const values: { x: number; y: number | null; series: string; order: number }[] = [];
  let points = 0;
  for (let s = 0; s < series; s++) {
    for (let k = 0; k < length; k += stride) {
      const v = m.rank === 1 ? m.values[k]! : m.values[k * m.cols + s]!;
      values.push({ x: m.rank === 1 ? m.colIndex[k]! : m.rowIndex[k]!, y: finite(v), series: m.rank === 1 ? legend : `${legend} ${m.colIndex[s]}`, order: s });
      if (s === 0) points++;
    }
  }
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...(o.title || notes.length ? { title: { text: o.title ?? "", ...subtitle(notes) } } : {}),
    data: { values },
    mark: { type: "line", strokeWidth: 1.5 },
    width: 560,
    height: 320,
    encoding: {
      x: { field: "x", type: "quantitative", title: o.xTitle ?? (m.rank === 1 ? "index" : "axis 0"), scale: { nice: false, zero: false } },
      y: { field: "y", type: "quantitative", title: o.yTitle ?? "value" },
      color: { field: "series", type: "nominal", title: m.rank === 1 ? null : legend, sort: { field: "order" }, ...(m.rank === 1 ? { legend: null } : {}) },
    },
    config,
  };
  return { spec, series, points };
}

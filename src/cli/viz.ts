// `tfm viz tensor OUT.npy [--as heatmap|lines] [--slice ...] -o FILE.svg|.html|.png` and
// `tfm viz graph FILE -o graph.svg|.html`: pictures through src/viz/. Every failure is a coded
// diagnostic; an existing output is replaced only with --force.
import type { Diagnostic } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { fileErrorDiagnostic, pathTaken, readFileBytes, writeFileAtomic } from "../runtime/files.js";
import { WeightFileError } from "../weights/errors.js";
import { readNpy } from "../weights/npy.js";
import { heatmapSpec, linesSpec, type PlotOptions } from "../viz/plots.js";
import { formatOf, htmlPage, PngUnavailable, svgToPng, vegaLiteToSvg, type Format } from "../viz/render.js";
import { toMatrix } from "../viz/tensor.js";
import { UsageError } from "./io.js";

export interface VizTensorOptions extends PlotOptions {
  readonly as?: "heatmap" | "lines";
  readonly slice?: string;
  readonly output: string;
  readonly force?: boolean;
}

/** The output's format, checked before any work. */
export function outputFormat(output: string, allowed: readonly Format[]): Format {
  if (output.trim() === "") throw new UsageError("-o/--output needs a file name (it was empty)");
  const f = formatOf(output);
  if (!f || !allowed.includes(f)) throw new UsageError(`-o/--output ${JSON.stringify(output)}: the file name must end in ${allowed.map((a) => `.${a}`).join(", ")}`);
  return f;
}

/** Writes the picture in its format; the returned text says what was written. */
export async function writePicture(output: string, format: Format, svg: string, page: () => string, force: boolean): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = format === "svg" ? new TextEncoder().encode(svg) : format === "png" ? await svgToPng(svg) : new TextEncoder().encode(page());
  } catch (e) {
    if (e instanceof PngUnavailable) throw new UsageError(e.message);
    throw e;
  }
  writeFileAtomic(output, bytes, force);
  return `wrote ${output} (${format}, ${bytes.length} bytes)`;
}

export async function runVizTensor(file: string, opts: VizTensorOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const format = outputFormat(opts.output, ["svg", "html", "png"]);
  const fail = (ds: Diagnostic[]) => {
    err(renderDiagnostics(ds, new Map()) + "\n");
    return 1;
  };
  try {
    if (!opts.force && pathTaken(opts.output)) throw new WeightFileError("TFM5210", `${opts.output} already exists: not overwriting it (use --force to replace it)`, { file: opts.output });
    const array = readNpy(readFileBytes(file), file);
    let m;
    try {
      m = toMatrix(array, opts.slice);
    } catch (e) {
      if (e instanceof WeightFileError && e.file === undefined) throw new WeightFileError(e.code, e.message, { file });
      throw e;
    }
    const as = opts.as ?? "heatmap";
    const title = opts.title ?? `${file} [${array.shape.join(", ")}]${opts.slice ? `[${opts.slice}]` : ""}`;
    const plot = as === "heatmap" ? heatmapSpec(m, { ...opts, title }) : linesSpec(m, { ...opts, title });
    const svg = await vegaLiteToSvg(plot.spec);
    const data = { source: file, dtype: array.dtype, shape: array.shape, slice: opts.slice ?? null, as, rows: m.rowIndex, cols: m.colIndex, values: Array.from(m.values, (v) => (Number.isFinite(v) ? v : String(v))) };
    const msg = await writePicture(opts.output, format, svg, () => htmlPage(title, `<figure>${svg}</figure>`, data), opts.force ?? false);
    const what = "drawn" in plot ? `${plot.drawn.rows} × ${plot.drawn.cols} cells${plot.drawn.downsampled ? " (downsampled)" : ""}` : `${plot.series} curve${plot.series === 1 ? "" : "s"} of ${plot.points} points`;
    out(`${msg}: ${as} of ${m.rank === 1 ? `${m.cols}` : `${m.rows} × ${m.cols}`} values, ${what}\n`);
    return 0;
  } catch (e) {
    if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, file)]);
    throw e;
  }
}

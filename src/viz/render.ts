// From a Vega-Lite spec to the files `tfm viz` writes. Vega-Lite compiles the spec to Vega, and Vega
// renders it to SVG in Node with no browser (`renderer: "none"` + `toSVG()`); a PNG is that SVG
// rasterised by resvg (a Rust SVG renderer, prebuilt for Node: no browser, no network); HTML is the
// SVG inline in one page with the drawn numbers as JSON beside it, so it opens offline from disk.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type Format = "svg" | "html" | "png";

/** The output format from the file name's extension, or undefined. */
export function formatOf(path: string): Format | undefined {
  const m = /\.(svg|html?|png)$/i.exec(path);
  if (!m) return undefined;
  const e = m[1]!.toLowerCase();
  return e === "htm" || e === "html" ? "html" : (e as Format);
}

/** The font every picture uses (Vega estimates text widths for it; resvg draws it from the system's fonts). */
export const font = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterises an SVG at `scale` (2: a sharp picture for papers). resvg is loaded only here: its
 * native binary is a per-platform optional package, so SVG and HTML work without it.
 */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  let Resvg: typeof import("@resvg/resvg-js").Resvg;
  try {
    ({ Resvg } = await import("@resvg/resvg-js"));
  } catch (e) {
    throw new PngUnavailable(`PNG output needs @resvg/resvg-js and its binary for this platform (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); write .svg or .html instead`);
  }
  const r = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, fitTo: { mode: "zoom", value: scale }, background: "white" });
  return r.render().asPng();
}

/** resvg could not be loaded (no binary for this platform). */
export class PngUnavailable extends Error {}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** JSON safe inside a <script> element. */
const scriptJson = (x: unknown) => JSON.stringify(x).replace(/</g, "\\u003c");

/** One self-contained page: the SVG inline, `data` as JSON in `<script id="tfm-data">`, optional inline script and style. */
export function htmlPage(title: string, body: string, data: unknown, extra: { style?: string; script?: string } = {}): string {
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>body{font-family:${font};margin:16px;background:#fff;color:#222}${extra.style ?? ""}</style>`,
    "</head><body>",
    body,
    `<script type="application/json" id="tfm-data">${scriptJson(data)}</script>`,
    extra.script ? `<script>${extra.script}</script>` : "",
    "</body></html>",
    "",
  ].join("\n");
}

export { escapeHtml };

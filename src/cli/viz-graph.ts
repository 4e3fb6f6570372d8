// `tfm viz graph FILE [--set ...] [--after PASS|all] [--kernels] -o graph.svg|graph.html`: the
// model's IR graph drawn by src/viz/graph.ts (ELK layout), after the optimizer's passes up to
// --after (default all); with --kernels grouped and coloured by the fused kernels tfm run runs.
import { diag, hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { LineMap } from "../diag/span.js";
import { compile, passes, renderDiagnostics, UnknownPass } from "../index.js";
import { fileErrorDiagnostic, pathTaken } from "../runtime/files.js";
import { schedule } from "../schedule/fuse.js";
import { checkDrawable, drawGraph, foldScript, foldStyle } from "../viz/graph.js";
import { htmlPage } from "../viz/render.js";
import { WeightFileError } from "../weights/errors.js";
import { readSource, UsageError } from "./io.js";
import { outputFormat, writePicture } from "./viz.js";

export interface VizGraphOptions {
  readonly set: Map<string, string>;
  readonly after?: string;
  readonly kernels?: boolean;
  readonly output: string;
  readonly force?: boolean;
}

export async function runVizGraph(file: string, opts: VizGraphOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const after = opts.after ?? "all";
  if (after !== "none" && after !== "all" && !passes.some((p) => p.name === after)) throw new UsageError(`--after: ${new UnknownPass(after).message}`);
  const format = outputFormat(opts.output, ["svg", "html"]);
  const { text, decodeErrors } = readSource(file);
  const model = compile(text, { file, settings: opts.set, until: after });
  const diagnostics = sortDiagnostics([...decodeErrors, ...model.diagnostics]);
  if (diagnostics.length) err(renderDiagnostics(diagnostics, model.sources) + "\n");
  if (hasErrors(diagnostics)) return 1;
  const g = model.optimized?.graph;
  if (!g) {
    err(model.render([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to draw")]) + "\n");
    return 1;
  }
  try {
    if (!opts.force && pathTaken(opts.output)) throw new WeightFileError("TFM5210", `${opts.output} already exists: not overwriting it (use --force to replace it)`, { file: opts.output });
    const maps = new Map<string, LineMap>();
    const where = (s: { file: string; start: number }) => {
      const src = model.sources.get(s.file);
      if (src === undefined) return s.file;
      let m = maps.get(s.file);
      if (!m) maps.set(s.file, (m = new LineMap(src)));
      return `line ${m.position(s.start).line}`;
    };
    checkDrawable(g);
    if (g.nodes.length > 400) err(`laying out ${g.nodes.length} nodes with ELK: this takes about ${Math.max(1, Math.round((g.nodes.length / 882) ** 1.5 * 40))} s\n`);
    const pic = await drawGraph(g, { ...(opts.kernels ? { schedule: schedule(g) } : {}), where });
    const title = `${g.name} (${file}${after === "none" ? ", as built" : after === "all" ? ", optimized" : `, after ${after}`}${opts.kernels ? ", by kernel" : ""})`;
    const data = { model: g.name, after, kernels: opts.kernels ?? false, nodes: pic.nodes, edges: pic.edges, groups: pic.groups };
    const body = `<h1 style="font-size:16px">${title.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</h1><p style="font-size:12px;color:#555">Click a group's title to fold it.</p>${pic.svg}`;
    const msg = await writePicture(opts.output, format, pic.svg, () => htmlPage(title, body, data, { style: foldStyle, script: foldScript }), opts.force ?? false);
    out(`${msg}: ${pic.nodes} nodes, ${pic.edges} edges, ${pic.groups.length} groups\n`);
    return 0;
  } catch (e) {
    if (e instanceof WeightFileError) {
      err(renderDiagnostics([fileErrorDiagnostic(e, e.code === "TFM5213" ? file : opts.output)], new Map()) + "\n");
      return 1;
    }
    throw e;
  }
}

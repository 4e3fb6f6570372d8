// `tfm viz graph`: the IR graph as a picture. Laid out by ELK (elkjs, the Eclipse Layout Kernel's
// layered algorithm, with nested groups laid out together), drawn here as plain SVG from ELK's
// coordinates: layers as nested boxes named by their path (`h.0.attn`), edges labelled with the
// symbolic shape they carry, weights with their checkpoint names; with `kernels`, the fused
// kernels are the boxes, coloured by kind.
//
// The IR records no layer path: a node's layer is recovered from the checkpoint names of the
// weights around it (layerPaths below): a weight's layer is its name less the last part
// (`h.0.attn.c_attn.weight` → `h.0.attn.c_attn`), a node reading a weight is in that weight's
// layer, and any other node is in the deepest layer shared by the nearest weight-reading node
// before it and the nearest after it (the softmax between `h.0.attn.c_attn` and
// `h.0.attn.c_proj` is in `h.0.attn`). Nodes computed from no weight at all are at the top.
import elkModule from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode, ELK as ElkApi } from "elkjs/lib/elk-api.js";
import { showDim } from "../core/dim.js";
import type { Graph, Node, Site } from "../ir/graph.js";
import type { KernelKind, Schedule } from "../schedule/kernel.js";
import { WeightFileError } from "../weights/errors.js";
import { escapeHtml as esc, font } from "./render.js";

export interface GraphPictureOptions {
  /** Group (and colour) by fused kernel instead of by layer. */
  readonly schedule?: Schedule;
  /** `file:line` of a node's source site. */
  readonly where?: (s: Site) => string;
}

const parent = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf(".")));
const commonPrefix = (a: string, b: string) => {
  const x = a.split(".");
  const y = b.split(".");
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return x.slice(0, i).join(".");
};

/** Each node's layer path ("" = the model itself), recovered from the weights' checkpoint names. */
export function layerPaths(g: Graph): string[] {
  const n = g.nodes.length;
  const direct: (string | undefined)[] = g.nodes.map((node) => (node.op === "weight" ? parent(node.attrs.name ?? "") : undefined));
  for (const node of g.nodes) {
    if (node.op === "weight") continue;
    const ws = node.inputs.filter((i) => g.nodes[i]!.op === "weight").map((i) => direct[i]!);
    if (ws.length) direct[node.id] = ws.reduce(commonPrefix);
  }
  const consumers: number[][] = Array.from({ length: n }, () => []);
  for (const node of g.nodes) for (const i of node.inputs) consumers[i]!.push(node.id);
  // The nearest weight-reading layer before (the latest input's) and after (the earliest consumer's).
  const before: (string | undefined)[] = new Array(n);
  for (const node of g.nodes) {
    if (node.op === "weight") continue;
    if (direct[node.id] !== undefined) before[node.id] = direct[node.id];
    else for (const i of [...node.inputs].sort((a, b) => b - a)) if (before[i] !== undefined) { before[node.id] = before[i]; break; }
  }
  const after: (string | undefined)[] = new Array(n);
  for (let id = n - 1; id >= 0; id--) {
    if (g.nodes[id]!.op === "weight") continue;
    if (direct[id] !== undefined) after[id] = direct[id];
    else for (const c of [...consumers[id]!].sort((a, b) => a - b)) if (after[c] !== undefined) { after[id] = after[c]; break; }
  }
  return g.nodes.map((node) => {
    const d = direct[node.id];
    if (d !== undefined) return d;
    const [b, a] = [before[node.id], after[node.id]];
    if (b !== undefined && a !== undefined) return commonPrefix(b, a);
    return b !== undefined ? parent(b) : a !== undefined ? parent(a) : "";
  });
}

/** elkjs is CommonJS (`module.exports = ELK`); its typings say ES default export: both are handled. */
function newElk(): ElkApi {
  const m = elkModule as unknown as (new () => ElkApi) | { default: new () => ElkApi };
  return typeof m === "function" ? new m() : new m.default();
}

export const kernelColours: Record<KernelKind, string> = { op: "#9e9e9e", elementwise: "#4e79a7", rows: "#59a14f", matmul: "#e15759", attention: "#b07aa1" };

const shapeText = (node: Node) => `${node.dtype}[${node.shape.map(showDim).join(", ")}]`;

function nodeLabel(node: Node): string {
  switch (node.op) {
    case "weight": return node.attrs.name ?? "weight";
    case "input": return `input ${node.attrs.name ?? ""}`;
    case "const": {
      const v = node.attrs.value;
      return `const ${typeof v === "object" ? showDim(v) : String(v)}`;
    }
    default: return node.op;
  }
}

/** Rough text width at 11px DejaVu Sans (ELK needs sizes before anything is drawn). */
const textWidth = (s: string, px = 11) => Math.ceil(s.length * px * 0.62) + 4;

export interface GraphPicture {
  readonly svg: string;
  /** What was drawn, for tests and the HTML page's data. */
  readonly nodes: number;
  readonly edges: number;
  readonly groups: readonly string[];
}

/** ELK's layered layout grows faster than linearly: GPT-2 small (882 nodes) takes ~40 s; past this, tfm refuses rather than seem to hang. */
export const maxGraphNodes = 2000;

/** TFM5213 when the graph has more nodes than can be laid out in reasonable time. */
export function checkDrawable(g: Graph): void {
  if (g.nodes.length > maxGraphNodes) {
    throw new WeightFileError("TFM5213", `the graph has ${g.nodes.length} nodes; tfm viz graph lays out at most ${maxGraphNodes} (draw fewer layers, e.g. --set n_layer=2)`);
  }
}

export async function drawGraph(g: Graph, o: GraphPictureOptions = {}): Promise<GraphPicture> {
  checkDrawable(g);
  const outputsOf = new Map<number, string[]>();
  for (const p of g.outputs) outputsOf.set(p.node, [...(outputsOf.get(p.node) ?? []), p.name]);
  // The group of each node: its kernel ("kernel 3 · matmul"), or its layer path.
  const kernelOf = new Map<number, { id: number; kind: KernelKind }>();
  for (const k of o.schedule?.kernels ?? []) for (const id of k.nodes) if (!kernelOf.has(id)) kernelOf.set(id, { id: k.id, kind: k.kind });
  const paths = layerPaths(g);
  const groupOf = (node: Node): string[] => {
    if (o.schedule) {
      const k = kernelOf.get(node.id);
      return k ? [`kernel ${k.id} · ${k.kind}`] : o.schedule.atLoad.has(node.id) ? ["at load"] : [];
    }
    const p = paths[node.id]!;
    if (!p) return [];
    const parts = p.split(".");
    return parts.map((_, i) => parts.slice(0, i + 1).join("."));
  };

  const root: ElkNode = { id: "root", layoutOptions: { "elk.algorithm": "layered", "elk.direction": "DOWN", "elk.hierarchyHandling": "INCLUDE_CHILDREN", "elk.layered.spacing.nodeNodeBetweenLayers": "28", "elk.spacing.nodeNode": "16", "elk.edgeLabels.placement": "CENTER", "elk.padding": "[top=8,left=8,bottom=8,right=8]" }, children: [], edges: [] };
  const groups = new Map<string, ElkNode>([["", root]]);
  const groupNode = (chain: string[]): ElkNode => {
    let at = root;
    for (const name of chain) {
      let gnode = groups.get(name);
      if (!gnode) {
        gnode = { id: `g:${name}`, labels: [{ text: name, width: textWidth(name, 12), height: 16 }], layoutOptions: { "elk.padding": "[top=26,left=10,bottom=10,right=10]", "elk.nodeLabels.placement": "[H_LEFT, V_TOP, INSIDE]" }, children: [], edges: [] };
        at.children!.push(gnode);
        groups.set(name, gnode);
      }
      at = gnode;
    }
    return at;
  };
  const info = new Map<string, { node: Node; label: string; sub: string; group: string }>();
  for (const node of g.nodes) {
    const chain = groupOf(node);
    const label = nodeLabel(node);
    const outs = outputsOf.get(node.id);
    const sub = `%${node.id}${outs ? ` → output ${outs.join(", ")}` : ""}${node.site && o.where ? ` · ${o.where(node.site)}` : ""}`;
    const width = Math.max(textWidth(label, 12), textWidth(sub, 10), 60);
    groupNode(chain).children!.push({ id: `n${node.id}`, width, height: 34 });
    info.set(`n${node.id}`, { node, label, sub, group: chain[chain.length - 1] ?? "" });
  }
  let edgeCount = 0;
  for (const node of g.nodes) {
    for (const [k, i] of node.inputs.entries()) {
      const text = showShape(g.nodes[i]!);
      const e: ElkExtendedEdge = { id: `e${node.id}_${k}`, sources: [`n${i}`], targets: [`n${node.id}`], labels: [{ text, width: textWidth(text, 10), height: 13 }] };
      root.edges!.push(e);
      edgeCount++;
    }
  }
  const laid = await newElk().layout(root);
  return { svg: toSvg(laid, info, g, !!o.schedule), nodes: g.nodes.length, edges: edgeCount, groups: [...groups.keys()].filter((k) => k) };
}

const showShape = (n: Node) => shapeText(n);

function toSvg(root: ElkNode, info: Map<string, { node: Node; label: string; sub: string; group: string }>, g: Graph, byKernel: boolean): string {
  // Absolute offsets of every node (ELK gives coordinates relative to the parent).
  const abs = new Map<string, { x: number; y: number }>([["root", { x: 0, y: 0 }]]);
  const walk = (n: ElkNode, ox: number, oy: number) => {
    for (const c of n.children ?? []) {
      const p = { x: ox + (c.x ?? 0), y: oy + (c.y ?? 0) };
      abs.set(c.id, p);
      walk(c, p.x, p.y);
    }
  };
  walk(root, 0, 0);
  const edgesSvg = (root.edges ?? []).map((e) => {
    const off = abs.get((e as ElkExtendedEdge & { container?: string }).container ?? "root") ?? { x: 0, y: 0 };
    const parts: string[] = [];
    for (const s of e.sections ?? []) {
      const pts = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => `${(p.x + off.x).toFixed(1)},${(p.y + off.y).toFixed(1)}`);
      parts.push(`<polyline class="edge" points="${pts.join(" ")}" fill="none" stroke="#888" stroke-width="1" marker-end="url(#arrow)"/>`);
    }
    for (const l of e.labels ?? []) parts.push(`<text class="shape" x="${((l.x ?? 0) + off.x).toFixed(1)}" y="${((l.y ?? 0) + off.y + 10).toFixed(1)}" font-size="10" fill="#555">${esc(l.text ?? "")}</text>`);
    return `<g class="edge" data-from="${esc(e.sources[0]!)}" data-to="${esc(e.targets[0]!)}">${parts.join("")}</g>`;
  });
  const draw = (n: ElkNode): string => {
    const out: string[] = [];
    for (const c of n.children ?? []) {
      const p = abs.get(c.id)!;
      if (c.id.startsWith("g:")) {
        const name = c.id.slice(2);
        const kind = /· (\w+)$/.exec(name)?.[1] as KernelKind | undefined;
        const fill = byKernel && kind ? kernelColours[kind] : "#f3f3f3";
        out.push(`<g class="group" data-group="${esc(name)}"><rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${c.width!.toFixed(1)}" height="${c.height!.toFixed(1)}" rx="6" fill="${fill}" fill-opacity="${byKernel ? 0.18 : 0.45}" stroke="${byKernel && kind ? fill : "#bbb"}"/><text class="group-title" x="${(p.x + 8).toFixed(1)}" y="${(p.y + 17).toFixed(1)}" font-size="12" font-weight="bold" fill="#333">${esc(name)}</text><g class="members">${draw(c)}</g></g>`);
      } else {
        const it = info.get(c.id)!;
        const weight = it.node.op === "weight";
        const fill = weight ? "#fff3d6" : it.node.op === "input" ? "#dceefc" : "#ffffff";
        out.push(`<g class="node" data-node="${it.node.id}" data-op="${esc(it.node.op)}"${weight ? ` data-weight="${esc(it.node.attrs.name ?? "")}"` : ""} data-shape="${esc(shapeText(it.node))}" data-layer="${esc(it.group)}"><title>${esc(`${it.label}: ${shapeText(it.node)}`)}</title><rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${c.width!.toFixed(1)}" height="${c.height!.toFixed(1)}" rx="3" fill="${fill}" stroke="#666"/><text x="${(p.x + 5).toFixed(1)}" y="${(p.y + 14).toFixed(1)}" font-size="12" fill="#111">${esc(it.label)}</text><text x="${(p.x + 5).toFixed(1)}" y="${(p.y + 28).toFixed(1)}" font-size="10" fill="#666">${esc(it.sub)}</text></g>`);
      }
    }
    return out.join("\n");
  };
  const w = Math.ceil(root.width ?? 100);
  const h = Math.ceil(root.height ?? 100);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="tfm-graph" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${esc(font)}">`,
    `<title>${esc(g.name)}</title>`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#888"/></marker></defs>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    draw(root),
    `<g class="edges">${edgesSvg.join("\n")}</g>`,
    "</svg>",
    "",
  ].join("\n");
}

/** The HTML page's script: clicking a group's title folds it (its members hidden, the box kept). */
export const foldScript = `document.querySelectorAll(".group-title").forEach(function (t) {
  t.style.cursor = "pointer";
  t.addEventListener("click", function () { t.parentNode.classList.toggle("folded"); });
});`;
export const foldStyle = ".folded > .members{display:none}.group-title{user-select:none}";

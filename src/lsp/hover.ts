// Hover: the shape and dtype of the name or innermost expression under the cursor (from the shape
// checker), and for a layer its block, parameter values and weights with checkpoint names; for a
// block, function or builtin its signature and documentation.
import { MarkupKind, type Hover, type Position } from "vscode-languageserver/node.js";
import type { Weight } from "../check/elaborated.js";
import { describe, isLocal, type GlobalSym, type LocalSym } from "../check/symbols.js";
import { show, type Value } from "../check/evaluate.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import { offsetOf, rangeOf, type Checked } from "./documents.js";
import { exprInstances, hparamValues, layerInstances, showWeight, weightsOf, weightsUnder } from "./instances.js";
import { calleeBlock, globalNamed, localDecl, memberDecl, targetAt, typeAt, typesAt, type Decl, type Target } from "./query.js";
import { calleeParams, docOf, paramText, signatureOf, sourceOf } from "./signatures.js";

const fence = (code: string) => "```tfm\n" + code + "\n```";
const typed = (types: readonly string[] | undefined) => (types?.length ? `: ${types.join(" | ")}` : "");
const sameSpan = (a: Span, b: Span) => a.start === b.start && a.end === b.end;
const maxListed = 16;

export function hover(c: Checked, pos: Position): Hover | null {
  const offset = offsetOf(c, pos);
  const target = targetAt(c, offset);
  const parts = target ? describeTarget(c, target) : [];
  const named = parts.length > 0;
  const t = typeAt(c, offset);
  // The type of the innermost enclosing expression, unless it is the name's own (already shown).
  if (t && !(named && sameSpan(t.span, target!.span))) {
    const text = sourceOf(c, c.file, t.span);
    parts.push(fence(`${text.length > 60 ? text.slice(0, 57) + "..." : text}${typed(t.types)}`));
  }
  if (!parts.length) return null;
  const span = named ? target!.span : t!.span;
  return { contents: { kind: MarkupKind.Markdown, value: parts.join("\n\n---\n\n") }, range: rangeOf(c, span) };
}

function describeTarget(c: Checked, t: Target): string[] {
  switch (t.kind) {
    case "ref":
      return isLocal(t.ref.sym) ? describeLocal(c, t.ref.sym, t.item, typesAt(c, t.span)) : describeGlobal(c, t.ref.sym);
    case "decl":
      return describeDecl(c, t.decl, t.item);
    case "binding":
      return [fence(`(binding) ${t.ident.name}${typed(typesAt(c, t.span))}`)];
    case "member": {
      const m = memberDecl(c, t.node);
      if (!m) return [];
      if (m.decl.kind === "Layer") return describeLayer(c, m.block.decl, m.decl);
      // `wte.weight`: the weight of that layer's instance(s) only, not of every Embedding.
      const paths = t.item.kind === "Block" ? exprInstances(c, t.item, t.node.target).map((i) => i.path + ".") : [];
      return describeWeight(c, m.decl, m.block.file, undefined, (w) => paths.some((p) => w.name.startsWith(p)));
    }
    case "argName": {
      const { kind, params } = calleeParams(c, t.owner);
      const p = params.find((x) => x.name === t.arg.name?.name);
      return p ? [fence(`(${kind}) ${p.detail}`)] : [];
    }
    default: {
      const never: never = t;
      return never;
    }
  }
}

function describeGlobal(c: Checked, g: GlobalSym): string[] {
  const doc = docOf(c, g);
  return [fence(signatureOf(c, g)), ...(doc ? [doc] : [])];
}

function describeLocal(c: Checked, s: LocalSym, item: A.Item | undefined, types: readonly string[] | undefined): string[] {
  const decl = localDecl(item, s.span);
  if (decl && item) {
    if (decl.kind === "Layer" && item.kind === "Block") return describeLayer(c, item, decl);
    if (decl.kind === "TensorParam") return describeWeight(c, decl, c.file, types);
    if (decl.kind === "Param") return describeParam(c, decl, item, types);
  }
  const label = describe(s).replace(/ `.*`$/, "");
  return [fence(`(${label}) ${s.name}${typed(types)}`)];
}

function describeDecl(c: Checked, d: Decl, item: A.Item): string[] {
  const types = "name" in d ? typesAt(c, d.name.span) : undefined;
  switch (d.kind) {
    case "Block":
      return describeGlobal(c, { kind: "block", name: d.name.name, decl: d, file: c.file });
    case "Fn":
      return describeGlobal(c, { kind: "fn", name: d.name.name, decl: d, file: c.file });
    case "Param":
      return describeParam(c, d, item, types);
    case "Input":
      return [fence(`(input) ${d.name.name}: ${sourceOf(c, c.file, d.type.span)}`), ...(types ? [fence(`${d.name.name}${typed(types)}`)] : [])];
    case "Output":
      return [fence(`(output) ${d.name.name}${typed(types)}`)];
    case "TensorParam":
      return describeWeight(c, d, c.file, types);
    case "State":
      return [fence(`(state) ${d.name.name}: ${sourceOf(c, c.file, d.type.span)}`), d.type.dims.some((x) => x.kind === "Name" && x.name === "past") ? "kept between calls: it starts empty, and `append` extends it along `past`" : "written once per sequence by `once(" + d.name.name + ", value)`: the value on the first call, kept for every later call", ...(types ? [fence(`${d.name.name}${typed(types)}`)] : [])];
    case "Layer":
      return item.kind === "Block" ? describeLayer(c, item, d) : [];
    default: {
      const never: never = d;
      return never;
    }
  }
}

function describeParam(c: Checked, p: A.ParamDecl, item: A.Item, types: readonly string[] | undefined): string[] {
  const head = `(${item.kind === "Fn" ? "function parameter" : "parameter"}) ${paramText(c, c.file, p)}`;
  const values = item.kind === "Block" ? hparamValues(c, item, p.name.name) : [];
  const shown = values.length ? ` — ${values.length === 1 ? "value" : "values"} in the model: ${values.join(", ")}` : typed(types) ? ` — ${typed(types).slice(2)}` : "";
  return [fence(head), ...(shown ? [shown.slice(3)] : [])];
}

function describeWeight(c: Checked, d: A.TensorParamDecl, file: string, types: readonly string[] | undefined, keep: (w: Weight) => boolean = () => true): string[] {
  const head = `(weight) ${d.name.name}: ${sourceOf(c, file, d.type.span)}${types?.length ? `  →  ${types.join(" | ")}` : ""}`;
  const ws = weightsOf(c, d).filter(keep);
  return [fence(head), ...(ws.length ? [weightList(ws, "tensor")] : c.result.instance ? [] : [notInstantiated])];
}

const notInstantiated = "_Weights are listed when the model instantiates without errors._";

function describeLayer(c: Checked, block: A.BlockDecl, layer: A.LayerDecl): string[] {
  const g = calleeBlock(c, layer);
  const insts = layerInstances(c, block, layer);
  const first = insts[0];
  const shown = (v: Value | undefined) => (v ? show(v) : "?");
  const args = g?.kind === "block" && first ? g.decl.params.map((p) => `${p.name.name}=${shown(first.hparams.get(p.name.name))}`).join(", ") : layer.args.map((a) => sourceOf(c, c.file, a.span)).join(", ");
  const repeat = layer.repeat ? `repeat(${sourceOf(c, c.file, layer.repeat.span)}${layer.repeatIndex ? `, ${layer.repeatIndex.name}` : ""}) ` : "";
  const parts = [fence(`(layer) ${layer.name.name} = ${repeat}${layer.callee.name}(${args})`)];
  if (g?.kind === "block") {
    const doc = docOf(c, g);
    parts.push(fence(signatureOf(c, g)) + (doc ? `\n\n${doc}` : ""));
  }
  if (!c.result.instance) return [...parts, notInstantiated];
  if (!insts.length) return [...parts, "_Not part of the model as instantiated (its block is unused, or it sits in a branch not taken)._"];
  const paths = insts.map((i) => i.path);
  const where = paths.length === 1 ? `Checkpoint path \`${paths[0]}\`` : `${paths.length} instances: ${shortList(paths.map((p) => `\`${p}\``))}`;
  const ws = paths.flatMap((p) => weightsUnder(c, p));
  parts.push(`${where}\n\n${ws.length ? weightList(ws, "weight") : "No weights."}`);
  return parts;
}

function shortList(items: readonly string[]): string {
  return items.length <= 4 ? items.join(", ") : `${items.slice(0, 2).join(", ")}, …, ${items[items.length - 1]}`;
}

function weightList(ws: readonly Weight[], what: string): string {
  const values = ws.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  const lines = ws.slice(0, maxListed).map(showWeight);
  if (ws.length > maxListed) lines.push(`… and ${ws.length - maxListed} more`);
  const count = `${ws.length} ${what}${ws.length === 1 ? "" : "s"} in the checkpoint, ${values.toLocaleString("en-US")} values`;
  return `${count}:\n\n${fence(lines.join("\n"))}`;
}

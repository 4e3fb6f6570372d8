// How declarations read in hovers and completion details: signatures of blocks, functions and
// builtins (as written in their source), and the `#` comment lines just above a declaration.
import { builtins, constants, isBuiltin } from "../check/builtins.js";
import { isLocal, type GlobalSym } from "../check/symbols.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import type { Checked } from "./documents.js";
import { allMembers, calleeBlock, globalNamed, symbolOf } from "./query.js";

/** The source text of a span in any file the check saw, on one line. */
export function sourceOf(c: Checked, file: string, span: Span): string {
  const text = file === c.file ? c.text : c.result.sources.get(file) ?? "";
  return text.slice(span.start, span.end).replace(/\s+/g, " ").trim();
}

export function paramText(c: Checked, file: string, p: A.ParamDecl): string {
  const type = p.type ? `: ${sourceOf(c, file, p.type.span)}` : "";
  return `${p.name.name}${type}${p.default ? ` = ${sourceOf(c, file, p.default.span)}` : ""}`;
}

/** `block Linear(in_features: int, ...)` with its inputs and outputs, `fn softmax(...)`, `builtin exp(x: tensor)`. */
export function signatureOf(c: Checked, g: GlobalSym): string {
  switch (g.kind) {
    case "block": {
      const d = g.decl;
      const head = `${d.isModel ? "model" : "block"} ${g.name}(${d.params.map((p) => paramText(c, g.file, p)).join(", ")})`;
      const io = d.body.flatMap((m) =>
        m.kind === "Input" ? [`  input ${m.name.name}: ${sourceOf(c, g.file, m.type.span)}${m.default ? ` = ${sourceOf(c, g.file, m.default.span)}` : ""}`]
        : m.kind === "Output" ? [`  output ${m.name.name}${m.type ? `: ${sourceOf(c, g.file, m.type.span)}` : ""}`]
        : []);
      return io.length ? `${head} {\n${io.join("\n")}\n}` : head;
    }
    case "fn":
      return `fn ${g.name}(${g.decl.params.map((p) => paramText(c, g.file, p)).join(", ")})`;
    case "builtin":
      return builtinSignature(g.name);
    case "constant":
      return `constant ${g.name} = ${constants[g.name]}`;
    case "dtype":
      return `element type ${g.name}`;
    case "cached":
      return `dimension ${g.name}: the positions the model's state (its KV cache) already holds; 0 in a model without state`;
    default: {
      const never: never = g;
      return never;
    }
  }
}

export function builtinSignature(name: string): string {
  if (!isBuiltin(name)) return name;
  const ps = builtins[name].params.map((p) => `${p.name}: ${p.kind}${"default" in p ? ` = ${p.default}` : ""}`);
  return `builtin ${name}(${ps.join(", ")})`;
}

/** The documentation of a global: a builtin's doc line, or the comment lines above a declaration. */
export function docOf(c: Checked, g: GlobalSym): string | undefined {
  if (g.kind === "builtin") return builtins[g.name].doc;
  if (g.kind !== "block" && g.kind !== "fn") return undefined;
  const text = g.file === c.file ? c.text : c.result.sources.get(g.file);
  return text === undefined ? undefined : commentAbove(text, g.decl.span.start);
}

function commentAbove(text: string, offset: number): string | undefined {
  const lines = text.slice(0, offset).split(/\r?\n|\r/);
  lines.pop(); // the declaration's own line, up to the declaration
  const doc: string[] = [];
  for (let l = lines.pop(); l !== undefined && /^\s*#/.test(l); l = lines.pop()) doc.unshift(l.replace(/^\s*#\s?/, ""));
  return doc.length ? doc.join("\n") : undefined;
}

/** The names a call or layer declaration takes (`name=` arguments), with how each is declared. */
export interface ParamInfo {
  readonly name: string;
  readonly detail: string;
  readonly file?: string;
  readonly span?: Span;
}

/** Parameters of a global called directly (a function or builtin), or of a block given to `layer`. */
export function paramsOf(c: Checked, g: GlobalSym | undefined): ParamInfo[] {
  if (g?.kind === "block" || g?.kind === "fn") return g.decl.params.map((p) => ({ name: p.name.name, detail: paramText(c, g.file, p), file: g.file, span: p.name.span }));
  if (g?.kind === "builtin") return builtins[g.name].params.map((p) => ({ name: p.name, detail: `${p.name}: ${p.kind}${"default" in p ? ` = ${p.default}` : ""}` }));
  return [];
}

/** The inputs of a block: what calling a layer of it takes. */
export function inputsOf(c: Checked, g: GlobalSym & { kind: "block" }): ParamInfo[] {
  return g.decl.body.flatMap((m) => (m.kind === "Input" ? [{ name: m.name.name, detail: `input ${m.name.name}: ${sourceOf(c, g.file, m.type.span)}`, file: g.file, span: m.name.span }] : []));
}

/** What the named arguments of a call or layer declaration can name: a layer declaration's block
 *  parameters, a layer call's inputs, a function's or builtin's parameters. */
export function calleeParams(c: Checked, owner: A.Call | A.LayerDecl): { kind: "parameter" | "input"; params: ParamInfo[] } {
  if (owner.kind === "Layer") return { kind: "parameter", params: paramsOf(c, calleeBlock(c, owner)) };
  // The callee as the resolver bound it: a layer takes its block's inputs, a function or builtin its parameters.
  const s = owner.callee.kind === "Name" ? symbolOf(c, owner.callee) : undefined;
  if (!s) return { kind: "parameter", params: [] };
  if (isLocal(s)) return { kind: "input", params: s.kind === "layer" && s.block ? inputsOf(c, s.block) : [] };
  return { kind: "parameter", params: s.kind === "block" ? [] : paramsOf(c, s) };
}

/** The same for a callee being typed (no syntax tree yet): by its name in `item`. */

export function calleeParamsByName(c: Checked, name: string, item: A.Item | undefined): { kind: "parameter" | "input"; params: ParamInfo[] } {
  const layer = item && allMembers(item.body).find((m): m is A.LayerDecl => m.kind === "Layer" && m.name.name === name);
  if (layer) {
    const g = globalNamed(c, layer.callee.name);
    return { kind: "input", params: g?.kind === "block" ? inputsOf(c, g) : [] };
  }
  const g = globalNamed(c, name);
  return { kind: "parameter", params: g?.kind === "block" ? [] : paramsOf(c, g) };
}

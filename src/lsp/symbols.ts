// Document symbols: the model, blocks and functions of the file, each with its parameters, inputs,
// weights, layers, outputs and bindings as children (the outline and breadcrumbs).
import { SymbolKind, type DocumentSymbol } from "vscode-languageserver/node.js";
import type * as A from "../syntax/ast.js";
import { rangeOf, type Checked } from "./documents.js";
import { allMembers } from "./query.js";
import { sourceOf } from "./signatures.js";

export function documentSymbols(c: Checked): DocumentSymbol[] {
  return c.result.program.items.filter((i) => i.name.name).map((i) => ({
    name: i.name.name,
    detail: i.kind === "Fn" ? "fn" : i.isModel ? "model" : "block",
    kind: i.kind === "Fn" ? SymbolKind.Function : i.isModel ? SymbolKind.Module : SymbolKind.Class,
    range: rangeOf(c, i.span),
    selectionRange: rangeOf(c, i.name.span),
    children: children(c, i),
  }));
}

function children(c: Checked, item: A.Item): DocumentSymbol[] {
  const out: DocumentSymbol[] = [];
  const seen = new Set<string>();
  const add = (name: A.Ident, whole: { start: number; end: number }, kind: SymbolKind, detail: string) => {
    if (!name.name) return;
    const key = `${kind}:${name.name}`;
    if (seen.has(key)) return; // a rebinding (`x = f(x)`) is the same name
    seen.add(key);
    out.push({ name: name.name, detail, kind, range: rangeOf(c, whole), selectionRange: rangeOf(c, name.span) });
  };
  for (const p of item.params) add(p.name, p.span, SymbolKind.TypeParameter, p.type ? sourceOf(c, c.file, p.type.span) : "parameter");
  for (const m of allMembers(item.body)) {
    switch (m.kind) {
      case "Input": add(m.name, m.span, SymbolKind.Variable, `input ${sourceOf(c, c.file, m.type.span)}`); break;
      case "Output": add(m.name, m.span, SymbolKind.Variable, "output"); break;
      case "TensorParam": add(m.name, m.span, SymbolKind.Field, `param ${sourceOf(c, c.file, m.type.span)}`); break;
      case "Layer": add(m.name, m.span, SymbolKind.Object, `layer ${m.repeat ? "repeat " : ""}${m.callee.name}`); break;
      case "Assign": for (const t of m.targets) add(t, m.span, SymbolKind.Variable, "binding"); break;
      default: break;
    }
  }
  return out;
}

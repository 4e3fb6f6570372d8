// Inlay hints: the shape each binding evaluated to, after its name (`x: f32[batch, seq, 768] = ...`),
// for bindings and untyped outputs of the document, from the shape checker's record.
import { InlayHintKind, type InlayHint, type Range } from "vscode-languageserver/node.js";
import type * as A from "../syntax/ast.js";
import { offsetOf, positionOf, type Checked } from "./documents.js";
import { allMembers, typesAt } from "./query.js";

export function inlayHints(c: Checked, range: Range): InlayHint[] {
  const [from, to] = [offsetOf(c, range.start), offsetOf(c, range.end)];
  const names: A.Ident[] = [];
  for (const item of c.result.program.items) {
    if (item.span.end < from || item.span.start > to) continue;
    for (const m of allMembers(item.body)) {
      if (m.kind === "Assign") names.push(...m.targets);
      else if (m.kind === "Output" && m.value && !m.type) names.push(m.name);
    }
  }
  const hints: InlayHint[] = [];
  for (const n of names) {
    // Unknown values (after an error) get no hint rather than `: ?`.
    const types = n.name && n.span.end >= from && n.span.end <= to ? typesAt(c, n.span)?.filter((t) => t !== "?") : undefined;
    if (!types?.length) continue;
    hints.push({ position: positionOf(c.lines, n.span.end), label: `: ${types.join(" | ")}`, kind: InlayHintKind.Type, paddingLeft: false });
  }
  return hints;
}

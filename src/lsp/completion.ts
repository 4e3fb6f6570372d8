// Completion: block names after `layer x =`, `name=` arguments inside a call's or layer's
// parentheses, weights and sub-layers after `layer.`, and otherwise the names visible in the
// enclosing block (its locals, then functions, builtins and constants), plus keywords.
import { CompletionItemKind, type CompletionItem, type Position } from "vscode-languageserver/node.js";
import type { GlobalSym } from "../check/symbols.js";
import type * as A from "../syntax/ast.js";
import { offsetOf, type Checked } from "./documents.js";
import { allMembers, contains, globalNamed, itemAt, layerBlockByName, typesAt } from "./query.js";
import { calleeParamsByName, docOf, paramsOf, paramText, signatureOf } from "./signatures.js";

const memberKeywords = ["input", "output", "param", "layer", "ignore", "if", "else", "return"];
const itemKeywords = ["model", "block", "fn"];
const layerRhs = /^\s*layer\s+[A-Za-z_]\w*\s*=\s*(repeat\s*\([^()]*\)\s*)?$/;

export function completion(c: Checked, pos: Position): CompletionItem[] {
  const offset = offsetOf(c, pos);
  const item = itemAt(c.result.program, offset);
  const scan = scanTo(c.text, item && contains(item.span, offset) ? item.span.start : 0, offset);
  if (scan.inert) return [];
  const lineStart = Math.max(c.text.lastIndexOf("\n", offset - 1), c.text.lastIndexOf("\r", offset - 1)) + 1;
  const before = c.text.slice(lineStart, offset);
  const prefix = before.replace(/[A-Za-z_]\w*$/, "");

  if (layerRhs.test(prefix)) return globals(c, (g) => g.kind === "block");
  const chain = /([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.$/.exec(prefix);
  if (chain && item) return members(c, item, chain[1]!);

  const open = scan.stack[scan.stack.length - 1];
  if (!open || open.ch === "{") {
    const inBody = open?.ch === "{";
    if (!/^\s*$/.test(prefix)) return inBody && item ? values(c, item) : [];
    return inBody && item ? [...keywords(memberKeywords), ...values(c, item)] : keywords(itemKeywords);
  }
  const named = open.ch === "(" && open.callee && open.callee !== "repeat" ? namedArgs(c, item, open, c.text.slice(open.at + 1, offset)) : [];
  return [...named, ...(item ? values(c, item) : [])];
}

const keywords = (ws: readonly string[]): CompletionItem[] => ws.map((w) => ({ label: w, kind: CompletionItemKind.Keyword, sortText: `2${w}` }));

function globals(c: Checked, keep: (g: GlobalSym) => boolean): CompletionItem[] {
  const out: CompletionItem[] = [];
  for (const g of c.result.resolution?.globals.values() ?? []) {
    if (!keep(g)) continue;
    const doc = docOf(c, g);
    const kind = g.kind === "block" ? CompletionItemKind.Class : g.kind === "constant" ? CompletionItemKind.Constant : g.kind === "dtype" ? CompletionItemKind.TypeParameter : CompletionItemKind.Function;
    out.push({ label: g.name, kind, detail: signatureOf(c, g).split("\n")[0], ...(doc ? { documentation: doc } : {}), sortText: `1${g.name}` });
  }
  return out;
}

/** Locals of the enclosing item (hoisted or not: a simple, generous scope), then callable and constant globals. */
function values(c: Checked, item: A.Item): CompletionItem[] {
  const seen = new Map<string, CompletionItem>();
  const add = (name: string, kind: CompletionItemKind, detail: string) => {
    if (name && !seen.has(name)) seen.set(name, { label: name, kind, detail, sortText: `0${name}` });
  };
  const typed = (i: A.Ident) => typesAt(c, i.span)?.join(" | ");
  for (const p of item.params) add(p.name.name, CompletionItemKind.Property, `${item.kind === "Fn" ? "function parameter" : "parameter"} ${paramText(c, c.file, p)}`);
  for (const m of allMembers(item.body)) {
    switch (m.kind) {
      case "Input":
        add(m.name.name, CompletionItemKind.Variable, `input: ${typed(m.name) ?? ""}`);
        for (const d of m.type.dims) {
          if (d.kind === "Name") add(d.name, CompletionItemKind.Constant, "dimension");
          else if (d.kind === "Pack") add(d.name.name, CompletionItemKind.Constant, "dimension pack");
        }
        break;
      case "TensorParam": add(m.name.name, CompletionItemKind.Field, `weight: ${m.type.dtype}`); break;
      case "Layer": add(m.name.name, CompletionItemKind.Method, `layer: ${m.repeat ? "repeat " : ""}${m.callee.name}`); break;
      case "Output": add(m.name.name, CompletionItemKind.Variable, `output${typed(m.name) ? `: ${typed(m.name)}` : ""}`); break;
      case "Assign": for (const t of m.targets) add(t.name, CompletionItemKind.Variable, `binding${typed(t) ? `: ${typed(t)}` : ""}`); break;
      default: break;
    }
  }
  return [...seen.values(), ...globals(c, (g) => g.kind !== "block")];
}

/** After `a.b.`: the weights and sub-layers of the block that layer instantiates. */
function members(c: Checked, item: A.Item, chain: string): CompletionItem[] {
  const block = layerBlockByName(c, item, chain.split("."));
  if (!block) return [];
  return allMembers(block.decl.body).flatMap((m): CompletionItem[] =>
    m.kind === "TensorParam" ? [{ label: m.name.name, kind: CompletionItemKind.Field, detail: `weight of ${block.name}` }]
    : m.kind === "Layer" ? [{ label: m.name.name, kind: CompletionItemKind.Method, detail: `layer of ${block.name}: ${m.callee.name}` }]
    : []);
}

function namedArgs(c: Checked, item: A.Item | undefined, open: Open, written: string): CompletionItem[] {
  const { params } = open.layer ? { params: paramsOf(c, globalNamed(c, open.callee!)) } : calleeParamsByName(c, open.callee!, item);
  // Arguments already written (all but the one being typed): named ones by name, positional ones by place.
  const done = topLevelArgs(written).slice(0, -1);
  const named = done.map((a) => /^\s*([A-Za-z_]\w*)\s*=(?!=)/.exec(a)?.[1]);
  const positional = named.filter((n) => n === undefined).length;
  return params.filter((p, i) => i >= positional && !named.includes(p.name)).map((p) => ({
    label: `${p.name}=`,
    filterText: p.name,
    insertText: `${p.name}=`,
    kind: CompletionItemKind.Property,
    detail: p.detail,
    sortText: `/${p.name}`, // before everything else
  }));
}

/** `a, f(b, c), d` → ["a", " f(b, c)", " d"]: splits at commas outside brackets. */
function topLevelArgs(text: string): string[] {
  const out = [""];
  let depth = 0;
  for (const ch of text) {
    if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    if (ch === "," && depth === 0) out.push("");
    else out[out.length - 1] += ch;
  }
  return out;
}

interface Open {
  readonly ch: "(" | "[" | "{";
  readonly at: number;
  /** The name before a `(`: a function, layer or block. */
  readonly callee?: string;
  /** The `(` of `layer x = Block(`: its arguments are the block's parameters. */
  readonly layer?: boolean;
}

/** Brackets open at `end`, scanning from `start` past strings and comments; `inert` inside either. */
export function scanTo(text: string, start: number, end: number): { stack: Open[]; inert: boolean } {
  const stack: Open[] = [];
  const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (let i = start; i < end; i++) {
    const ch = text[i]!;
    if (ch === "#") {
      while (i < end && text[i] !== "\n" && text[i] !== "\r") i++;
      if (i >= end) return { stack, inert: true };
    } else if (ch === '"') {
      for (i++; i < end && text[i] !== '"' && text[i] !== "\n"; i++) if (text[i] === "\\") i++;
      if (i >= end) return { stack, inert: true };
    } else if (ch === "(" || ch === "[" || ch === "{") {
      const head = text.slice(Math.max(start, i - 200), i);
      const callee = ch === "(" ? /([A-Za-z_]\w*)\s*$/.exec(head) : null;
      const lineHead = callee ? head.slice(0, callee.index).split(/\r?\n|\r/).pop()! : "";
      stack.push({ ch, at: i, ...(callee ? { callee: callee[1]!, layer: layerRhs.test(lineHead) } : {}) });
    } else if (ch in closing) {
      const k = stack.map((o) => o.ch).lastIndexOf(closing[ch] as Open["ch"]);
      if (k >= 0) stack.length = k;
    }
  }
  return { stack, inert: false };
}

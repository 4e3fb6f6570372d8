// Questions about the checked AST at a position: the enclosing item, what the name under the
// cursor is (a resolved use, a declaration, a member or argument name), and the types recorded
// there by the shape checker. Read-only walks; nothing here checks anything.
import type { Reference } from "../check/resolve.js";
import { isLocal, type GlobalSym, type Sym } from "../check/symbols.js";
import type { Named } from "../check/resolve.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import type { Checked } from "./documents.js";

export type Decl = A.Item | A.ParamDecl | A.InputDecl | A.OutputDecl | A.TensorParamDecl | A.StateDecl | A.LayerDecl;

/** What is under the cursor. */
export type Target =
  | { readonly kind: "ref"; readonly span: Span; readonly ref: Reference; readonly item?: A.Item }
  | { readonly kind: "decl"; readonly span: Span; readonly decl: Decl; readonly item: A.Item }
  | { readonly kind: "binding"; readonly span: Span; readonly ident: A.Ident; readonly item: A.Item }
  | { readonly kind: "member"; readonly span: Span; readonly node: A.MemberAccess; readonly item: A.Item }
  | { readonly kind: "argName"; readonly span: Span; readonly arg: A.Arg; readonly owner: A.Call | A.LayerDecl; readonly item: A.Item };

export const contains = (s: Span, offset: number) => s.start <= offset && offset <= s.end;

/** The item (model, block, fn) around an offset; while typing, the last one that starts before it. */
export function itemAt(program: A.Program, offset: number): A.Item | undefined {
  const inside = program.items.find((i) => contains(i.span, offset));
  if (inside) return inside;
  return [...program.items].reverse().find((i) => i.span.start <= offset);
}

export function targetAt(c: Checked, offset: number): Target | undefined {
  const ref = c.result.resolution?.references.find((r) => r.file === c.file && contains(r.span, offset));
  const item = itemAt(c.result.program, offset);
  if (ref) return { kind: "ref", span: ref.span, ref, ...(item ? { item } : {}) };
  if (!item || !contains(item.span, offset)) return undefined;
  return new Finder(offset, item).run();
}

/** Walks the item along the spans that contain the offset, looking for a name there. */
class Finder {
  private found: Target | undefined;
  constructor(private readonly offset: number, private readonly item: A.Item) {}

  run(): Target | undefined {
    const it = this.item;
    this.decl(it.name, it);
    for (const p of it.params) {
      this.decl(p.name, p);
      this.expr(p.default);
      if (p.type?.kind === "TensorType") this.type(p.type);
    }
    this.members(it.body);
    return this.found;
  }

  private hit(s: Span): boolean {
    return !this.found && !!s && contains(s, this.offset);
  }

  private decl(name: A.Ident, decl: Decl): void {
    if (name.name && this.hit(name.span)) this.found = { kind: "decl", span: name.span, decl, item: this.item };
  }

  private members(ms: readonly A.Member[]): void {
    for (const m of ms) if (this.hit(m.span)) this.member(m);
  }

  private member(m: A.Member): void {
    switch (m.kind) {
      case "Input": this.decl(m.name, m); this.type(m.type); this.expr(m.default); return;
      case "Output": this.decl(m.name, m); if (m.type) this.type(m.type); this.expr(m.value); return;
      case "TensorParam": case "State": this.decl(m.name, m); this.type(m.type); return;
      case "Layer":
        this.decl(m.name, m);
        this.expr(m.repeat);
        this.args(m.args, m);
        return;
      case "Assign":
        for (const t of m.targets) if (t.name && this.hit(t.span)) this.found = { kind: "binding", span: t.span, ident: t, item: this.item };
        this.expr(m.value);
        return;
      case "If": this.expr(m.cond); this.members(m.then); this.members(m.else_ ?? []); return;
      case "Return": m.values.forEach((v) => this.expr(v)); return;
      case "Ignore": return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  private type(t: A.TensorType): void {
    for (const d of t.dims) if (d.kind !== "Ellipsis" && d.kind !== "Pack") this.expr(d);
  }

  private args(args: readonly A.Arg[], owner: A.Call | A.LayerDecl): void {
    for (const a of args) {
      if (a.name?.name && this.hit(a.name.span)) this.found = { kind: "argName", span: a.name.span, arg: a, owner, item: this.item };
      this.expr(a.value);
    }
  }

  private expr(e: A.Expr | A.Subscript | undefined): void {
    if (!e || !this.hit(e.span)) return;
    switch (e.kind) {
      case "Member":
        if (e.name.name && this.hit(e.name.span)) this.found = { kind: "member", span: e.name.span, node: e, item: this.item };
        return this.expr(e.target);
      case "Call": this.expr(e.callee); return this.args(e.args, e);
      case "Binary": this.expr(e.left); return this.expr(e.right);
      case "Unary": return this.expr(e.operand);
      case "Index": this.expr(e.target); return e.subscripts.forEach((s) => this.expr(s));
      case "Slice": this.expr(e.start); return this.expr(e.end);
      case "List": return e.elements.forEach((x) => this.expr(x));
      default: return;
    }
  }
}

/** The innermost span of the document with a recorded type that contains the offset. */
export function typeAt(c: Checked, offset: number): { span: Span; types: readonly string[] } | undefined {
  let best: { span: Span; types: readonly string[] } | undefined;
  for (const [span, types] of typesOf(c)) {
    if (!contains(span, offset)) continue;
    if (!best || span.end - span.start < best.span.end - best.span.start) best = { span, types };
  }
  return best;
}

/** The types recorded at exactly this span of the document. */
export function typesAt(c: Checked, span: Span): readonly string[] | undefined {
  return c.result.shapes?.types.get(`${c.file}:${span.start}:${span.end}`);
}

const typeIndex = new WeakMap<Checked, [Span, readonly string[]][]>();
function typesOf(c: Checked): [Span, readonly string[]][] {
  let list = typeIndex.get(c);
  if (list) return list;
  list = [];
  const prefix = `${c.file}:`;
  for (const [key, types] of c.result.shapes?.types ?? []) {
    if (!key.startsWith(prefix)) continue;
    const m = /^(\d+):(\d+)$/.exec(key.slice(prefix.length));
    if (m) list.push([{ start: Number(m[1]), end: Number(m[2]) }, types]);
  }
  typeIndex.set(c, list);
  return list;
}

/** What a name of the checked document denotes, from the resolver's table (never looked up again by name). */
export function symbolOf(c: Checked, node: Named): Sym | undefined {
  return c.result.resolution?.symbolOf(node);
}

/** The block a `layer` declaration instantiates, as the resolver bound its callee. */
export function calleeBlock(c: Checked, layer: A.LayerDecl): (GlobalSym & { kind: "block" }) | undefined {
  const g = symbolOf(c, layer.callee);
  return g?.kind === "block" ? g : undefined;
}

/** A global block or function by name, as the check resolved it: for text being typed, which has no resolved node yet. */
export function globalNamed(c: Checked, name: string): GlobalSym | undefined {
  return c.result.resolution?.globals.get(name);
}

/** The declaration (in this item) of a local symbol, found by its name's span. */
export function localDecl(item: A.Item | undefined, span: Span): Decl | undefined {
  if (!item) return undefined;
  const same = (s: Span) => s.start === span.start && s.end === span.end;
  const p = item.params.find((x) => same(x.name.span));
  if (p) return p;
  const walk = (ms: readonly A.Member[]): Decl | undefined => {
    for (const m of ms) {
      if ((m.kind === "Input" || m.kind === "Output" || m.kind === "TensorParam" || m.kind === "Layer") && same(m.name.span)) return m;
      if (m.kind === "If") {
        const d = walk(m.then) ?? walk(m.else_ ?? []);
        if (d) return d;
      }
    }
    return undefined;
  };
  return walk(item.body);
}

/** Every member of a body, the branches of `if`s included. */
export function allMembers(ms: readonly A.Member[]): A.Member[] {
  return ms.flatMap((m) => (m.kind === "If" ? [m, ...allMembers(m.then), ...allMembers(m.else_ ?? [])] : [m]));
}

/** `a.b.c`: the layer or weight a member access names (as the resolver bound it), with the block it is declared in. */
export function memberDecl(c: Checked, e: A.MemberAccess): { decl: A.LayerDecl | A.TensorParamDecl; block: GlobalSym & { kind: "block" } } | undefined {
  const decl = c.result.resolution?.memberOf(e);
  const block = decl && layerBlock(c, e.target);
  return decl && block ? { decl, block } : undefined;
}

/** The block a layer expression of the document (`wte`, `encoder.norm`) instantiates, as the resolver bound it. */
export function layerBlock(c: Checked, t: A.Expr): (GlobalSym & { kind: "block" }) | undefined {
  if (t.kind === "Name") {
    const s = symbolOf(c, t);
    return s && isLocal(s) && s.kind === "layer" ? s.block : undefined;
  }
  if (t.kind !== "Member") return undefined;
  const inner = c.result.resolution?.memberOf(t);
  return inner?.kind === "Layer" ? calleeBlock(c, inner) : undefined;
}

/** The block a layer chain being typed (`encoder.norm.`, no syntax tree yet) instantiates, by its names in `item`. */
export function layerBlockByName(c: Checked, item: A.Item, chain: readonly string[]): (GlobalSym & { kind: "block" }) | undefined {
  let block: GlobalSym | undefined;
  let body = item.body;
  for (const name of chain) {
    const layer = allMembers(body).find((m): m is A.LayerDecl => m.kind === "Layer" && m.name.name === name);
    block = layer && globalNamed(c, layer.callee.name);
    if (block?.kind !== "block") return undefined;
    body = block.decl.body;
  }
  return block?.kind === "block" ? block : undefined;
}

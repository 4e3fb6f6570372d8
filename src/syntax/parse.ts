// Text → AST. Lexes (with limits), parses with recovery, and turns the CST into the AST; syntax
// errors become diagnostics and the recovered tree still reaches the later phases.
import type { CstNode, IRecognitionException, IToken } from "chevrotain";
import { parser } from "../../grammar/parser.js";
import * as T from "../../grammar/tokens.js";
import { DiagnosticSink, type Diagnostic } from "../diag/diagnostic.js";
import { cover, type Span } from "../diag/span.js";
import type * as A from "./ast.js";
import { bare, floorDivision, methodCall, power, sliceStep, source, type Habit, type Part } from "./habits.js";
import { limits } from "./limits.js";
import { tokenize, tokenSpan } from "./tokenize.js";


/** Half of a UTF-16 surrogate pair standing alone. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export interface ParseResult {
  readonly program: A.Program;
  readonly diagnostics: readonly Diagnostic[];
}

export function parse(text: string, file = "<input>"): ParseResult {
  const sink = new DiagnosticSink(file);
  const bytes = text.length * 3 <= limits.maxFileBytes ? text.length : new TextEncoder().encode(text).length;
  if (bytes > limits.maxFileBytes) {
    sink.report("TFM1010", { start: 0, end: 0 }, `file is ${bytes} bytes long; the limit is ${limits.maxFileBytes} bytes`);
    return { program: { kind: "Program", items: [], comments: [], span: { start: 0, end: 0 } }, diagnostics: sink.items };
  }
  const { tokens, comments } = tokenize(text, sink);
  parser.input = tokens;
  const cst = parser.program();
  const seen = new Set<number>();
  for (const e of parser.errors) {
    const sp = errorSpan(e, text.length);
    if (seen.has(sp.start)) continue; // one syntax error per position: recovery can repeat itself
    seen.add(sp.start);
    sink.report("TFM1003", sp, syntaxMessage(e));
  }
  const program = new AstBuilder(sink, text).program(cst, comments);
  return { program, diagnostics: sink.items };
}

/**
 * An identifier's name, in Unicode NFC: `é` typed precomposed and as `e` + a combining accent is
 * one name, as in Python (which normalises identifiers to NFKC; tfm keeps compatibility
 * characters such as `ﬁ` distinct, since checkpoint names are compared byte for byte).
 */
const nameOf = (t: IToken): string => (/[^\u0000-\u007f]/.test(t.image) ? t.image.normalize("NFC") : t.image);

// ---- syntax error messages -------------------------------------------------------------------

const tokenLabels: Record<string, string> = {
  LParen: "`(`", RParen: "`)`", LBracket: "`[`", RBracket: "`]`", LBrace: "`{`", RBrace: "`}`",
  Comma: "`,`", Colon: "`:`", Assign: "`=`", Dot: "`.`", Identifier: "a name", Int: "an integer",
  Float: "a number", StringLit: "a string", DType: "a tensor type (f32, i32, ...)", EOF: "end of file",
};
const ruleLabels: Record<string, string> = {
  program: "`model`, `block` or `fn`", member: "a declaration or statement", expression: "an expression",
  primary: "an expression", typeAnn: "a type", tensorType: "a tensor type like `f32[batch, seq]`",
  dim: "a dimension", subscript: "an index or slice", param: "a parameter", arg: "an argument",
};

function describeToken(t: IToken): string {
  if (t.tokenType.name === "EOF") return "end of file";
  const img = t.image.length > 24 ? t.image.slice(0, 24) + "…" : t.image;
  return `\`${img}\``;
}

function syntaxMessage(e: IRecognitionException): string {
  const found = describeToken(e.token);
  const rule = e.context.ruleStack[e.context.ruleStack.length - 1] ?? "program";
  if (e.name === "MismatchedTokenException") {
    const m = /-->\s*(\w+)\s*<--/.exec(e.message);
    const want = m ? tokenLabels[m[1]!] ?? `\`${m[1]!.toLowerCase()}\`` : "something else";
    return `expected ${want}, found ${found}`;
  }
  if (e.name === "NotAllInputParsedException") return `expected ${ruleLabels.program}, found ${found}`;
  return `expected ${ruleLabels[rule] ?? "more input"}, found ${found}`;
}

function errorSpan(e: IRecognitionException, textEnd: number): Span {
  const t = e.token;
  if (t.tokenType.name === "EOF" || Number.isNaN(t.startOffset)) {
    const prev = (e as { previousToken?: IToken }).previousToken;
    const at = prev && !Number.isNaN(prev.startOffset) ? prev.startOffset + prev.image.length : textEnd;
    return { start: at, end: at };
  }
  return tokenSpan(t);
}

// ---- CST → AST -------------------------------------------------------------------------------

type Children = Record<string, (CstNode | IToken)[] | undefined>;
const kids = (n: CstNode | undefined): Children => (n?.children ?? {}) as Children;
const tok = (c: Children, name: string, i = 0) => c[name]?.[i] as IToken | undefined;
const node = (c: Children, name: string, i = 0) => c[name]?.[i] as CstNode | undefined;
const nodes = (c: Children, name: string) => (c[name] ?? []) as CstNode[];
const toks = (c: Children, name: string) => (c[name] ?? []) as IToken[];
/** Where a CST child starts: a token's offset, a node's first token's. */
const startOf = (x: CstNode | IToken): number => ("image" in x ? x.startOffset : (x.location?.startOffset ?? NaN));
const validTok = (t: IToken | undefined): t is IToken => !!t && !Number.isNaN(t.startOffset) && !t.isInsertedInRecovery;

class AstBuilder {
  /** Depth of each expression built, to enforce limits.maxExpressionDepth. */
  private readonly depths = new WeakMap<A.Expr, number>();
  private tooDeepReported = false;
  private readonly textEnd: number;
  /** The tfm text of each habit's rewrite, so that a habit on top of another quotes the fix. */
  private readonly fixes = new WeakMap<A.Expr, string>();

  constructor(private readonly sink: DiagnosticSink, private readonly text: string) {
    this.textEnd = text.length;
  }

  /**
   * A Python habit (habits.ts): one TFM1015, and the tfm form it stands for in the AST. Around a
   * part the parser made up to recover, the syntax error is the news: no hint quotes the gap.
   */
  private habit(h: Habit, ...children: A.Expr[]): A.Expr {
    if (children.some((e) => e.kind === "Error")) return this.node(h.expr, children);
    this.sink.report("TFM1015", h.span, h.message, { notes: h.notes });
    if (h.fix !== undefined) this.fixes.set(h.expr, h.fix);
    return this.node(h.expr, children);
  }

  /** An expression in argument position, with its text `sp` for hints. */
  private part(e: A.Expr, sp: Span): Part {
    return { arg: { value: e, span: e.span }, src: this.fixes.get(e) ?? bare(source(this.text, sp)) };
  }

  /**
   * Every compound expression passes through here: a chain deeper than the limit (a 100,000-term
   * sum, 10,000 prefix minuses) becomes an error node, so no later phase recurses that deep.
   */
  /** Records `e`'s depth (1 + its deepest child); past the limit, TFM1014. Children come as an array: a list of 200,000 elements must not become 200,000 arguments. */
  private node(e: A.Expr, children: readonly A.Expr[]): A.Expr {
    let deepest = 0;
    for (const c of children) deepest = Math.max(deepest, this.depths.get(c) ?? 0);
    const depth = 1 + deepest;
    if (depth > limits.maxExpressionDepth) {
      if (!this.tooDeepReported) this.sink.report("TFM1014", e.span, `expression nested more than ${limits.maxExpressionDepth} deep; split it with intermediate names`);
      this.tooDeepReported = true;
      return { kind: "Error", span: e.span };
    }
    this.depths.set(e, depth);
    return e;
  }

  /** The span a CST node covers; recovered nodes may have no location. */
  private spanOf(n: CstNode | undefined, fallback: Span = { start: this.textEnd, end: this.textEnd }): Span {
    const l = n?.location;
    if (!l || Number.isNaN(l.startOffset)) return fallback;
    const end = Number.isNaN(l.endOffset ?? NaN) ? l.startOffset : l.endOffset! + 1;
    return { start: l.startOffset, end };
  }

  private ident(t: IToken | undefined, near: Span): A.Ident {
    return validTok(t) ? { name: nameOf(t), span: tokenSpan(t) } : { name: "", span: { start: near.end, end: near.end } };
  }

  program(cst: CstNode, comments: IToken[]): A.Program {
    const c = kids(cst);
    const items: A.Item[] = [];
    for (const n of [...nodes(c, "blockDecl"), ...nodes(c, "fnDecl")]) {
      items.push(n.name === "blockDecl" ? this.blockDecl(n) : this.fnDecl(n));
    }
    items.sort((a, b) => a.span.start - b.span.start);
    return {
      kind: "Program",
      items,
      comments: comments.map((t) => ({ text: t.image, span: tokenSpan(t) })),
      span: { start: 0, end: this.textEnd },
    };
  }

  private blockDecl(n: CstNode): A.BlockDecl {
    const c = kids(n);
    const sp = this.spanOf(n);
    return {
      kind: "Block",
      isModel: !!tok(c, "Model"),
      name: this.ident(tok(c, "Identifier"), sp),
      params: this.paramList(node(c, "paramList")),
      body: this.body(node(c, "body")),
      span: sp,
    };
  }

  private fnDecl(n: CstNode): A.FnDecl {
    const c = kids(n);
    const sp = this.spanOf(n);
    return { kind: "Fn", name: this.ident(tok(c, "Identifier"), sp), params: this.paramList(node(c, "paramList")), body: this.body(node(c, "body")), span: sp };
  }

  private paramList(n: CstNode | undefined): A.ParamDecl[] {
    return nodes(kids(n), "param").map((p) => {
      const c = kids(p);
      const sp = this.spanOf(p);
      const ta = node(c, "typeAnn");
      const def = node(c, "expression");
      return {
        kind: "Param" as const,
        name: this.ident(tok(c, "Identifier"), sp),
        ...(ta ? { type: this.typeAnn(ta) } : {}),
        ...(def ? { default: this.expr(def) } : {}),
        span: sp,
      };
    });
  }

  private typeAnn(n: CstNode): A.TypeAnn {
    const c = kids(n);
    const tt = node(c, "tensorType");
    if (tt) return this.tensorType(tt);
    const t = tok(c, "IntType") ?? tok(c, "FloatType") ?? tok(c, "BoolType") ?? tok(c, "StrType");
    const name = (t?.image ?? "int") as A.ScalarTypeName;
    return { kind: "ScalarType", name, span: this.spanOf(n) };
  }

  private tensorType(n: CstNode | undefined): A.TensorType {
    const c = kids(n);
    const dt = tok(c, "DType") ?? tok(c, "BoolType");
    return {
      kind: "TensorType",
      dtype: (validTok(dt) ? dt.image : "f32") as A.DTypeName,
      dims: nodes(c, "dim").map((d) => {
        const dc = kids(d);
        const e = tok(dc, "Ellipsis");
        if (e) return { kind: "Ellipsis" as const, span: tokenSpan(e) };
        if (tok(dc, "Star")) return { kind: "Pack" as const, name: this.ident(tok(dc, "Identifier"), this.spanOf(d)), span: this.spanOf(d) };
        return this.expr(node(dc, "expression"), this.spanOf(d));
      }),
      span: this.spanOf(n),
    };
  }

  private body(n: CstNode | undefined): A.Member[] {
    return nodes(kids(n), "member").flatMap((m) => {
      const inner = Object.values(kids(m))[0]?.[0] as CstNode | undefined;
      const built = inner ? this.member(inner) : undefined;
      return built ? [built] : [];
    });
  }

  private member(n: CstNode): A.Member | undefined {
    const c = kids(n);
    const sp = this.spanOf(n);
    const name = () => this.ident(tok(c, "Identifier"), sp);
    const value = () => node(c, "expression") && this.expr(node(c, "expression"), sp);
    const str = (t: IToken | undefined) => (validTok(t) ? this.string(t) : undefined);
    switch (n.name) {
      case "inputDecl": {
        const d = value();
        return { kind: "Input", name: name(), type: this.tensorType(node(c, "tensorType")), ...(d ? { default: d } : {}), span: sp };
      }
      case "outputDecl": {
        const tt = node(c, "tensorType");
        const v = value();
        return { kind: "Output", name: name(), ...(tt ? { type: this.tensorType(tt) } : {}), ...(v ? { value: v } : {}), span: sp };
      }
      case "paramDecl": {
        const ck = str(tok(c, "StringLit"));
        return { kind: "TensorParam", name: name(), type: this.tensorType(node(c, "tensorType")), ...(ck ? { checkpointName: ck } : {}), transposed: !!tok(c, "Transposed"), span: sp };
      }
      case "stateDecl":
        return { kind: "State", name: name(), type: this.tensorType(node(c, "tensorType")), span: sp };
      case "layerDecl": {
        // The identifiers in order: the layer's name, the copy index of `repeat(n, i)` if any, the block.
        const ids = toks(c, "Identifier");
        const indexed = !!tok(c, "Comma") && ids.length > 2;
        const rep = node(c, "expression");
        const ck = str(tok(c, "StringLit"));
        return {
          kind: "Layer",
          name: this.ident(ids[0], sp),
          ...(rep ? { repeat: this.expr(rep) } : {}),
          ...(indexed ? { repeatIndex: this.ident(ids[1], sp) } : {}),
          callee: this.ident(ids[indexed ? 2 : 1], sp),
          args: this.args(node(c, "argList")),
          ...(ck ? { checkpointName: ck } : {}),
          span: sp,
        };
      }
      case "ignoreDecl":
        return { kind: "Ignore", patterns: toks(c, "StringLit").filter(validTok).map((t) => this.string(t)), span: sp };
      case "ifStmt":
        return this.ifStmt(n);
      case "returnStmt":
        return { kind: "Return", values: nodes(c, "expression").map((e) => this.expr(e)), span: sp };
      case "assignStmt":
        return { kind: "Assign", targets: toks(c, "Identifier").filter(validTok).map((t) => this.ident(t, sp)), value: this.expr(node(c, "expression"), sp), span: sp };
      default:
        return undefined;
    }
  }

  private ifStmt(n: CstNode): A.If {
    const c = kids(n);
    const bodies = nodes(c, "body");
    const elseIf = node(c, "ifStmt");
    const sp = this.spanOf(n);
    const else_ = elseIf ? [this.ifStmt(elseIf)] : bodies[1] ? this.body(bodies[1]) : undefined;
    return { kind: "If", cond: this.expr(node(c, "expression"), sp), then: this.body(bodies[0]), ...(else_ ? { else_ } : {}), span: sp };
  }

  private args(n: CstNode | undefined): A.Arg[] {
    return nodes(kids(n), "arg").map((a) => {
      const c = kids(a);
      const sp = this.spanOf(a);
      const nm = tok(c, "Identifier");
      return { ...(validTok(nm) ? { name: this.ident(nm, sp) } : {}), value: this.expr(node(c, "expression"), sp), span: sp };
    });
  }

  // Expressions: each precedence level is a left fold over its operands.
  expr(n: CstNode | undefined, near?: Span): A.Expr {
    if (!n) {
      const at = near ? near.end : this.textEnd;
      return { kind: "Error", span: { start: at, end: at } };
    }
    const c = kids(n);
    switch (n.name) {
      case "expression":
        return this.fold(n, "andExpr", ["OrOr"]);
      case "andExpr":
        return this.fold(n, "cmpExpr", ["AndAnd"]);
      case "cmpExpr":
        return this.fold(n, "addExpr", ["EqEq", "NotEq", "LessEq", "GreaterEq", "Less", "Greater"]);
      case "addExpr":
        return this.fold(n, "mulExpr", ["Plus", "Minus"]);
      case "mulExpr":
        return this.fold(n, "unaryExpr", ["Star", "Slash", "Percent", "At", "SlashSlash"]);
      case "unaryExpr":
        return this.unary(n);
      case "postfixExpr":
        return this.postfix(n);
      case "primary":
        return this.primary(n);
      case "listExpr": {
        // Elements are expressions, or lone numbers and names taken as one token (grammar/parser.ts, listElement).
        const lone = [...toks(c, "Int"), ...toks(c, "Float"), ...toks(c, "Identifier")];
        const parts: (CstNode | IToken)[] = lone.length ? [...nodes(c, "expression"), ...lone] : nodes(c, "expression");
        if (lone.length) parts.sort((a, b) => startOf(a) - startOf(b));
        const elements = parts.map((e) => ("image" in e ? this.loneElement(e) : this.expr(e)));
        return this.node({ kind: "List", elements, span: this.spanOf(n) }, elements);
      }
      default:
        return { kind: "Error", span: this.spanOf(n) };
    }
  }

  /** Left-associative fold of `operand (op operand)*`, ordering operators by position. */
  private fold(n: CstNode, operand: string, opNames: string[]): A.Expr {
    const c = kids(n);
    const operands = nodes(c, operand);
    // One operand and no operator (each element of a list passes five levels of these): no fold to make.
    if (operands.length === 1 && opNames.every((o) => c[o] === undefined)) return this.expr(operands[0], this.spanOf(n));
    const ops = opNames.flatMap((o) => toks(c, o)).sort((a, b) => a.startOffset - b.startOffset);
    let e = this.expr(operands[0], this.spanOf(n));
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const right = this.expr(operands[i + 1], tokenSpan(op));
      if (op.tokenType === T.SlashSlash) {
        const [l, r] = [{ start: this.spanOf(operands[0]).start, end: op.startOffset }, this.spanOf(operands[i + 1], tokenSpan(op))];
        e = this.habit(floorDivision(e, right, `${source(this.text, l)} / ${source(this.text, r)}`, tokenSpan(op)), e, right);
        continue;
      }
      e = this.node({ kind: "Binary", op: op.image as A.BinaryOp, left: e, right, span: cover(e.span, right.span) }, [e, right]);
    }
    return e;
  }

  /**
   * Prefix operators, innermost last, over a chain of Python's `**`, which groups to the right and
   * binds tighter than a prefix on its left: `-a ** -b ** c` is `-(a ** (-(b ** c)))`.
   */
  private unary(n: CstNode): A.Expr {
    const c = kids(n);
    const operands = nodes(c, "postfixExpr");
    if (operands.length === 1 && c["StarStar"] === undefined && c["Minus"] === undefined && c["Bang"] === undefined) return this.expr(operands[0], this.spanOf(n));
    const stars = toks(c, "StarStar");
    const prefixes = [...toks(c, "Minus"), ...toks(c, "Bang")].filter(validTok).sort((a, b) => b.startOffset - a.startOffset);
    // The prefix operators of operand i lie between the `**` before it (or the start) and it.
    const prefixed = (e: A.Expr, i: number) => {
      const [from, to] = [i === 0 ? -1 : stars[i - 1]!.startOffset, this.spanOf(operands[i]).start];
      for (const op of prefixes.filter((t) => t.startOffset > from && t.startOffset < to)) {
        e = this.node({ kind: "Unary", op: op.image as A.UnaryOp, operand: e, span: cover(tokenSpan(op), e.span) }, [e]);
      }
      return e;
    };
    const last = stars.length;
    let e = prefixed(this.expr(operands[last], this.spanOf(n)), last);
    const end = this.spanOf(n).end;
    for (let i = last - 1; i >= 0; i--) {
      const star = stars[i]!;
      const base = this.expr(operands[i], this.spanOf(n));
      const exponent = { start: star.startOffset + star.image.length, end };
      e = prefixed(this.habit(power(this.part(base, this.spanOf(operands[i])), this.part(e, exponent), tokenSpan(star)), base, e), i);
    }
    return e;
  }

  private postfix(n: CstNode): A.Expr {
    const c = kids(n);
    let e = this.primary(node(c, "primary"), this.spanOf(n));
    if (c["argList"] === undefined && c["indexSuffix"] === undefined && c["Dot"] === undefined) return e;
    // Suffixes in source order: calls, indexing and `.name` member accesses.
    const suffixes: { at: number; apply: (e: A.Expr) => A.Expr; dot?: A.Ident; call?: CstNode }[] = [];
    for (const a of nodes(c, "argList")) {
      const sp = this.spanOf(a);
      suffixes.push({ at: sp.start, call: a, apply: (t) => { const args = this.args(a); return this.node({ kind: "Call", callee: t, args, span: cover(t.span, sp) }, [t, ...args.map((x) => x.value)]); } });
    }
    for (const ix of nodes(c, "indexSuffix")) {
      const sp = this.spanOf(ix);
      suffixes.push({ at: sp.start, apply: (t) => { const subscripts = nodes(kids(ix), "subscript").map((s) => this.subscript(s)); return this.node({ kind: "Index", target: t, subscripts, span: cover(t.span, sp) }, [t, ...subscripts.flatMap((s) => (s.kind === "Slice" ? [s.start, s.end].filter((x): x is A.Expr => !!x) : s.kind === "Ellipsis" ? [] : [s]))]); } });
    }
    const dots = toks(c, "Dot");
    const names = toks(c, "Identifier");
    dots.forEach((d, i) => {
      const nm = this.ident(names[i], tokenSpan(d));
      suffixes.push({ at: d.startOffset, dot: nm, apply: (t) => this.node({ kind: "Member", target: t, name: nm, span: cover(cover(t.span, nm.span), tokenSpan(d)) }, [t]) });
    });
    suffixes.sort((a, b) => a.at - b.at);
    const start = this.spanOf(n).start;
    for (let i = 0; i < suffixes.length; i++) {
      const s = suffixes[i]!;
      const call = suffixes[i + 1]?.call;
      if (s.dot?.name && call && e.kind !== "Error") {
        // `x.name(args)`: tfm calls only plain names, so this is a method call written as in PyTorch.
        const [member, args] = [{ start: s.at, end: s.dot.span.end }, this.args(call)];
        const parts = args.map((a, k) => this.part(a.value, this.spanOf(nodes(kids(call), "arg")[k])));
        const x = this.fixes.get(e) ?? bare(source(this.text, { start, end: s.at }));
        e = this.habit(methodCall(e, x, s.dot, parts, member, cover(e.span, this.spanOf(call))), e, ...args.map((a) => a.value));
        i++;
        continue;
      }
      e = s.apply(e);
    }
    return e;
  }

  private subscript(n: CstNode): A.Subscript {
    const c = kids(n);
    const sp = this.spanOf(n);
    const ell = tok(c, "Ellipsis");
    if (ell) return { kind: "Ellipsis", span: tokenSpan(ell) };
    const [colon, stepColon] = toks(c, "Colon").sort((a, b) => a.startOffset - b.startOffset);
    const es = nodes(c, "expression");
    if (!colon) return this.expr(es[0], sp);
    const before = es.filter((e) => this.spanOf(e).start < colon.startOffset);
    const after = es.filter((e) => this.spanOf(e).start > colon.startOffset && (!stepColon || this.spanOf(e).start < stepColon.startOffset));
    if (stepColon) {
      // Python's `a:b:k`: reported, and kept as `a:b` so that the bounds are still checked.
      const step = { start: stepColon.startOffset, end: sp.end };
      const h = sliceStep(step, source(this.text, step).startsWith(":-"));
      this.sink.report("TFM1015", h.span, h.message, { notes: h.notes });
    }
    return {
      kind: "Slice",
      ...(before[0] ? { start: this.expr(before[0]) } : {}),
      ...(after[0] ? { end: this.expr(after[0]) } : {}),
      span: sp,
    };
  }

  private primary(n: CstNode | undefined, near?: Span): A.Expr {
    if (!n) return this.expr(undefined, near);
    const c = kids(n);
    const sp = this.spanOf(n);
    const [key, list] = Object.entries(c).find(([k]) => k !== "LParen" && k !== "RParen") ?? [];
    const t = list?.[0] as IToken | undefined;
    switch (key) {
      case "Int":
      case "Float":
        return validTok(t) ? this.number(t, key === "Int") : { kind: "Error", span: sp };
      case "True":
      case "False":
        return { kind: "Bool", value: key === "True", span: sp };
      case "StringLit":
        return validTok(t) ? this.string(t) : { kind: "Error", span: sp };
      case "Identifier":
        return validTok(t) ? { kind: "Name", name: nameOf(t), span: tokenSpan(t) } : { kind: "Error", span: sp };
      case "expression":
        return this.expr(list![0] as CstNode, sp);
      case "listExpr":
        return this.expr(list![0] as CstNode, sp);
      default:
        return { kind: "Error", span: sp };
    }
  }

  /** A list element parsed as its one token: what `primary` makes of the same token. */
  private loneElement(t: IToken): A.Expr {
    if (!validTok(t)) return { kind: "Error", span: tokenSpan(t) };
    if (t.tokenType === T.Int || t.tokenType === T.Float) return this.number(t, t.tokenType === T.Int);
    return { kind: "Name", name: nameOf(t), span: tokenSpan(t) };
  }

  private number(t: IToken, isInt: boolean): A.NumberLit {
    const sp = tokenSpan(t);
    const digits = t.image.replace(/_/g, "");
    let value = Number(digits);
    if (isInt && BigInt(digits) > BigInt(limits.maxInt)) {
      this.sink.report("TFM1004", sp, `integer ${t.image} is larger than 2^53 - 1 (${limits.maxInt}), the largest exact integer`);
      value = limits.maxInt;
    } else if (!Number.isFinite(value)) {
      this.sink.report("TFM1005", sp, `number ${t.image} is out of range`);
      value = 0;
    }
    return { kind: "Number", text: t.image, value, isInt, span: sp };
  }

  private string(t: IToken): A.StringLit {
    const sp = tokenSpan(t);
    const body = t.image.slice(1, -1);
    const value = body.replace(/\\(u\{[0-9a-fA-F]{1,6}\}|.)/g, (m, esc: string, at: number) => {
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
      if (esc in simple) return simple[esc]!;
      const start = sp.start + 1 + at;
      if (esc.startsWith("u{")) {
        const cp = parseInt(esc.slice(2, -1), 16);
        // A surrogate is half of a UTF-16 pair, not a character: no file (UTF-8) or checkpoint name can hold it alone.
        if (cp >= 0xd800 && cp <= 0xdfff) {
          this.sink.report("TFM1006", { start, end: start + m.length }, `\`${m}\` is a surrogate code point, not a character: a string holds Unicode scalar values (up to \`\\u{10ffff}\`, without \`\\u{d800}\`–\`\\u{dfff}\`)`);
          return "\ufffd";
        }
        if (cp <= 0x10ffff) return String.fromCodePoint(cp);
      }
      this.sink.report("TFM1006", { start, end: start + m.length }, `unknown escape \`${m}\` in string`);
      return m;
    });
    // Text given to the API as a JS string may hold a lone surrogate itself (a file cannot: it is UTF-8, TFM1013).
    const lone = new RegExp(loneSurrogate.source).exec(body);
    if (lone) {
      const start = sp.start + 1 + lone.index;
      this.sink.report("TFM1013", { start, end: start + 1 }, `the string holds a lone surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()}), which is not a character and cannot be written as UTF-8`);
      return { kind: "String", value: value.replace(loneSurrogate, "\ufffd"), span: sp };
    }
    return { kind: "String", value, span: sp };
  }
}


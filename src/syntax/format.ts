// The formatter: prints a syntax-error-free AST as canonical .tfm text, keeping every comment.
import { hasErrors, type Diagnostic } from "../diag/diagnostic.js";
import * as A from "./ast.js";
import { parse } from "./parse.js";

/** Parameter lists whose one-line header would be wider than this are broken one per line. */
const maxWidth = 100;
const indentUnit = "  ";
// Binding levels beyond the binary operators' (1..5 in `A.precedence`).
const unaryLevel = 6;
const postfixLevel = 7;
const atomLevel = 8;

const never = (x: never): never => {
  throw new Error(`format: unexpected node ${JSON.stringify(x)}`);
};

// ---- expressions -----------------------------------------------------------------------------

/** One expression on one line, with parentheses only where precedence requires them. */
export function formatExpr(e: A.Expr): string {
  switch (e.kind) {
    case "Number": return e.text;
    case "Bool": return e.value ? "true" : "false";
    case "String": return quote(e.value);
    case "Name": return e.name;
    case "Unary": return e.op + wrap(e.operand, level(e.operand) < unaryLevel);
    case "Binary": return binary(e);
    case "Call": return `${postfixTarget(e.callee)}(${args(e.args)})`;
    case "Index": return `${postfixTarget(e.target)}[${e.subscripts.map(subscript).join(", ")}]`;
    case "Member": return `${postfixTarget(e.target)}.${e.name.name}`;
    case "List": return `[${e.elements.map(formatExpr).join(", ")}]`;
    case "Error": throw new Error("format: the program has syntax errors");
    default: return never(e);
  }
}

function level(e: A.Expr): number {
  switch (e.kind) {
    case "Binary": return A.precedence[e.op];
    case "Unary": return unaryLevel;
    case "Call": case "Index": case "Member": return postfixLevel;
    default: return atomLevel;
  }
}

const wrap = (e: A.Expr, parens: boolean): string => (parens ? `(${formatExpr(e)})` : formatExpr(e));
const postfixTarget = (e: A.Expr): string => wrap(e, level(e) < postfixLevel);

/** Binary operators are left-associative; comparisons do not chain, so `(a < b) == c` keeps its parentheses. */
function binary(e: A.Binary): string {
  const p = A.precedence[e.op];
  const l = level(e.left);
  const isComparison = p === A.precedence["=="];
  return `${wrap(e.left, l < p || (isComparison && l === p))} ${e.op} ${wrap(e.right, level(e.right) <= p)}`;
}

const args = (as: readonly A.Arg[]): string => as.map((a) => (a.name ? `${a.name.name}=` : "") + formatExpr(a.value)).join(", ");

function subscript(s: A.Subscript): string {
  switch (s.kind) {
    case "Ellipsis": return "...";
    case "Slice": return `${s.start ? formatExpr(s.start) : ""}:${s.end ? formatExpr(s.end) : ""}`;
    default: return formatExpr(s);
  }
}

const escapes: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };
/** A string literal re-escaped from its value: `\\ \" \n \t \r`, other control characters as `\u{..}`. */
export const quote = (s: string): string =>
  `"${s.replace(/[\\"\x00-\x1f\x7f]/g, (c) => escapes[c] ?? `\\u{${c.charCodeAt(0).toString(16)}}`)}"`;

// ---- declarations ----------------------------------------------------------------------------

function dim(d: A.Dim): string {
  switch (d.kind) {
    case "Ellipsis": return "...";
    case "Pack": return `*${d.name.name}`;
    default: return formatExpr(d);
  }
}
const tensorType = (t: A.TensorType): string => `${t.dtype}[${t.dims.map(dim).join(", ")}]`;
/** A type annotation: `int`, `f32[batch, seq]`. */
export const formatType = (t: A.TypeAnn): string => (t.kind === "ScalarType" ? t.name : tensorType(t));
const init = (e: A.Expr | undefined): string => (e ? ` = ${formatExpr(e)}` : "");
const param = (p: A.ParamDecl): string => p.name.name + (p.type ? `: ${formatType(p.type)}` : "") + init(p.default);
const alias = (s: A.StringLit | undefined): string => (s ? ` as ${quote(s.value)}` : "");

/** The one line of every member but `if`. */
function memberLine(m: A.Member): string {
  switch (m.kind) {
    case "Input": return `input ${m.name.name}: ${tensorType(m.type)}${init(m.default)}`;
    case "Output": return `output ${m.name.name}${m.type ? `: ${tensorType(m.type)}` : ""}${init(m.value)}`;
    case "TensorParam": return `param ${m.name.name}: ${tensorType(m.type)}${alias(m.checkpointName)}${m.transposed ? " transposed" : ""}`;
    case "State": return `state ${m.name.name}: ${tensorType(m.type)}`;
    case "Layer": {
      const rep = m.repeat ? `repeat(${formatExpr(m.repeat)}${m.repeatIndex ? `, ${m.repeatIndex.name}` : ""}) ` : "";
      return `layer ${m.name.name} = ${rep}${m.callee.name}(${args(m.args)})${alias(m.checkpointName)}`;
    }
    case "Ignore": return `ignore ${m.patterns.map((s) => quote(s.value)).join(", ")}`;
    case "Assign": return `${m.targets.map((t) => t.name).join(", ")} = ${formatExpr(m.value)}`;
    case "Return": return `return ${m.values.map(formatExpr).join(", ")}`;
    case "If": throw new Error("format: `if` spans several lines");
    default: return never(m);
  }
}

// ---- layout and comments ---------------------------------------------------------------------

interface Line {
  indent: number;
  code: string;
  comment?: string;
}
interface LeadingOpts {
  /** Keep (at most one) blank line where the source has one. */
  blanks?: boolean;
  /** Make sure one blank line separates what came before (top-level items). */
  force?: boolean;
  /** `pos` is a closing bracket: no blank line right before it. */
  closing?: boolean;
}

/**
 * Emits lines in source order. Comments are consumed in order of position: a comment on the same
 * line as the code before it trails that line; any other comment gets a line of its own.
 */
class Printer {
  private readonly lines: Line[] = [];
  private readonly comments: readonly A.Comment[];
  private next = 0; // the first comment not yet placed
  private last = 0; // source offset just past the last code or comment placed

  constructor(private readonly text: string, comments: readonly A.Comment[]) {
    this.comments = [...comments].sort((a, b) => a.span.start - b.span.start);
  }

  /**
   * Trailing comments on consecutive lines of one body share a column (as gofmt aligns them), two
   * spaces past the widest code; lines that open or close a body are not aligned.
   */
  render(): string {
    const width = (l: Line) => indentUnit.length * l.indent + l.code.length;
    const column: number[] = [];
    for (let i = 0; i < this.lines.length; ) {
      let j = i;
      const aligned = (l: Line) => !!l.code && l.comment !== undefined && l.indent === this.lines[i]!.indent && !/^}|{$/.test(l.code);
      while (j < this.lines.length && aligned(this.lines[j]!)) j++;
      const col = Math.max(0, ...this.lines.slice(i, j).map(width)) + 2;
      for (let k = i; k < j; k++) column[k] = col;
      i = Math.max(j, i + 1);
    }
    const out = this.lines.map((l, i) => {
      const pad = indentUnit.repeat(l.indent);
      if (!l.code) return l.comment ? pad + l.comment : "";
      return pad + l.code + (l.comment ? " ".repeat((column[i] ?? width(l) + 2) - width(l)) + l.comment : "");
    });
    return out.length ? out.join("\n") + "\n" : "";
  }

  item(it: A.Item): void {
    const head = it.kind === "Fn" ? `fn ${it.name.name}` : `${it.isModel ? "model" : "block"} ${it.name.name}`;
    const ps = it.params;
    let open: number;
    if (it.kind === "Block" && ps.length === 0) {
      open = this.find(it.name.span.end, "{");
      this.line(0, `${head} {`, open + 1, 1);
    } else {
      const lp = this.find(it.name.span.end, "(");
      const rp = this.find(ps.length ? ps[ps.length - 1]!.span.end : lp + 1, ")");
      open = this.find(rp + 1, "{");
      const flat = `${head}(${ps.map(param).join(", ")}) {`;
      const emptyBody = !it.body.length && !this.pending(this.closeOf(it.body, open)); // `{}` ends the line
      if (ps.length === 0 || ([...flat].length + (emptyBody ? 1 : 0) <= maxWidth && !this.pending(rp))) {
        this.line(0, flat, open + 1, 1);
      } else {
        this.line(0, `${head}(`, lp + 1, 1);
        for (const p of ps) {
          this.leading(p.span.start, 1);
          this.line(1, `${param(p)},`, p.span.end);
        }
        this.leading(rp, 1, { closing: true });
        this.line(0, ") {", open + 1, 1);
      }
    }
    const close = this.closeOf(it.body, open);
    this.body(it.body, 1, close);
    this.line(0, "}", close + 1);
  }

  /** Members one per line, then the comments before the closing `}` at `close`. */
  private body(members: readonly A.Member[], indent: number, close: number): void {
    for (const m of members) {
      this.leading(m.span.start, indent, { blanks: true });
      if (m.kind === "If") this.ifStmt(m, indent, "");
      else this.line(indent, memberLine(m), m.span.end);
    }
    this.leading(close, indent, { blanks: true, closing: true });
  }

  /** `if c {` ... `} else if d {` ... `} else {` ... `}`; `prefix` is `} else ` for an `else if`. */
  private ifStmt(s: A.If, indent: number, prefix: string): void {
    const open = this.find(s.cond.span.end, "{");
    this.line(indent, `${prefix}if ${formatExpr(s.cond)} {`, open + 1, indent + 1);
    const close = this.closeOf(s.then, open);
    this.body(s.then, indent + 1, close);
    const els = s.else_;
    if (!els) return this.line(indent, "}", close + 1);
    // `else if` and `else { if }` give the same tree; the source says which one was written.
    const brace = this.skipTrivia(this.skipTrivia(close + 1) + "else".length);
    const [first] = els;
    if (this.text[brace] !== "{" && first?.kind === "If") return this.ifStmt(first, indent, "} else ");
    this.line(indent, "} else {", brace + 1, indent + 1);
    const elseClose = this.closeOf(els, brace);
    this.body(els, indent + 1, elseClose);
    this.line(indent, "}", elseClose + 1);
  }

  /** Places the comments before `pos`, then the blank line (if any) before what starts there. */
  leading(pos: number, indent: number, opts: LeadingOpts = {}): void {
    let force = !!opts.force && !this.blankBetween(this.last, pos);
    for (let c = this.pending(pos); c; c = this.pending(pos)) {
      const blank = force || (!!opts.blanks && this.blankBetween(this.last, c.span.start));
      if (this.place(c, indent, this.sameLine(this.last, c.span.start), blank)) force = false;
    }
    if (!opts.closing && (force || (opts.blanks && this.blankBetween(this.last, pos)))) this.blank();
  }

  /** One line of code, then the comments inside its source (before `end`): trailing, or on lines of their own at `commentIndent`. */
  private line(indent: number, code: string, end: number, commentIndent = indent): void {
    const prev = this.lines[this.lines.length - 1];
    // An empty body: `{` and `}` meet on one line.
    if (prev && code.startsWith("}") && prev.indent === indent && prev.code.endsWith("{") && prev.comment === undefined) prev.code += code;
    else this.lines.push({ indent, code });
    for (let c = this.pending(end); c; c = this.pending(end)) this.place(c, commentIndent, true, false);
    this.last = Math.max(this.last, end);
  }

  /** Trails the previous line with the comment when asked and possible, else gives it a line; true for the latter. */
  private place(c: A.Comment, indent: number, trail: boolean, blank: boolean): boolean {
    const prev = this.lines[this.lines.length - 1];
    const text = c.text.trimEnd();
    this.next++;
    this.last = c.span.end;
    if (trail && prev?.code && prev.comment === undefined) {
      prev.comment = text;
      return false;
    }
    if (blank) this.blank();
    this.lines.push({ indent, code: "", comment: text });
    return true;
  }

  /** A blank line, never first, doubled, or right after an opening bracket. */
  private blank(): void {
    const prev = this.lines[this.lines.length - 1];
    if (prev && (prev.code || prev.comment) && !/[{(]$/.test(prev.code)) this.lines.push({ indent: 0, code: "" });
  }

  private pending(before: number): A.Comment | undefined {
    const c = this.comments[this.next];
    return c && c.span.start < before ? c : undefined;
  }

  private sameLine(a: number, b: number): boolean {
    return !/[\r\n]/.test(this.text.slice(a, b));
  }

  /** Whether the trivia between `a` and `b` holds an empty line. */
  private blankBetween(a: number, b: number): boolean {
    return /\n[^\S\n]*\n/.test(this.text.slice(a, b).replace(/#[^\r\n]*/g, "#").replace(/\r\n?/g, "\n"));
  }

  private skipTrivia(i: number): number {
    const t = this.text;
    while (i < t.length) {
      if (t[i] === "#") while (i < t.length && t[i] !== "\n" && t[i] !== "\r") i++;
      else if (/\s/.test(t[i]!)) i++;
      else break;
    }
    return i;
  }

  /** The offset of the next `ch` from `i`, where only trivia and punctuation lie between. */
  private find(i: number, ch: string): number {
    for (i = this.skipTrivia(i); i < this.text.length && this.text[i] !== ch; i = this.skipTrivia(i + 1));
    return i;
  }

  private closeOf(members: readonly A.Member[], open: number): number {
    return this.find(members.length ? members[members.length - 1]!.span.end : open + 1, "}");
  }
}

/** Canonical text of a program parsed from `text` without syntax errors (`text` places the comments). */
export function format(program: A.Program, text: string): string {
  const p = new Printer(text, program.comments);
  program.items.forEach((it, i) => {
    p.leading(it.span.start, 0, { blanks: true, force: i > 0 });
    p.item(it);
  });
  p.leading(text.length + 1, 0, { blanks: true, closing: true });
  return p.render();
}

/** Parses and formats; `text` is present only when the source has no errors. */
export function formatText(text: string, file?: string): { text?: string; diagnostics: readonly Diagnostic[] } {
  const { program, diagnostics } = parse(text, file);
  return hasErrors(diagnostics) ? { diagnostics } : { text: format(program, text), diagnostics };
}

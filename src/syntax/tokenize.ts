// Lexing with the language limits applied: lexer errors, unterminated strings, over-long
// identifiers and over-deep nesting become diagnostics, and the token stream handed to the parser
// is always safe to parse (balanced below the nesting limit).
import type { IToken } from "chevrotain";
import { tokenMatcher } from "../../grammar/chevrotain.js";
import * as T from "../../grammar/tokens.js";
import type { DiagnosticSink } from "../diag/diagnostic.js";
import { limits } from "./limits.js";

export interface Tokens {
  readonly tokens: IToken[];
  readonly comments: IToken[];
}

const opens = new Set([T.LParen, T.LBracket, T.LBrace]);
const closes = new Set([T.RParen, T.RBracket, T.RBrace]);

export const tokenSpan = (t: IToken) => ({ start: t.startOffset, end: t.startOffset + t.image.length });

function describeChar(text: string, offset: number): string {
  const cp = text.codePointAt(offset) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return cp < 0x20 || cp === 0x7f || cp === 0xfffd ? hex : `\`${String.fromCodePoint(cp)}\` (${hex})`;
}

export function tokenize(text: string, sink: DiagnosticSink): Tokens {
  const lexed = T.lexer.tokenize(text);
  for (const e of lexed.errors) {
    // chevrotain reports one error per run of unknown characters; name the first one.
    sink.report("TFM1001", { start: e.offset, end: e.offset + e.length }, `unexpected character ${describeChar(text, e.offset)}`);
  }
  const tokens: IToken[] = [];
  let depth = 0;
  let skipUntilDepth = -1; // while >= 0, tokens are dropped until nesting falls back to this depth
  for (const tok of lexed.tokens) {
    if (tok.tokenType === T.UnterminatedString) {
      sink.report("TFM1002", tokenSpan(tok), "string literal is missing its closing `\"`");
      continue;
    }
    if (tokenMatcher(tok, T.Identifier)) {
      if (tok.image.length > limits.maxIdentifierLength) {
        sink.report("TFM1012", tokenSpan(tok), `identifier is ${tok.image.length} characters long; the limit is ${limits.maxIdentifierLength}`);
      }
    }
    if (opens.has(tok.tokenType)) {
      depth++;
      if (depth > limits.maxNesting && skipUntilDepth < 0) {
        sink.report("TFM1011", tokenSpan(tok), `brackets nested more than ${limits.maxNesting} deep`);
        skipUntilDepth = depth - 1;
      }
    } else if (closes.has(tok.tokenType)) {
      depth = Math.max(0, depth - 1);
      if (skipUntilDepth >= 0 && depth <= skipUntilDepth) {
        skipUntilDepth = -1;
        continue; // the closer of the dropped region
      }
    }
    if (skipUntilDepth < 0) tokens.push(tok);
  }
  return { tokens: trimPostfixChains(tokens), comments: (lexed.groups["comments"] ?? []) as IToken[] };
}

/** Tokens after which `[`, `(` and `.name` are suffixes (indexing, a call, a member). */
const primaryEnds = new Set([T.Int, T.Float, T.StringLit, T.True, T.False, T.RParen, T.RBracket]);

/**
 * A chain of more than `limits.maxExpressionDepth` suffixes (`x[0][0]…`, `f()()…`, `a.b.c…`) is an
 * expression deeper than the limit whatever its suffixes hold: each suffix is one level. The parser
 * would build it whole (about ten CST nodes a suffix) only for the AST builder to report TFM1014 at
 * suffix `maxExpressionDepth + 1`; so the chain is cut here, after that suffix, and the builder still
 * reports the same TFM1014 at the same place. What the suffixes past it hold is not checked (the
 * error node stands for the whole chain). Only whole bracketed groups are dropped, so the cut never
 * makes a syntax error; `.name(args)` counts as the one level the builder makes of it. Linear: each
 * suffix of a chain is visited once.
 */
function trimPostfixChains(tokens: IToken[]): IToken[] {
  const n = tokens.length;
  // The closer of each `(` and `[` (the tokens are filtered to a safe nesting depth, not always balanced).
  const closer = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!.tokenType;
    if (t === T.LParen || t === T.LBracket || t === T.LBrace) stack.push(i);
    else if (t === T.RParen || t === T.RBracket || t === T.RBrace) {
      const o = stack.pop();
      if (o !== undefined) {
        const ot = tokens[o]!.tokenType;
        if ((ot === T.LParen && t === T.RParen) || (ot === T.LBracket && t === T.RBracket)) closer[o] = i;
      }
    }
  }
  const limit = limits.maxExpressionDepth + 1;
  const link = new Uint8Array(n); // the last token of a suffix already counted in a chain
  let drop: [number, number][] | undefined;
  for (let i = 0; i < n; i++) {
    const tok = tokens[i]!;
    if (link[i] || !(primaryEnds.has(tok.tokenType) || tokenMatcher(tok, T.Identifier))) continue;
    let j = i + 1;
    let count = 0;
    let cut = -1;
    while (j < n) {
      const t = tokens[j]!.tokenType;
      let end: number;
      if ((t === T.LParen || t === T.LBracket) && closer[j]! > j) end = closer[j]!;
      else if (t === T.Dot && j + 1 < n && tokenMatcher(tokens[j + 1]!, T.Identifier)) {
        // `.name(args)` is one level (a method call, TFM1015), `.name` alone another.
        end = j + 2 < n && tokens[j + 2]!.tokenType === T.LParen && closer[j + 2]! > j + 2 ? closer[j + 2]! : j + 1;
      } else break;
      link[end] = 1;
      if (++count === limit) cut = end + 1;
      j = end + 1;
    }
    if (cut >= 0 && cut < j) (drop ??= []).push([cut, j]);
  }
  if (!drop) return tokens;
  // A chain inside a kept suffix is found after the chain around it; one inside a dropped part, within its range.
  drop.sort((x, y) => x[0] - y[0]);
  const out: IToken[] = [];
  let from = 0;
  for (const [a, b] of drop) {
    for (let k = from; k < a; k++) out.push(tokens[k]!);
    from = Math.max(from, b);
  }
  for (let k = from; k < n; k++) out.push(tokens[k]!);
  return out;
}

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
  return { tokens, comments: (lexed.groups["comments"] ?? []) as IToken[] };
}

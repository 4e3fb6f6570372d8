// Builds the TextMate grammar grammar/tfm.tmLanguage.json from the token definitions in grammar/tokens.ts.
// scripts/gen-grammar.ts writes its output; test/unit/grammar/textmate.test.ts checks the file has not drifted.
//
// Regexes are written in the common subset of Oniguruma (what TextMate engines run) and JavaScript
// with the `u` flag, so that the test can exercise them without a TextMate engine.
import type { TokenType } from "chevrotain";
import * as T from "./tokens.js";

export type KeywordGroup = keyof typeof T.keywordGroups;

/** The scope each `keywordGroups` group is highlighted with. */
export const keywordGroupScopes: Record<KeywordGroup, string> = {
  declaration: "keyword.declaration.tfm",
  control: "keyword.control.tfm",
  modifier: "storage.modifier.tfm",
  constant: "constant.language.tfm",
  type: "support.type.primitive.tfm",
};

/** Scopes of the operator and punctuation tokens, by token name. Every such token must be listed. */
export const operatorScopes: Readonly<Record<string, string>> = {
  Ellipsis: "keyword.operator.ellipsis.tfm",
  StarStar: "keyword.operator.arithmetic.tfm",
  SlashSlash: "keyword.operator.arithmetic.tfm",
  EqEq: "keyword.operator.comparison.tfm",
  NotEq: "keyword.operator.comparison.tfm",
  LessEq: "keyword.operator.comparison.tfm",
  GreaterEq: "keyword.operator.comparison.tfm",
  AndAnd: "keyword.operator.logical.tfm",
  OrOr: "keyword.operator.logical.tfm",
  Less: "keyword.operator.comparison.tfm",
  Greater: "keyword.operator.comparison.tfm",
  Bang: "keyword.operator.logical.tfm",
  Plus: "keyword.operator.arithmetic.tfm",
  Minus: "keyword.operator.arithmetic.tfm",
  Star: "keyword.operator.arithmetic.tfm",
  Slash: "keyword.operator.arithmetic.tfm",
  Percent: "keyword.operator.arithmetic.tfm",
  At: "keyword.operator.arithmetic.matrix.tfm",
  Assign: "keyword.operator.assignment.tfm",
  Colon: "punctuation.separator.colon.tfm",
  Comma: "punctuation.separator.comma.tfm",
  Dot: "punctuation.accessor.tfm",
  LParen: "punctuation.section.parens.begin.tfm",
  RParen: "punctuation.section.parens.end.tfm",
  LBracket: "punctuation.section.brackets.begin.tfm",
  RBracket: "punctuation.section.brackets.end.tfm",
  LBrace: "punctuation.section.braces.begin.tfm",
  RBrace: "punctuation.section.braces.end.tfm",
};

/** Tokens with their own TextMate rule (or none): neither keywords nor operators. */
const specialTokens: ReadonlySet<TokenType> = new Set([
  T.WhiteSpace, T.Comment, T.Identifier, T.Float, T.Int, T.StringLit, T.UnterminatedString,
]);

const wordRe = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The words a token stands for when its pattern is a plain word (`model`) or an alternation of
 * plain words (`bf16|f16|f32`); undefined for any other token.
 */
export function keywordWords(token: TokenType): string[] | undefined {
  const p = token.PATTERN;
  const source = typeof p === "string" ? p : p instanceof RegExp && p.flags === "" ? p.source : undefined;
  if (source === undefined) return undefined;
  const words = source.split("|");
  return words.every((w) => wordRe.test(w)) ? words : undefined;
}

/** Every keyword token in `allTokens`, with its words. */
export function keywordTokens(): { token: TokenType; words: string[] }[] {
  return T.allTokens.flatMap((token) => {
    const words = keywordWords(token);
    return words ? [{ token, words }] : [];
  });
}

/** Operator and punctuation tokens: everything that is neither a keyword nor special, in lexer order. */
export function operatorTokens(): TokenType[] {
  return T.allTokens.filter((t) => !specialTokens.has(t) && keywordWords(t) === undefined);
}

function regexSource(token: TokenType): string {
  const p = token.PATTERN;
  if (!(p instanceof RegExp)) throw new Error(`token ${token.name}: expected a RegExp pattern`);
  if (new RegExp(`${p.source}|`).exec("")!.length !== 1) {
    throw new Error(`token ${token.name}: a pattern used in the TextMate grammar must not have capturing groups`);
  }
  return p.source;
}

function escapeWord(w: string): string {
  if (!wordRe.test(w)) throw new Error(`keyword ${JSON.stringify(w)} is not a plain word`);
  return w;
}

// Identifiers as the lexer defines them (grammar/tokens.ts): Unicode letters, digits and `_`.
const identChar = "[\\p{L}\\p{N}_]";
const identifier = "[\\p{L}_][\\p{L}\\p{N}_]*";
// Word boundaries that agree with the lexer on Unicode identifiers (`\b` is ASCII-only in
// JavaScript and slightly different from the lexer's identifier class in Oniguruma).
const wordStart = `(?<!${identChar})`;
const wordEnd = `(?!${identChar})`;
const words = (ws: readonly string[]): string => `${wordStart}(?:${ws.map(escapeWord).join("|")})${wordEnd}`;

/** The keyword group a word belongs to; throws when it is in none. */
function groupOf(word: string): KeywordGroup {
  for (const [group, ws] of Object.entries(T.keywordGroups) as [KeywordGroup, readonly string[]][]) {
    if (ws.includes(word)) return group;
  }
  throw new Error(`keyword ${JSON.stringify(word)} is in no keywordGroups group`);
}

function singleWord(token: TokenType): string {
  const ws = keywordWords(token);
  if (ws?.length !== 1) throw new Error(`token ${token.name}: expected a single-word keyword`);
  return ws[0]!;
}

export interface TmRule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  captures?: Record<string, { name: string }>;
  beginCaptures?: Record<string, { name: string }>;
  endCaptures?: Record<string, { name: string }>;
  patterns?: TmRule[];
  include?: string;
}

export interface TmGrammar {
  information_for_contributors: string[];
  name: string;
  scopeName: string;
  fileTypes: string[];
  patterns: TmRule[];
  repository: Record<string, TmRule>;
}

/** A rule for `kw Name`: the declaration keyword(s) and the declared name. */
function declarationRule(tokens: TokenType[], nameScope: string): TmRule {
  const ws = tokens.map(singleWord);
  const scopes = new Set(ws.map((w) => keywordGroupScopes[groupOf(w)]));
  if (scopes.size !== 1) throw new Error(`declaration keywords ${ws.join(", ")} are in different groups`);
  return {
    match: `${wordStart}(${ws.map(escapeWord).join("|")})\\s+(${identifier})`,
    captures: { "1": { name: [...scopes][0]! }, "2": { name: nameScope } },
  };
}

export function buildTextMateGrammar(): TmGrammar {
  const keywordRules: TmRule[] = (Object.entries(T.keywordGroups) as [KeywordGroup, readonly string[]][]).map(
    ([group, ws]) => ({ name: keywordGroupScopes[group], match: words(ws) }),
  );

  // Operators: one alternation in lexer order (which already puts `==` before `=`), one capture per token.
  const ops = operatorTokens();
  const captures: Record<string, { name: string }> = {};
  ops.forEach((t, i) => {
    const scope = operatorScopes[t.name];
    if (scope === undefined) throw new Error(`token ${t.name} has no scope in operatorScopes (grammar/textmate.ts)`);
    captures[String(i + 1)] = { name: scope };
  });
  for (const name of Object.keys(operatorScopes)) {
    if (!ops.some((t) => t.name === name)) throw new Error(`operatorScopes names ${name}, which is not an operator token`);
  }

  const stringEscape = "\\\\.";
  return {
    information_for_contributors: [
      "Generated from grammar/tokens.ts by scripts/gen-grammar.ts (npm run gen): do not edit by hand.",
    ],
    name: "tfm",
    scopeName: "source.tfm",
    fileTypes: ["tfm"],
    patterns: [
      { include: "#comment" },
      { include: "#string" },
      { include: "#declaration" },
      { include: "#keyword" },
      { include: "#number" },
      { include: "#function-call" },
      { include: "#operator" },
    ],
    repository: {
      comment: { name: "comment.line.number-sign.tfm", match: regexSource(T.Comment) },
      // Mirrors StringLit; like UnterminatedString, a string missing its closing quote ends at the line's end.
      string: {
        name: "string.quoted.double.tfm",
        begin: "\"",
        beginCaptures: { "0": { name: "punctuation.definition.string.begin.tfm" } },
        end: "\"|$",
        endCaptures: { "0": { name: "punctuation.definition.string.end.tfm" } },
        patterns: [{ name: "constant.character.escape.tfm", match: stringEscape }],
      },
      declaration: {
        patterns: [
          declarationRule([T.Model, T.Block], "entity.name.type.tfm"),
          declarationRule([T.Fn], "entity.name.function.tfm"),
        ],
      },
      keyword: { patterns: keywordRules },
      // Float before Int, as in the lexer; a number never starts inside an identifier (`f32`, `x1`).
      number: {
        patterns: [
          { name: "constant.numeric.float.tfm", match: `${wordStart}${regexSource(T.Float)}` },
          { name: "constant.numeric.integer.tfm", match: `${wordStart}${regexSource(T.Int)}` },
        ],
      },
      "function-call": {
        name: "meta.function-call.tfm",
        match: `${wordStart}(${identifier})\\s*(?=\\()`,
        captures: { "1": { name: "entity.name.function.call.tfm" } },
      },
      operator: { match: ops.map((t) => `(${regexSource(t)})`).join("|"), captures },
    },
  };
}

/** JSON with every object's keys sorted (integer-like keys numerically), 2-space indent, trailing newline. */
export function stableJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** The exact text of grammar/tfm.tmLanguage.json. */
export function textMateGrammarJson(): string {
  return stableJson(buildTextMateGrammar());
}

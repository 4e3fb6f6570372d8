// The lexicon of .tfm: every token the language has, in matching order.
// This file is the single source of truth for the syntax's words; the TextMate grammar in
// grammar/tfm.tmLanguage.json is generated from `keywordGroups` and checked against it by a test.
import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

// Identifiers are Unicode letters (with their combining marks), digits and underscores, not
// starting with a digit. chevrotain cannot analyse a /u regex, so the pattern is a matcher
// function around a sticky one.
const identifierRe = /[\p{L}_][\p{L}\p{M}\p{N}_]*/uy;
export const Identifier = createToken({
  name: "Identifier",
  line_breaks: false,
  pattern: (text: string, offset: number) => {
    identifierRe.lastIndex = offset;
    return identifierRe.exec(text);
  },
});

/** A hard keyword: never an identifier. */
function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Identifier });
}
/** A soft keyword: a keyword where the grammar asks for it, an identifier everywhere else. */
function softKeyword(word: string, name = word[0]!.toUpperCase() + word.slice(1)): TokenType {
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, categories: [Identifier] });
}

// Declarations and statements.
export const Model = keyword("model");
export const Block = keyword("block");
export const Fn = keyword("fn");
export const Input = keyword("input");
export const Output = keyword("output");
export const Param = keyword("param");
export const Layer = keyword("layer");
export const Ignore = keyword("ignore");
export const If = keyword("if");
export const Else = keyword("else");
export const Return = keyword("return");
export const True = keyword("true");
export const False = keyword("false");
// Soft keywords.
export const Repeat = softKeyword("repeat");
export const As = softKeyword("as");
export const Transposed = softKeyword("transposed");
/** `state k_cache: f32[...]`: a soft keyword, so `state = h` stays an assignment. */
export const State = softKeyword("state");
export const IntType = softKeyword("int", "IntType");
export const FloatType = softKeyword("float", "FloatType");
export const BoolType = softKeyword("bool", "BoolType");
export const StrType = softKeyword("str", "StrType");
/** Tensor element types. `bool` doubles as the scalar boolean type. */
export const DType = createToken({ name: "DType", pattern: /bf16|f16|f32|i32|i64/, longer_alt: Identifier, categories: [Identifier] });

// Literals.
export const Float = createToken({ name: "Float", pattern: /(?:\d[\d_]*\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+)/ });
export const Int = createToken({ name: "Int", pattern: /\d[\d_]*/ });
export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\r\n]|\\.)*"/ });
/** A string missing its closing quote: lexed so that the error is one clear diagnostic. */
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\r\n]|\\.)*\\?/ });

// Punctuation, longest first where prefixes overlap.
export const Ellipsis = createToken({ name: "Ellipsis", pattern: /\.\.\./ });
/** `**` and `//` are Python's power and floor division: tfm has neither, and parses them only to say so (TFM1015). */
export const StarStar = createToken({ name: "StarStar", pattern: /\*\*/ });
export const SlashSlash = createToken({ name: "SlashSlash", pattern: /\/\// });
export const EqEq = createToken({ name: "EqEq", pattern: /==/ });
export const NotEq = createToken({ name: "NotEq", pattern: /!=/ });
export const LessEq = createToken({ name: "LessEq", pattern: /<=/ });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: />=/ });
export const AndAnd = createToken({ name: "AndAnd", pattern: /&&/ });
export const OrOr = createToken({ name: "OrOr", pattern: /\|\|/ });
export const Less = createToken({ name: "Less", pattern: /</ });
export const Greater = createToken({ name: "Greater", pattern: />/ });
export const Bang = createToken({ name: "Bang", pattern: /!/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Slash = createToken({ name: "Slash", pattern: /\// });
export const Percent = createToken({ name: "Percent", pattern: /%/ });
export const At = createToken({ name: "At", pattern: /@/ });
export const Assign = createToken({ name: "Assign", pattern: /=/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });

// Trivia. Comments run from `#` to the end of the line and are kept (the formatter needs them).
export const Comment = createToken({ name: "Comment", pattern: /#[^\r\n]*/, group: "comments" });
export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\uFEFF\u00A0]+/, group: Lexer.SKIPPED, line_breaks: true });

export const allTokens: TokenType[] = [
  WhiteSpace, Comment,
  Model, Block, Fn, Input, Output, Param, Layer, Ignore, If, Else, Return, True, False,
  Repeat, As, Transposed, State, IntType, FloatType, BoolType, StrType, DType,
  Float, Int, StringLit, UnterminatedString,
  Ellipsis, StarStar, SlashSlash, EqEq, NotEq, LessEq, GreaterEq, AndAnd, OrOr, Less, Greater, Bang,
  Plus, Minus, Star, Slash, Percent, At, Assign, Colon, Comma, Dot,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Identifier,
];

/** Words by highlighting role: the TextMate grammar is generated from this table. */
export const keywordGroups = {
  declaration: ["model", "block", "fn", "input", "output", "param", "state", "layer", "ignore"],
  control: ["if", "else", "return", "repeat"],
  modifier: ["as", "transposed"],
  constant: ["true", "false"],
  type: ["int", "float", "bool", "str", "f32", "f16", "bf16", "i32", "i64"],
} as const;

export const lexer = new Lexer(allTokens, { ensureOptimizations: false, positionTracking: "full", recoveryEnabled: true, skipValidations: true });

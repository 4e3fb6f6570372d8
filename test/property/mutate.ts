// Mutations of .tfm programs for the fuzz test: token-level edits (swap, delete, duplicate,
// copy, insert, replace), truncation, splicing one file into another, hostile character
// insertions and line-ending changes. Positions are plain naturals taken modulo the current text
// or token count, so fast-check shrinks them towards the start of the file.
import fc from "fast-check";
import type { Seed } from "./corpus.js";

// ---- a rough tokenizer, for token-level mutations ---------------------------------------------

const tokenRe = /\s+|#[^\r\n]*|"(?:[^"\\\r\n]|\\.)*"?|[\p{L}_][\p{L}\p{N}_]*|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|\.\.\.|[=!<>]=|&&|\|\||\*\*|[\s\S]/gu;

interface Tok {
  readonly start: number;
  readonly end: number;
}

/** The non-blank tokens of `text` (comments included), by position. */
function tokens(text: string): Tok[] {
  const out: Tok[] = [];
  for (const m of text.matchAll(tokenRe)) {
    if (!/^\s/.test(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
  }
  return out;
}

// ---- mutations --------------------------------------------------------------------------------

/** Hostile characters: control, BOM, lone surrogates, line breaks, unbalanced brackets, quotes. */
const hostileChars = [
  "\0", "\uD800", "\uDBFF", "\uDC00", "\uDFFF", "\uFEFF", "\r", "\n", "\r\n", "\t", "\v", "\f", '"', "\\", "#",
  "{", "}", "(", ")", "[", "]", ",", ":", "=", ".", "*", "-", "!", "@", "$", "`", "'", ";", "?", "~", "^", "|", "&",
  "\u00A0", "\u2028", "\u2029", "\u0301", "\u200B", "\u202E", "\x7F", "\uFFFD", "\uFFFF", "é", "ß", "输", "𝔘", "😀", "١",
];

/** Tokens worth inserting: keywords, operators, and literals at and past the language limits. */
const vocabulary = [
  "model", "block", "fn", "input", "output", "param", "layer", "ignore", "if", "else", "return", "true", "false",
  "repeat", "as", "transposed", "int", "float", "bool", "str", "f32", "f16", "bf16", "i32", "i64",
  "(", ")", "[", "]", "{", "}", ",", ":", "=", "==", "!=", "<=", ">=", "<", ">", "&&", "||", "!", "+", "-", "*", "/",
  "%", "@", ".", "...", "**",
  "0", "1", "-1", "3", "0.0", "1e-5", "1_000", "9007199254740992", "9007199254740993", "99999999999999999999", "1e999",
  "1e308", "0.5", '""', '"x"', '"\\q"', '"\\u{110000}"', '"\\u{41}"', '"a', "x", "_", "n", "B", "T", "seq", "batch",
  "inf", "pi", "exp", "chunk", "arange", "transpose", "Linear", "LayerNorm", "Dropout", "GPT2", "y",
  "repeat(0)", "repeat(-1)", "repeat(10001)", "repeat(100000)", "f32[*batch, n]", "f32[...]", "/ 0", "/ 3", "% 0",
  "* 9007199254740992", "\n", "#",
];

export type Mutation =
  | { readonly op: "swap"; readonly a: number; readonly b: number }
  | { readonly op: "delete"; readonly a: number; readonly n: number }
  | { readonly op: "duplicate"; readonly a: number; readonly n: number }
  | { readonly op: "copy"; readonly a: number; readonly b: number }
  | { readonly op: "insertToken"; readonly a: number; readonly tok: string }
  | { readonly op: "replaceToken"; readonly a: number; readonly tok: string }
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "splice"; readonly other: number; readonly from: number; readonly len: number; readonly at: number; readonly cut: number }
  | { readonly op: "insertChars"; readonly at: number; readonly chars: string }
  | { readonly op: "lineEndings"; readonly to: "crlf" | "cr" | "lf" | "mixed" };

const pos = fc.nat({ max: 1 << 20 });
export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("swap" as const), a: pos, b: pos }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("delete" as const), a: pos, n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("duplicate" as const), a: pos, n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("copy" as const), a: pos, b: pos }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("insertToken" as const), a: pos, tok: fc.constantFrom(...vocabulary) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("replaceToken" as const), a: pos, tok: fc.constantFrom(...vocabulary) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), at: pos }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("splice" as const), other: fc.nat(), from: pos, len: fc.nat({ max: 2000 }), at: pos, cut: fc.nat({ max: 200 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("insertChars" as const),
      at: pos,
      chars: fc.oneof(
        fc.constantFrom(...hostileChars),
        fc.array(fc.constantFrom(...hostileChars), { minLength: 1, maxLength: 8 }).map((cs) => cs.join("")),
        fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("lineEndings" as const), to: fc.constantFrom("crlf" as const, "cr" as const, "lf" as const, "mixed" as const) }) },
);

export function apply(text: string, m: Mutation, corpus: readonly Seed[]): string {
  const toks = tokens(text);
  const tokAt = (i: number) => toks[i % toks.length]!;
  const at = (n: number) => n % (text.length + 1);
  switch (m.op) {
    case "swap": {
      if (toks.length < 2) return text;
      let [x, y] = [tokAt(m.a), tokAt(m.b)];
      if (x.start === y.start) return text;
      if (x.start > y.start) [x, y] = [y, x];
      return text.slice(0, x.start) + text.slice(y.start, y.end) + text.slice(x.end, y.start) + text.slice(x.start, x.end) + text.slice(y.end);
    }
    case "delete":
    case "duplicate": {
      if (!toks.length) return text;
      const i = m.a % toks.length;
      const first = toks[i]!;
      const last = toks[Math.min(toks.length - 1, i + m.n - 1)]!;
      const run = text.slice(first.start, last.end);
      return m.op === "delete" ? text.slice(0, first.start) + text.slice(last.end) : text.slice(0, last.end) + " " + run + text.slice(last.end);
    }
    case "copy": {
      if (!toks.length) return text;
      const [x, y] = [tokAt(m.a), tokAt(m.b)];
      return text.slice(0, x.start) + text.slice(y.start, y.end) + text.slice(x.end);
    }
    case "insertToken": {
      const p = toks.length ? tokAt(m.a).start : 0;
      return `${text.slice(0, p)}${m.tok} ${text.slice(p)}`;
    }
    case "replaceToken": {
      if (!toks.length) return m.tok;
      const x = tokAt(m.a);
      return text.slice(0, x.start) + m.tok + text.slice(x.end);
    }
    case "truncate":
      return text.slice(0, at(m.at));
    case "splice": {
      const other = corpus[m.other % corpus.length]!.text;
      const from = m.from % (other.length + 1);
      const p = at(m.at);
      return text.slice(0, p) + other.slice(from, from + m.len) + text.slice(Math.min(text.length, p + m.cut));
    }
    case "insertChars": {
      const p = at(m.at);
      return text.slice(0, p) + m.chars + text.slice(p);
    }
    case "lineEndings": {
      const lf = text.replace(/\r\n?/g, "\n");
      if (m.to === "lf") return lf;
      if (m.to === "crlf") return lf.replace(/\n/g, "\r\n");
      if (m.to === "cr") return lf.replace(/\n/g, "\r");
      let k = 0;
      return lf.replace(/\n/g, () => ["\n", "\r\n", "\r"][k++ % 3]!);
    }
  }
}

export interface Case {
  readonly seed: string;
  readonly mutations: readonly Mutation[];
  readonly text: string;
}

export function caseArbitrary(corpus: readonly Seed[]): fc.Arbitrary<Case> {
  return fc
    .record({ seed: fc.nat({ max: corpus.length - 1 }), mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }) })
    .map(({ seed, mutations }) => ({
      seed: corpus[seed]!.name,
      mutations,
      text: mutations.reduce((t, m) => apply(t, m, corpus), corpus[seed]!.text),
    }));
}

export const describeCase = (c: Case) =>
  `${c.seed} with ${c.mutations.map((m) => JSON.stringify(m)).join(", ")} (${c.text.length} characters)`;

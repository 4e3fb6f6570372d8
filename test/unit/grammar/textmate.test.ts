// Tests for grammar/tfm.tmLanguage.json: no drift from grammar/tokens.ts, full keyword coverage, and its regexes on sample lines.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as T from "../../../grammar/tokens.js";
import {
  buildTextMateGrammar, keywordGroupScopes, keywordTokens, operatorScopes, operatorTokens, textMateGrammarJson,
  type KeywordGroup, type TmGrammar, type TmRule,
} from "../../../grammar/textmate.js";

const repoFile = (rel: string) => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
// Built lazily, so that a grammar that fails to build fails its tests, not the whole file.
let built: TmGrammar | undefined;
const grammar = (): TmGrammar => (built ??= buildTextMateGrammar());
const groups = Object.entries(T.keywordGroups) as [KeywordGroup, readonly string[]][];

// ---- a small TextMate tokenizer ---------------------------------------------------------------
// Enough of the TextMate algorithm for this grammar: `match` and `begin`/`end` rules, captures,
// `#name` includes, earliest match wins and ties go to the rule listed first, `end` before nested
// patterns. The grammar's regexes are meant to mean the same in Oniguruma and in JavaScript with
// the `u` flag, so they run here unchanged. (A real engine, vscode-textmate, is not installed.)

interface CharInfo { scopes: string[]; piece: number }

function compile(source: string): RegExp {
  return new RegExp(source, "dgu");
}

function flatten(g: TmGrammar, rules: readonly TmRule[]): TmRule[] {
  return rules.flatMap((r) => {
    if (r.include !== undefined) {
      const target = g.repository[r.include.replace(/^#/, "")];
      if (!target) throw new Error(`unknown include ${r.include}`);
      return target.match === undefined && target.begin === undefined ? flatten(g, target.patterns ?? []) : [target];
    }
    return [r];
  });
}

function tokenizeLine(g: TmGrammar, line: string): CharInfo[] {
  const chars: CharInfo[] = Array.from({ length: line.length }, () => ({ scopes: [], piece: -1 }));
  const stack: { rule: TmRule; end: RegExp }[] = [];
  let piece = 0;
  const names = () => stack.map((f) => f.rule.name).filter((n): n is string => n !== undefined);
  const paint = (from: number, to: number, extra: (string | undefined)[]) => {
    const scopes = [...names(), ...extra.filter((n): n is string => n !== undefined)];
    piece++;
    for (let i = from; i < to; i++) chars[i] = { scopes, piece };
  };
  const paintCaptures = (m: RegExpExecArray, base: (string | undefined)[], caps: TmRule["captures"]) => {
    paint(m.index, m.index + m[0].length, base);
    if (!caps) return;
    for (const [k, v] of Object.entries(caps).sort((a, b) => Number(a[0]) - Number(b[0]))) {
      const span = m.indices?.[Number(k)];
      if (span) paint(span[0], span[1], [...base, v.name]);
    }
  };
  let pos = 0;
  for (let guard = 0; pos <= line.length; guard++) {
    if (guard > 10 * (line.length + 10)) throw new Error("tokenizer does not advance");
    const frame = stack.at(-1);
    const rules = flatten(g, frame ? frame.rule.patterns ?? [] : g.patterns);
    let best: { m: RegExpExecArray; rule: TmRule | undefined } | undefined;
    const consider = (re: RegExp, rule: TmRule | undefined) => {
      re.lastIndex = pos;
      const m = re.exec(line);
      if (m && (!best || m.index < best.m.index)) best = { m, rule };
    };
    if (frame) consider(frame.end, undefined);
    for (const r of rules) consider(compile(r.match ?? r.begin!), r);
    if (!best) break;
    const { m, rule } = best;
    paint(pos, m.index, []);
    const end = m.index + m[0].length;
    if (rule === undefined) {
      paintCaptures(m, [], frame!.rule.endCaptures);
      stack.pop();
      pos = end;
      continue;
    }
    if (rule.begin !== undefined) {
      stack.push({ rule, end: compile(rule.end!) });
      paintCaptures(m, [], rule.beginCaptures);
      pos = end;
      continue;
    }
    paintCaptures(m, [rule.name], rule.captures);
    pos = end > m.index ? end : m.index + 1;
  }
  if (pos < line.length) paint(pos, line.length, []);
  if (stack.length > 0) throw new Error(`a begin/end rule is still open at the end of ${JSON.stringify(line)}`);
  return chars;
}

/** The scopes of each character of the `nth` occurrence of `needle` in `line`. */
function scopesOf(line: string, needle: string, nth = 0): CharInfo[] {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = line.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`${JSON.stringify(needle)} not found ${nth + 1} times in ${JSON.stringify(line)}`);
  }
  return tokenizeLine(grammar(), line).slice(at, at + needle.length);
}

function expectScope(line: string, needle: string, scope: string, nth = 0): void {
  const chars = scopesOf(line, needle, nth);
  for (const c of chars) expect(c.scopes, `${JSON.stringify(needle)} in ${JSON.stringify(line)}`).toContain(scope);
}

/** Every character of `needle` has exactly `scopes`. */
function expectOnlyScopes(line: string, needle: string, scopes: string[]): void {
  for (const c of scopesOf(line, needle)) expect(c.scopes, `${JSON.stringify(needle)} in ${JSON.stringify(line)}`).toEqual(scopes);
}

/** Scopes a bare identifier must never get. */
const wordScopes = [...Object.values(keywordGroupScopes), "constant.numeric"];
function expectPlainIdentifier(line: string, needle: string, nth = 0): void {
  for (const c of scopesOf(line, needle, nth)) {
    for (const s of c.scopes) {
      expect(wordScopes.some((w) => s.startsWith(w)), `${JSON.stringify(needle)} in ${JSON.stringify(line)} got ${s}`).toBe(false);
    }
  }
}

// ---- tests --------------------------------------------------------------------------------------

describe("tfm.tmLanguage.json", () => {
  it("is what scripts/gen-grammar.ts generates (run `npm run gen` after changing grammar/tokens.ts)", () => {
    expect(readFileSync(repoFile("grammar/tfm.tmLanguage.json"), "utf8")).toBe(textMateGrammarJson());
  });

  it("regenerates byte-identically", () => {
    expect(textMateGrammarJson()).toBe(textMateGrammarJson());
    expect(textMateGrammarJson().endsWith("}\n")).toBe(true);
  });

  it("names the language", () => {
    expect(grammar().scopeName).toBe("source.tfm");
    expect(grammar().fileTypes).toEqual(["tfm"]);
  });

  it("has only regexes that compile as JavaScript `u` regexes", () => {
    const sources: string[] = [];
    const walk = (r: TmRule) => {
      for (const s of [r.match, r.begin, r.end]) if (s !== undefined) sources.push(s);
      r.patterns?.forEach(walk);
    };
    grammar().patterns.forEach(walk);
    Object.values(grammar().repository).forEach(walk);
    expect(sources.length).toBeGreaterThan(10);
    for (const s of sources) expect(() => compile(s), s).not.toThrow();
  });
});

describe("keyword coverage", () => {
  const tokens = keywordTokens();
  const tokenWords = tokens.flatMap((t) => t.words);

  it("finds the keyword tokens by their patterns", () => {
    // Sanity checks on the derivation, not a hand list: hard, soft and alternation-of-words tokens.
    expect(tokens.map((t) => t.token)).toEqual(expect.arrayContaining([T.Model, T.Repeat, T.DType]));
    expect(tokens.map((t) => t.token)).not.toContain(T.Identifier);
    expect(tokenWords).toEqual(expect.arrayContaining(["model", "repeat", "f32", "bf16"]));
  });

  it("lexes every keyword word as the token that defines it", () => {
    for (const { token, words } of tokens) {
      for (const w of words) {
        const { tokens: lexed, errors } = T.lexer.tokenize(w);
        expect(errors, w).toEqual([]);
        expect(lexed.map((t) => t.tokenType.name), w).toEqual([token.name]);
      }
    }
  });

  it("puts every keyword token's words in exactly one keywordGroups group", () => {
    for (const w of tokenWords) {
      const inGroups = groups.filter(([, ws]) => ws.includes(w)).map(([g]) => g);
      expect(inGroups, `keyword ${JSON.stringify(w)} must be in exactly one keywordGroups group`).toHaveLength(1);
    }
  });

  it("lists only real keywords in keywordGroups, each once", () => {
    const listed = groups.flatMap(([, ws]) => ws);
    for (const w of listed) expect(tokenWords, `keywordGroups lists ${JSON.stringify(w)}, which is no keyword token`).toContain(w);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("gives every operator and punctuation token a scope, and names no other", () => {
    const ops = operatorTokens();
    expect(ops.filter((t) => operatorScopes[t.name] === undefined).map((t) => t.name)).toEqual([]);
    expect(Object.keys(operatorScopes).filter((n) => !ops.some((t) => t.name === n))).toEqual([]);
  });
});

describe("highlighting sample lines", () => {
  it("highlights every keyword, alone and in context", () => {
    for (const [group, ws] of groups) {
      for (const w of ws) {
        expectScope(w, w, keywordGroupScopes[group]);
        expectScope(`x = ${w} + 1`, w, keywordGroupScopes[group]);
      }
    }
  });

  it("does not highlight keywords inside identifiers", () => {
    for (const [, ws] of groups) {
      for (const w of ws) {
        for (const id of [`${w}s`, `${w}_x`, `_${w}`, `x${w}`, `${w}2`, `${w}é`, `é${w}`, `${w.toUpperCase()}`]) {
          expectPlainIdentifier(`y = ${id} + 1`, id);
        }
      }
    }
    expectPlainIdentifier("input input_ids: i32[batch, seq]", "input_ids");
    expectScope("input input_ids: i32[batch, seq]", "input", "keyword.declaration.tfm");
    expectPlainIdentifier("models = 3", "models");
    expectPlainIdentifier("x = my_model(modèle)", "my_model");
    expectPlainIdentifier("x = my_model(modèle)", "modèle");
  });

  it("names declarations", () => {
    const line = "model GPT2(n_layer: int = 12) {";
    expectScope(line, "model", "keyword.declaration.tfm");
    expectScope(line, "GPT2", "entity.name.type.tfm");
    expectScope(line, "int", "support.type.primitive.tfm");
    expectScope(line, "12", "constant.numeric.integer.tfm");
    expectScope("block Блок {", "Блок", "entity.name.type.tfm");
    expectScope("fn gelu_new(x: f32[...]) {", "gelu_new", "entity.name.function.tfm");
    expectScope("fn gelu_new(x: f32[...]) {", "...", "keyword.operator.ellipsis.tfm");
  });

  it("marks calls, but not keywords followed by `(`", () => {
    const line = "layer h = repeat(n_layer) Block(n_embd, n_head=12) as \"h\"";
    expectScope(line, "repeat", "keyword.control.tfm");
    expect(scopesOf(line, "repeat").flatMap((c) => c.scopes)).not.toContain("meta.function-call.tfm");
    expectScope(line, "Block", "entity.name.function.call.tfm");
    expectScope(line, "as", "storage.modifier.tfm");
    expectScope("q, k, v = split(qkv, 3, dim=-1)", "split", "entity.name.function.call.tfm");
    expectScope("if(x) { }", "if", "keyword.control.tfm");
  });

  it("matches comments to the end of the line, keywords and quotes included", () => {
    const line = "x = 1  # a comment with model, \"quotes\" and input_ids";
    expectScope(line, "# a comment with model, \"quotes\" and input_ids", "comment.line.number-sign.tfm");
    expectOnlyScopes(line, "model", ["comment.line.number-sign.tfm"]);
    expectScope("# model GPT2", "# model GPT2", "comment.line.number-sign.tfm");
  });

  it("matches strings with escapes, and an unterminated string to the end of the line", () => {
    const line = "ignore \"attn.bias\", \"a\\\"b # not a comment\\\\\" # comment";
    expectScope(line, "\"attn.bias\"", "string.quoted.double.tfm");
    expectScope(line, "\"a\\\"b # not a comment\\\\\"", "string.quoted.double.tfm");
    expectScope(line, "\\\"", "constant.character.escape.tfm");
    expectScope(line, "\\\\", "constant.character.escape.tfm");
    expectScope(line, "# comment", "comment.line.number-sign.tfm");
    expectScope(line, "\"", "punctuation.definition.string.begin.tfm");
    const open = "output s = \"unterminated # model";
    expectScope(open, "\"unterminated # model", "string.quoted.double.tfm");
    expectOnlyScopes(open, "model", ["string.quoted.double.tfm"]);
  });

  it("matches numbers as the lexer does", () => {
    const line = "x = 1_000 + 2.5e-3 * 3E10 + 1_0.0_1 + 7 + d_model2 + f32";
    expectScope(line, "1_000", "constant.numeric.integer.tfm");
    expectScope(line, "2.5e-3", "constant.numeric.float.tfm");
    expectScope(line, "3E10", "constant.numeric.float.tfm");
    expectScope(line, "1_0.0_1", "constant.numeric.float.tfm");
    expectScope(line, "7", "constant.numeric.integer.tfm");
    expectPlainIdentifier(line, "d_model2");
    expectScope(line, "f32", "support.type.primitive.tfm");
  });

  it("scopes each operator as one token, longest match first like the lexer", () => {
    for (const tok of operatorTokens()) {
      const literal = (tok.PATTERN as RegExp).source.replace(/\\(.)/g, "$1");
      const lexed = T.lexer.tokenize(literal).tokens;
      expect(lexed.map((t) => t.tokenType.name), literal).toEqual([tok.name]);
      const chars = scopesOf(`a ${literal} b`, literal);
      for (const c of chars) expect(c.scopes, literal).toContain(operatorScopes[tok.name]);
      expect(new Set(chars.map((c) => c.piece)).size, `${literal} must be one token`).toBe(1);
    }
  });
});

describe("agreement with the lexer", () => {
  const sample = [
    "# header comment with model and \"quotes\"",
    "model GPT2(n_layer: int = 12, eps: float = 1e-5, name: str = \"gpt\\\"2\\\\\") {",
    "  input input_ids: i32[batch, seq]",
    "  input mask: bool[..., *batch, 1_024] = true",
    "  param models: f32[out, in] as \"c_attn.weight\" transposed",
    "  layer h = repeat(n_layer) Block(n_embd, n_head=12) as \"h\"",
    "  ignore \"attn.bias\", \"attn.masked_bias\"",
    "  modèle, inputé, é_model = split(qkv, 3, dim=-1)",
    "  x = 1_000 + 2.5e-3 * 3E10 ** 2 % 7 / 1.0 @ w",
    "  if a == b && c != d || !e { y = x[0:2, ..., :] } else if a <= b >= c < d > e { y = x.t }",
    "  return y, false   # trailing comment",
    "}",
    "fn gelu_new(x: f32[...]) { return x }",
    "block b2 () { output s = \"unterminated",
  ].join("\n");

  const keywordScope = new Map<string, string>();
  for (const { token, words } of keywordTokens()) {
    const group = groups.find(([, ws]) => ws.includes(words[0]!));
    if (group) keywordScope.set(token.name, keywordGroupScopes[group[0]]);
  }
  const expected: Record<string, string> = {
    Comment: "comment.line.number-sign.tfm",
    StringLit: "string.quoted.double.tfm",
    UnterminatedString: "string.quoted.double.tfm",
    Float: "constant.numeric.float.tfm",
    Int: "constant.numeric.integer.tfm",
    ...Object.fromEntries(keywordScope),
    ...operatorScopes,
  };

  function check(text: string): void {
    const lines = text.split(/\r?\n/);
    const tokenized = lines.map((l) => tokenizeLine(grammar(), l));
    const lexed = T.lexer.tokenize(text);
    expect(lexed.errors).toEqual([]);
    const covered = lines.map((l) => new Array<boolean>(l.length).fill(false));
    for (const tok of [...lexed.tokens, ...(lexed.groups["comments"] ?? [])]) {
      const line = tok.startLine! - 1;
      const col = tok.startColumn! - 1;
      const chars = tokenized[line]!.slice(col, col + tok.image.length);
      for (let i = 0; i < tok.image.length; i++) covered[line]![col + i] = true;
      const where = `${tok.tokenType.name} ${JSON.stringify(tok.image)} at ${line + 1}:${col + 1}`;
      const want = expected[tok.tokenType.name];
      if (want !== undefined) {
        for (const c of chars) expect(c.scopes, where).toContain(want);
      } else {
        expect(tok.tokenType).toBe(T.Identifier);
        for (const c of chars) for (const s of c.scopes) expect(wordScopes.some((w) => s.startsWith(w)), `${where}: ${s}`).toBe(false);
      }
    }
    // Whitespace carries no scope (but the space in `f (x)` belongs to the call).
    lines.forEach((l, li) => {
      for (let i = 0; i < l.length; i++) {
        if (!covered[li]![i]) {
          expect(tokenized[li]![i]!.scopes.filter((s) => s !== "meta.function-call.tfm"), `${li + 1}:${i + 1}`).toEqual([]);
        }
      }
    });
  }

  it("scopes each token of a sample program by its token type", () => {
    check(sample);
  });

  it("scopes each token of the standard library by its token type", () => {
    check(readFileSync(repoFile("src/std/nn.tfm"), "utf8"));
  });
});

// The formatter: exact canonical output, idempotence, AST preservation and comment preservation
// on a hand-written corpus, and a property test proving the parenthesisation of expressions.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type * as A from "../../../src/syntax/ast.js";
import { format, formatExpr, formatText, formatType } from "../../../src/syntax/format.js";
import { parse } from "../../../src/syntax/parse.js";

/** A deep copy without `span` keys: two trees are the same program when these are equal. */
function stripSpans(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripSpans);
  if (x && typeof x === "object") {
    return Object.fromEntries(Object.entries(x).filter(([k]) => k !== "span").map(([k, v]) => [k, stripSpans(v)]));
  }
  return x;
}

function parseOk(text: string): A.Program {
  const { program, diagnostics } = parse(text, "test.tfm");
  expect(diagnostics.filter((d) => d.severity === "error").map((d) => d.message)).toEqual([]);
  return program;
}

const fmt = (text: string): string => format(parseOk(text), text);
const commentTexts = (p: A.Program): string[] => p.comments.map((c) => c.text.trimEnd()).sort();

// ---- exact canonical output ------------------------------------------------------------------

describe("canonical output", () => {
  test("spacing, trailing commas, named args, blank lines and empty bodies", () => {
    const src = [
      "model  Tiny( d:int=4 , n : int = 2, ) {",
      "input x:f32[ batch,seq, d ,]",
      "",
      "",
      "",
      "   y=matmul( x,w ,transpose_b=true, )+b[ 0 ,: ,1: , :2 ,...]",
      "  output out : f32[batch, seq, d] = - y",
      "}",
      "block Empty(){ }",
      "fn id(x) { return x }",
    ].join("\n");
    expect(fmt(src)).toBe(
      [
        "model Tiny(d: int = 4, n: int = 2) {",
        "  input x: f32[batch, seq, d]",
        "",
        "  y = matmul(x, w, transpose_b=true) + b[0, :, 1:, :2, ...]",
        "  output out: f32[batch, seq, d] = -y",
        "}",
        "",
        "block Empty {}",
        "",
        "fn id(x) {",
        "  return x",
        "}",
        "",
      ].join("\n"),
    );
  });

  test("declarations", () => {
    const src = `block Attn(n_head: int, causal: bool = true) {
      param w: f32[a, b] as "c_attn.weight" transposed
      param b: f32[*batch, 3]
      layer h = repeat(n) Block(a, b=c) as "h"
      layer ln = LayerNorm(d)
      ignore "attn.bias" , "attn.masked_bias"
      q, k, v = split(x, 3, dim=-1)
      output o
      output p = q
      return q, k
    }`;
    expect(fmt(src)).toBe(`block Attn(n_head: int, causal: bool = true) {
  param w: f32[a, b] as "c_attn.weight" transposed
  param b: f32[*batch, 3]
  layer h = repeat(n) Block(a, b=c) as "h"
  layer ln = LayerNorm(d)
  ignore "attn.bias", "attn.masked_bias"
  q, k, v = split(x, 3, dim=-1)
  output o
  output p = q
  return q, k
}
`);
  });

  test("if / else if / else, including empty branches", () => {
    const src = "fn f(a) { if a>1 { return 1 } else if a<0 {} else { if a==0 { return 0 } return a } }";
    expect(fmt(src)).toBe(`fn f(a) {
  if a > 1 {
    return 1
  } else if a < 0 {} else {
    if a == 0 {
      return 0
    }
    return a
  }
}
`);
    expect(fmt("fn g(a) { if a {} else {} return a }")).toBe("fn g(a) {\n  if a {} else {}\n  return a\n}\n");
  });

  test("`else { if }` keeps its braces; `else if` stays flat", () => {
    const src = "fn f(a) {\n  if a {\n    return 1\n  } else {\n    if b {\n      return 2\n    }\n  }\n}\n";
    expect(fmt(src)).toBe(src);
  });

  test("parentheses only where precedence needs them", () => {
    const src = `fn f(a, b, c) {
      x = ((a + b)) * c
      x = a + (b * c)
      x = (a - b) - c
      x = a - (b - c)
      x = (a < b) == c
      x = a == (b < c)
      x = -(a + b)
      x = (-a).b + (!a)(b) + (a + b)[0] + (a @ b).T
      x = a || b && c
      x = (a || b) && c
      x = !(a && b) || - - a
      x = [a, (b)][0].c[d](e)
      x = a @ b @ (c @ d)
      return (a)
    }`;
    expect(fmt(src)).toBe(`fn f(a, b, c) {
  x = (a + b) * c
  x = a + b * c
  x = a - b - c
  x = a - (b - c)
  x = (a < b) == c
  x = a == (b < c)
  x = -(a + b)
  x = (-a).b + (!a)(b) + (a + b)[0] + (a @ b).T
  x = a || b && c
  x = (a || b) && c
  x = !(a && b) || --a
  x = [a, b][0].c[d](e)
  x = a @ b @ (c @ d)
  return a
}
`);
  });

  test("strings are re-escaped from their value; numbers keep their text", () => {
    const src = 'fn f() { return "a\\u{41}\\"b\\\\\\n\tc\\u{1}", 1_000, 1.50, 2E3, 0.5e-3 }';
    expect(fmt(src)).toBe('fn f() {\n  return "aA\\"b\\\\\\n\\tc\\u{1}", 1_000, 1.50, 2E3, 0.5e-3\n}\n');
  });

  test("long parameter lists break one per line with a trailing comma", () => {
    const params = "n_layer: int = 12, n_head: int = 12, n_embd: int = 768, vocab_size: int = 50257, block_size: int = 1024";
    expect(fmt(`model GPT(${params}) {}`)).toBe(`model GPT(
  n_layer: int = 12,
  n_head: int = 12,
  n_embd: int = 768,
  vocab_size: int = 50257,
  block_size: int = 1024,
) {}
`);
    // Exactly 100 columns (counting the `{}` of an empty body) still fits on one line.
    const fits = `block B(${"x".repeat(100 - "block B() {}".length)}) {}\n`;
    expect(fits.length).toBe(101);
    expect(fmt(fits)).toBe(fits);
    const over = `block B(${"x".repeat(101 - "block B() {}".length)}) {}\n`;
    expect(fmt(over)).toBe(`block B(\n  ${"x".repeat(101 - "block B() {}".length)},\n) {}\n`);
    const body = `block B(${"x".repeat(100 - "block B() {".length)}) {\n  y = 1\n}\n`;
    expect(fmt(body)).toBe(body);
  });

  test("comments keep their place", () => {
    const src = `# file header

# about A
model A(d: int) {  # after brace
  x = f(a,   # inside a call
        b)
  # before y


  y = x   # trailing
  if c {   # on the if
    z = 1
  }  # after then
  else {
    # only a comment
  }
  # last in body
}   # after A
block B(a: int,  # about a
  b: int) {
}
# end 1

# end 2
`;
    expect(fmt(src)).toBe(`# file header

# about A
model A(d: int) {  # after brace
  x = f(a, b)  # inside a call
  # before y

  y = x  # trailing
  if c {  # on the if
    z = 1
  } else {  # after then
    # only a comment
  }
  # last in body
}  # after A

block B(
  a: int,  # about a
  b: int,
) {}
# end 1

# end 2
`);
  });

  test("CRLF input gives LF output; empty and comment-only files", () => {
    expect(fmt("model M {\r\n  x = 1  # c\r\n\r\n\r\n  y = 2\r\n}\r\n")).toBe("model M {\n  x = 1  # c\n\n  y = 2\n}\n");
    expect(fmt("")).toBe("");
    expect(fmt("\n\n  \n")).toBe("");
    expect(fmt("\n\n# only   \n\n\n# comments")).toBe("# only\n\n# comments\n");
  });
});

test("formatType prints annotations on their own", () => {
  const [fn] = parseOk("fn f(a: int, b: bool[*lead, ..., n + 1]) { return a }").items;
  expect(fn!.params.map((p) => formatType(p.type!))).toEqual(["int", "bool[*lead, ..., n + 1]"]);
});

describe("formatText", () => {
  test("formats a valid file", () => {
    const r = formatText("fn f(x){return x}", "f.tfm");
    expect(r.text).toBe("fn f(x) {\n  return x\n}\n");
    expect(r.diagnostics).toEqual([]);
  });
  test("refuses a file with syntax errors", () => {
    const r = formatText("fn f(x) { return x + }", "f.tfm");
    expect(r.text).toBeUndefined();
    expect(r.diagnostics.some((d) => d.severity === "error")).toBe(true);
  });
  test("refuses a file with a lexical error", () => {
    expect(formatText('fn f() { return "\\q" }').text).toBeUndefined();
    expect(formatText("fn f() { return $ }").text).toBeUndefined();
  });
});

// ---- properties on a corpus ------------------------------------------------------------------

const corpus: Record<string, string> = {
  gpt2: `# A GPT-2 in .tfm.
model GPT2(n_layer: int = 12, n_head: int = 12, n_embd: int = 768, vocab: int = 50257, n_ctx: int = 1024) {
  input idx: i32[batch, seq]
  input mask: bool[batch, 1, 1, seq] = true  # attend everywhere by default
  param wte: f32[vocab, n_embd] as "wte.weight"
  param wpe: f32[n_ctx, n_embd] as "wpe.weight"
  layer h = repeat(n_layer) Block(n_embd, n_head=n_head) as "h"
  layer ln_f = LayerNorm(n_embd)
  ignore "attn.bias", "attn.masked_bias"

  x = wte[idx] + wpe[arange(seq)]
  x = ln_f(h(x, mask))
  output logits: f32[batch, seq, vocab] = x @ wte.T
}

block Block(d: int, n_head: int) {
  layer ln_1 = LayerNorm(d)
  layer attn = Attention(d, n_head)
  param c_fc: f32[d, 4 * d] as "mlp.c_fc.weight" transposed
  input x: f32[batch, seq, d]
  x = x + attn(ln_1(x))
  output y = x + gelu(x @ c_fc)
}

block Attention(d: int, n_head: int) {
  input x: f32[..., seq, d]
  q, k, v = split(x @ w, 3, dim=-1)
  att = (q @ k.T) / sqrt(d / n_head)
  att = softmax(att, dim=-1)
  output y: f32[..., seq, d] = att @ v
}
`,
  fn_and_control: `fn gelu(x: f32[...], approximate: bool = false) {
  if approximate {
    return 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
  } else if x.dtype == "f16" {
    return x
  } else {
    if !approximate && -x[0] < 0 || false { return -(x - 1) }
    return x * sigmoid(1.702 * x)
  }
}
fn pair(a, b: int, c: float = 1.5e-3, d: str = "s") { return a, b % 2, [a, b, [c]] }
`,
  slicing_and_members: `fn s(x: f32[*b, n], y: bool[]) {
  a = x[...]
  a = x[:]
  a = x[1:]
  a = x[:n - 1]
  a = x[i:j, ..., -1]
  a = x.shape[0].foo[1](bar=1, baz=[]).qux
  a = x[]
  return f()(g)[0]
}
`,
  operators: `fn ops(a, b, c) {
  x = a + b - c * a / b % c @ a
  x = (a + b) * (c - a) / (a % b)
  x = a < b && b <= c || a > b && b >= c
  x = (a == b) != (b != c)
  x = a == b + c
  x = !a || !!b && --c
  x = -a.b[c](d)
  x = (a < b) < c
  x = a - -b - (-c)
  return x
}
`,
  unicode: `model Ünïcödé(维度: int = 4) {
  input 入力: f32[批, 维度]
  αβ = 入力 * 2  # ← comment with ünïcode
  output 出力 = αβ
}
`,
  soft_keywords: `fn soft(repeat, as, transposed, int, f32) {
  return repeat + as * transposed - int / f32
}
block L {
  layer repeat = repeat(as) Blk(transposed=int) as "as"
  param as: f32[int] as "transposed" transposed
}
`,
  comments_everywhere: `# leading file comment
# second line

# about A
model A(  # after paren
  # before d
  d: int = 4,  # about d

  # before e
  e: int  # about e
  ,  # after comma
  # before close
)  # after close
{  # after open brace
  # first member comment
  x = f(a,  # one
        # two
        b,   # three
        c)   # four
  y = [1,   # list
       2]
  if a &&  # cond
     b {
    z = 1  # in then
    # end of then
  }  # after then close
  # between then and else
  else  # after else
  if c {
    z = 2
  } else {  # else open
  }
  layer h = repeat(  # rep
    n) Blk(a,  # arg
           b=c)  # after layer
  ignore "a",  # pat
         "b"
  param w: f32[  # dims
    a, b] as "w" transposed  # param trailing
  output o: f32[a] =  # eq
    x
  return x,  # ret
    y
  # last in body


}  # after A
# between
block B {}
fn c() {
  # only comments

  # in body
}  # after c



# end of file    
`,
  tricky_strings: `model S(s: str = "#){", t: str = "}#") {  # c {
  layer l = Blk(x="{", y="#") as "a#}{"  # c }
  if s == "{" {  # c (
    ignore "}", "#"
  } else {
    x = "# not a comment"
  }
}
`,
  dense: `model M{x=1 y=2 if x{y=3}else{y=4}output z=x}block N(a:int,b:f32[a,...]){}fn q(){return 1}`,
  blank_lines: `

model M {


  x = 1



  y = 2


}



block N {}
`,
};

describe("corpus properties", () => {
  for (const [name, src] of Object.entries(corpus)) {
    for (const [variant, text] of [["LF", src], ["CRLF", src.replace(/\r?\n/g, "\r\n")]] as const) {
      test(`${name} (${variant})`, () => {
        const original = parseOk(text);
        const once = format(original, text);
        const reparsed = parseOk(once);
        // (1) idempotent
        expect(format(reparsed, once)).toBe(once);
        // (2) the same tree modulo spans
        expect(stripSpans(reparsed.items)).toEqual(stripSpans(original.items));
        // (3) the same comments
        expect(commentTexts(reparsed)).toEqual(commentTexts(original));
        // canonical shape: one final newline, LF only, no trailing spaces, no tabs in indentation
        expect(once.endsWith("\n") && !once.endsWith("\n\n")).toBe(true);
        expect(once).not.toMatch(/\r|[ \t]$|^\t|\n\n\n/m);
        // CRLF and LF give the same output
        if (variant === "CRLF") expect(once).toBe(format(parseOk(src), src));
      });
    }
  }

  test("comments-everywhere corpus formats as expected", () => {
    expect(fmt(corpus.comments_everywhere!)).toBe(`# leading file comment
# second line

# about A
model A(  # after paren
  # before d
  d: int = 4,  # about d
  # before e
  e: int,  # about e
  # after comma
  # before close
) {  # after close
  # after open brace
  # first member comment
  x = f(a, b, c)  # one
  # two
  # three
  # four
  y = [1, 2]  # list
  if a && b {  # cond
    z = 1  # in then
    # end of then
  } else if c {  # after then close
    # between then and else
    # after else
    z = 2
  } else {  # else open
  }
  layer h = repeat(n) Blk(a, b=c)  # rep
  # arg
  # after layer
  ignore "a", "b"                       # pat
  param w: f32[a, b] as "w" transposed  # dims
  # param trailing
  output o: f32[a] = x  # eq
  return x, y           # ret
  # last in body
}  # after A

# between
block B {}

fn c() {
  # only comments

  # in body
}  # after c

# end of file
`);
  });
});

// ---- property: random expressions round-trip -------------------------------------------------

const noSpan = { start: 0, end: 0 };
const names = ["a", "b", "x1", "_y", "α", "名前", "int", "repeat", "as", "f32", "str"];
const identArb = fc.constantFrom(...names).map((name): A.Ident => ({ name, span: noSpan }));
const numbers = ["0", "7", "42", "1_000", "1.5", "0.25", "2e3", "1.5E-3"];
const stringArb = fc
  .array(fc.oneof(fc.constantFrom('"', "\\", "\n", "\t", "\r", "\u0000", "\u001f", "\u007f", "#", "é", "😀", "{", "}"), fc.string({ maxLength: 3 })), { maxLength: 4 })
  .map((parts) => parts.join(""));

const leafArb: fc.Arbitrary<A.Expr> = fc.oneof(
  { weight: 4, arbitrary: identArb.map((i): A.Expr => ({ kind: "Name", name: i.name, span: noSpan })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...numbers).map((text): A.Expr => ({ kind: "Number", text, value: Number(text.replace(/_/g, "")), isInt: /^[\d_]+$/.test(text), span: noSpan })),
  },
  { weight: 1, arbitrary: fc.boolean().map((value): A.Expr => ({ kind: "Bool", value, span: noSpan })) },
  { weight: 1, arbitrary: stringArb.map((value): A.Expr => ({ kind: "String", value, span: noSpan })) },
);

const binaryOps = ["||", "&&", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "@"] as const;
const exprArbs: fc.Arbitrary<A.Expr>[] = [leafArb];
/** Expressions nested at most `depth` deep, every node kind mixed with every other. */
function exprArb(depth: number): fc.Arbitrary<A.Expr> {
  const cached = exprArbs[depth];
  if (cached) return cached;
  const sub = exprArb(depth - 1);
  const argArb = fc.record({ name: fc.option(identArb, { nil: undefined }), value: sub }).map((a): A.Arg => (a.name ? { name: a.name, value: a.value, span: noSpan } : { value: a.value, span: noSpan }));
  const subscriptArb: fc.Arbitrary<A.Subscript> = fc.oneof(
    sub,
    fc.constant<A.Subscript>({ kind: "Ellipsis", span: noSpan }),
    fc.record({ start: fc.option(sub, { nil: undefined }), end: fc.option(sub, { nil: undefined }) }).map((s): A.Subscript => ({
      kind: "Slice",
      ...(s.start ? { start: s.start } : {}),
      ...(s.end ? { end: s.end } : {}),
      span: noSpan,
    })),
  );
  const arb: fc.Arbitrary<A.Expr> = fc.oneof(
    { weight: 1, arbitrary: leafArb },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("-" as const, "!" as const), sub).map(([op, operand]): A.Expr => ({ kind: "Unary", op, operand, span: noSpan })) },
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...binaryOps), sub, sub).map(([op, left, right]): A.Expr => ({ kind: "Binary", op, left, right, span: noSpan })) },
    // A member's call, `x.f(a)`, is a Python method call: the parser reports it (TFM1015).
    { weight: 2, arbitrary: fc.tuple(sub, fc.array(argArb, { maxLength: 3 })).filter(([callee]) => callee.kind !== "Member").map(([callee, args]): A.Expr => ({ kind: "Call", callee, args, span: noSpan })) },
    { weight: 2, arbitrary: fc.tuple(sub, fc.array(subscriptArb, { maxLength: 3 })).map(([target, subscripts]): A.Expr => ({ kind: "Index", target, subscripts, span: noSpan })) },
    { weight: 2, arbitrary: fc.tuple(sub, identArb).map(([target, name]): A.Expr => ({ kind: "Member", target, name, span: noSpan })) },
    { weight: 1, arbitrary: fc.array(sub, { maxLength: 3 }).map((elements): A.Expr => ({ kind: "List", elements, span: noSpan })) },
  );
  exprArbs[depth] = arb;
  return arb;
}

const seed = 20_240_611;
describe("random expressions", () => {
  test(`print, re-parse, same tree (fast-check seed ${seed})`, () => {
    fc.assert(
      fc.property(exprArb(4), exprArb(2), (e, f) => {
        const text = `fn f() {\n  x = ${formatExpr(e)}\n  return ${formatExpr(f)}, ${formatExpr(e)}\n}\n`;
        const program = parseOk(text);
        const [fn] = program.items;
        expect(fn?.kind).toBe("Fn");
        const [assign, ret] = fn!.body;
        expect(stripSpans(assign)).toEqual(stripSpans({ kind: "Assign", targets: [{ name: "x", span: noSpan }], value: e, span: noSpan }));
        expect(stripSpans(ret)).toEqual(stripSpans({ kind: "Return", values: [f, e], span: noSpan }));
        // The text was built in canonical form, so formatting leaves it alone.
        expect(format(program, text)).toBe(text);
      }),
      { seed, numRuns: 1000 },
    );
  });
});

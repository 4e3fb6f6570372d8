// Python and PyTorch habits (src/syntax/habits.ts): each is one TFM1015 at the exact span with the
// tfm form in its message, no bare syntax error, and the rest of the file is still checked.
import { describe, expect, it } from "vitest";
import { check } from "../../../src/api.js";
import { isBuiltin } from "../../../src/check/builtins.js";
import { renderDiagnostics } from "../../../src/diag/render.js";
import { LineMap } from "../../../src/diag/span.js";
import { prelude } from "../../../src/std/index.js";
import type * as A from "../../../src/syntax/ast.js";
import { knownFunctions, knownMethods } from "../../../src/syntax/habits.js";
import { parse } from "../../../src/syntax/parse.js";

/** A model around one output expression, with an unrelated undefined name two lines below it. */
const program = (e: string) =>
  `model M(d: int = 8) {\n  input x: f32[n, 4, d]\n  input m: bool[n, 4, d]\n  output y = ${e}\n  output z = x + missing\n}\n`;

function diagnose(e: string) {
  const text = program(e);
  const lines = new LineMap(text);
  return check(text, "t.tfm").diagnostics.map((d) => {
    const p = lines.position(d.span.start);
    return { code: d.code, at: `${p.line}:${p.column}`, text: text.slice(d.span.start, d.span.end), message: d.message, notes: d.notes };
  });
}

const cases: { e: string; col: number; text: string; message: string; note?: string }[] = [
  { e: "x ** 2", col: 16, text: "**", message: "tfm has no `**` operator: write `pow(x, 2)`", note: "or `x * x`" },
  { e: "-(x + 1) ** 0.5", col: 23, text: "**", message: "tfm has no `**` operator: write `pow(x + 1, 0.5)`" },
  { e: "reshape(x, [n, d // 2, 8])", col: 31, text: "//", message: "tfm has no `//` operator: write `d / 2`", note: "`/` on dims divides exactly: a remainder is an error (TFM3001), never rounded down; on tensors `/` is true division" },
  { e: "x[..., ::2]", col: 22, text: ":2", message: "tfm slices have no step", note: "to keep every k-th element of a dim, gather them: `take(x, arange(m) * k, dim=d)`, where m is the number kept" },
  { e: "x[:, 3:0:-1]", col: 22, text: ":-1", message: "tfm slices have no step", note: "to reverse a dim of size n, gather it backwards: `take(x, (n - 1) - arange(n), dim=d)`" },
  { e: "x.transpose(1, 2)", col: 15, text: ".transpose", message: "tfm has no methods: write `transpose(x, 1, 2)`" },
  { e: "x.view(n, 4 * d)", col: 15, text: ".view", message: "tfm has no methods: write `reshape(x, [n, 4 * d])`" },
  { e: "x.reshape([n, -1])", col: 15, text: ".reshape", message: "tfm has no methods: write `reshape(x, [n, -1])`" },
  { e: "x.expand(n, 2, d)", col: 15, text: ".expand", message: "tfm has no methods: write `expand(x, [n, 2, d])`" },
  { e: "x.permute(2, 0, 1)", col: 15, text: ".permute", message: "tfm has no methods: write `permute(x, [2, 0, 1])`" },
  { e: "x.softmax(-1)", col: 15, text: ".softmax", message: "tfm has no methods: write `softmax(x, -1)`" },
  { e: "x.masked_fill(m, 0.0)", col: 15, text: ".masked_fill", message: "tfm has no methods: write `where(m, 0.0, x)`" },
  { e: "x.contiguous()", col: 15, text: ".contiguous", message: "tfm has no methods: write `x`", note: "tfm tensors have no memory layout to make contiguous" },
  { e: "x.cumsum(0)", col: 15, text: ".cumsum", message: "tfm has no methods, and no function for `.cumsum(...)`" },
  { e: "torch.cat([x, x], dim=1)", col: 14, text: "torch.cat", message: "tfm functions have no module prefix: write `concat([x, x], dim=1)`" },
  { e: "F.softmax(x, dim=-1)", col: 14, text: "F.softmax", message: "tfm functions have no module prefix: write `softmax(x, dim=-1)`" },
  { e: "F.silu(x)", col: 14, text: "F.silu", message: "tfm functions have no module prefix: write `silu(x)`" },
];

describe("Python habits are TFM1015 with the tfm form", () => {
  for (const c of cases) {
    it(`\`${c.e}\``, () => {
      const ds = diagnose(c.e);
      // The habit, then the unrelated error on the next line: nothing else (no TFM1003).
      expect(ds.map((d) => d.code)).toEqual(["TFM1015", "TFM2001"]);
      expect(ds[0]).toMatchObject({ at: `4:${c.col}`, text: c.text, message: c.message });
      if (c.note) expect(ds[0]!.notes).toContain(c.note);
      expect(ds[1]).toMatchObject({ at: "5:18", text: "missing" });
    });
  }

  it("a habit on top of another quotes the first one's fix", () => {
    expect(diagnose("x.transpose(1, 2).view(n, -1)").map((d) => d.message)).toEqual([
      "tfm has no methods: write `transpose(x, 1, 2)`",
      "tfm has no methods: write `reshape(transpose(x, 1, 2), [n, -1])`",
      "`missing` is not defined",
    ]);
  });

  it("`**` groups to the right and binds tighter than a prefix minus, as in Python", () => {
    const r = parse("fn f(a, b, c) {\n  return -a ** -b ** c\n}\n");
    const ret = (r.program.items[0] as A.FnDecl).body[0] as A.Return;
    const show = (e: A.Expr): string =>
      e.kind === "Unary" ? `${e.op}${show(e.operand)}`
      : e.kind === "Call" && e.callee.kind === "Name" ? `${e.callee.name}(${e.args.map((a) => show(a.value)).join(", ")})`
      : e.kind === "Name" ? e.name : e.kind;
    expect(show(ret.values[0]!)).toBe("-pow(a, -pow(b, c))");
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TFM1015", "TFM1015"]);
  });

  it("a habit around a gap the parser filled gives the syntax error only", () => {
    for (const e of ["x **", "d //"]) expect(diagnose(e).map((d) => d.code), e).toEqual(["TFM1003", "TFM2001"]);
  });

  it("the names inside a habit are still resolved", () => {
    expect(diagnose("nope.transpose(1, 2)").map((d) => [d.code, d.text])).toEqual([["TFM2001", "nope"], ["TFM1015", ".transpose"], ["TFM2001", "missing"]]);
  });

  it("each method and module function rewrites to a tfm builtin or standard-library function", () => {
    const std = new Set(prelude().flatMap((s) => s.program.items.filter((i) => i.kind === "Fn").map((i) => i.name.name)));
    const callee = (e: string) => {
      const { program: p } = parse(`fn f(x, a, b) {\n  return ${e}\n}\n`);
      const v = ((p.items[0] as A.FnDecl).body[0] as A.Return).values[0]!;
      return v.kind === "Call" && v.callee.kind === "Name" ? v.callee.name : v.kind;
    };
    const arities = ["", "a", "a, b"];
    for (const m of knownMethods) {
      const names = arities.map((args) => callee(`x.${m}(${args})`)).filter((n) => n !== "Error");
      expect(names.length, `x.${m}(...) rewrites to nothing`).toBeGreaterThan(0);
      for (const n of names) expect(isBuiltin(n) || std.has(n) || n === "Name", `x.${m}(...) rewrites to \`${n}\``).toBe(true);
    }
    for (const f of knownFunctions) {
      const n = callee(`torch.${f}(x)`);
      expect(isBuiltin(n) || std.has(n), `torch.${f} rewrites to \`${n}\``).toBe(true);
    }
  });

  it("the slice-step hints are programs that check", () => {
    const text = "model M {\n  input x: f32[n, 4]\n  output every2 = take(x, arange(2) * 2, dim=1)\n  output reversed = take(x, (4 - 1) - arange(4), dim=1)\n}\n";
    const r = check(text, "t.tfm");
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  });
});

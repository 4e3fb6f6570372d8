import { describe, expect, it } from "vitest";
import { resolveProgram } from "../../../src/check/resolve.js";
import { DiagnosticSink } from "../../../src/diag/diagnostic.js";
import { prelude } from "../../../src/std/index.js";
import { codes, run } from "../../helpers.js";

const block = (body: string, params = "") => `block B(${params}) {\n${body}\n}\n`;

describe("name resolution", () => {
  it("the standard library resolves with no diagnostics at all", () => {
    const std = prelude();
    for (const s of std) {
      expect(s.diagnostics).toEqual([]);
      const sink = new DiagnosticSink(s.file);
      resolveProgram(std.filter((o) => o !== s), { file: s.file, program: s.program }, sink);
      expect(sink.items.map((d) => `${d.code}: ${d.message}`)).toEqual([]);
    }
  });

  it("reports an undefined name with a suggestion", () => {
    const src = block("  input x: f32[n]\n  output y = relu(xx)");
    expect(codes(src)).toEqual(["TFM2001@3:19"]);
    expect(run(src).diagnostics[0]!.notes).toEqual(["did you mean `x`?"]);
  });

  it("suggests stdlib functions for misspelt calls", () => {
    const r = run(block("  input x: f32[n]\n  output y = sofmax(x)"));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TFM2001"]);
    expect(r.diagnostics[0]!.notes).toEqual(["did you mean `softmax`?"]);
  });

  it("reports duplicates with the first definition as related", () => {
    const r = run(block("  input x: f32[n]\n  param x: f32[3]\n  output y = x"));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["TFM2002"]);
    expect(r.diagnostics[0]!.related[0]!.message).toMatch(/input `x` is defined here/);
    expect(codes("block A { input x: f32[1]\n output y = x }\nblock A { input x: f32[1]\n output y = x }")).toEqual(["TFM2002@3:7"]);
  });

  it("checks call arguments against signatures", () => {
    const base = "  input x: f32[n]\n";
    expect(codes(block(base + "  output y = softmax(x, -1, 3)"))).toEqual(["TFM2003@3:29"]);
    expect(codes(block(base + "  output y = softmax(x, dimm=1)"))).toEqual(["TFM2004@3:25"]);
    expect(codes(block(base + "  output y = softmax(x, dim=1, dim=2)"))).toEqual(["TFM2005@3:32"]);
    expect(codes(block(base + "  output y = softmax()"))).toEqual(["TFM2006@3:14"]);
    expect(codes(block(base + "  output y = softmax(dim=1, x)"))).toEqual(["TFM2014@3:29", "TFM2006@3:14"].sort().reverse().sort());
    expect(codes(block(base + "  layer l = Linear(4)\n  output y = l(x)"))).toEqual(["TFM2006@3:3"]);
  });

  it("checks layer application against the block's inputs", () => {
    const src = block("  input x: f32[n, 4]\n  layer l = Linear(4, 4)\n  output y = l(x, x)");
    expect(codes(src)).toEqual(["TFM2003@4:19"]);
  });

  it("tells blocks, functions, layers and tensors apart", () => {
    const base = "  input x: f32[n, 4]\n  layer l = Linear(4, 4)\n";
    expect(codes(block(base + "  output y = Linear(x)"))).toEqual(["TFM2017@3:9", "TFM2007@4:14"]); // and `l` is unused
    expect(codes(block(base + "  output y = x(1)\n  z = l(x)"))[0]).toBe("TFM2007@4:14");
    expect(codes(block(base + "  layer m = softmax(1)\n  output y = m(l(x))"))).toEqual(["TFM2007@4:13"]);
    expect(codes(block(base + "  output y = l + x"))).toEqual(["TFM2007@4:14"]);
  });

  it("resolves member paths to weights and sub-layers", () => {
    const ok = block("  input x: f32[n, 4]\n  layer l = Linear(4, 4)\n  output y = x @ transpose(l.weight)");
    expect(codes(ok)).toEqual(["TFM2017@3:9"].filter(() => false)); // l is used through its weight
    const bad = block("  input x: f32[n, 4]\n  layer l = Linear(4, 4)\n  output y = x @ l.wieght");
    expect(codes(bad)).toEqual(["TFM2001@4:20"]);
    expect(run(bad).diagnostics[0]!.notes).toEqual(["did you mean `weight`?"]);
  });

  it("finds recursion through layers and function calls", () => {
    expect(codes("block A { input x: f32[1]\n layer a = A()\n output y = a(x) }")).toEqual(["TFM2010@2:12"]);
    expect(codes("fn f(x: f32[...]) { return g(x) }\nfn g(x: f32[...]) { return f(x) }")).toEqual(["TFM2010@2:28"]);
  });

  it("requires outputs in blocks and a final return in functions", () => {
    expect(codes("block A { input x: f32[1] }")).toEqual(["TFM2012@1:7"]);
    expect(codes("fn f(x: f32[1]) { y = x }")).toEqual(["TFM2012@1:4", "TFM2017@1:19"]);
    expect(codes("fn f(x: f32[1]) { return x\n y = x }")).toEqual(["TFM2011@1:19", "TFM2017@2:2"]);
    expect(codes("fn f(x: f32[1]) { param w: f32[1]\n return x }")).toEqual(["TFM2011@1:19"]);
  });

  it("warns about unused bindings and layers, but not `_` names", () => {
    expect(codes(block("  input x: f32[1]\n  t = x\n  _u = x\n  output y = x"))).toEqual(["TFM2017@3:3"]);
  });

  it("keeps names bound inside an `if` branch local to it", () => {
    const src = block("  input x: f32[1]\n  if c {\n    t = x\n  }\n  output y = t", "c: bool = true");
    expect(codes(src)).toEqual(["TFM2017@4:5", "TFM2001@6:14"]);
  });

  it("allows only one model per file", () => {
    const m = "model M { input x: f32[1]\n output y = x }\n";
    expect(codes(m + m.replace("M", "N"))).toEqual(["TFM2009@3:7"]);
  });
});

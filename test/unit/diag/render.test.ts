// What a diagnostic prints: bidi controls in names are never printed raw (they would reorder the
// line in a terminal), and identifiers are compared in NFC.
import { describe, expect, it } from "vitest";
import { check } from "../../../src/api.js";
import { renderDiagnostics } from "../../../src/diag/render.js";

const bidiControls = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"];

describe("rendering", () => {
  it("names bidi controls in messages and blanks them in the source line, keeping the carets aligned", () => {
    // U+202E is not an identifier character: it sits in a string, and the name it follows is undefined.
    const text = 'model M {\n  input x: f32[n]\n  output y = relu(xx) # "\u202e"\n}\n';
    const r = check(text, "m\u202e.tfm");
    const shown = renderDiagnostics(r.diagnostics, r.sources);
    for (const c of bidiControls) expect(shown).not.toContain(c);
    expect(shown).toContain("m<U+202E>.tfm:3:19: error[TFM2001]: `xx` is not defined");
    const lines = shown.split("\n");
    const src = lines.findIndex((l) => l.includes("relu(xx)"));
    expect(lines[src]).toContain('# "\uFFFD"');
    expect(lines[src + 1]!.indexOf("^")).toBe(lines[src]!.indexOf("xx"));
  });

  it("escapes a bidi control that reaches a message through a string", () => {
    const text = 'model M {\n  input x: f32[4]\n  param w: f32[4] as "a\u202eb"\n  param v: f32[4] as "a\u202eb"\n  output y = x + w + v\n}\n';
    const shown = renderDiagnostics(check(text, "m.tfm").diagnostics, new Map([["m.tfm", text]]));
    expect(shown).toContain("error[TFM2016]: two weights have the checkpoint name `a<U+202E>b`");
    expect(shown).not.toContain("\u202e");
  });
});

describe("identifiers", () => {
  it("are one name whether é is precomposed or decomposed (NFC)", () => {
    const nfc = "\u00e9", nfd = "e\u0301";
    const text = `model M {\n  input x: f32[n]\n  ${nfc} = x + 1.0\n  output y = ${nfd} * 2.0\n}\n`;
    const r = check(text, "m.tfm");
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });

  it("still take combining marks (Devanagari)", () => {
    const text = "model M {\n  input x: f32[n]\n  \u0915\u093f = x\n  output y = \u0915\u093f\n}\n";
    expect(check(text, "m.tfm").diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });
});

// The diagnostic catalogue: every code tfm can emit, with its default severity and a one-line
// summary. Codes are stable: never renumber or reuse one. docs/DIAGNOSTICS.md is generated from
// this table (`npm run gen`), and test/errors/ holds one example program per code.
import type { Severity } from "./diagnostic.js";

interface CodeInfo {
  readonly severity: Severity;
  readonly title: string;
}

const catalogue = {
  // 1xxx: reading the text — lexing, parsing, language limits.
  TFM1001: { severity: "error", title: "unexpected character" },
  TFM1002: { severity: "error", title: "unterminated string literal" },
  TFM1003: { severity: "error", title: "syntax error" },
  TFM1004: { severity: "error", title: "integer literal too large (above 2^53 - 1)" },
  TFM1005: { severity: "error", title: "invalid number literal" },
  TFM1006: { severity: "error", title: "invalid escape in string literal" },
  TFM1010: { severity: "error", title: "file too large" },
  TFM1011: { severity: "error", title: "nesting too deep" },
  TFM1012: { severity: "error", title: "identifier too long" },
  TFM1013: { severity: "error", title: "file is not valid UTF-8 text" },
  TFM1014: { severity: "error", title: "expression nested too deeply" },
  // 2xxx: names, declarations and calls.
  TFM2001: { severity: "error", title: "undefined name" },
  TFM2002: { severity: "error", title: "duplicate definition" },
  TFM2003: { severity: "error", title: "wrong number of arguments" },
  TFM2004: { severity: "error", title: "unknown named argument" },
  TFM2005: { severity: "error", title: "argument given more than once" },
  TFM2006: { severity: "error", title: "missing required argument" },
  TFM2007: { severity: "error", title: "wrong kind of name (e.g. a block used as a tensor)" },
  TFM2008: { severity: "error", title: "no model in the file" },
  TFM2009: { severity: "error", title: "more than one model in the file" },
  TFM2010: { severity: "error", title: "recursive block or function" },
  TFM2011: { severity: "error", title: "declaration not allowed here" },
  TFM2012: { severity: "error", title: "block has no output, or function no return" },
  TFM2013: { severity: "error", title: "unknown model parameter in --set" },
  TFM2014: { severity: "error", title: "positional argument after a named one" },
  TFM2015: { severity: "error", title: "wrong number of names to unpack" },
  TFM2016: { severity: "error", title: "duplicate or invalid checkpoint name" },
  TFM2017: { severity: "warning", title: "unused binding or layer" },
  TFM2018: { severity: "error", title: "output declared without a value" },
  // 3xxx: compile-time values — model parameters and dimension arithmetic.
  TFM3001: { severity: "error", title: "division is not exact" },
  TFM3002: { severity: "error", title: "wrong type of value" },
  TFM3003: { severity: "error", title: "division by zero" },
  TFM3004: { severity: "error", title: "value out of range" },
  TFM3005: { severity: "error", title: "integer arithmetic goes beyond 2^53 - 1" },
  TFM3006: { severity: "error", title: "value cannot be known at compile time" },
  TFM3007: { severity: "error", title: "invalid --set value" },
  TFM3008: { severity: "error", title: "model too large to instantiate" },
  TFM3009: { severity: "error", title: "layers or function calls nested too deeply" },
  // 4xxx: shapes and element types.
  TFM4001: { severity: "error", title: "shape mismatch" },
  TFM4002: { severity: "warning", title: "shapes agree only if symbolic dims are equal at run time" },
  TFM4003: { severity: "error", title: "wrong number of dims" },
  TFM4004: { severity: "error", title: "element types differ" },
  TFM4005: { severity: "error", title: "shapes do not broadcast" },
  TFM4006: { severity: "error", title: "matmul inner dims differ" },
  TFM4007: { severity: "error", title: "reshape changes the number of elements" },
  TFM4008: { severity: "error", title: "dim out of range" },
  TFM4009: { severity: "warning", title: "division is exact only for some values of the symbolic dims" },
  TFM4010: { severity: "error", title: "wrong kind of value (tensor, number or list expected)" },
  TFM4011: { severity: "error", title: "chunks do not divide the dim evenly" },
  TFM4012: { severity: "error", title: "index out of bounds" },
  TFM4013: { severity: "error", title: "a repeat stack's output does not fit its next copy's input" },
  TFM4014: { severity: "error", title: "model inputs need a fixed number of dims" },
  // 9xxx: tfm itself is wrong. These are bugs: please report them.
  TFM9001: { severity: "error", title: "internal compiler error" },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof catalogue;
export const codes: Readonly<Record<Code, CodeInfo>> = catalogue;

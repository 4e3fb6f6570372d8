// Compile-time values: model parameters, layer arguments, weight dims and `if` conditions.
// Integer arithmetic is exact: division must divide, and nothing may pass 2^53.
import type { Code } from "../diag/codes.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import { limits } from "../syntax/limits.js";
import { constants } from "./builtins.js";

export type Value =
  | { readonly kind: "int"; readonly v: number }
  /** `quotient`: from an integer division that is not exact (`100 / 8`); TFM3001 where a dim is needed. */
  | { readonly kind: "float"; readonly v: number; readonly quotient?: { readonly span: Span; readonly message: string } }
  | { readonly kind: "bool"; readonly v: boolean }
  | { readonly kind: "str"; readonly v: string };

/** A name's compile-time value, or "runtime" when it is only known when the model runs. */
export type Lookup = (name: string) => Value | "runtime" | undefined;
export type Report = (code: Code, span: Span, message: string) => void;

export const int = (v: number): Value => ({ kind: "int", v });
export const show = (v: Value): string => (v.kind === "str" ? JSON.stringify(v.v) : v.kind === "float" && Number.isInteger(v.v) ? v.v.toFixed(1) : String(v.v));

/** Evaluates `e`; returns undefined after reporting why it has no compile-time value. */
export function evaluate(e: A.Expr, lookup: Lookup, report: Report): Value | undefined {
  const ev = (x: A.Expr) => evaluate(x, lookup, report);
  switch (e.kind) {
    case "Number":
      return e.isInt ? int(e.value) : { kind: "float", v: e.value };
    case "Bool":
      return { kind: "bool", v: e.value };
    case "String":
      return { kind: "str", v: e.value };
    case "Name": {
      const v = lookup(e.name) ?? (e.name in constants ? { kind: "float" as const, v: constants[e.name]! } : undefined);
      if (v === "runtime") report("TFM3006", e.span, `\`${e.name}\` is only known when the model runs; a compile-time value is needed here`);
      return v === "runtime" ? undefined : v;
    }
    case "Unary": {
      const x = ev(e.operand);
      if (!x) return undefined;
      if (e.op === "!") return x.kind === "bool" ? { kind: "bool", v: !x.v } : typeError(report, e.operand.span, "bool", x);
      return x.kind === "int" || x.kind === "float" ? { kind: x.kind, v: -x.v } : typeError(report, e.operand.span, "number", x);
    }
    case "Binary": {
      const l = ev(e.left);
      const r = l && ev(e.right);
      return l && r ? binary(e, l, r, report) : undefined;
    }
    case "Error":
      return undefined;
    default:
      report("TFM3006", e.span, "this expression has no compile-time value");
      return undefined;
  }
}

function typeError(report: Report, span: Span, want: string, got: Value): undefined {
  report("TFM3002", span, `expected ${want}, found ${got.kind} ${show(got)}`);
  return undefined;
}

function binary(e: A.Binary, l: Value, r: Value, report: Report): Value | undefined {
  const { op } = e;
  if (op === "&&" || op === "||") {
    if (l.kind !== "bool") return typeError(report, e.left.span, "bool", l);
    if (r.kind !== "bool") return typeError(report, e.right.span, "bool", r);
    return { kind: "bool", v: op === "&&" ? l.v && r.v : l.v || r.v };
  }
  if (op === "==" || op === "!=") {
    const comparable = l.kind === r.kind || ((l.kind === "int" || l.kind === "float") && (r.kind === "int" || r.kind === "float"));
    if (!comparable) return typeError(report, e.right.span, l.kind, r);
    return { kind: "bool", v: (l.v === r.v) === (op === "==") };
  }
  if (l.kind === "str" || l.kind === "bool") return typeError(report, e.left.span, "number", l);
  if (r.kind === "str" || r.kind === "bool") return typeError(report, e.right.span, "number", r);
  switch (op) {
    case "<": return { kind: "bool", v: l.v < r.v };
    case "<=": return { kind: "bool", v: l.v <= r.v };
    case ">": return { kind: "bool", v: l.v > r.v };
    case ">=": return { kind: "bool", v: l.v >= r.v };
    case "@":
      report("TFM3002", e.span, "`@` needs tensors, not numbers");
      return undefined;
    default:
      return arithmetic(e, op, l, r, report);
  }
}

function arithmetic(e: A.Binary, op: "+" | "-" | "*" | "/" | "%", l: Value & { v: number }, r: Value & { v: number }, report: Report): Value | undefined {
  if ((op === "/" || op === "%") && r.v === 0) {
    report("TFM3003", e.span, `division by zero: ${show(l)} ${op} 0`);
    return undefined;
  }
  if (l.kind === "float" || r.kind === "float") {
    const v = op === "+" ? l.v + r.v : op === "-" ? l.v - r.v : op === "*" ? l.v * r.v : op === "/" ? l.v / r.v : l.v % r.v;
    return { kind: "float", v };
  }
  // Scalars divide as in Python (`log(100 / 8)`); only where the quotient is used as a dim must it be whole.
  if (op === "/" && l.v % r.v !== 0) return { kind: "float", v: l.v / r.v, quotient: { span: e.span, message: `${l.v} / ${r.v} is not a whole number; dimension arithmetic must be exact` } };
  const v = op === "+" ? l.v + r.v : op === "-" ? l.v - r.v : op === "*" ? l.v * r.v : op === "/" ? l.v / r.v : l.v % r.v;
  if (!Number.isSafeInteger(v) || Math.abs(v) > limits.maxInt) {
    report("TFM3005", e.span, `${l.v} ${op} ${r.v} is beyond 2^53 - 1, the largest exact integer`);
    return undefined;
  }
  return int(v);
}

/** Reports a quotient that is not whole where an integer is needed (TFM3001, at the division); true if it was one. */
export function notWhole(v: Value, report: Report): boolean {
  if (v.kind === "float" && v.quotient) report("TFM3001", v.quotient.span, v.quotient.message);
  return v.kind === "float" && !!v.quotient;
}

/** Checks a value against a declared scalar type; ints widen to float. */
export function coerce(v: Value, type: A.ScalarTypeName | undefined, span: Span, report: Report): Value | undefined {
  if (!type || type === v.kind) return v;
  if (type === "int" && notWhole(v, report)) return undefined;
  if (type === "float" && v.kind === "int") return { kind: "float", v: v.v };
  return typeError(report, span, type, v);
}

/**
 * Parses a `--set name=value` value: an integer, a number, true/false, or else a string. A number
 * that cannot be represented exactly is an error message instead.
 */
export function parseSetting(text: string): Value | { error: string } {
  const t = text.trim();
  if (/^[+-]?\d[\d_]*$/.test(t)) {
    const v = Number(t.replace(/_/g, ""));
    return Number.isSafeInteger(v) ? int(v) : { error: `${t} is beyond 2^53 - 1, the largest exact integer` };
  }
  if (/^[+-]?(\d[\d_]*)?\.?\d[\d_]*(e[+-]?\d+)?$/i.test(t)) {
    const v = Number(t.replace(/_/g, ""));
    return Number.isFinite(v) ? { kind: "float", v } : { error: `${t} is out of range for a number` };
  }
  if (t === "true" || t === "false") return { kind: "bool", v: t === "true" };
  return { kind: "str", v: /^".*"$/.test(t) ? t.slice(1, -1) : t };
}

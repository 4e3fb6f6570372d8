// The compile-time evaluator: model parameters, layer arguments, weight dims and `if` conditions,
// and the one set of rules for scalars known when compiling (`scalarOp`), which the shape checker
// applies too. Integer arithmetic is exact: nothing may pass 2^53, and a division that does not
// divide is a real number that is no dim.
import type { Code } from "../diag/codes.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import { limits } from "../syntax/limits.js";
import { constValue } from "../core/dim.js";
import { constants } from "./builtins.js";
import { intVal, type SVal } from "./shapes/value.js";

export type Value =
  | { readonly kind: "int"; readonly v: number }
  /** `quotient`: from an integer division that is not exact (`100 / 8`); TFM3001 where a dim is needed. */
  | { readonly kind: "float"; readonly v: number; readonly quotient?: { readonly span: Span; readonly message: string } }
  | { readonly kind: "bool"; readonly v: boolean }
  | { readonly kind: "str"; readonly v: string };

/** A name's compile-time value (the compiler asks by the name's symbol, the runtime by its text), or "runtime" when it is only known when the model runs. */
export type Lookup = (name: A.Name) => Value | "runtime" | undefined;
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
      const v = lookup(e) ?? (e.name in constants ? { kind: "float" as const, v: constants[e.name]! } : undefined);
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
  } else if (op === "==" || op === "!=") {
    if (!scalarOp(op, l, r, e.span)) return typeError(report, e.right.span, l.kind, r);
  } else {
    if (l.kind === "str" || l.kind === "bool") return typeError(report, e.left.span, "number", l);
    if (r.kind === "str" || r.kind === "bool") return typeError(report, e.right.span, "number", r);
    if (op === "@") {
      report("TFM3002", e.span, "`@` needs tensors, not numbers");
      return undefined;
    }
  }
  const out = scalarOp(op, l, r, e.span)!;
  if (!("error" in out)) return out;
  report(out.error, e.span, out.message);
  return undefined;
}

/** What a scalar operation gives: a value, or the error it is (reported where the operation was written). */
export type Outcome = Value | { readonly error: Code; readonly message: string };

/**
 * `l op r` on known scalars: arithmetic and order on numbers, `==`/`!=` on numbers or two values
 * of one kind, `&&`/`||` on bools; undefined when the kinds do not fit (each caller says why in
 * its own words). Integers stay exact; what is computed from an inexact quotient keeps it.
 */
export function scalarOp(op: A.BinaryOp, l: Value, r: Value, span: Span): Outcome | undefined {
  const nums = l.kind !== "str" && l.kind !== "bool" && r.kind !== "str" && r.kind !== "bool";
  switch (op) {
    case "&&": case "||":
      return l.kind === "bool" && r.kind === "bool" ? { kind: "bool", v: op === "&&" ? l.v && r.v : l.v || r.v } : undefined;
    case "==": case "!=":
      return l.kind === r.kind || nums ? { kind: "bool", v: (l.v === r.v) === (op === "==") } : undefined;
    case "@":
      return undefined;
    default:
      if (l.kind === "str" || l.kind === "bool" || r.kind === "str" || r.kind === "bool") return undefined;
      if (op === "<" || op === "<=" || op === ">" || op === ">=") return { kind: "bool", v: compare(op, l.v, r.v) };
      return arithmetic(op, l, r, span);
  }
}

function compare(op: "<" | "<=" | ">" | ">=", a: number, b: number): boolean {
  switch (op) {
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
  }
}

type Num = Value & { kind: "int" | "float" };

function arithmetic(op: "+" | "-" | "*" | "/" | "%", l: Num, r: Num, span: Span): Outcome {
  if ((op === "/" || op === "%") && r.v === 0) return { error: "TFM3003", message: `division by zero: ${show(l)} ${op} 0` };
  const v = op === "+" ? l.v + r.v : op === "-" ? l.v - r.v : op === "*" ? l.v * r.v : op === "/" ? l.v / r.v : l.v % r.v;
  if (l.kind === "float" || r.kind === "float") {
    // What is computed from an inexact quotient is no dim either (`head * (d / head)`).
    const quotient = (l.kind === "float" && l.quotient) || (r.kind === "float" && r.quotient);
    return { kind: "float", v, ...(quotient ? { quotient } : {}) };
  }
  // Scalars divide as in Python (`log(100 / 8)`); only where the quotient is used as a dim must it be whole.
  if (op === "/" && l.v % r.v !== 0) return { kind: "float", v, quotient: { span, message: `${l.v} / ${r.v} is not a whole number; dimension arithmetic must be exact` } };
  if (!Number.isSafeInteger(v) || Math.abs(v) > limits.maxInt) return { error: "TFM3005", message: `${l.v} ${op} ${r.v} is beyond 2^53 - 1, the largest exact integer` };
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

/** A compile-time value as the shape checker sees it (`file`: where an inexact quotient was written). */
export function toSVal(v: Value, file: string): SVal {
  switch (v.kind) {
    case "int": return intVal(v.v);
    case "float": return { kind: "float", value: v.v, ...(v.quotient ? { quotient: { file, ...v.quotient } } : {}) };
    case "bool": return { kind: "bool", value: v.v };
    case "str": return { kind: "str", value: v.v };
  }
}

/** A checked scalar whose value is known, as a compile-time value (an inexact quotient left out). */
export function known(v: SVal): Value | undefined {
  switch (v.kind) {
    case "int": { const n = constValue(v.dim); return n === undefined ? undefined : int(n); }
    case "float": return v.value === undefined ? undefined : { kind: "float", v: v.value };
    case "bool": return v.value === undefined ? undefined : { kind: "bool", v: v.value };
    case "str": return { kind: "str", v: v.value };
    default: return undefined;
  }
}

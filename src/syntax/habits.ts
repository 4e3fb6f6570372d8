// Python and PyTorch habits: forms tfm writes differently (`x ** 2`, `n // 2`, `x[::2]`,
// `x.transpose(1, 2)`, `torch.cat(...)`). The parser accepts them so that each costs one TFM1015
// with the tfm spelling in its message, and the AST holds the tfm form in their place (or an
// error node where there is none), so the names inside are still resolved and the rest of the
// file is still checked. Hints quote the user's own text, so they read as the fix.
import { cover, type Span } from "../diag/span.js";
import type * as A from "./ast.js";

/** What the AST builder reports and keeps for one habit. */
export interface Habit {
  readonly span: Span;
  readonly message: string;
  readonly notes: readonly string[];
  readonly expr: A.Expr;
  /** The tfm text of `expr`, when there is one: a later habit on it quotes this, not the Python. */
  readonly fix?: string;
}

/** An argument both as AST and as source text: rewrites build the two side by side. */
export interface Part {
  readonly arg: A.Arg;
  readonly src: string;
}

/** One line of the user's text, for a hint: whitespace runs become one space. */
export const source = (text: string, sp: Span): string => text.slice(sp.start, sp.end).replace(/\s+/g, " ").trim();

/** An argument's text without the parentheses around all of it, which an argument never needs. */
export function bare(src: string): string {
  if (!src.startsWith("(") || !src.endsWith(")")) return src;
  let depth = 0;
  for (let i = 0; i < src.length - 1; i++) {
    depth += src[i] === "(" ? 1 : src[i] === ")" ? -1 : 0;
    if (depth === 0) return src; // the first `(` closes before the end: `(a) * (b)`
  }
  return bare(src.slice(1, -1).trim());
}

const name = (n: string, at: Span): A.Expr => ({ kind: "Name", name: n, span: at });
const value = (e: A.Expr): Part["arg"] => ({ value: e, span: e.span });

/** `fn(parts...)`, as AST and as text. */
function call(fn: string, at: Span, whole: Span, ...parts: Part[]): Part {
  const e: A.Expr = { kind: "Call", callee: name(fn, at), args: parts.map((p) => p.arg), span: whole };
  return { arg: value(e), src: `${fn}(${parts.map((p) => p.src).join(", ")})` };
}

/** `[parts...]`; a single list argument (`x.view([b, t])`) is kept as it is. */
function list(parts: readonly Part[], whole: Span): Part {
  if (parts.length === 1 && parts[0]!.arg.value.kind === "List" && !parts[0]!.arg.name) return parts[0]!;
  const e: A.Expr = { kind: "List", elements: parts.map((p) => p.arg.value), span: whole };
  return { arg: value(e), src: `[${parts.map((p) => p.src).join(", ")}]` };
}

// ---- operators and slices --------------------------------------------------------------------

/** `a ** b` is `pow(a, b)`. */
export function power(base: Part, exponent: Part, op: Span): Habit {
  const whole = cover(base.arg.value.span, exponent.arg.value.span);
  const fix = call("pow", op, whole, base, exponent);
  const square = exponent.src === "2" || exponent.src === "2.0" ? [`or \`${base.src} * ${base.src}\``] : [];
  return { span: op, message: `tfm has no \`**\` operator: write \`${fix.src}\``, notes: square, expr: fix.arg.value, fix: fix.src };
}

/** `a // b` is `a / b`: on dims, tfm's division is exact or an error, never rounded down. */
export function floorDivision(left: A.Expr, right: A.Expr, fix: string, op: Span): Habit {
  return {
    span: op,
    message: `tfm has no \`//\` operator: write \`${fix}\``,
    notes: ["`/` on dims divides exactly: a remainder is an error (TFM3001), never rounded down; on tensors `/` is true division"],
    expr: { kind: "Binary", op: "/", left, right, span: cover(left.span, right.span) },
    fix,
  };
}

/** `x[a:b:k]`: no builtin slices with a step, but `take` gathers any set of indices. */
export function sliceStep(step: Span, reversed: boolean): Omit<Habit, "expr"> {
  return {
    span: step,
    message: "tfm slices have no step",
    notes: [
      reversed
        ? "to reverse a dim of size n, gather it backwards: `take(x, (n - 1) - arange(n), dim=d)`"
        : "to keep every k-th element of a dim, gather them: `take(x, arange(m) * k, dim=d)`, where m is the number kept",
    ],
  };
}

// ---- method calls and module functions -------------------------------------------------------

type Rewrite = (x: Part, args: readonly Part[], at: Span, whole: Span) => Part | undefined;

const same = (fn: string): Rewrite => (x, args, at, whole) => call(fn, at, whole, x, ...args);
const listed = (fn: string): Rewrite => (x, args, at, whole) => call(fn, at, whole, x, list(args, whole));
const cast = (dtype: string): Rewrite => (x, args, at, whole) =>
  args.length ? undefined : call("cast", at, whole, x, { arg: value(name(dtype, at)), src: dtype });

/** Tensor methods of PyTorch by their tfm function; the tensor becomes the first argument. */
const methods: Readonly<Record<string, Rewrite>> = {
  ...Object.fromEntries(
    ["transpose", "unsqueeze", "squeeze", "sum", "mean", "max", "min", "argmax", "softmax", "log_softmax", "exp", "log",
      "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "abs", "sin", "cos", "pow", "maximum", "minimum", "matmul", "chunk",
      "relu", "gelu"].map((fn) => [fn, same(fn)]),
  ),
  t: (x, args, at, whole) => (args.length ? undefined : call("transpose", at, whole, x)),
  to: same("cast"),
  permute: listed("permute"),
  view: listed("reshape"),
  expand: listed("expand"),
  reshape: listed("reshape"),
  float: cast("f32"),
  half: cast("f16"),
  bfloat16: cast("bf16"),
  int: cast("i32"),
  long: cast("i64"),
  bool: cast("bool"),
  masked_fill: (x, args, at, whole) => (args.length === 2 ? call("where", at, whole, args[0]!, args[1]!, x) : undefined),
  contiguous: (x, args) => (args.length ? undefined : x),
};

/** Functions of `torch`, `torch.nn.functional` (`F`) and `math` by their tfm name. */
const functions: Readonly<Record<string, string>> = {
  cat: "concat",
  ...Object.fromEntries(
    ["concat", "stack", "softmax", "log_softmax", "relu", "gelu", "tanh", "exp", "log", "sqrt", "rsqrt", "erf", "sigmoid",
      "abs", "sin", "cos", "pow", "maximum", "minimum", "matmul", "transpose", "permute", "reshape", "unsqueeze",
      "squeeze", "expand", "where", "chunk", "silu", "sum", "mean", "max", "min", "argmax", "arange", "zeros", "ones", "full", "dropout"]
      .map((fn) => [fn, fn]),
  ),
};

/** The names a module-qualified call can start with: `torch.cat`, `F.softmax`, `math.sqrt`. */
const modules = new Set(["torch", "nn", "F", "math", "np", "numpy"]);

/** The module a callee like `torch.nn.functional` is rooted at, if any. */
function moduleOf(e: A.Expr): string | undefined {
  if (e.kind === "Name") return modules.has(e.name) ? e.name : undefined;
  return e.kind === "Member" ? moduleOf(e.target) : undefined;
}

/**
 * `x.name(args)` (tfm calls only plain names, so this is never tfm): the function it is in tfm.
 * `target` and `x` are the receiver as AST and as text, `member` spans `.name`, `whole` the call.
 */
export function methodCall(target: A.Expr, x: string, method: A.Ident, args: readonly Part[], member: Span, whole: Span): Habit {
  const written = `${x}.${method.name}`;
  if (moduleOf(target) !== undefined) {
    const fn = functions[method.name];
    if (fn === undefined) {
      return { span: cover(target.span, method.span), message: `tfm has no \`${written}\``, notes: [seeFunctions], expr: { kind: "Error", span: whole } };
    }
    const fix = call(fn, method.span, whole, ...args);
    return { span: cover(target.span, method.span), message: `tfm functions have no module prefix: write \`${fix.src}\``, notes: [], expr: fix.arg.value, fix: fix.src };
  }
  const fix = Object.hasOwn(methods, method.name) ? methods[method.name]!({ arg: value(target), src: x }, args, method.span, whole) : undefined;
  if (!fix) return { span: member, message: `tfm has no methods, and no function for \`.${method.name}(...)\``, notes: [seeFunctions], expr: { kind: "Error", span: whole } };
  const notes = method.name === "contiguous" ? ["tfm tensors have no memory layout to make contiguous"] : [];
  return { span: member, message: `tfm has no methods: write \`${fix.src}\``, notes, expr: fix.arg.value, fix: fix.src };
}

const seeFunctions = "tfm calls functions with the tensor first, `f(x, ...)`: see the built-in functions and the standard library in docs/LANGUAGE.md §10 and §11";

/** The method and function names the tables know, for the tests that each rewrites to a tfm function. */
export const knownMethods: readonly string[] = Object.keys(methods);
export const knownFunctions: readonly string[] = Object.keys(functions);

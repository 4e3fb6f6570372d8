// The judgements of the shape property tests: does the checker's answer for a program agree with
// the concrete evaluator, and what must it say about an ill-shaped one. Also the regression
// store for their counterexamples (test/property/regressions/shapes-<hash>.tfm).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { check, type CheckResult } from "../../src/api.js";
import { typeKey } from "../../src/check/shapes/check.js";
import { evalDim } from "../../src/core/dim.js";
import { LineMap } from "../../src/diag/span.js";
import type * as A from "../../src/syntax/ast.js";
import { violations } from "../helpers/invariants.js";
import { clampsSlices, evaluate, failure, isTensor, type Tensor } from "./concrete-shapes.js";
import { regressionsDir } from "./corpus.js";
import { printProgram, uses, type Assignment, type Program } from "./shapes-program.js";
import { pickSeed } from "../helpers/seed.js";

export const FILE = "shapes.tfm";

export function runCheck(text: string, settings: Record<string, string> = {}): CheckResult {
  return check(text, FILE, { settings: new Map(Object.entries(settings)) });
}

// ---- reading the checker's shapes ---------------------------------------------------------------

/**
 * The value of a dim as the checker prints it (`2 * b + t`, `-1 + t`, `(s + t / 2)`) under one
 * assignment of the symbols; NaN for an unknown name or an inexact division. A parenthesised
 * group with a `/` (or `%`) at its top level is one of the checker's quotient atoms,
 * `(${dividend} / ${divisor})`, whose dividend is everything left of the operator: `(s + t / 2)`
 * is (s + t) / 2, not s + t/2. Outside such atoms, dims are polynomials (+, -, *).
 */
export function evalDimText(text: string, values: Assignment): number {
  const toks = text.match(/\d+|[A-Za-z_]\w*|[-+*/()%]/g) ?? [];
  if (toks.join("") !== text.replace(/\s+/g, "")) return NaN;
  return evalToks(toks, values);
}

function evalToks(toks: readonly string[], values: Assignment): number {
  let i = 0;
  const peek = () => toks[i];
  const expr = (): number => {
    let v = term();
    while (peek() === "+" || peek() === "-") v = toks[i++] === "+" ? v + term() : v - term();
    return v;
  };
  const term = (): number => {
    let v = unary();
    while (peek() === "*") {
      i++;
      v *= unary();
    }
    return v;
  };
  const unary = (): number => (peek() === "-" ? (i++, -unary()) : primary());
  const primary = (): number => {
    const t = toks[i++];
    if (t === "(") {
      // The group's tokens, up to the matching ")", and the position of a top-level / or %.
      const start = i;
      let depth = 0;
      let op = -1;
      for (; i < toks.length; i++) {
        if (toks[i] === "(") depth++;
        else if (toks[i] === ")" && depth-- === 0) break;
        else if (depth === 0 && (toks[i] === "/" || toks[i] === "%")) op = i;
      }
      if (toks[i] !== ")") return NaN;
      const inner = toks.slice(start, i++);
      if (op < 0) return evalToks(inner, values);
      const [a, b] = [evalToks(toks.slice(start, op), values), evalToks(toks.slice(op + 1, start + inner.length), values)];
      if (toks[op] === "%") return a % b;
      return b !== 0 && a % b === 0 ? a / b : NaN;
    }
    if (t !== undefined && /^\d+$/.test(t)) return Number(t);
    return t !== undefined && t in values ? values[t]! : NaN;
  };
  const v = expr();
  return i === toks.length ? v : NaN;
}

/** `f32[b, 2 * t, 4]` → dtype and dim texts; undefined for anything but a tensor. */
export function parseType(s: string): { dtype: string; dims: string[] } | undefined {
  const m = /^(f32|f16|bf16|i32|i64|bool)\[(.*)\]$/.exec(s);
  if (!m) return undefined;
  const dims: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of m[2]!) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      dims.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) dims.push(cur.trim());
  return { dtype: m[1]!, dims };
}

const showT = (t: Tensor) => `${t.dtype}[${t.shape.join(", ")}]`;
const showA = (a: Assignment) => Object.entries(a).map(([k, v]) => `${k}=${v}`).join(" ");

/** The model's declared names (inputs, bindings, outputs) with their spans. */
function modelNames(program: A.Program): { name: string; span: A.Ident["span"] }[] {
  const model = program.items.find((i): i is A.BlockDecl => i.kind === "Block" && i.isModel);
  const out: { name: string; span: A.Ident["span"] }[] = [];
  for (const m of model?.body ?? []) {
    if (m.kind === "Input" || m.kind === "Output") out.push({ name: m.name.name, span: m.name.span });
    if (m.kind === "Assign") for (const t of m.targets) out.push({ name: t.name, span: t.span });
  }
  return out;
}

/** `CODE@line:col message` for messages. */
export function showDiags(text: string, r: CheckResult): string {
  const map = new LineMap(text);
  return r.diagnostics.map((d) => {
    const p = map.position(d.span.start);
    return `${d.severity} ${d.code}@${d.file === FILE ? `${p.line}:${p.column}` : d.file} ${d.message}`;
  }).join("\n    ") || "(no diagnostics)";
}

/** Problems any result must not have: broken invariants, diagnostics outside the user's file. */
export function invariantProblems(text: string, r: CheckResult): string[] {
  const out = violations(text, r);
  for (const d of r.diagnostics) if (d.file !== FILE) out.push(`${d.code} is reported in ${d.file}, not at the user's line`);
  return out;
}

// ---- property 1: soundness ----------------------------------------------------------------------

export interface SoundnessStats {
  bindings: number;
  warnings: number;
  /** Dims the checker printed garbled (a known bug, shapes-bugs.test.ts), so could not be compared. */
  garbled: number;
}

/**
 * The checker's printing of a quotient atom that was multiplied: `dim.ts` splits monomial keys on
 * `*`, also inside the atom `(b * t / 2)`, so the product prints as `3 *  t / 2) * (b ` (see
 * shapes-bugs.test.ts). Such a dim has unbalanced parentheses.
 */
export const garbledDim = (d: string) => {
  let depth = 0;
  for (const ch of d) {
    depth += ch === "(" ? 1 : ch === ")" ? -1 : 0;
    if (depth < 0) return true;
  }
  return depth !== 0;
};

/** TFM_SHAPES_GAPS=1: also fail on the known checker bugs instead of counting them. */
export const strictGaps = () => process.env["TFM_SHAPES_GAPS"] === "1";

/**
 * Everything wrong with the checker's answer for a well-shaped program: any error, a TFM4002 with
 * no inexact division (TFM4009) to explain it, and any binding or output whose symbolic shape,
 * evaluated under each assignment, differs from the concrete evaluator's.
 */
export function soundnessProblems(p: Program, asg: readonly Assignment[], text: string, r: CheckResult, stats?: SoundnessStats): string[] {
  const out = invariantProblems(text, r);
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) out.push(`the checker reports errors for a well-shaped program`);
  if (r.diagnostics.some((d) => d.code === "TFM4002") && !r.diagnostics.some((d) => d.code === "TFM4009"))
    out.push("TFM4002 (cannot prove two dims equal) although every dim the program equates is equal as a polynomial");
  if (stats) stats.warnings += r.diagnostics.filter((d) => d.severity === "warning" && d.code.startsWith("TFM4")).length;
  if (!r.shapes) {
    out.push("no shape result");
    return out;
  }
  const envs = asg.map((a) => evaluate(p, a));
  for (const { name, span } of modelNames(r.program)) {
    const want = envs.map((env) => env.get(name));
    if (want.some((w) => !w || !isTensor(w))) continue;
    const shown = r.shapes.types.get(typeKey(FILE, span));
    if (stats) stats.bindings++;
    if (!shown || shown.length !== 1) {
      out.push(`\`${name}\`: the checker recorded ${shown ? shown.join(" | ") : "nothing"}`);
      continue;
    }
    const t = parseType(shown[0]!);
    if (t && t.dims.some(garbledDim) && !strictGaps()) {
      if (stats) stats.garbled++;
      continue;
    }
    asg.forEach((a, k) => {
      const w = want[k] as Tensor;
      const got = t && t.dims.map((d) => evalDimText(d, a));
      if (!t || t.dtype !== w.dtype || got!.length !== w.shape.length || got!.some((n, i) => n !== w.shape[i]))
        out.push(`\`${name}\`: checker ${shown[0]} = ${t ? `${t.dtype}[${got!.join(", ")}]` : "?"}, concrete ${showT(w)} (at ${showA(a)})`);
    });
  }
  // The model's outputs as Dims, evaluated with the checker's own evalDim.
  for (const o of r.shapes.outputs) {
    if (o.value.kind !== "tensor") {
      out.push(`output \`${o.name}\` is ${o.value.kind}`);
      continue;
    }
    const shape = o.value.shape;
    asg.forEach((a, k) => {
      const w = envs[k]!.get(o.name);
      if (!w || !isTensor(w)) return;
      const got = shape.map((d) => evalDim(d, new Map(Object.entries(a))));
      if (got.length !== w.shape.length || got.some((n, i) => n !== undefined && n !== w.shape[i]))
        out.push(`output \`${o.name}\`: evalDim gives [${got.map((n) => n ?? "?").join(", ")}], concrete ${showT(w)} (at ${showA(a)})`);
    });
  }
  return [...new Set(out)];
}

// ---- property 2: no silent acceptance -----------------------------------------------------------

/**
 * What the checker must say about a program, from the concrete evaluator under the generic
 * assignments (the symbols far apart, so no two different dims coincide):
 *
 * - `valid`: well-shaped under every assignment. The checker must report no error, and its
 *   shapes must be right (the soundness property again).
 * - `error`: ill-shaped under every assignment for a reason that does not depend on the values
 *   of the symbols: a wrong number of dims, a wrong element type, an axis out of range, two
 *   compile-time sizes that differ, or a compile-time size that does not divide (n_head not
 *   dividing d_model). The checker must report at least one error.
 * - `error-or-warning`: ill-shaped, but the sizes involved depend on symbols, so for other values
 *   the program could be fine (t vs s, t vs 12, t odd for chunk(…, 2)); or ill-shaped for some
 *   assignments only. The checker must report an error, or at least a TFM4002/TFM4009 warning.
 * - `unclassified`: ill-shaped for a reason that is not a shape rule (an index out of bounds, a
 *   name that is not defined), or running into a known checker bug (a slice that needs clamping,
 *   `mean` of integers, a reshape whose target divides a symbolic dim; see shapes-bugs.test.ts, and
 *   TFM_SHAPES_GAPS=1 to include them): only the invariants are checked.
 */
export type Expectation = "valid" | "error" | "error-or-warning" | "unclassified";

export function classify(p: Program, asg: readonly Assignment[]): { expect: Expectation; why: string } {
  const fs = asg.map((a) => failure(p, a));
  if (!strictGaps() && asg.some((a) => clampsSlices(p, a))) return { expect: "unclassified", why: "a slice needs clamping (a known checker bug)" };
  if (fs.every((f) => !f)) return { expect: "valid", why: "well-shaped" };
  const failed = fs.filter((x) => x !== undefined);
  const f = failed[0]!;
  const why = `step ${f.step ?? "?"}: ${f.kind}: ${f.message}`;
  if (failed.some((x) => x.kind === "other")) return { expect: "unclassified", why };
  if (!strictGaps() && failed.some((x) => x.gap)) return { expect: "unclassified", why: `${why} (known checker bug: ${failed.find((x) => x.gap)!.gap})` };
  if (failed.length < fs.length) return { expect: "error-or-warning", why: `ill-shaped for some assignments only (${why})` };
  if (!failed.every((x) => x.step === f.step && x.kind === f.kind)) return { expect: "error-or-warning", why: `fails differently per assignment (${why})` };
  if (f.kind === "rank" || f.kind === "dtype" || f.kind === "axis") return { expect: "error", why };
  const constant = failed.every((x) => x.a === f.a && x.b === f.b);
  return { expect: constant ? "error" : "error-or-warning", why: `${why}${constant ? " (compile-time sizes)" : " (sizes depend on symbols)"}` };
}

/**
 * What is wrong with the checker's answer for a mutated program, given what it must say. A warning
 * counts only if the unmutated program (`baseline`, when given) did not have the same one.
 */
export function mutationProblems(expect: Expectation, p: Program, asg: readonly Assignment[], text: string, r: CheckResult, baseline?: CheckResult): string[] {
  const out = invariantProblems(text, r);
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  const before = new Set((baseline?.diagnostics ?? []).map((d) => `${d.code} ${d.message}`));
  const warned = r.diagnostics.some((d) => (d.code === "TFM4002" || d.code === "TFM4009") && !before.has(`${d.code} ${d.message}`));
  if (expect === "valid") out.push(...soundnessProblems(p, asg, text, r));
  if (expect === "error" && !errors.length) out.push("ill-shaped for every value of the symbols, yet the checker reports no error");
  if (expect === "error-or-warning" && !errors.length && !warned) out.push("ill-shaped, yet the checker reports neither an error nor a new TFM4002/TFM4009 warning: silent acceptance");
  return [...new Set(out)];
}

// ---- the regression store -----------------------------------------------------------------------

const MARK = "shapes-regression ";

export interface ShapesRegression {
  readonly property: "soundness" | "mutation";
  readonly program: Program;
  readonly assignments: readonly Assignment[];
  /** For mutations: what the checker must say. */
  readonly expect?: Expectation;
  readonly note?: string;
}

/** Writes a counterexample as regressions/shapes-<hash>.tfm: the program, with its data in a comment. */
export function saveShapesRegression(reg: ShapesRegression): string {
  const text = printProgram(reg.program, [
    `A counterexample found by test/property/shapes-${reg.property === "soundness" ? "soundness" : "mutations"}.test.ts, replayed by shapes-regressions.test.ts.`,
    ...(reg.note ? reg.note.split("\n").map((l) => l.slice(0, 300)) : []),
    `${MARK}${JSON.stringify(reg)}`,
  ]);
  mkdirSync(regressionsDir, { recursive: true });
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const path = `${regressionsDir}/shapes-${hash}.tfm`;
  writeFileSync(path, text, "utf8");
  return path;
}

export function loadShapesRegressions(): { name: string; text: string; reg: ShapesRegression }[] {
  if (!existsSync(regressionsDir)) return [];
  return readdirSync(regressionsDir)
    .filter((f) => f.startsWith("shapes-") && f.endsWith(".tfm"))
    .sort()
    .map((f) => {
      const text = readFileSync(`${regressionsDir}/${f}`, "utf8");
      const line = text.split("\n").find((l) => l.startsWith(`# ${MARK}`));
      if (!line) throw new Error(`${f}: no "# ${MARK}" line`);
      return { name: f, text, reg: JSON.parse(line.slice(2 + MARK.length)) as ShapesRegression };
    });
}

/** The problems of a stored counterexample, judged as when it was found. */
export function replayProblems(text: string, reg: ShapesRegression): string[] {
  const r = runCheck(text);
  if (reg.property === "soundness") return soundnessProblems(reg.program, reg.assignments, text, r);
  return mutationProblems(reg.expect ?? classify(reg.program, reg.assignments).expect, reg.program, reg.assignments, text, r);
}

/** The seed for a run: TFM_SHAPES_SEED if set, a fixed one under CI, else random (test/helpers/seed.ts). */
export function seedFromEnv(): { seed: number; given: boolean } {
  const env = process.env["TFM_SHAPES_SEED"];
  return { seed: pickSeed("TFM_SHAPES_SEED"), given: env !== undefined && env !== "" };
}

// ---- minimizing counterexamples -----------------------------------------------------------------

/** The program without binding i and every binding that depends on it; outputs recomputed. */
function withoutStep(p: Program, i: number): Program {
  const gone = new Set(p.steps[i]!.targets);
  const steps = p.steps.filter((s, k) => {
    if (k === i) return false;
    if (uses(s.expr).some((u) => gone.has(u))) {
      s.targets.forEach((t) => gone.add(t));
      return false;
    }
    return true;
  });
  return tidy({ ...p, steps });
}

/** Drops unused layers and inputs (but `x`), and outputs every binding nothing else uses. */
function tidy(p: Program): Program {
  const used = new Set(p.steps.flatMap((s) => uses(s.expr)));
  const layers = p.layers.filter((l) => p.steps.some((s) => s.expr.k === "apply" && s.expr.layer === l.name));
  const inputs = p.inputs.filter((i) => i.name === "x" || used.has(i.name));
  const outputs = p.steps.flatMap((s) => s.targets).filter((t) => !used.has(t));
  return { ...p, layers, inputs, outputs: outputs.length ? outputs : p.outputs.filter((o) => inputs.some((i) => i.name === o)) };
}

/**
 * Greedily removes bindings while `fails` still holds (after fast-check's shrinking, which works
 * on seeds, this removes what the failure does not need). `fails` sees only programs that are
 * well-formed enough to print.
 */
export function minimize(p: Program, fails: (q: Program) => boolean): Program {
  let cur = p;
  for (let i = cur.steps.length - 1; i >= 0; i--) {
    if (i >= cur.steps.length) continue;
    const cand = withoutStep(cur, i);
    if (cand.steps.length === 0 && cand.outputs.length === 0) continue;
    let ok = false;
    try {
      ok = fails(cand);
    } catch {
      ok = false;
    }
    if (ok) cur = cand;
  }
  return cur;
}

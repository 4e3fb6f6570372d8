// The compiler's one API: the CLI and the language server are thin faces over these functions.
import { DiagnosticSink, hasErrors, sortDiagnostics, type Diagnostic } from "./diag/diagnostic.js";
import { lowerOps } from "./ir/build.js";
import type { Graph } from "./ir/graph.js";
import type { Phase } from "./ir/phases.js";
import type { Sources } from "./diag/render.js";
import type { Instantiation } from "./check/elaborated.js";
import { declaresState, modelParams } from "./check/shapes/instances.js";
import { resolveProgram, type Resolution } from "./check/resolve.js";
import { checkShapes, type ShapeResult } from "./check/shapes/check.js";
import type { GlobalSym } from "./check/symbols.js";
import { parseSetting, type Value } from "./check/evaluate.js";
import { prelude } from "./std/index.js";
import type { Program } from "./syntax/ast.js";
import { parse } from "./syntax/parse.js";

export interface CheckOptions {
  /** Model parameter overrides, as given to `--set name=value`. */
  readonly settings?: ReadonlyMap<string, string>;
}

export interface CheckResult {
  readonly file: string;
  readonly program: Program;
  /** Sorted by position; errors, warnings and notes together. */
  readonly diagnostics: readonly Diagnostic[];
  readonly resolution?: Resolution;
  /** The program's model, if it has one. */
  readonly model?: GlobalSym & { kind: "block" };
  /** The model with its parameters applied, when the program is free of errors so far. */
  readonly instance?: Instantiation;
  /**
   * Symbolic shapes: the model's inputs and outputs, and what each expression evaluated to. After
   * an error, the types the error does not reach (for hovers); read inputs and outputs only when
   * there are no errors.
   */
  readonly shapes?: ShapeResult;
  /** Every source text a diagnostic may point into (the file and the standard library). */
  readonly sources: Sources;
}

/** Parses, resolves names and instantiates the model. Never throws: a bug in tfm becomes TFM9001. */
export function check(text: string, file: string, options: CheckOptions = {}): CheckResult {
  const sources = new Map<string, string>([[file, text]]);
  for (const s of prelude()) sources.set(s.file, s.text);
  const sink = new DiagnosticSink(file);
  let program: Program = { kind: "Program", items: [], comments: [], span: { start: 0, end: text.length } };
  let resolution: Resolution | undefined;
  let model: (GlobalSym & { kind: "block" }) | undefined;
  let instance: Instantiation | undefined;
  let shapes: ShapeResult | undefined;
  try {
    const parsed = parse(text, file);
    program = parsed.program;
    sink.items.push(...parsed.diagnostics);
    const std = prelude();
    for (const s of std) sink.items.push(...s.diagnostics);
    resolution = resolveProgram(std, { file, program }, sink);
    suppressCascades(sink, program, parsed.diagnostics);
    const decl = program.items.find((i) => i.kind === "Block" && i.isModel);
    const g = decl && resolution.symbolOf(decl.name);
    if (g?.kind === "block") model = g;
    if (model && !sink.hasErrors) {
      const settings = new Map<string, Value>();
      for (const [k, text] of options.settings ?? []) {
        const v = parseSetting(text);
        if ("error" in v) sink.report("TFM3007", model.decl.name.span, `--set ${k}=${text}: ${v.error}`);
        else settings.set(k, v);
      }
      const hparams = sink.hasErrors ? undefined : modelParams(resolution, model, settings, file, sink);
      if (hparams) ({ shapes, instance } = elaborate(resolution, file, program, model, hparams, sink));
    } else if (!model && options.settings?.size) {
      sink.report("TFM2008", { start: 0, end: 0 }, "--set was given, but the file defines no `model`");
    }
    if (shapes) {
      // elaborated above
    } else if (!sink.hasErrors) shapes = checkShapes(resolution, file, program, undefined, undefined, sink, true);
    // A recursive block or function (TFM2010) would send the walk round forever: no recovery then.
    else if (!sink.items.some((d) => d.code === "TFM2010")) shapes = recoveredShapes(resolution, file, program, model, options.settings);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    sink.report("TFM9001", { start: 0, end: 0 }, `internal compiler error: ${err.message}`, {
      notes: ["this is a bug in tfm, not in your program: please report it with this file", ...(err.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim())],
    });
  }
  return { file, program, diagnostics: sortDiagnostics(sink.items), ...(resolution ? { resolution } : {}), ...(model ? { model } : {}), ...(instance ? { instance } : {}), ...(shapes ? { shapes } : {}), sources };
}

/**
 * The model elaborated with its parameters: one walk types it, records its operations and
 * instantiates it. The instantiation's errors come first: where there are any, they are what is
 * reported (what they cause is not news), and the shapes are recovered for the editor.
 */
function elaborate(res: Resolution, file: string, program: Program, model: GlobalSym & { kind: "block" }, hparams: ReadonlyMap<string, Value>, sink: DiagnosticSink): { shapes: ShapeResult; instance?: Instantiation } {
  // `past` is a run-time dim only in a model with state: assumed where a block declares one, and
  // checked again without when no instance keeps it (a state only in a branch not taken).
  let stateful = declaresState(res, model);
  for (;;) {
    const [found, errors] = [new DiagnosticSink(file), new DiagnosticSink(file)];
    const shapes = checkShapes(res, file, program, model, hparams, found, true, stateful, errors);
    const instance = shapes.instance;
    if (errors.items.length) {
      for (const d of errors.items) sink.add(d);
      // The walk's types are what the editor shows; its operations are not for the IR. Walked again
      // only where it stopped (too large: then the blocks are checked on their own) or where `past`
      // was taken for a run-time dim that no instance keeps.
      if (instance && stateful === !!instance.states.length) {
        const { instance: _, ...walked } = shapes;
        return { shapes: { ...walked, states: [], ops: [] }, instance };
      }
      const { instance: _, ...recovered } = checkShapes(res, file, program, instance ? model : undefined, hparams, new DiagnosticSink(file), false, !!instance?.states.length);
      return { shapes: recovered, ...(instance ? { instance } : {}) };
    }
    if (stateful && !instance?.states.length) {
      stateful = false;
      continue;
    }
    for (const d of found.items) sink.add(d);
    return { shapes, ...(instance ? { instance } : {}) };
  }
}

/**
 * After an error, the editor still shows the shapes the error does not reach: the model is
 * instantiated and checked once more into a scratch sink (what the error makes unknown stays
 * unknown, and nothing it causes is reported twice). Only `types` is meant to be read.
 */
function recoveredShapes(res: Resolution, file: string, program: Program, model: (GlobalSym & { kind: "block" }) | undefined, settings: ReadonlyMap<string, string> | undefined): ShapeResult {
  const scratch = new DiagnosticSink(file);
  const values = new Map<string, Value>();
  for (const [k, text] of settings ?? []) {
    const v = parseSetting(text);
    if (!("error" in v)) values.set(k, v);
  }
  const hparams = model ? modelParams(res, model, values, file, scratch) : undefined;
  if (!model || !hparams) return checkShapes(res, file, program, undefined, undefined, scratch);
  // One walk types and instantiates the model; again without it if it is too large, or with `past` as the instances need.
  const stateful = declaresState(res, model);
  const r = checkShapes(res, file, program, model, hparams, scratch, false, stateful, scratch);
  if (!r.instance) return checkShapes(res, file, program, undefined, undefined, scratch);
  if (stateful && !r.instance.states.length) return checkShapes(res, file, program, model, hparams, scratch, false, false);
  return r;
}

/** The model as an IR graph, for a program that checked without errors. */
export function buildGraph(r: CheckResult, capture?: (names: readonly string[]) => readonly string[], phase: Phase = "call"): Graph | undefined {
  if (hasErrors(r.diagnostics) || !r.model || !r.instance || !r.resolution) return undefined;
  return r.shapes ? lowerOps(r.model.name, r.shapes.ops, capture, phase) : undefined;
}

/** Whether the model keeps states written once per sequence (`once`): it then runs as phases (src/ir/phases.ts). */
export function writesOnce(r: CheckResult): boolean {
  return !!r.shapes?.states.some((s) => s.axis < 0);
}

/**
 * A declaration with a syntax error was only partly recovered: "has no output" and "never used"
 * there are consequences of the syntax error, not news, so they are dropped.
 */
function suppressCascades(sink: DiagnosticSink, program: Program, syntax: readonly Diagnostic[]): void {
  const broken = program.items.filter((i) => syntax.some((d) => d.span.start >= i.span.start && d.span.start <= i.span.end));
  if (!broken.length) return;
  const cascade = (d: Diagnostic) => (d.code === "TFM2012" || d.code === "TFM2017") && broken.some((i) => d.span.start >= i.span.start && d.span.start <= i.span.end);
  const kept = sink.items.filter((d) => !cascade(d));
  sink.items.splice(0, sink.items.length, ...kept);
}

export { parse } from "./syntax/parse.js";
export { renderDiagnostic, renderDiagnostics, diagnosticToJson } from "./diag/render.js";
export type { Diagnostic } from "./diag/diagnostic.js";

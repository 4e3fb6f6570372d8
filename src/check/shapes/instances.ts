// The model instantiated by the shape checker's walk of it: every layer instance by path, with
// its parameters as compile-time values; every weight with its checkpoint name (like a PyTorch
// state_dict key), shape and dtype; every state and `ignore` pattern; and the instantiation's own
// errors (a weight's shape not known at compile time, a bad repeat count, two weights with one
// checkpoint name, ...), reported where the user typed them with an instantiation trace.
//
// The checker calls the hooks below as it meets each member of a block instance's body, in
// order, with the instance's compile-time environment (`Env`: parameters, and the scalars bound
// so far; run-time values as "runtime"); a body without an environment (a branch not taken, the
// layers under a layer whose parameters failed) is no instance. A memoized application replays
// what the first one made under its own path. The result lists everything in declaration order
// (depth first, members in source order), as a checkpoint's reader expects.
import type { Code } from "../../diag/codes.js";
import type { DiagnosticSink, Related } from "../../diag/diagnostic.js";
import type { Span } from "../../diag/span.js";
import type * as A from "../../syntax/ast.js";
import { limits } from "../../syntax/limits.js";
import { matchArgs } from "../args.js";
import { blockSig } from "../resolve.js";
import type { GlobalSym } from "../symbols.js";
import { TraceReporter, type Frame } from "../trace.js";
import type { Instance, Instantiation, Weight } from "../elaborated.js";
import { coerce, evaluate, int, notWhole, show, type Lookup, type Value } from "../evaluate.js";

type Block = GlobalSym & { kind: "block" };
type State = Instantiation["states"][number];

/** A block instance's compile-time names: parameters and scalars; tensors and input dims as "runtime". */
export type Env = Map<string, Value | "runtime">;

/** The model has more weights or instances than the limits allow: the instantiation stops. */
export class TooLarge extends Error {}

/** A layer instance: its parent's path, where it sits in its parent (the layer's declaration, the copy of a stack), and the frame its body is instantiated in. */
interface InstanceRec {
  readonly path: string;
  readonly parent: string | undefined;
  readonly pos: number;
  readonly copy: number;
  readonly block: Block;
  readonly hparams: ReadonlyMap<string, Value>;
  readonly frame: Frame | undefined;
}

/** What one application made, in the order made (each with the path of the instance it belongs to and its position there). */
export interface Made {
  readonly instances: readonly InstanceRec[];
  readonly weights: readonly { readonly w: Weight; readonly at: string }[];
  readonly states: readonly { readonly s: State; readonly at: string }[];
  readonly ignored: readonly { readonly pattern: string; readonly at: string; readonly pos: number; readonly k: number }[];
  /** Errors reported meanwhile: an application with errors is walked again, not replayed. */
  readonly errors: number;
}

interface Mark {
  readonly i: number;
  readonly w: number;
  readonly s: number;
  readonly g: number;
  readonly e: number;
}

export class InstanceWalk {
  private readonly instances: InstanceRec[] = [];
  private readonly byPath = new Map<string, InstanceRec>();
  private readonly weights: { w: Weight; at: string }[] = [];
  private readonly byName = new Map<string, Weight>();
  private readonly states: { s: State; at: string }[] = [];
  private readonly ignored: { pattern: string; at: string; pos: number; k: number }[] = [];
  private readonly seen = new Set<string>();
  /** Instance paths whose bodies the checker walked. */
  private readonly walked = new Set<string>();
  private readonly trace: TraceReporter;
  /** Blocks of the instances being walked, innermost last. */
  private readonly active: string[] = [];
  private errors = 0;

  constructor(private readonly res: { globalsFor(file: string): ReadonlyMap<string, GlobalSym> }, model: Block, hparams: ReadonlyMap<string, Value>, userFile: string, sink: DiagnosticSink) {
    this.trace = new TraceReporter(sink, userFile);
    this.add({ path: "", parent: undefined, pos: 0, copy: 0, block: model, hparams, frame: undefined });
  }

  get failed(): boolean {
    return this.errors > 0;
  }

  // ---- the walk ------------------------------------------------------------------------------

  /** The environment of the instance at `path` when its body is walked, or undefined when it is no instance; `f` runs in its frame. */
  enter<T>(path: string, f: (env: Env | undefined) => T): T {
    const r = this.byPath.get(path);
    // A layer applied twice is one instance: its body is instantiated once.
    if (!r || this.walked.has(path)) return f(undefined);
    this.walked.add(path);
    if (!r.frame) return f(new Map(r.hparams));
    this.active.push(r.block.name);
    try {
      return this.trace.within(r.frame, () => f(new Map(r.hparams)));
    } finally {
      this.active.pop();
    }
  }

  /** Whether the body of the instance at `path` was walked (a layer declared and never applied was not). */
  wasWalked(path: string): boolean {
    return this.walked.has(path);
  }

  isInstance(path: string): boolean {
    return this.byPath.has(path);
  }

  /** The instances a `layer` declaration in the instance at `path` made whose bodies were not walked (never applied). */
  unwalked(path: string, m: A.LayerDecl): { path: string; copy: number }[] {
    return this.instances.filter((r) => r.parent === path && r.pos === m.span.start && !this.walked.has(r.path)).map((r) => ({ path: r.path, copy: r.copy }));
  }

  input(m: A.InputDecl, env: Env): void {
    for (const d of m.type.dims) if (d.kind === "Name" && !env.has(d.name)) env.set(d.name, "runtime");
    env.set(m.name.name, "runtime");
  }

  /** Bindings may fail to evaluate because they are tensors: that is not an error here. */
  assign(m: A.Assign, env: Env, file: string): void {
    const report = this.reporter(file);
    const quiet = (code: Code, span: Span, message: string) => { if (code !== "TFM3006" && code !== "TFM3002") report(code, span, message); };
    const v = m.targets.length === 1 ? evaluate(m.value, lookupIn(env), quiet) : undefined;
    for (const t of m.targets) env.set(t.name, v ?? "runtime");
  }

  output(m: A.OutputDecl, env: Env): void {
    if (m.value) env.set(m.name.name, "runtime");
  }

  state(m: A.StateDecl, path: string, file: string): void {
    const s = { name: join(path, m.name.name), decl: m, file };
    if (this.once(`s:${s.name}`)) this.states.push({ s, at: path });
  }

  ignore(m: A.IgnoreDecl, path: string): void {
    m.patterns.forEach((p, k) => {
      if (this.once(`g:${path}:${m.span.start}:${k}`)) this.ignored.push({ pattern: join(path, p.value), at: path, pos: m.span.start, k });
    });
  }

  /** The branch of an `if` the parameters select (0: then, 1: else), or undefined after an error. */
  cond(m: A.If, env: Env, file: string): 0 | 1 | undefined {
    const report = this.reporter(file);
    const c = evaluate(m.cond, lookupIn(env), report);
    if (c && c.kind !== "bool") report("TFM3002", m.cond.span, `an \`if\` condition must be a compile-time bool, found ${c.kind} ${show(c)}`);
    return c?.kind === "bool" ? (c.v ? 0 : 1) : undefined;
  }

  weight(g: Block, m: A.TensorParamDecl, env: Env, path: string): void {
    const report = this.reporter(g.file);
    const shape: number[] = [];
    for (const d of m.type.dims) {
      if (d.kind === "Ellipsis" || d.kind === "Pack") {
        report("TFM3006", d.span, "a weight's shape must be fully known: no `...` or `*pack`");
        return;
      }
      const v = evaluate(d, lookupIn(env), report);
      if (!v || notWhole(v, report)) return;
      if (v.kind !== "int" || v.v < 0) {
        report("TFM3004", d.span, `a dimension must be a non-negative integer, found ${show(v)}`);
        return;
      }
      shape.push(v.v);
    }
    if (shape.reduce((a, b) => a * b, 1) > limits.maxInt) {
      report("TFM3005", m.type.span, `weight of shape [${shape.join(", ")}] has more than 2^53 elements`);
      return;
    }
    if (m.transposed && shape.length !== 2) {
      report("TFM3004", m.span, "`transposed` applies to 2-D weights only");
      return;
    }
    if (m.checkpointName && !validName(m.checkpointName.value)) {
      report("TFM2016", m.checkpointName.span, `\`${m.checkpointName.value}\` is not a valid checkpoint name: use non-empty segments separated by dots`);
      return;
    }
    const name = join(path, m.checkpointName?.value ?? m.name.name);
    const first = this.byName.get(name);
    if (first) {
      this.report("TFM2016", g.file, (m.checkpointName ?? m.name).span, `two weights have the checkpoint name \`${name}\``, [{ file: first.file, span: first.decl.span, message: "the other weight is declared here" }]);
      return;
    }
    this.pushWeight({ name, dtype: m.type.dtype, shape, transposed: m.transposed, decl: m, file: g.file, owner: g.name }, path);
    if (this.weights.length > limits.maxParamTensors) {
      this.report("TFM3008", g.file, m.span, `the model has more than ${limits.maxParamTensors} weight tensors`);
      throw new TooLarge();
    }
  }

  /** A `layer` declaration in the instance at `path` of `parent`: its instances, each copy's parameters checked. */
  layer(m: A.LayerDecl, env: Env, path: string, parent: Block): void {
    const g = this.res.globalsFor(parent.file).get(m.callee.name);
    if (g?.kind !== "block") return; // reported by the resolver
    if (this.active.includes(g.name)) return; // recursion: reported by the resolver
    const report = this.reporter(parent.file);
    if (this.active.length >= limits.maxInstanceDepth) {
      report("TFM3009", m.span, `layers are nested more than ${limits.maxInstanceDepth} deep`);
      return;
    }
    const lookup = lookupIn(env);
    let count = 1;
    if (m.repeat) {
      const v = evaluate(m.repeat, lookup, report);
      if (!v || notWhole(v, report)) return;
      if (v.kind !== "int" || v.v < 0 || v.v > limits.maxRepeat) {
        report("TFM3004", m.repeat.span, `repeat count must be an integer from 0 to ${limits.maxRepeat}, found ${show(v)}`);
        return;
      }
      count = v.v;
    }
    const bound = matchArgs(m.args, blockSig(g), m.span); // mismatches were reported by the resolver
    /** The arguments (of copy `i` of `repeat(n, i)`: each copy's differ), or undefined after an error. */
    const argsOf = (i: number) => {
      const index = m.repeatIndex?.name;
      const at: Lookup = index ? (n) => (n === index ? int(i) : lookup(n)) : lookup;
      const args = new Map<A.ParamDecl, Value | undefined>();
      let ok = true;
      g.decl.params.forEach((p, k) => {
        const a = bound[k];
        if (!a) return;
        const v = evaluate(a.value, at, report);
        // An inexact quotient given for an int is reported here, in the caller's file; past it, it is a plain number.
        if (!v || (p.type?.kind === "ScalarType" && p.type.name === "int" && notWhole(v, report))) ok = false;
        args.set(p, v?.kind === "float" ? { kind: "float", v: v.v } : v);
      });
      return ok ? args : undefined;
    };
    const copies = [argsOf(0)];
    if (m.repeatIndex) for (let i = 1; i < count; i++) copies.push(argsOf(i));
    if (copies.some((a) => !a)) return;
    if (m.checkpointName && !validName(m.checkpointName.value)) {
      report("TFM2016", m.checkpointName.span, `\`${m.checkpointName.value}\` is not a valid checkpoint name: use non-empty segments separated by dots`);
      return;
    }
    const base = join(path, m.checkpointName?.value ?? m.name.name);
    this.active.push(g.name);
    try {
      this.trace.within({ file: parent.file, span: m.span, what: `\`${g.name}\` (${base})` }, () => {
        let hp = this.hparams(g, (p) => copies[0]!.get(p));
        for (let i = 0; i < count && hp; i++) {
          if (this.instances.length > limits.maxInstances) {
            report("TFM3008", m.span, `the model has more than ${limits.maxInstances} layer instances`);
            throw new TooLarge();
          }
          const p = m.repeat ? join(base, String(i)) : base;
          const frame = { file: parent.file, span: m.span, what: `\`${g.name}\` (${p})` };
          this.trace.replaceTop(frame);
          if (i > 0 && m.repeatIndex) hp = this.hparams(g, (p) => copies[i]!.get(p));
          if (!hp) return;
          this.add({ path: p, parent: path, pos: m.span.start, copy: i, block: g, hparams: hp, frame });
        }
      });
    } finally {
      this.active.pop();
    }
  }

  // ---- memoized applications -----------------------------------------------------------------

  mark(): Mark {
    return { i: this.instances.length, w: this.weights.length, s: this.states.length, g: this.ignored.length, e: this.errors };
  }

  since(m: Mark): Made {
    return { instances: this.instances.slice(m.i), weights: this.weights.slice(m.w), states: this.states.slice(m.s), ignored: this.ignored.slice(m.g), errors: this.errors - m.e };
  }

  /**
   * Makes again, under `to`, what an application at `from` made; false (nothing made) where
   * walking the body again is needed to report what it would: an error in the first, a name or
   * path the model has already, a limit passed.
   */
  replay(made: Made, from: string, to: string): boolean {
    if (from === to) return true;
    const re = (name: string) => (name === from ? to : name.startsWith(from + ".") ? to + name.slice(from.length) : name);
    if (made.errors || this.walked.has(to)) return false;
    if (made.instances.some((r) => this.byPath.has(re(r.path))) || made.weights.some(({ w }) => this.byName.has(re(w.name)))) return false;
    if (this.instances.length + made.instances.length > limits.maxInstances || this.weights.length + made.weights.length > limits.maxParamTensors) return false;
    this.walked.add(to);
    for (const r of made.instances) {
      this.add({ ...r, path: re(r.path), parent: r.parent === undefined ? undefined : re(r.parent), frame: r.frame && { ...r.frame, what: r.frame.what.replace(`(${r.path})`, `(${re(r.path)})`) } });
      if (this.walked.has(r.path)) this.walked.add(re(r.path));
    }
    for (const { w, at } of made.weights) this.pushWeight({ ...w, name: re(w.name) }, re(at));
    for (const { s, at } of made.states) this.state(s.decl, re(at), s.file);
    for (const g of made.ignored) {
      const at = re(g.at);
      if (this.once(`g:${at}:${g.pos}:${g.k}`)) this.ignored.push({ ...g, at, pattern: re(g.pattern) });
    }
    return true;
  }

  // ---- the result ----------------------------------------------------------------------------

  /** The instantiated model, in declaration order. */
  result(): Instantiation {
    const keys = new Map<string, number[]>();
    const key = (path: string): number[] => {
      let k = keys.get(path);
      if (k) return k;
      const r = this.byPath.get(path);
      k = r?.parent === undefined ? [] : [...key(r.parent), r.pos, r.copy];
      keys.set(path, k);
      return k;
    };
    const order = <T>(items: readonly T[], at: (t: T) => string, pos: (t: T) => number): T[] =>
      items.map((t, i) => ({ t, k: [...key(at(t)), pos(t)], i })).sort((a, b) => compare(a.k, b.k) || a.i - b.i).map((x) => x.t);
    // Each instance's children in declaration order, then the tree from the model down.
    const sorted = this.instances.slice(1).sort((a, b) => compare(key(a.path), key(b.path)));
    const kids = new Map<string, InstanceRec[]>();
    for (const r of sorted) {
      const list = kids.get(r.parent!);
      if (list) list.push(r);
      else kids.set(r.parent!, [r]);
    }
    const tree = (r: InstanceRec): Instance => ({ path: r.path, block: r.block, hparams: r.hparams, children: (kids.get(r.path) ?? []).map(tree) });
    return {
      model: tree(this.instances[0]!),
      weights: order(this.weights, (x) => x.at, (x) => x.w.decl.span.start).map((x) => x.w),
      ignored: order(this.ignored, (x) => x.at, (x) => x.pos).map((x) => x.pattern),
      states: order(this.states, (x) => x.at, (x) => x.s.decl.span.start).map((x) => x.s),
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  private hparams(g: Block, given: (p: A.ParamDecl) => Value | undefined): Map<string, Value> | undefined {
    return paramValues(g, given, (code, file, span, message) => this.report(code, file, span, message));
  }

  private add(r: InstanceRec): void {
    if (this.byPath.has(r.path)) return;
    this.byPath.set(r.path, r);
    this.instances.push(r);
  }

  private pushWeight(w: Weight, at: string): void {
    this.byName.set(w.name, w);
    this.weights.push({ w, at });
  }

  private report(code: Code, file: string, span: Span, message: string, related: Related[] = []): void {
    this.errors++;
    this.trace.report(code, file, span, message, { related });
  }

  private reporter(file: string) {
    return (code: Code, span: Span, message: string) => this.report(code, file, span, message);
  }

  private once(k: string): boolean {
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    return true;
  }
}

/**
 * The model's parameters: given by `--set` or defaulted, each checked against its type; undefined
 * after reporting a setting the model does not have or a value that does not fit.
 */
export function modelParams(model: Block, settings: ReadonlyMap<string, Value>, userFile: string, sink: DiagnosticSink): Map<string, Value> | undefined {
  const known = new Set(model.decl.params.map((p) => p.name.name));
  for (const [name] of settings) {
    if (!known.has(name)) {
      sink.report("TFM2013", model.decl.name.span, `model \`${model.name}\` has no parameter \`${name}\` (from --set)`, { notes: [`its parameters are: ${[...known].join(", ") || "(none)"}`] });
      return undefined;
    }
  }
  const trace = new TraceReporter(sink, userFile);
  return paramValues(model, (p) => settings.get(p.name.name), (code, file, span, message) => trace.report(code, file, span, message, { related: [] }));
}

/** Parameter values: given (by argument or --set) or defaulted, each checked against its type. */
function paramValues(g: Block, given: (p: A.ParamDecl) => Value | undefined, report: (code: Code, file: string, span: Span, message: string) => void): Map<string, Value> | undefined {
  const env = new Map<string, Value>();
  const inFile = (code: Code, span: Span, message: string) => report(code, g.file, span, message);
  for (const p of g.decl.params) {
    // The default is evaluated once: for its value, and because an untyped parameter takes its
    // type (`n_layer = 12` is an int). Its errors matter only when no value is given.
    const value = given(p);
    const dflt = p.default ? evaluate(p.default, (n) => env.get(n), value ? () => {} : inFile) : undefined;
    const declared = p.type?.kind === "ScalarType" ? p.type.name : dflt?.kind;
    const v = value ?? dflt;
    if (!v) {
      if (!p.default) report("TFM2006", g.file, p.span, `parameter \`${p.name.name}\` of \`${g.name}\` has no value`);
      return undefined;
    }
    const typed = coerce(v, declared, p.name.span, inFile);
    if (!typed) return undefined;
    env.set(p.name.name, typed);
  }
  return env;
}

/** Whether the model or a block it declares layers of (in any branch) keeps state. */
export function declaresState(res: { globalsFor(file: string): ReadonlyMap<string, GlobalSym> }, model: Block): boolean {
  const seen = new Set<A.BlockDecl>();
  const stack: Block[] = [model];
  for (let g = stack.pop(); g; g = stack.pop()) {
    if (seen.has(g.decl)) continue;
    seen.add(g.decl);
    const file = g.file;
    const visit = (ms: readonly A.Member[]): boolean => ms.some((m) => {
      if (m.kind === "State") return true;
      if (m.kind === "If") return visit(m.then) || visit(m.else_ ?? []);
      if (m.kind === "Layer") {
        const c = res.globalsFor(file).get(m.callee.name);
        if (c?.kind === "block") stack.push(c);
      }
      return false;
    });
    if (visit(g.decl.body)) return true;
  }
  return false;
}

const lookupIn = (env: Env): Lookup => (n) => env.get(n);

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);
const validName = (s: string) => s.split(".").every((seg) => seg.length > 0 && !/[\s\u0000-\u001f]/.test(seg));

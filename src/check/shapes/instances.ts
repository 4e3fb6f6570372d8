// The model instantiated by the shape checker's walk of it: every layer instance by path, with
// its parameters as compile-time values; every weight with its checkpoint name (like a PyTorch
// state_dict key), shape and dtype; every state and `ignore` pattern; and the instantiation's own
// errors (a weight's shape not known at compile time, a bad repeat count, two weights with one
// checkpoint name, ...), reported where the user typed them with an instantiation trace.
//
// The checker calls the hooks below as it meets each member of a block instance's body, in
// order, with the instance's compile-time environment (`Env`: parameters, and the scalars bound
// so far; run-time values as "runtime"; keyed by the resolver's symbols, as the checker's own
// environment is, so both read one binding of every name); a body without an environment (a branch not taken, the
// layers under a layer whose parameters failed) is no instance. A memoized application replays
// what the first one made under its own path. The result lists everything in declaration order
// (depth first, members in source order), as a checkpoint's reader expects.
import type { Code } from "../../diag/codes.js";
import type { Diagnostic, DiagnosticSink, Related } from "../../diag/diagnostic.js";
import type { Span } from "../../diag/span.js";
import type * as A from "../../syntax/ast.js";
import { limits } from "../../syntax/limits.js";
import { matchArgs } from "../args.js";
import { blockSig, type Resolution } from "../resolve.js";
import type { GlobalSym, Sym } from "../symbols.js";
import { TraceReporter, type Frame } from "../trace.js";
import type { Instance, Instantiation, Weight } from "../elaborated.js";
import { coerce, evaluate, int, notWhole, show, type Lookup, type Value } from "../evaluate.js";

type Block = GlobalSym & { kind: "block" };
type State = Instantiation["states"][number];

/** A block instance's compile-time values by symbol: parameters and scalars; tensors and input dims as "runtime". */
export type Env = Map<Sym, Value | "runtime">;

/** What the walk reads of the resolution: the symbol of each name, the globals of each file. */
type Names = Pick<Resolution, "symbolOf" | "globalsFor">;

/** The model has more weights or instances than the limits allow: the instantiation stops. */
export class TooLarge extends Error {}

/** A layer instance: its parent, where it sits there (the layer's declaration, the copy of a stack), and the frame its body is instantiated in. */
interface InstanceRec {
  readonly path: string;
  readonly parent: InstanceRec | undefined;
  readonly pos: number;
  readonly copy: number;
  readonly block: Block;
  readonly hparams: ReadonlyMap<string, Value>;
  /** Where the layer is declared (absent for the model): the frame `\`Block\` (path)` of its body. */
  readonly at: { readonly file: string; readonly span: Span } | undefined;
}

/** What one application made, in the order made (each with the path of the instance it belongs to and its position there). */
export interface Made {
  /** The instance applied. */
  readonly root: InstanceRec;
  readonly instances: readonly InstanceRec[];
  readonly weights: readonly { readonly w: Weight; readonly at: InstanceRec }[];
  readonly states: readonly { readonly s: State; readonly at: InstanceRec }[];
  readonly ignored: readonly { readonly pattern: string; readonly at: InstanceRec; readonly pos: number; readonly k: number }[];
  /** Errors reported meanwhile: an application with errors is walked again, not replayed. */
  readonly errors: number;
}

export interface CopyMark {
  readonly r: InstanceRec;
  readonly entered: number;
  readonly w: number;
  readonly e: number;
}

interface Mark {
  readonly root: InstanceRec;
  readonly i: number;
  readonly w: number;
  readonly s: number;
  readonly g: number;
  readonly e: number;
}

export class InstanceWalk {
  private readonly instances: InstanceRec[] = [];
  /** The instances by path (two layers with one checkpoint path are two instances, and their weights' names collide). */
  private readonly byPath = new Map<string, InstanceRec[]>();
  private readonly weights: { w: Weight; at: InstanceRec }[] = [];
  private readonly byName = new Map<string, Weight>();
  private readonly states: { s: State; at: InstanceRec }[] = [];
  private readonly ignored: { pattern: string; at: InstanceRec; pos: number; k: number }[] = [];
  private readonly seen = new Set<string>();
  /** The instances whose bodies the checker walked; the one being walked last in `current`. */
  private readonly walked = new Set<InstanceRec>();
  private readonly children = new Map<InstanceRec, InstanceRec[]>();
  private readonly current: InstanceRec[] = [];
  private readonly trace: TraceReporter;
  /**
   * The errors, each with where a walk in declaration order meets it (the instance's place, the
   * member's position, the copy): reported in that order, whatever order this walk met them in.
   */
  private readonly found: { d: Diagnostic; key: number[]; i: number }[] = [];
  private member = 0;
  private copy: number | undefined;
  /** Blocks of the instances being walked, innermost last. */
  private readonly active: string[] = [];
  private errors = 0;
  /**
   * The instances entered so far (walked, or made again by a replay): TFM3008 counts these, so the
   * limit is passed where a walk in declaration order passes it, not where a `layer` declaration
   * merely names its copies.
   */
  private entered = 0;

  constructor(private readonly res: Names, model: Block, hparams: ReadonlyMap<string, Value>, userFile: string) {
    const key = () => [...this.keyOf(this.here), this.member, ...(this.copy === undefined ? [] : [this.copy])];
    this.trace = new TraceReporter({ add: (d) => this.found.push({ d, key: key(), i: this.found.length }) }, userFile, false);
    this.add({ path: "", parent: undefined, pos: 0, copy: 0, block: model, hparams, at: undefined });
  }

  /** The errors into `sink`, in declaration order, one per place and message. */
  flush(sink: DiagnosticSink): void {
    this.settle();
    const seen = new Set<string>();
    for (const { d } of this.found.sort((a, b) => compare(a.key, b.key) || a.i - b.i)) {
      const k = `${d.code}:${d.file}:${d.span.start}:${d.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      sink.add(d);
    }
    this.found.length = 0;
  }

  // ---- the walk ------------------------------------------------------------------------------

  /** The environment of the instance at `path` when its body is walked, or undefined when it is no instance (or walked already); `f` runs in its frame. */
  enter<T>(path: string, f: (env: Env | undefined) => T): T {
    const r = this.pendingAt(path);
    // A layer applied twice is one instance: its body is instantiated once.
    if (!r) return f(undefined);
    if (++this.entered > limits.maxInstances) this.tooManyInstances(r, r.path);
    this.walked.add(r);
    this.current.push(r);
    const frame = frameOf(r);
    if (frame) this.active.push(r.block.name);
    try {
      const env = this.envOf(r);
      return frame ? this.trace.within(frame, () => f(env)) : f(env);
    } finally {
      if (frame) this.active.pop();
      this.current.pop();
    }
  }

  /** Whether an application at `path` is an instance whose body is still to be walked. */
  pending(path: string): boolean {
    return !!this.pendingAt(path);
  }

  /** The instances a `layer` declaration of the instance being walked made whose bodies were not walked (never applied). */
  unwalked(m: A.LayerDecl): { path: string; copy: number }[] {
    return (this.children.get(this.here) ?? []).filter((r) => r.pos === m.span.start && !this.walked.has(r)).map((r) => ({ path: r.path, copy: r.copy }));
  }

  input(m: A.InputDecl, env: Env): void {
    this.member = m.span.start;
    for (const d of m.type.dims) {
      const s = d.kind === "Name" ? this.res.symbolOf(d) : undefined;
      if (s && !env.has(s)) env.set(s, "runtime");
    }
    this.set(env, m.name, "runtime");
  }

  /** Bindings may fail to evaluate because they are tensors: that is not an error here. */
  assign(m: A.Assign, env: Env, file: string): void {
    this.member = m.span.start;
    const report = this.reporter(file);
    const quiet = (code: Code, span: Span, message: string) => { if (code !== "TFM3006" && code !== "TFM3002") report(code, span, message); };
    const v = m.targets.length === 1 ? evaluate(m.value, this.lookupIn(env), quiet) : undefined;
    for (const t of m.targets) this.set(env, t, v ?? "runtime");
  }

  output(m: A.OutputDecl, env: Env): void {
    if (m.value) this.set(env, m.name, "runtime");
  }

  state(m: A.StateDecl, path: string, file: string): void {
    this.pushState({ name: join(path, m.name.name), decl: m, file }, this.here);
  }

  ignore(m: A.IgnoreDecl, path: string): void {
    m.patterns.forEach((p, k) => this.ignored.push({ pattern: join(path, p.value), at: this.here, pos: m.span.start, k }));
  }

  /** The branch of an `if` the parameters select (0: then, 1: else), or undefined after an error. */
  cond(m: A.If, env: Env, file: string): 0 | 1 | undefined {
    this.member = m.span.start;
    const report = this.reporter(file);
    const c = evaluate(m.cond, this.lookupIn(env), report);
    if (c && c.kind !== "bool") report("TFM3002", m.cond.span, `an \`if\` condition must be a compile-time bool, found ${c.kind} ${show(c)}`);
    return c?.kind === "bool" ? (c.v ? 0 : 1) : undefined;
  }

  weight(g: Block, m: A.TensorParamDecl, env: Env, path: string): void {
    this.member = m.span.start;
    const report = this.reporter(g.file);
    const shape: number[] = [];
    for (const d of m.type.dims) {
      if (d.kind === "Ellipsis" || d.kind === "Pack") {
        report("TFM3006", d.span, "a weight's shape must be fully known: no `...` or `*pack`");
        return;
      }
      const v = evaluate(d, this.lookupIn(env), report);
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
    // Two weights with one name are found in declaration order, when the walk is done (`settle`).
    const name = join(path, m.checkpointName?.value ?? m.name.name);
    this.pushWeight({ name, dtype: m.type.dtype, shape, transposed: m.transposed, decl: m, file: g.file, owner: g.name }, this.here);
    if (this.weights.length > limits.maxParamTensors) {
      this.report("TFM3008", g.file, m.span, `the model has more than ${limits.maxParamTensors} weight tensors`);
      throw new TooLarge();
    }
  }

  /** A `layer` declaration in the instance at `path` of `parent`: its instances, each copy's parameters checked. */
  layer(m: A.LayerDecl, env: Env, path: string, parent: Block): void {
    this.member = m.span.start;
    try {
      this.layerIn(m, env, path, parent);
    } finally {
      this.copy = undefined;
    }
  }

  private layerIn(m: A.LayerDecl, env: Env, path: string, parent: Block): void {
    const g = this.res.symbolOf(m.callee);
    if (g?.kind !== "block") return; // reported by the resolver
    if (this.active.includes(g.name)) return; // recursion: reported by the resolver
    const report = this.reporter(parent.file);
    if (this.active.length >= limits.maxInstanceDepth) {
      report("TFM3009", m.span, `layers are nested more than ${limits.maxInstanceDepth} deep`);
      return;
    }
    const lookup = this.lookupIn(env);
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
      const index = m.repeatIndex && this.res.symbolOf(m.repeatIndex);
      const at: Lookup = index ? (n) => (this.res.symbolOf(n) === index ? int(i) : lookup(n)) : lookup;
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
    const here = this.here;
    this.active.push(g.name);
    try {
      this.trace.within({ file: parent.file, span: m.span, what: `\`${g.name}\` (${base})` }, () => {
        this.copy = 0;
        let hp = this.hparams(g, (p) => copies[0]!.get(p));
        for (let i = 0; i < count && hp; i++) {
          this.copy = i;
          const p = m.repeat ? join(base, String(i)) : base;
          const at = { file: parent.file, span: m.span };
          this.trace.replaceTop({ ...at, what: `\`${g.name}\` (${p})` });
          if (i > 0 && m.repeatIndex) hp = this.hparams(g, (p) => copies[i]!.get(p));
          if (!hp) return;
          this.add({ path: p, parent: here, pos: m.span.start, copy: i, block: g, hparams: hp, at });
        }
      });
    } finally {
      this.active.pop();
    }
  }

  // ---- memoized applications -----------------------------------------------------------------

  /** Before the application at `path` (an instance still to be walked) walks its body. */
  mark(path: string): Mark {
    return { root: this.pendingAt(path)!, i: this.instances.length, w: this.weights.length, s: this.states.length, g: this.ignored.length, e: this.errors };
  }

  since(m: Mark): Made {
    return { root: m.root, instances: this.instances.slice(m.i), weights: this.weights.slice(m.w), states: this.states.slice(m.s), ignored: this.ignored.slice(m.g), errors: this.errors - m.e };
  }

  /**
   * Makes again, for the application at `to` (an instance still to be walked), what the
   * application at `from` made; false (nothing made) where walking the body again is needed to
   * report what it would: an error in the first, a path or name the model has already, a limit passed.
   */
  replay(made: Made, from: string, to: string): boolean {
    const prefix = from + ".";
    const re = (name: string) => (name === from ? to : name.startsWith(prefix) ? to + name.slice(from.length) : name);
    const target = this.pendingAt(to);
    if (!target || made.errors) return false;
    const paths = made.instances.map((r) => re(r.path));
    if (paths.some((p) => this.byPath.has(p)) || made.weights.some(({ w }) => this.byName.has(re(w.name)))) return false;
    if (this.entered + 1 + made.instances.length > limits.maxInstances || this.weights.length + made.weights.length > limits.maxParamTensors) return false;
    this.entered += 1 + made.instances.length;
    this.walked.add(target);
    const again = new Map<InstanceRec, InstanceRec>([[made.root, target]]);
    const at = (r: InstanceRec) => again.get(r) ?? r;
    for (const [k, r] of made.instances.entries()) {
      const copy = { ...r, path: paths[k]!, parent: r.parent && at(r.parent) };
      again.set(r, copy);
      this.add(copy);
      if (this.walked.has(r)) this.walked.add(copy);
    }
    for (const { w, at: r } of made.weights) this.pushWeight({ ...w, name: re(w.name) }, at(r));
    for (const { s, at: r } of made.states) this.pushState({ ...s, name: re(s.name) }, at(r));
    for (const g of made.ignored) this.ignored.push({ ...g, at: at(g.at), pattern: re(g.pattern) });
    return true;
  }

  // ---- repeat stacks past the limits ---------------------------------------------------------

  /** Before copy 0 of a stack (at `path`) is applied, when it is an instance still to be walked. */
  copyMark(path: string): CopyMark | undefined {
    const r = this.pendingAt(path);
    return r && { r, entered: this.entered, w: this.weights.length, e: this.errors };
  }

  /**
   * After copy 0 of a stack: each of the `remaining` copies (same block, same parameters) makes as
   * many instances and weights as it did. Where they would pass a limit, TFM3008 is reported at
   * the instance or weight that passes it in declaration order, without walking the copies before
   * it (`repeat(1500)` of `repeat(1500)`), and the instantiation stops. A copy 0 with errors is no
   * guide: the copies are then walked one by one, to report what each would.
   */
  stackFits(mark: CopyMark, remaining: number): void {
    if (this.errors !== mark.e || remaining <= 0) return;
    const [si, sw] = [this.entered - mark.entered, this.weights.length - mark.w];
    const overI = si > 0 && this.entered + remaining * si > limits.maxInstances;
    const overW = sw > 0 && this.weights.length + remaining * sw > limits.maxParamTensors;
    if (!overI && !overW) return;
    const r = mark.r;
    const under = (x: InstanceRec | undefined): boolean => {
      for (; x; x = x.parent) if (x === r) return true;
      return false;
    };
    const byKey = <T>(items: T[], key: (t: T) => number[]) => items.map((t) => ({ t, k: key(t) })).sort((a, b) => compare(a.k, b.k)).map((x) => x.t);
    // The copy that passes a limit (1 + k after copy 0) and what in it: the j-th in declaration order of what copy 0 made.
    const cands: { copy: number; key: number[]; at: InstanceRec; report: (rename: (p: string) => string) => void }[] = [];
    if (overI) {
      const need = limits.maxInstances - this.entered;
      const k = Math.floor(need / si);
      const t = byKey(this.instances.filter(under), (x) => this.keyOf(x))[need - k * si]!;
      cands.push({ copy: 1 + k, key: this.keyOf(t), at: t, report: (rename) => this.tooManyInstances(t, rename(t.path), true) });
    }
    if (overW) {
      const need = limits.maxParamTensors - this.weights.length;
      const k = Math.floor(need / sw);
      const x = byKey(this.weights.slice(mark.w).filter((x) => under(x.at)), (x) => [...this.keyOf(x.at), x.w.decl.span.start])[need - k * sw]!;
      cands.push({ copy: 1 + k, key: [...this.keyOf(x.at), x.w.decl.span.start], at: x.at, report: () => this.report("TFM3008", x.w.file, x.w.decl.span, `the model has more than ${limits.maxParamTensors} weight tensors`) });
    }
    const first = cands.sort((a, b) => a.copy - b.copy || compare(a.key, b.key))[0]!;
    const base = r.path.slice(0, r.path.lastIndexOf("."));
    const to = `${base}.${first.copy}`;
    const rename = (p: string) => (p === r.path ? to : p.startsWith(r.path + ".") ? to + p.slice(r.path.length) : p);
    // The frames of that copy and the instances below it down to the one that passes the limit.
    const chain: InstanceRec[] = [];
    for (let x: InstanceRec | undefined = first.at; x && x !== r.parent; x = x.parent) chain.unshift(x);
    const nest = (i: number): void => {
      const x = chain[i];
      if (!x) return first.report(rename);
      const frame = frameOf(x);
      if (frame) this.trace.within({ ...frame, what: `\`${x.block.name}\` (${rename(x.path)})` }, () => nest(i + 1));
      else nest(i + 1);
    };
    [this.member, this.copy] = [r.pos, first.copy];
    nest(0);
    throw new TooLarge();
  }

  /** TFM3008 at the instance `r` (shown at `path`), the one past the limit; the instantiation stops. */
  private tooManyInstances(r: InstanceRec, path: string, framed = false): never {
    const at = r.at!;
    const report = () => this.report("TFM3008", at.file, at.span, `the model has more than ${limits.maxInstances} layer instances`);
    [this.member, this.copy] = [r.pos, r.copy];
    if (framed) report();
    else this.trace.within({ ...at, what: `\`${r.block.name}\` (${path})` }, report);
    throw new TooLarge();
  }

  // ---- the result ----------------------------------------------------------------------------

  /** The instantiated model, in declaration order. */
  result(): Instantiation {
    const key = (r: InstanceRec) => this.keyOf(r);
    const order = <T>(items: readonly T[], at: (t: T) => InstanceRec, pos: (t: T) => number): T[] =>
      items.map((t, i) => ({ t, k: [...key(at(t)), pos(t)], i })).sort((a, b) => compare(a.k, b.k) || a.i - b.i).map((x) => x.t);
    // Each instance's children in declaration order, then the tree from the model down.
    const kids = new Map<InstanceRec, InstanceRec[]>();
    for (const r of this.instances.slice(1).sort((a, b) => compare(key(a), key(b)))) {
      const list = kids.get(r.parent!);
      if (list) list.push(r);
      else kids.set(r.parent!, [r]);
    }
    const tree = (r: InstanceRec): Instance => ({ path: r.path, block: r.block, hparams: r.hparams, children: (kids.get(r) ?? []).map(tree) });
    return {
      model: tree(this.instances[0]!),
      weights: order(this.weights, (x) => x.at, (x) => x.w.decl.span.start).map((x) => x.w),
      ignored: order(this.ignored, (x) => x.at, (x) => x.pos).map((x) => x.pattern),
      states: order(this.states, (x) => x.at, (x) => x.s.decl.span.start).map((x) => x.s),
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Of two weights with one checkpoint name, the second in declaration order is an error (and no weight). */
  private settle(): void {
    const byName = new Map<string, Weight>();
    const kept: { w: Weight; at: InstanceRec }[] = [];
    const sorted = this.weights.map((x, i) => ({ x, k: [...this.keyOf(x.at), x.w.decl.span.start], i })).sort((a, b) => compare(a.k, b.k) || a.i - b.i);
    for (const { x } of sorted) {
      const first = byName.get(x.w.name);
      if (!first) {
        byName.set(x.w.name, x.w);
        kept.push(x);
        continue;
      }
      const m = x.w.decl;
      this.within(x.at, m.span.start, () => this.report("TFM2016", x.w.file, (m.checkpointName ?? m.name).span, `two weights have the checkpoint name \`${x.w.name}\``, [{ file: first.file, span: first.decl.span, message: "the other weight is declared here" }]));
    }
    const order = new Set(kept);
    this.weights.splice(0, this.weights.length, ...this.weights.filter((x) => order.has(x)));
  }

  /** Runs `f` as if walking the body of `r` at the member at `member`: in its frames, with its place. */
  private within(r: InstanceRec, member: number, f: () => void): void {
    const chain: InstanceRec[] = [];
    for (let x: InstanceRec | undefined = r; x; x = x.parent) chain.unshift(x);
    const nest = (i: number): void => {
      const frame = chain[i] && frameOf(chain[i]!);
      if (i >= chain.length) f();
      else if (frame) this.trace.within(frame, () => nest(i + 1));
      else nest(i + 1);
    };
    this.current.push(r);
    [this.member, this.copy] = [member, undefined];
    try {
      nest(0);
    } finally {
      this.current.pop();
    }
  }

  private hparams(g: Block, given: (p: A.ParamDecl) => Value | undefined): Map<string, Value> | undefined {
    return paramValues(this.res, g, given, (code, file, span, message) => this.report(code, file, span, message));
  }

  /** The environment an instance's body starts with: its parameters, by their symbols. */
  private envOf(r: InstanceRec): Env {
    const env: Env = new Map();
    for (const p of r.block.decl.params) {
      const [s, v] = [this.res.symbolOf(p.name), r.hparams.get(p.name.name)];
      if (s && v) env.set(s, v);
    }
    return env;
  }

  private set(env: Env, name: A.Ident, v: Value | "runtime"): void {
    const s = this.res.symbolOf(name);
    if (s) env.set(s, v);
  }

  private lookupIn(env: Env): Lookup {
    return (n) => {
      const s = this.res.symbolOf(n);
      return s && env.get(s);
    };
  }

  /** Where a walk in declaration order meets an instance: its parent's place, then its layer's position and copy. */
  private readonly keys = new Map<InstanceRec, number[]>();
  private keyOf(r: InstanceRec): number[] {
    let k = this.keys.get(r);
    if (!k) this.keys.set(r, (k = r.parent ? [...this.keyOf(r.parent), r.pos, r.copy] : []));
    return k;
  }

  /** The instance whose body is being walked. */
  private get here(): InstanceRec {
    return this.current[this.current.length - 1]!;
  }

  private pendingAt(path: string): InstanceRec | undefined {
    return this.byPath.get(path)?.find((r) => !this.walked.has(r));
  }

  private add(r: InstanceRec): void {
    const list = this.byPath.get(r.path);
    if (list) list.push(r);
    else this.byPath.set(r.path, [r]);
    this.instances.push(r);
    if (r.parent) {
      const kids = this.children.get(r.parent);
      if (kids) kids.push(r);
      else this.children.set(r.parent, [r]);
    }
  }

  private pushWeight(w: Weight, at: InstanceRec): void {
    this.byName.set(w.name, w);
    this.weights.push({ w, at });
  }

  private pushState(s: State, at: InstanceRec): void {
    if (this.once(`s:${s.name}`)) this.states.push({ s, at });
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
export function modelParams(res: Names, model: Block, settings: ReadonlyMap<string, Value>, userFile: string, sink: DiagnosticSink): Map<string, Value> | undefined {
  const known = new Set(model.decl.params.map((p) => p.name.name));
  for (const [name] of settings) {
    if (!known.has(name)) {
      sink.report("TFM2013", model.decl.name.span, `model \`${model.name}\` has no parameter \`${name}\` (from --set)`, { notes: [`its parameters are: ${[...known].join(", ") || "(none)"}`] });
      return undefined;
    }
  }
  const trace = new TraceReporter(sink, userFile);
  return paramValues(res, model, (p) => settings.get(p.name.name), (code, file, span, message) => trace.report(code, file, span, message, { related: [] }));
}

/** Parameter values (by name, as an instance lists them): given (by argument or --set) or defaulted, each checked against its type. */
function paramValues(res: Names, g: Block, given: (p: A.ParamDecl) => Value | undefined, report: (code: Code, file: string, span: Span, message: string) => void): Map<string, Value> | undefined {
  const env = new Map<string, Value>();
  /** A default names the parameters before it, by their symbols. */
  const bySym = new Map<Sym, Value>();
  const inFile = (code: Code, span: Span, message: string) => report(code, g.file, span, message);
  for (const p of g.decl.params) {
    // The default is evaluated once: for its value, and because an untyped parameter takes its
    // type (`n_layer = 12` is an int). Its errors matter only when no value is given.
    const value = given(p);
    const dflt = p.default ? evaluate(p.default, (n) => { const s = res.symbolOf(n); return s && bySym.get(s); }, value ? () => {} : inFile) : undefined;
    const declared = p.type?.kind === "ScalarType" ? p.type.name : dflt?.kind;
    const v = value ?? dflt;
    if (!v) {
      if (!p.default) report("TFM2006", g.file, p.span, `parameter \`${p.name.name}\` of \`${g.name}\` has no value`);
      return undefined;
    }
    const typed = coerce(v, declared, p.name.span, inFile);
    if (!typed) return undefined;
    env.set(p.name.name, typed);
    const s = res.symbolOf(p.name);
    if (s) bySym.set(s, typed);
  }
  return env;
}

/** Whether the model or a block it declares layers of (in any branch) keeps state. */
export function declaresState(res: Names, model: Block): boolean {
  const seen = new Set<A.BlockDecl>();
  const stack: Block[] = [model];
  for (let g = stack.pop(); g; g = stack.pop()) {
    if (seen.has(g.decl)) continue;
    seen.add(g.decl);
    const visit = (ms: readonly A.Member[]): boolean => ms.some((m) => {
      if (m.kind === "State") return true;
      if (m.kind === "If") return visit(m.then) || visit(m.else_ ?? []);
      if (m.kind === "Layer") {
        const c = res.symbolOf(m.callee);
        if (c?.kind === "block") stack.push(c);
      }
      return false;
    });
    if (visit(g.decl.body)) return true;
  }
  return false;
}


/** The frame an instance's body is instantiated in: `\`Linear\` (h.0.mlp.c_fc)`, at its layer's declaration. */
const frameOf = (r: InstanceRec): Frame | undefined => r.at && { ...r.at, what: `\`${r.block.name}\` (${r.path})` };

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);
const validName = (s: string) => s.split(".").every((seg) => seg.length > 0 && !/[\s\u0000-\u001f]/.test(seg));

// Instantiates the model with concrete parameter values: the tree of layer instances, every
// weight tensor with its checkpoint name (like a PyTorch state_dict key) and shape, and the
// checkpoint entries the model knowingly ignores. Errors inside blocks are reported where the
// user typed them, with an instantiation trace.
import type { Code } from "../diag/codes.js";
import type { DiagnosticSink, Related } from "../diag/diagnostic.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import { limits } from "../syntax/limits.js";
import { matchArgs } from "./args.js";
import { blockSig, type Resolution } from "./resolve.js";
import type { GlobalSym } from "./symbols.js";
import { TraceReporter } from "./trace.js";
import { coerce, evaluate, int, notWhole, show, type Lookup, type Value } from "./evaluate.js";

export type { Instance, Instantiation, Weight } from "./elaborated.js";
import type { Instance, Instantiation, Weight } from "./elaborated.js";

export function instantiate(
  res: Resolution,
  model: GlobalSym & { kind: "block" },
  settings: ReadonlyMap<string, Value>,
  userFile: string,
  sink: DiagnosticSink,
): Instantiation | undefined {
  return new Instantiator(res, userFile, sink).run(model, settings);
}

class TooLarge extends Error {}

class Instantiator {
  private readonly weights: Weight[] = [];
  private readonly ignored: string[] = [];
  private readonly states: { name: string; decl: A.StateDecl; file: string }[] = [];
  private readonly byName = new Map<string, Weight>();
  private instances = 0;
  private readonly trace: TraceReporter;
  /** Blocks being instantiated, innermost last: guards against recursion (reported by the resolver). */
  private readonly active: string[] = [];

  constructor(private readonly res: Resolution, userFile: string, private readonly sink: DiagnosticSink) {
    this.trace = new TraceReporter(sink, userFile);
  }

  run(model: GlobalSym & { kind: "block" }, settings: ReadonlyMap<string, Value>): Instantiation | undefined {
    const known = new Set(model.decl.params.map((p) => p.name.name));
    for (const [name] of settings) {
      if (!known.has(name)) {
        this.sink.report("TFM2013", model.decl.name.span, `model \`${model.name}\` has no parameter \`${name}\` (from --set)`, { notes: [`its parameters are: ${[...known].join(", ") || "(none)"}`] });
        return undefined;
      }
    }
    const hparams = this.hparams(model, (p) => settings.get(p.name.name));
    if (!hparams) return undefined;
    try {
      const inst = this.instance(model, hparams, "");
      return { model: inst, weights: this.weights, ignored: this.ignored, states: this.states };
    } catch (e) {
      if (e instanceof TooLarge) return undefined;
      throw e;
    }
  }

  private report(code: Code, file: string, span: Span, message: string, related: Related[] = []): void {
    this.trace.report(code, file, span, message, { related });
  }

  private reporter(file: string) {
    return (code: Code, span: Span, message: string) => this.report(code, file, span, message);
  }

  /** Parameter values: given (by argument or --set) or defaulted, each checked against its type. */
  private hparams(g: GlobalSym & { kind: "block" }, given: (p: A.ParamDecl) => Value | undefined): Map<string, Value> | undefined {
    const env = new Map<string, Value>();
    const report = this.reporter(g.file);
    for (const p of g.decl.params) {
      // The default is evaluated once: for its value, and because an untyped parameter takes its
      // type (`n_layer = 12` is an int). Its errors matter only when no value is given.
      const value = given(p);
      const dflt = p.default ? evaluate(p.default, (n) => env.get(n), value ? () => {} : report) : undefined;
      const declared = p.type?.kind === "ScalarType" ? p.type.name : dflt?.kind;
      const v = value ?? dflt;
      if (!v) {
        if (!p.default) this.report("TFM2006", g.file, p.span, `parameter \`${p.name.name}\` of \`${g.name}\` has no value`);
        return undefined;
      }
      const typed = coerce(v, declared, p.name.span, report);
      if (!typed) return undefined;
      env.set(p.name.name, typed);
    }
    return env;
  }

  private instance(g: GlobalSym & { kind: "block" }, hparams: Map<string, Value>, path: string): Instance {
    const children: Instance[] = [];
    const env = new Map<string, Value | "runtime">(hparams);
    this.members(g, g.decl.body, env, path, children);
    return { path, block: g, hparams, children };
  }

  private members(g: GlobalSym & { kind: "block" }, body: readonly A.Member[], env: Map<string, Value | "runtime">, path: string, children: Instance[]): void {
    const lookup: Lookup = (n) => env.get(n);
    const report = this.reporter(g.file);
    // Bindings may fail to evaluate because they are tensors: that is not an error here.
    const quiet = (code: Code, span: Span, message: string) => { if (code !== "TFM3006" && code !== "TFM3002") report(code, span, message); };
    for (const m of body) {
      switch (m.kind) {
        case "Input":
          for (const d of m.type.dims) if (d.kind === "Name" && !env.has(d.name)) env.set(d.name, "runtime");
          env.set(m.name.name, "runtime");
          break;
        case "Assign": {
          const v = m.targets.length === 1 ? evaluate(m.value, lookup, quiet) : undefined;
          for (const t of m.targets) env.set(t.name, v ?? "runtime");
          break;
        }
        case "Output":
          if (m.value) env.set(m.name.name, "runtime");
          break;
        case "TensorParam":
          this.weight(g, m, lookup, path);
          break;
        case "State":
          this.states.push({ name: join(path, m.name.name), decl: m, file: g.file });
          break;
        case "Layer":
          this.layer(m, lookup, path, children, g);
          break;
        case "Ignore":
          for (const s of m.patterns) this.ignored.push(join(path, s.value));
          break;
        case "If": {
          const c = evaluate(m.cond, lookup, report);
          if (c && c.kind !== "bool") report("TFM3002", m.cond.span, `an \`if\` condition must be a compile-time bool, found ${c.kind} ${show(c)}`);
          else if (c) this.members(g, c.v ? m.then : m.else_ ?? [], new Map(env), path, children);
          break;
        }
        case "Return":
          break;
        default: {
          const never: never = m;
          return never;
        }
      }
    }
  }

  private weight(g: GlobalSym & { kind: "block" }, m: A.TensorParamDecl, lookup: Lookup, path: string): void {
    const shape: number[] = [];
    for (const d of m.type.dims) {
      if (d.kind === "Ellipsis" || d.kind === "Pack") {
        this.report("TFM3006", g.file, d.span, "a weight's shape must be fully known: no `...` or `*pack`");
        return;
      }
      const v = evaluate(d, lookup, this.reporter(g.file));
      if (!v || notWhole(v, this.reporter(g.file))) return;
      if (v.kind !== "int" || v.v < 0) {
        this.report("TFM3004", g.file, d.span, `a dimension must be a non-negative integer, found ${show(v)}`);
        return;
      }
      shape.push(v.v);
    }
    if (shape.reduce((a, b) => a * b, 1) > limits.maxInt) {
      this.report("TFM3005", g.file, m.type.span, `weight of shape [${shape.join(", ")}] has more than 2^53 elements`);
      return;
    }
    if (m.transposed && shape.length !== 2) {
      this.report("TFM3004", g.file, m.span, "`transposed` applies to 2-D weights only");
      return;
    }
    if (m.checkpointName && !validName(m.checkpointName.value)) {
      this.report("TFM2016", g.file, m.checkpointName.span, `\`${m.checkpointName.value}\` is not a valid checkpoint name: use non-empty segments separated by dots`);
      return;
    }
    const name = join(path, m.checkpointName?.value ?? m.name.name);
    const first = this.byName.get(name);
    if (first) {
      this.report("TFM2016", g.file, (m.checkpointName ?? m.name).span, `two weights have the checkpoint name \`${name}\``, [{ file: first.file, span: first.decl.span, message: "the other weight is declared here" }]);
      return;
    }
    const w: Weight = { name, dtype: m.type.dtype, shape, transposed: m.transposed, decl: m, file: g.file, owner: g.name };
    this.byName.set(name, w);
    this.weights.push(w);
    if (this.weights.length > limits.maxParamTensors) {
      this.report("TFM3008", g.file, m.span, `the model has more than ${limits.maxParamTensors} weight tensors`);
      throw new TooLarge();
    }
  }

  private layer(m: A.LayerDecl, lookup: Lookup, path: string, children: Instance[], parent: GlobalSym & { kind: "block" }): void {
    const g = this.res.globalsFor(parent.file).get(m.callee.name);
    if (g?.kind !== "block") return; // reported by the resolver
    if (this.active.includes(g.name)) return; // recursion: reported by the resolver
    const report = this.reporter(parent.file);
    if (this.active.length >= limits.maxInstanceDepth) {
      report("TFM3009", m.span, `layers are nested more than ${limits.maxInstanceDepth} deep`);
      return;
    }
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
          if (++this.instances > limits.maxInstances) {
            report("TFM3008", m.span, `the model has more than ${limits.maxInstances} layer instances`);
            throw new TooLarge();
          }
          const p = m.repeat ? join(base, String(i)) : base;
          this.trace.replaceTop({ file: parent.file, span: m.span, what: `\`${g.name}\` (${p})` });
          if (i > 0 && m.repeatIndex) hp = this.hparams(g, (p) => copies[i]!.get(p));
          if (!hp) return;
          children.push(this.instance(g, hp, p));
        }
      });
    } finally {
      this.active.pop();
    }
  }
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);
const validName = (s: string) => s.split(".").every((seg) => seg.length > 0 && !/[\s\u0000-\u001f]/.test(seg));

/** Whether a checkpoint name matches an `ignore` pattern: defined with checkpoint binding (browser-safe). */
export { matchesIgnore } from "../runtime/checkpoint.js";

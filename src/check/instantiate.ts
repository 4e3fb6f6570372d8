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
import { coerce, evaluate, show, type Lookup, type Value } from "./values.js";

export interface Weight {
  /** The checkpoint name: `h.0.attn.c_attn.weight`. */
  readonly name: string;
  readonly dtype: A.DTypeName;
  readonly shape: readonly number[];
  /** The checkpoint holds the transpose of `shape`. */
  readonly transposed: boolean;
  readonly decl: A.TensorParamDecl;
  readonly file: string;
}

export interface Instance {
  /** Checkpoint prefix of this instance: "" for the model, `h.0.attn` below it. */
  readonly path: string;
  readonly block: GlobalSym & { kind: "block" };
  readonly hparams: ReadonlyMap<string, Value>;
  readonly children: readonly Instance[];
}

export interface Instantiation {
  readonly model: Instance;
  readonly weights: readonly Weight[];
  /** Checkpoint-name patterns (`*` matches one path segment) the model does not load. */
  readonly ignored: readonly string[];
}

interface Frame {
  readonly file: string;
  readonly span: Span;
  readonly path: string;
  readonly block: string;
}

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
  private readonly reported = new Set<string>();
  private readonly byName = new Map<string, Weight>();
  private trace: Frame[] = [];

  constructor(private readonly res: Resolution, private readonly userFile: string, private readonly sink: DiagnosticSink) {}

  run(model: GlobalSym & { kind: "block" }, settings: ReadonlyMap<string, Value>): Instantiation | undefined {
    const known = new Set(model.decl.params.map((p) => p.name.name));
    for (const [name] of settings) {
      if (!known.has(name)) {
        this.sink.report("TFM2013", model.decl.name.span, `model \`${model.name}\` has no parameter \`${name}\` (from --set)`, { notes: [`its parameters are: ${[...known].join(", ") || "(none)"}`] });
        return undefined;
      }
    }
    const hparams = this.hparams(model, (p) => settings.get(p.name.name), model.file);
    if (!hparams) return undefined;
    try {
      const inst = this.instance(model, hparams, "");
      return { model: inst, weights: this.weights, ignored: this.ignored };
    } catch (e) {
      if (e instanceof TooLarge) return undefined;
      throw e;
    }
  }

  /** Reports at the user's line: errors inside library blocks move to the innermost user frame. */
  private report(code: Code, file: string, span: Span, message: string, notes: string[] = []): void {
    const frames = [...this.trace].reverse();
    const related: Related[] = frames.map((f) => ({ file: f.file, span: f.span, message: `in \`${f.block}\`${f.path ? ` (${f.path})` : ""}, instantiated here` }));
    let at = { file, span };
    if (file !== this.userFile) {
      const user = frames.find((f) => f.file === this.userFile);
      if (user) {
        related.unshift({ file, span, message: "the error is here" });
        at = { file: user.file, span: user.span };
      }
    }
    const key = `${code}:${at.file}:${at.span.start}:${message}`;
    if (this.reported.has(key)) return; // one report per user line and message: a stack of 12 copies reports once
    this.reported.add(key);
    this.sink.items.push({ code, severity: "error", message, span: at.span, file: at.file, related, notes });
  }

  private reporter(file: string) {
    return (code: Code, span: Span, message: string) => this.report(code, file, span, message);
  }

  /** Parameter values: given (by argument or --set) or defaulted, each checked against its type. */
  private hparams(g: GlobalSym & { kind: "block" }, given: (p: A.ParamDecl) => Value | undefined, argFile: string): Map<string, Value> | undefined {
    const env = new Map<string, Value>();
    const report = this.reporter(g.file);
    for (const p of g.decl.params) {
      // An untyped parameter takes the type of its default: `n_layer = 12` is an int.
      const declared = p.type?.kind === "ScalarType" ? p.type.name : p.default ? evaluate(p.default, (n) => env.get(n), () => {})?.kind : undefined;
      let v = given(p);
      let file = argFile;
      if (!v && p.default) {
        v = evaluate(p.default, (n) => env.get(n), report);
        file = g.file;
      }
      if (!v) {
        if (!p.default) this.report("TFM2006", g.file, p.span, `parameter \`${p.name.name}\` of \`${g.name}\` has no value`);
        return undefined;
      }
      const typed = coerce(v, declared, file === g.file ? p.name.span : this.trace[this.trace.length - 1]?.span ?? p.name.span, this.reporter(file));
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
      if (!v) return;
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
    const name = join(path, m.checkpointName?.value ?? m.name.name);
    const first = this.byName.get(name);
    if (first) {
      this.report("TFM2016", g.file, (m.checkpointName ?? m.name).span, `two weights have the checkpoint name \`${name}\``, [`the other is declared at ${first.file === g.file ? "" : first.file + " "}offset ${first.decl.span.start}`]);
      return;
    }
    const w: Weight = { name, dtype: m.type.dtype, shape, transposed: m.transposed, decl: m, file: g.file };
    this.byName.set(name, w);
    this.weights.push(w);
    if (this.weights.length > limits.maxParamTensors) {
      this.report("TFM3008", g.file, m.span, `the model has more than ${limits.maxParamTensors} weight tensors`);
      throw new TooLarge();
    }
  }

  private layer(m: A.LayerDecl, lookup: Lookup, path: string, children: Instance[], parent: GlobalSym & { kind: "block" }): void {
    const g = this.res.globals.get(m.callee.name);
    if (g?.kind !== "block") return; // reported by the resolver
    if (this.trace.some((f) => f.block === g.name) || this.trace.length > limits.maxNesting) return; // recursion: reported by the resolver
    const report = this.reporter(parent.file);
    let count = 1;
    if (m.repeat) {
      const v = evaluate(m.repeat, lookup, report);
      if (!v) return;
      if (v.kind !== "int" || v.v < 0 || v.v > limits.maxRepeat) {
        report("TFM3004", m.repeat.span, `repeat count must be an integer from 0 to ${limits.maxRepeat}, found ${show(v)}`);
        return;
      }
      count = v.v;
    }
    const bound = matchArgs(m.args, blockSig(g), m.span); // mismatches were reported by the resolver
    const args = new Map<A.ParamDecl, Value | undefined>();
    let ok = true;
    g.decl.params.forEach((p, i) => {
      const a = bound[i];
      if (!a) return;
      const v = evaluate(a.value, lookup, report);
      if (!v) ok = false;
      args.set(p, v);
    });
    if (!ok) return;
    const base = join(path, m.checkpointName?.value ?? m.name.name);
    this.trace.push({ file: parent.file, span: m.span, path: base, block: g.name });
    try {
      const hp = this.hparams(g, (p) => args.get(p), parent.file);
      if (!hp) return;
      for (let i = 0; i < count; i++) {
        const p = m.repeat ? join(base, String(i)) : base;
        const top = this.trace[this.trace.length - 1]!;
        this.trace[this.trace.length - 1] = { ...top, path: p };
        children.push(this.instance(g, hp, p));
      }
    } finally {
      this.trace.pop();
    }
  }
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** Whether a checkpoint name matches an `ignore` pattern (`*` matches one dotted segment). */
export function matchesIgnore(pattern: string, name: string): boolean {
  const p = pattern.split(".");
  const n = name.split(".");
  return p.length === n.length && p.every((s, i) => s === "*" || s === n[i]);
}

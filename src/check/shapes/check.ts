// The shape checker: an abstract interpreter that runs the model on symbolic shapes. Inputs get
// symbolic dims (batch, seq); every layer application and function call is checked against its
// declared types and every builtin against its shape rule. Blocks the model never reaches are
// checked on their own, with their parameters as symbols, reporting only certain errors.
import type { Code } from "../../diag/codes.js";
import type { DiagnosticSink, Related } from "../../diag/diagnostic.js";
import type { Span } from "../../diag/span.js";
import type * as A from "../../syntax/ast.js";
import { formatExpr } from "../../syntax/format.js";
import { limits } from "../../syntax/limits.js";
import { matchArgs, type SigParam } from "../args.js";
import { builtins, constants, isDTypeName, pastDim, type BuiltinName } from "../builtins.js";
import type { Resolution } from "../resolve.js";
import { isLocal, type GlobalSym, type LocalSym } from "../symbols.js";
import { TraceReporter } from "../trace.js";
import { known, scalarOp, toSVal, type Value } from "../evaluate.js";
import { addDim, constDim, constValue, DimOverflow, divDim, equalDims, mulDim, negDim, nonNegative, showDim, subDim, symDim, symbolsOf, type Dim } from "../../core/dim.js";
import { elementwise, rules, type RuleCtx } from "./rules.js";
import { Scope, type Binding, type LayerRef } from "./scope.js";
import { showType, symbolicInput, unify, type LocalOf } from "./unify.js";
import { asTensor, intVal, quotientIn, showValue, tensor, unknown, type SVal } from "./value.js";
import type { Elaborated, Instantiation, Site, TypedOp } from "../elaborated.js";
import { memoKey, replay, type Applied } from "./memo.js";
import { InstanceWalk, TooLarge, type Env } from "./instances.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Block = GlobalSym & { kind: "block" };
type Fn = GlobalSym & { kind: "fn" };

/** The checker's result: the elaborated program (the model's operations only when asked for). */
export type ShapeResult = Elaborated;

export const typeKey = (file: string, span: Span) => `${file}:${span.start}:${span.end}`;

/**
 * Checks the program: the model on symbolic inputs (with `elaborate`, recording its typed
 * operations for the IR, and with `instSink` instantiating it: its instances and weights, the
 * instantiation's errors reported there), then the blocks and functions the model does not reach.
 */
export function checkShapes(res: Resolution, userFile: string, program: A.Program, model: Block | undefined, hparams: ReadonlyMap<string, Value> | undefined, sink: DiagnosticSink, elaborate = false, stateful = false, instSink?: DiagnosticSink): ShapeResult {
  const c = new ShapeChecker(res, userFile, sink, elaborate && !!model && !!hparams, stateful || !model, instSink);
  let io: { inputs: { name: string; value: SVal }[]; outputs: { name: string; value: SVal }[] };
  try {
    io = model && hparams ? c.checkModel(model, hparams) : { inputs: [], outputs: [] };
  } catch (e) {
    // The model is too large to instantiate (reported): nothing else is checked.
    if (!(e instanceof TooLarge)) throw e;
    return { types: c.types, inputs: [], outputs: [], states: [], ops: [] };
  }
  const ops = c.ops;
  c.checkUnreached(program);
  const states = ops.flatMap((o) => (o.kind === "state" ? [{ name: o.name, value: o.out, axis: o.axis }] : []));
  return { types: c.types, ...io, states, ops, ...(c.instance ? { instance: c.instance } : {}) };
}

/** The evaluation context of one block or function body. */
interface Ctx {
  readonly file: string;
  /** Checkpoint prefix of the block instance being evaluated ("" for the model and functions). */
  readonly path: string;
  /** A function's caller's layer path: where the names bound in it live (`h.0.attn` + `weights`); blocks use `path`. */
  readonly at?: string;
  readonly scope: Scope;
  /** The block whose body this is (absent for functions): the owner of its weights. */
  readonly block?: Block;
  /** While instantiating the model: the compile-time names of the block instance whose body this is (absent where the body is no instance). */
  readonly env?: Env;
  /** Lazily evaluated declarations (layers and weights are visible before they are declared). */
  readonly lazy: Map<LocalSym, () => Binding>;
  /** The block's states by symbol, with the axis each grows along; and those appended so far in this call. */
  readonly states: Map<LocalSym, { readonly axis: number; readonly decl: A.StateDecl }>;
  readonly appended: Set<LocalSym>;
}

class ShapeChecker {
  readonly types = new Map<string, string[]>();
  private readonly trace: TraceReporter;
  private memo = new Map<string, Applied>();
  private readonly reached = new Set<A.Item>();
  private generic = false;
  private depth = 0;
  private tooDeepReported = false;

  /** The model's typed operations, when elaborating (`recording`). */
  readonly ops: TypedOp[] = [];
  private nextRef = 0;
  /** The user's expression being evaluated: the site of the operations recorded meanwhile. */
  private site: Site | undefined;

  /** The paths of the states recorded so far: one application per state. */
  private readonly statePaths = new Set<string>();

  /** While elaborating the model: its instantiation, as the walk meets instances; then the result (absent when it stopped: too large). */
  private walk: InstanceWalk | undefined;
  instance: Instantiation | undefined;
  /** Inside a layer that is declared but never applied, walked only for its instances: nothing is reported or recorded. */
  private declaring = 0;

  /**
   * `stateful`: the model keeps state, so `past` is a run-time dim; without state it is 0 (and
   * generically checked blocks see it as a symbol).
   */
  constructor(private readonly res: Resolution, private readonly userFile: string, sink: DiagnosticSink, private recording: boolean, private readonly stateful: boolean, private readonly instSink?: DiagnosticSink) {
    this.trace = new TraceReporter(sink, userFile);
  }

  /** The local symbol a name declares or refers to, as the resolver bound it (undefined: global, or not resolved). */
  private readonly local: LocalOf = (n) => {
    const s = this.res.symbolOf(n);
    return s && isLocal(s) ? s : undefined;
  };

  /** The parameters of `g` by their symbols, from values by name. */
  private paramsOf(g: Block, value: (p: A.ParamDecl) => SVal | undefined): Map<LocalSym, SVal> {
    const hp = new Map<LocalSym, SVal>();
    for (const p of g.decl.params) {
      const [s, v] = [this.local(p.name), value(p)];
      if (s && v) hp.set(s, v);
    }
    return hp;
  }

  // ---- entry points ------------------------------------------------------------------------

  checkModel(model: Block, hparams: ReadonlyMap<string, Value>) {
    const scope = new Scope();
    for (const [s, v] of this.paramsOf(model, (p) => { const v = hparams.get(p.name.name); return v && toSVal(v, model.file); })) scope.define(s, v);
    if (this.instSink) this.walk = new InstanceWalk(this.res, model, hparams, this.userFile);
    const run = (env?: Env) => this.runBlock(model, scope, "", (input, ctx) => {
      const v = symbolicInput(input.type, scope, this.local, (e) => this.dim(e, ctx), (d) => this.report("TFM4014", ctx.file, d.span, "a model input needs a fixed number of dims: name each one (`i32[batch, seq]`)"));
      return this.recording && v.kind !== "unknown" ? this.op({ kind: "input", name: input.name.name, out: v }) : v;
    }, env);
    let io: ReturnType<typeof run>;
    try {
      io = this.walk ? this.walk.enter("", run) : run();
    } finally {
      this.walk?.flush(this.instSink!);
    }
    if (this.recording) for (const o of io.outputs) if (o.value.kind !== "unknown") this.ops.push({ kind: "output", name: o.name, value: o.value, site: this.site });
    this.recording = false;
    this.instance = this.walk?.result();
    this.walk = undefined;
    return io;
  }

  /** Blocks and functions of the user's file the model does not reach, checked generically. */
  checkUnreached(program: A.Program): void {
    this.generic = true;
    for (const item of program.items) {
      if (this.reached.has(item) || !item.name.name) continue;
      const g = this.res.symbolOf(item.name);
      if (!g || (g.kind !== "block" && g.kind !== "fn") || g.decl !== item) continue;
      const scope = new Scope();
      const ctx: Ctx = { file: g.file, path: "", scope, lazy: new Map(), states: new Map(), appended: new Set() };
      for (const p of item.params) {
        const sym = p.type?.kind === "TensorType" ? undefined : symbolFor(p);
        const v = p.default ? this.expr(p.default, ctx) : sym ?? unknown;
        const s = this.local(p.name);
        if (!s) continue;
        if (p.type?.kind === "TensorType") scope.define(s, symbolicInput(p.type, scope, this.local, (e) => this.dim(e, ctx), () => {}));
        else scope.define(s, p.default && v.kind !== "unknown" ? v : sym ?? unknown);
      }
      if (g.kind === "block") this.runBlock(g, scope, "", (input) => symbolicInput(input.type, scope, this.local, (e) => this.dim(e, ctx), () => {}));
      else this.body(item.body, ctx, []);
    }
  }

  /** Records an operation computing `out`; returns `out` carrying its ref (each item of a tuple its own). */
  private op<T extends DistributiveOmit<TypedOp, "site">>(o: T): SVal {
    const withRef = (v: SVal): SVal => (v.kind === "tuple" ? { kind: "tuple", items: v.items.map(withRef) } : { ...v, ref: this.nextRef++ } as SVal);
    const out = withRef((o as { out: SVal }).out);
    this.push({ ...o, out, site: this.site } as TypedOp);
    return out;
  }

  /** Records an operation; a state has one application, so a layer with state applied twice is an error. */
  private push(op: TypedOp): void {
    if (op.kind === "state") {
      if (this.statePaths.has(op.name)) {
        const at = this.site;
        this.report("TFM4016", at?.file ?? this.userFile, at ?? { start: 0, end: 0 }, `the state \`${op.name}\` would be used by two applications of its layer: a layer with state can be applied once per call`, ["give each application its own layer (`layer attn2 = ...`)"]);
      }
      this.statePaths.add(op.name);
    }
    this.ops.push(op);
  }

  /** A memoized application's result; while elaborating, its operations recorded again for this one. */
  private reuse(first: Applied, args: readonly (SVal | undefined)[], path: string): SVal {
    if (!this.recording) return first.result;
    return replay(first, args, path, this.site, () => this.nextRef++, (op) => this.push(op));
  }

  // ---- reporting ---------------------------------------------------------------------------

  private report(code: Code, file: string, span: Span, message: string, notes: string[] = [], related: Related[] = []): void {
    if (this.declaring) return;
    if (this.generic && (code === "TFM4002" || code === "TFM4009")) return; // symbolic parameters: only certain errors
    this.trace.report(code, file, span, message, { notes, related });
  }

  private same(a: Dim, b: Dim, what: string, file: string, span: Span, notes: string[] = []): boolean {
    const eq = equalDims(a, b);
    if (eq === false) this.report("TFM4001", file, span, `${what}: ${showDim(a)} ≠ ${showDim(b)}`, notes);
    else if (eq === undefined) this.undecided(a, b, what, file, span, notes);
    return eq !== false;
  }

  private undecided(a: Dim, b: Dim, what: string, file: string, span: Span, notes: string[] = []): void {
    const syms = [...new Set([...symbolsOf(a), ...symbolsOf(b)])];
    const known = syms.length === 1 ? `; ${syms[0]} is only known then` : syms.length ? `; ${syms.join(", ")} are only known then` : "";
    this.report("TFM4002", file, span, `cannot prove that ${showDim(a)} == ${showDim(b)} (${what})`, [`this holds only when ${showDim(a)} = ${showDim(b)} at run time${known}`, ...notes]);
  }

  private record(file: string, span: Span, v: SVal): void {
    if (this.declaring) return;
    const key = typeKey(file, span);
    const shown = showValue(v);
    const list = this.types.get(key);
    if (!list) this.types.set(key, [shown]);
    else if (!list.includes(shown) && list.length < 4) list.push(shown);
  }

  /** A quotient that is not whole where an integer is needed: TFM3001 where the division was written. */
  private notWhole(v: SVal): boolean {
    const q = quotientIn(v);
    if (q) this.report("TFM3001", q.file, q.span, q.message);
    return !!q;
  }

  /** Recursion is reported by the resolver; a legitimately deep chain gets TFM3009 here. */
  private tooDeep(file: string, span: Span): boolean {
    if (this.depth < limits.maxInstanceDepth) return false;
    if (this.declaring) return true;
    if (!this.tooDeepReported) this.report("TFM3009", file, span, `layers and function calls are nested more than ${limits.maxInstanceDepth} deep`);
    this.tooDeepReported = true;
    return true;
  }

  // ---- blocks ------------------------------------------------------------------------------

  /** Runs a block body whose parameters are in `scope`; `input` gives each input's value. */
  private runBlock(g: Block, scope: Scope, path: string, input: (d: A.InputDecl, ctx: Ctx) => SVal, env?: Env) {
    if (!this.declaring) this.reached.add(g.decl);
    const ctx: Ctx = { file: g.file, path, scope, block: g, ...(env ? { env } : {}), lazy: new Map(), states: new Map(), appended: new Set() };
    const inputs: { name: string; value: SVal }[] = [];
    for (const m of g.decl.body) {
      if (m.kind !== "Input") continue;
      const v = input(m, ctx);
      const s = this.local(m.name);
      if (s) scope.define(s, v);
      this.record(g.file, m.name.span, v);
      inputs.push({ name: m.name.name, value: v });
    }
    const outputs: { name: string; value: SVal }[] = [];
    this.body(g.decl.body, ctx, outputs);
    for (const [s, { decl, axis }] of ctx.states) {
      const name = decl.name.name;
      if (ctx.appended.has(s)) continue;
      if (axis < 0) this.report("TFM4016", g.file, decl.name.span, `the state \`${name}\` is never written: it would stay empty`, [`write it once per sequence: \`x = once(${name}, value)\``]);
      else this.report("TFM4016", g.file, decl.name.span, `the state \`${name}\` is never appended: it would stay empty`, [`extend it once per call: \`x = append(${name}, x)\``]);
    }
    return { inputs, outputs };
  }

  /** Applies a block to arguments (bound to its inputs; undefined where defaulted). */
  private callBlock(g: Block, hparams: ReadonlyMap<LocalSym, SVal>, path: string, args: readonly (SVal | undefined)[], argSpans: readonly (Span | undefined)[], call: { file: string; span: Span; what: string }): SVal {
    // Checking alone may reuse the result for the same parameters and argument shapes; building
    // the IR may not (each application computes on its own weights and values).
    const key = memoKey(`B:${g.file}:${g.name}`, hparams, args, this.recording);
    const hit = this.memo.get(key);
    // While instantiating, an application that is an instance replays what the first made (or is walked again to report what it would).
    if (hit && (!this.walk?.pending(path) || (hit.made && this.walk.replay(hit.made, hit.path, path)))) return this.reuse(hit, args, path);
    const walk = this.walk;
    const [start, site, made] = [this.ops.length, this.site, walk?.pending(path) ? walk.mark(path) : undefined];
    if (this.tooDeep(call.file, call.span)) return unknown;
    const scope = new Scope();
    for (const [k, v] of hparams) scope.define(k, v);
    const inputs = g.decl.body.filter((m): m is A.InputDecl => m.kind === "Input");
    let i = 0;
    const run = (env?: Env) => this.runBlock(g, scope, path, (d, ctx) => {
      const k = i++;
      const given = args[k];
      const v = given ?? (d.default ? this.expr(d.default, ctx) : unknown);
      const ok = this.bindTyped(d.type, v, scope, ctx, given ? { file: call.file, span: argSpans[k] ?? call.span } : { file: g.file, span: d.default?.span ?? d.span }, d);
      return ok ? v : unknown;
    }, env);
    const { outputs } = this.trace.within({ file: call.file, span: call.span, what: call.what }, () => {
      this.depth++;
      try {
        return walk ? walk.enter(path, run) : run();
      } finally {
        this.depth--;
      }
    });
    const result: SVal = outputs.length === 1 ? outputs[0]!.value : { kind: "tuple", items: outputs.map((o) => o.value) };
    this.memo.set(key, { result, args, path, site, ops: this.ops.slice(start), ...(made ? { made: walk!.since(made) } : {}) });
    return result;
  }

  /** Binds `v` to a declared type; false after reporting a mismatch (the value is then unknown). */
  private bindTyped(t: A.TensorType, v: SVal, scope: Scope, ctx: Ctx, at: { file: string; span: Span }, decl: { name: A.Ident }): boolean {
    const typeText = showType(t, showExpr);
    return unify(t, v, scope, {
      local: this.local,
      dim: (e) => this.dim(e, { ...ctx, scope }),
      mismatch: (code, message, notes = []) => this.report(code, at.file, at.span, `\`${decl.name.name}\`: ${message}`, notes, [{ file: ctx.file, span: decl.name.span, message: `\`${decl.name.name}\` is declared ${typeText} here` }]),
      undecided: (a, b, what) => this.undecided(a, b, `${what} of \`${decl.name.name}\``, at.file, at.span),
    }, typeText);
  }

  /**
   * Applies a layer. A repeat stack threads its first input through every copy; a block with
   * several outputs gives the last copy's first output and, for each other output, every copy's
   * value stacked along a new leading axis (`[n, ...]`: per-layer attention weights, say).
   */
  private applyLayer(ref: LayerRef, args: (SVal | undefined)[], argSpans: (Span | undefined)[], file: string, span: Span): SVal {
    const what = `block \`${ref.block.name}\` (${ref.decl.name.name})`;
    if (!ref.stacked) return this.callBlock(ref.block, ref.hparams, ref.path, args, argSpans, { file, span, what });
    // A count past the limit is TFM3004 (the instantiation reports it): one copy stands for the stack,
    // so neither `repeat(11000)` nor, after a syntax error, `repeat(10^20)` is walked copy by copy.
    const n = (ref.count ?? 1) > limits.maxRepeat ? 1 : (ref.count ?? 1);
    let out: SVal = args[0] ?? unknown;
    const perCopy: SVal[][] = [];
    for (let i = 0; i < n; i++) {
      const input = args[0];
      // While instantiating: copies that would pass the limits stop the walk after the first (TFM3008).
      const mark = i === 0 && n > 1 && !ref.copies ? this.walk?.copyMark(`${ref.path}.0`) : undefined;
      out = this.callBlock(ref.block, ref.copies?.[i] ?? ref.hparams, `${ref.path}.${i}`, args, argSpans, { file, span, what: `block \`${ref.block.name}\` (${ref.decl.name.name}.${i})` });
      if (mark) this.walk!.stackFits(mark, n - 1);
      const first = out.kind === "tuple" ? out.items[0] ?? unknown : out;
      if (out.kind === "tuple") out.items.slice(1).forEach((v, j) => (perCopy[j] ??= []).push(v));
      if (input && first.kind !== "unknown" && showValue(first) !== showValue(input)) {
        const a = asTensor(first);
        const b = asTensor(input);
        if (!a || !b || a.shape.length !== b.shape.length || a.shape.some((d, k) => equalDims(d, b.shape[k]!) === false) || a.dtype !== b.dtype) {
          this.report("TFM4013", file, span, `each copy of \`${ref.decl.name.name}\` returns ${showValue(first)}, which does not fit its input ${showValue(input)}`);
          return unknown;
        }
      }
      args = [first, ...args.slice(1)];
    }
    if (out.kind !== "tuple" || !perCopy.length) return out;
    const stacked = perCopy.map((values) => {
      if (values.some((v) => v.kind === "unknown")) return unknown;
      const list: SVal = { kind: "list", items: values };
      const r = rules.stack([list, intVal(0)], this.ruleCtx(file, span, []));
      return this.recording && needsNode(r) ? this.op({ kind: "builtin", name: "stack", args: [list, intVal(0)], out: r }) : r;
    });
    return { kind: "tuple", items: [out.items[0]!, ...stacked] };
  }

  // ---- bodies ------------------------------------------------------------------------------

  /** Runs members in order; collects outputs; returns what a `return` returned. */
  private body(members: readonly A.Member[], ctx: Ctx, outputs: { name: string; value: SVal }[]): SVal | undefined {
    for (const m of members) this.hoist(m, ctx);
    let returned: SVal | undefined;
    for (const m of members) {
      switch (m.kind) {
        case "Input":
          if (ctx.env) this.walk!.input(m, ctx.env);
          break;
        case "Ignore":
          if (ctx.env) this.walk!.ignore(m, ctx.path);
          break;
        case "TensorParam": case "State": case "Layer":
          this.lookup(this.local(m.name), ctx); // evaluates the declaration (and reports) in order
          if (ctx.env && ctx.block) {
            if (m.kind === "TensorParam") this.walk!.weight(ctx.block, m, ctx.env, ctx.path);
            else if (m.kind === "State") this.walk!.state(m, ctx.path, ctx.file);
            else this.walk!.layer(m, ctx.env, ctx.path, ctx.block);
          }
          break;
        case "Assign": {
          const v = this.expr(m.value, ctx);
          this.assign(m.targets, v, m.value.span, ctx);
          if (ctx.env) this.walk!.assign(m, ctx.env, ctx.file);
          break;
        }
        case "Output": {
          let v = m.value ? this.expr(m.value, ctx) : this.valueOf(this.local(m.name), ctx);
          if (v.kind === "tuple") {
            // An output is one tensor (or number): a tuple (a block's several outputs, chunk's parts) must be unpacked first.
            this.report("TFM4010", ctx.file, (m.value ?? m.name).span, `output \`${m.name.name}\` is a tuple of ${v.items.length} values, not one: unpack it first (\`a, b = ...\`) and output each`);
            v = unknown;
          } else if (v.kind === "dtype" || v.kind === "str" || v.kind === "list") {
            // Nothing a run can return: a dtype name (`output y = bool`), a string or a list (found by the grammar fuzz shard).
            this.report("TFM4010", ctx.file, (m.value ?? m.name).span, `output \`${m.name.name}\` is ${showValue(v)}, not a tensor or a number`);
            v = unknown;
          }
          if (m.type) this.bindTyped(m.type, v, new Scope(ctx.scope), ctx, { file: ctx.file, span: (m.value ?? m.name).span }, m);
          const target = m.value && this.local(m.name);
          if (m.value) {
            if (target) ctx.scope.assign(target, v);
            this.bound(m.name.name, v, ctx);
          }
          this.record(ctx.file, m.name.span, v);
          outputs.push({ name: m.name.name, value: v });
          if (ctx.env) this.walk!.output(m, ctx.env);
          break;
        }
        case "If": {
          const c = this.expr(m.cond, ctx);
          const both: [0 | 1, readonly A.Member[]][] = [[0, m.then], [1, m.else_ ?? []]];
          const branches = c.kind === "bool" && c.value !== undefined ? [both[c.value ? 0 : 1]!] : both;
          // The branch the instantiation takes (a body outside it is no instance).
          const taken = ctx.env ? this.walk!.cond(m, ctx.env, ctx.file) : undefined;
          for (const [k, b] of branches) {
            // A branch not known at compile time appends on its own: each branch may append a state once.
            const appended = branches.length > 1 ? new Set(ctx.appended) : ctx.appended;
            const { env, ...outer } = ctx;
            // The taken branch shares the instance's environment, as it shares the checker's scope:
            // a name it rebinds (`d = 8`) has its new value after the `if`, for the weights too.
            const inner = env && k === taken ? { env } : {};
            const r = this.body(b, { ...outer, ...inner, scope: new Scope(ctx.scope), lazy: new Map(ctx.lazy), appended }, outputs);
            returned ??= r;
            for (const name of appended) ctx.appended.add(name);
          }
          break;
        }
        case "Return":
          returned = m.values.length === 1 ? this.expr(m.values[0]!, ctx) : { kind: "tuple", items: m.values.map((v) => this.expr(v, ctx)) };
          break;
        default: {
          const never: never = m;
          return never;
        }
      }
    }
    if (ctx.env) this.declareUnapplied(members, ctx);
    return returned;
  }

  /**
   * The layers of `members` the walk did not apply (declared, never called; or only their weights
   * used, `wte.weight`): their instances and weights exist all the same, so each is walked on
   * unknown inputs for them alone, with nothing reported, recorded or memoized.
   */
  private declareUnapplied(members: readonly A.Member[], ctx: Ctx): void {
    for (const m of members) {
      if (m.kind !== "Layer") continue;
      const s = this.local(m.name);
      const ref = s && ctx.scope.lookup(s);
      if (ref?.kind !== "layer" || ref.decl !== m) continue;
      for (const { path, copy: i } of this.walk!.unwalked(m)) {
        const saved = { memo: this.memo, recording: this.recording };
        [this.memo, this.recording] = [new Map(), false];
        this.declaring++;
        try {
          this.callBlock(ref.block, (ref.stacked && ref.copies?.[i]) || ref.hparams, path, [], [], { file: ctx.file, span: m.span, what: "" });
        } finally {
          this.declaring--;
          [this.memo, this.recording] = [saved.memo, saved.recording];
        }
      }
    }
  }

  private hoist(m: A.Member, ctx: Ctx): void {
    if (m.kind !== "TensorParam" && m.kind !== "State" && m.kind !== "Layer") return;
    const s = this.local(m.name);
    if (!s) return; // a duplicate name: reported by the resolver
    if (m.kind === "TensorParam") {
      const name = joinPath(ctx.path, m.checkpointName?.value ?? m.name.name);
      ctx.lazy.set(s, () => this.declaredTensor(m, ctx, (out) => ({ kind: "weight", name, transposed: m.transposed, out })));
    } else if (m.kind === "State") {
      const axis = m.type.dims.findIndex((d) => d.kind === "Name" && this.res.symbolOf(d)?.kind === "cached");
      ctx.states.set(s, { axis, decl: m });
      ctx.lazy.set(s, () => this.declaredTensor(m, ctx, (out) => ({ kind: "state", name: joinPath(ctx.path, m.name.name), axis, out })));
    } else {
      ctx.lazy.set(s, () => this.layerRef(m, ctx));
    }
  }

  /** A weight or a state: its declared type evaluated in the block, recorded (when elaborating) by `record`. */
  private declaredTensor(m: A.TensorParamDecl | A.StateDecl, ctx: Ctx, record: (out: SVal) => DistributiveOmit<TypedOp, "site">): SVal {
    const shape: Dim[] = [];
    for (const d of m.type.dims) {
      const v = d.kind === "Ellipsis" || d.kind === "Pack" ? undefined : this.dim(d, ctx);
      if (!v) return unknown;
      shape.push(v);
    }
    let t = tensor(m.type.dtype, shape);
    if (this.recording) t = this.op(record(t));
    this.record(ctx.file, m.name.span, t);
    return t;
  }

  private layerRef(m: A.LayerDecl, ctx: Ctx): Binding {
    const g = this.res.symbolOf(m.callee);
    if (g?.kind !== "block") return unknown; // a block only declared, never applied, is checked as unreached
    const bound = matchArgs(m.args, { what: "", params: g.decl.params.map((p) => ({ name: p.name.name, optional: !!p.default })) }, m.span);
    let count: number | undefined;
    if (m.repeat) {
      const r = this.expr(m.repeat, ctx);
      count = r.kind === "int" ? constValue(r.dim) : undefined;
    }
    /** The parameters, given the copy index of `repeat(n, i)` (a symbol when the count is not known). */
    const index = m.repeatIndex && this.local(m.repeatIndex);
    const hparams = (at: SVal | undefined) => {
      const hp = new Map<LocalSym, SVal>();
      const scope = at && index ? new Scope(ctx.scope) : ctx.scope;
      if (at && index) scope.define(index, at);
      const inner: Ctx = { file: g.file, path: "", scope: new Scope(), lazy: new Map(), states: new Map(), appended: new Set() };
      g.decl.params.forEach((p, i) => {
        const a = bound[i];
        const v = a ? this.expr(a.value, { ...ctx, scope }) : p.default ? this.expr(p.default, inner) : unknown;
        const s = this.local(p.name);
        if (!s) return;
        hp.set(s, v);
        inner.scope.define(s, v);
      });
      return hp;
    };
    const copies = m.repeatIndex && count ? Array.from({ length: count }, (_, i) => hparams(intVal(i))) : undefined;
    const hp = copies?.[0] ?? hparams(m.repeatIndex ? { kind: "int", dim: symDim(m.repeatIndex.name) } : undefined);
    const path = joinPath(ctx.path, m.checkpointName?.value ?? m.name.name);
    return { kind: "layer", decl: m, block: g, hparams: hp, path, stacked: !!m.repeat, ...(count !== undefined ? { count } : {}), ...(copies ? { copies } : {}) };
  }

  /** A local symbol's value in this evaluation: a hoisted declaration is evaluated at its first use. */
  private lookup(sym: LocalSym | undefined, ctx: Ctx): Binding | undefined {
    if (!sym) return undefined;
    const lazy = ctx.lazy.get(sym);
    if (lazy) {
      ctx.lazy.delete(sym);
      const v = lazy();
      ctx.scope.define(sym, v);
      return v;
    }
    return ctx.scope.lookup(sym);
  }

  private valueOf(sym: LocalSym | undefined, ctx: Ctx): SVal {
    const b = this.lookup(sym, ctx);
    return !b || b.kind === "layer" ? unknown : b;
  }

  /** While elaborating, a tensor bound to a local name is recorded by its path (`h.0.attn.weights`), for `--capture`. */
  private bound(name: string, v: SVal, ctx: Ctx): void {
    if (this.recording && "ref" in v && v.ref !== undefined) this.push({ kind: "name", site: this.site, name: joinPath(ctx.at ?? ctx.path, name), value: v });
  }

  private assign(targets: readonly A.Ident[], v: SVal, span: Span, ctx: Ctx): void {
    if (targets.length === 1) {
      const s = this.local(targets[0]!);
      if (s) ctx.scope.assign(s, v);
      this.bound(targets[0]!.name, v, ctx);
      this.record(ctx.file, targets[0]!.span, v);
      return;
    }
    const items = v.kind === "tuple" || v.kind === "list" ? v.items : undefined;
    if (v.kind !== "unknown" && (!items || items.length !== targets.length)) {
      this.report("TFM2015", ctx.file, span, `${targets.length} names to unpack, but the value is ${showValue(v)}`);
    }
    targets.forEach((t, i) => {
      const x = items?.[i] ?? unknown;
      const s = this.local(t);
      if (s) ctx.scope.assign(s, x);
      this.bound(t.name, x, ctx);
      this.record(ctx.file, t.span, x);
    });
  }

  // ---- expressions -------------------------------------------------------------------------

  private dim(e: A.Expr, ctx: Ctx): Dim | undefined {
    const v = this.expr(e, ctx);
    if (v.kind === "int") return v.dim;
    if (this.notWhole(v)) return undefined;
    if (v.kind !== "unknown") this.report("TFM4010", ctx.file, e.span, `a dimension must be an integer, found ${showValue(v)}`);
    return undefined;
  }

  expr(e: A.Expr, ctx: Ctx): SVal {
    let v: SVal;
    const site = this.site;
    if (this.recording && ctx.file === this.userFile) this.site = { file: ctx.file, start: e.span.start, end: e.span.end };
    try {
      v = this.exprInner(e, ctx);
    } catch (err) {
      if (!(err instanceof DimOverflow)) throw err;
      this.report("TFM3005", ctx.file, e.span, "dimension arithmetic here passes 2^53, the largest exact integer");
      v = unknown;
    } finally {
      this.site = site;
    }
    this.record(ctx.file, e.span, v);
    return v;
  }

  private exprInner(e: A.Expr, ctx: Ctx): SVal {
    switch (e.kind) {
      case "Number":
        return e.isInt ? intVal(e.value) : { kind: "float", value: e.value };
      case "Bool":
        return { kind: "bool", value: e.value };
      case "String":
        return { kind: "str", value: e.value };
      case "Error":
        return unknown;
      case "Name": {
        const s = this.res.symbolOf(e);
        if (!s) return unknown; // reported by the resolver
        if (isLocal(s)) return this.valueOf(s, ctx);
        if (s.kind === "constant") return { kind: "float", value: constants[s.name]! };
        if (s.kind === "cached") return { kind: "int", dim: this.stateful ? symDim(pastDim) : constDim(0) };
        if (s.kind === "dtype") return { kind: "dtype", name: s.name as A.DTypeName };
        return unknown;
      }
      case "List":
        return { kind: "list", items: e.elements.map((x) => this.expr(x, ctx)) };
      case "Unary":
      {
        const x = this.expr(e.operand, ctx);
        const r = this.unary(e, x, ctx);
        return this.recording && needsNode(r) ? this.op({ kind: "unary", op: e.op, x, out: r }) : r;
      }
      case "Binary":
      {
        const [l, r] = [this.expr(e.left, ctx), this.expr(e.right, ctx)];
        const out = this.binary(e, l, r, ctx);
        return this.recording && needsNode(out) ? this.op({ kind: "binary", op: e.op, a: l, b: r, out }) : out;
      }
      case "Call":
        return this.call(e, ctx);
      case "Index":
        return this.index(e, this.expr(e.target, ctx), ctx);
      case "Member":
        return this.member(e, ctx);
      default: {
        const never: never = e;
        return never;
      }
    }
  }

  private unary(e: A.Unary, v: SVal, ctx: Ctx): SVal {
    if (v.kind === "unknown") return v;
    if (e.op === "-") {
      if (v.kind === "int") return { kind: "int", dim: negDim(v.dim) };
      if (v.kind === "float") return v.value === undefined ? v : { kind: "float", value: -v.value };
      if (v.kind === "tensor" && v.dtype !== "bool") return v;
    } else {
      if (v.kind === "bool") return v.value === undefined ? v : { kind: "bool", value: !v.value };
      if (v.kind === "tensor" && v.dtype === "bool") return v;
    }
    this.report("TFM4010", ctx.file, e.operand.span, `\`${e.op}\` does not apply to ${showValue(v)}`);
    return unknown;
  }

  private ruleCtx(file: string, span: Span, argSpans: readonly (Span | undefined)[]): RuleCtx {
    const at = (arg?: number) => (arg !== undefined ? argSpans[arg] : undefined) ?? span;
    return {
      report: (code, message, opts = {}) => this.report(code, file, at(opts.arg), message, opts.notes),
      same: (a, b, what, arg, notes) => this.same(a, b, what, file, at(arg), notes),
    };
  }

  private binary(e: A.Binary, l: SVal, r: SVal, ctx: Ctx): SVal {
    if (l.kind === "unknown" || r.kind === "unknown") return unknown;
    const rc = this.ruleCtx(ctx.file, e.span, [e.left.span, e.right.span]);
    if (e.op === "@") return rules.matmul([l, r], rc);
    const [a, b] = [known(l), known(r)];
    const k = a && b ? scalarOp(e.op, a, b, e.span) : undefined;
    if (k && "error" in k) {
      this.report(k.error, ctx.file, e.span, k.message);
      return unknown;
    }
    // What is computed from an inexact quotient is no dim either (`head * (d / head)`).
    const q = quotientIn(l) ?? quotientIn(r);
    if (k) {
      const v = toSVal(k, ctx.file);
      return v.kind === "float" && !v.quotient && q ? { ...v, quotient: q } : v;
    }
    if (l.kind === "int" && r.kind === "int") return this.intOp(e, l.dim, r.dim, ctx);
    const scalar = (v: SVal) => v.kind === "int" || v.kind === "float";
    if (scalar(l) && scalar(r) && e.op !== "&&" && e.op !== "||") return e.op === "+" || e.op === "-" || e.op === "*" || e.op === "/" || e.op === "%" ? { kind: "float", ...(q ? { quotient: q } : {}) } : { kind: "bool" };
    if (l.kind === "bool" && r.kind === "bool" && (e.op === "&&" || e.op === "||" || e.op === "==" || e.op === "!=")) return { kind: "bool" };
    const logical = e.op === "&&" || e.op === "||";
    const cmp = ["==", "!=", "<", "<=", ">", ">="].includes(e.op);
    if (logical) {
      for (const [v, s] of [[l, e.left.span], [r, e.right.span]] as const) {
        const t = asTensor(v);
        if (t && t.dtype !== "bool") {
          this.report("TFM4004", ctx.file, s, `\`${e.op}\` needs bool operands, found ${showValue(v)}`);
          return unknown;
        }
      }
    }
    const out = elementwise([l, r], [0, 1], rc, cmp || logical ? "bool" : undefined);
    if (out.kind === "tensor" && e.op === "/" && (out.dtype === "i32" || out.dtype === "i64")) return tensor("f32", out.shape);
    return out;
  }

  /** Integer operations where a dim is symbolic (known values go through `scalarOp`). */
  private intOp(e: A.Binary, a: Dim, b: Dim, ctx: Ctx): SVal {
    switch (e.op) {
      case "+": return { kind: "int", dim: addDim(a, b) };
      case "-": return { kind: "int", dim: subDim(a, b) };
      case "*": return { kind: "int", dim: mulDim(a, b) };
      case "/": {
        if (constValue(b) === 0) {
          this.report("TFM3003", ctx.file, e.span, `division by zero: ${showDim(a)} / 0`);
          return unknown;
        }
        const { q, exact } = divDim(a, b);
        const [x, y] = [constValue(a), constValue(b)];
        // Scalars divide as in Python (`log(100 / 8)`); only where the quotient is used as a dim must it be whole.
        const message = `${showDim(a)} / ${showDim(b)} is not a whole number; dimension arithmetic must be exact`;
        if (exact === false && x !== undefined && y !== undefined) return { kind: "float", value: x / y, quotient: { file: ctx.file, span: e.span, message } };
        if (exact === false) this.report("TFM3001", ctx.file, e.span, message);
        else if (exact === undefined) this.report("TFM4009", ctx.file, e.span, `cannot prove that ${showDim(b)} divides ${showDim(a)}`, [`this holds only for values of ${[...new Set([...symbolsOf(a), ...symbolsOf(b)])].join(", ")} where ${showDim(a)} is a multiple of ${showDim(b)}`]);
        return exact === false ? unknown : { kind: "int", dim: q };
      }
      case "%": {
        if (constValue(b) === 0) {
          this.report("TFM3003", ctx.file, e.span, `division by zero: ${showDim(a)} % 0`);
          return unknown;
        }
        return { kind: "int", dim: symDim(`(${showDim(a)} % ${showDim(b)})`) };
      }
      case "==": case "!=": {
        const eq = equalDims(a, b);
        return { kind: "bool", ...(eq === undefined ? {} : { value: eq === (e.op === "==") }) };
      }
      case "&&": case "||":
        this.report("TFM4010", ctx.file, e.span, `\`${e.op}\` needs bools, found integers`);
        return unknown;
      default:
        return { kind: "bool" }; // an order between dims is known only when both are (scalarOp)
    }
  }

  private call(e: A.Call, ctx: Ctx): SVal {
    if (e.callee.kind !== "Name") return unknown;
    const s = this.res.symbolOf(e.callee);
    const local = s && isLocal(s) ? this.lookup(s, ctx) : undefined;
    const g = s && !isLocal(s) ? s : undefined;
    const evalArgs = (params: readonly SigParam[]) => {
      const bound = matchArgs(e.args, { what: "", params }, e.span);
      return { values: bound.map((a) => (a ? this.expr(a.value, ctx) : undefined)), spans: bound.map((a) => a?.value.span) };
    };
    if (local?.kind === "layer") {
      const inputs = local.block.decl.body.filter((m): m is A.InputDecl => m.kind === "Input");
      const { values, spans } = evalArgs(inputs.map((i) => ({ name: i.name.name, optional: !!i.default })));
      return this.applyLayer(local, values, spans, ctx.file, e.span);
    }
    if (g?.kind === "fn") {
      const { values, spans } = evalArgs(g.decl.params.map((p) => ({ name: p.name.name, optional: !!p.default })));
      return this.callFn(g, values, spans, ctx.file, e.span, ctx.at ?? ctx.path);
    }
    if (g?.kind === "builtin") {
      const sig = builtins[g.name as BuiltinName];
      const { values, spans } = evalArgs(sig.params.map((p) => ({ name: p.name, optional: "default" in p })));
      if (values.some((v, i) => !v && !("default" in sig.params[i]!))) return unknown; // reported by the resolver
      const args = values.map((v, i) => v ?? defaultValue((sig.params[i] as { default: string }).default));
      if (args.some((v, i) => (sig.params[i]!.kind === "int" || sig.params[i]!.kind === "ints") && this.notWhole(v))) return unknown;
      if ((g.name === "append" || g.name === "once") && !this.appendOnce(e, ctx, g.name)) return unknown;
      const out = rules[g.name as BuiltinName](args, this.ruleCtx(ctx.file, e.span, spans));
      return this.recording && (needsNode(out) || out.kind === "tuple") ? this.op({ kind: "builtin", name: g.name as BuiltinName, args, out }) : out;
    }
    e.args.forEach((a) => this.expr(a.value, ctx));
    return unknown;
  }

  /** A state is appended (or written by `once`) once per call: a second time (not in the other branch of an `if`) is an error. */
  private appendOnce(e: A.Call, ctx: Ctx, fn: "append" | "once"): boolean {
    const target = e.args.find((a) => a.name?.name === (fn === "append" ? "cache" : "state"))?.value ?? (e.args[0]?.name ? undefined : e.args[0]?.value);
    const s = target?.kind === "Name" ? this.local(target) : undefined;
    if (!s || !ctx.states.has(s)) return false; // reported by the resolver
    if ((ctx.states.get(s)!.axis < 0) !== (fn === "once")) return false; // the wrong kind of state: reported by the resolver
    if (ctx.appended.has(s)) {
      if (fn === "once") this.report("TFM4016", ctx.file, e.span, `the state \`${s.name}\` is written twice in one call`, ["write it once: `x = once(state, value)`, and use x"]);
      else this.report("TFM4016", ctx.file, e.span, `the state \`${s.name}\` is appended twice in one call`, ["append it once, with everything this call adds: `append(cache, concat([a, b], dim))`"]);
      return false;
    }
    ctx.appended.add(s);
    return true;
  }

  private callFn(g: Fn, args: readonly (SVal | undefined)[], argSpans: readonly (Span | undefined)[], file: string, span: Span, at: string): SVal {
    this.reached.add(g.decl);
    const key = memoKey(`F:${g.file}:${g.name}`, new Map(), args, this.recording);
    const hit = this.memo.get(key);
    if (hit) return this.reuse(hit, args, at);
    const [start, site] = [this.ops.length, this.site];
    if (this.tooDeep(file, span)) return unknown;
    const scope = new Scope();
    const ctx: Ctx = { file: g.file, path: "", at, scope, lazy: new Map(), states: new Map(), appended: new Set() };
    g.decl.params.forEach((p, i) => {
      const given = args[i];
      const v = given ?? (p.default ? this.expr(p.default, ctx) : unknown);
      const at = given ? { file, span: argSpans[i] ?? span } : { file: g.file, span: p.span };
      let ok = true;
      if (p.type?.kind === "TensorType") ok = this.bindTyped(p.type, v, scope, ctx, at, p);
      else if (p.type?.name === "int" && this.notWhole(v)) ok = false;
      else if (p.type && v.kind !== "unknown" && v.kind !== p.type.name && !(p.type.name === "float" && v.kind === "int")) {
        this.report("TFM4010", at.file, at.span, `\`${p.name.name}\` must be ${p.type.name === "int" ? "an" : "a"} ${p.type.name}, found ${showValue(v)}`, [], [{ file: g.file, span: p.name.span, message: `\`${p.name.name}\` is declared here` }]);
        ok = false;
      }
      const s = this.local(p.name);
      if (s) scope.define(s, ok ? v : unknown);
      this.record(g.file, p.name.span, v);
    });
    const out = this.trace.within({ file, span, what: `function \`${g.name}\`` }, () => {
      this.depth++;
      try {
        return this.body(g.decl.body, ctx, []) ?? unknown;
      } finally {
        this.depth--;
      }
    });
    this.memo.set(key, { result: out, args, path: at, site, ops: this.ops.slice(start) });
    return out;
  }

  /** `x[i]`, `x[:, 0]`, `x[..., :d]`: integers drop a dim, slices keep it, `...` stands for the rest. */
  private index(e: A.Index, v: SVal, ctx: Ctx): SVal {
    type Sub = { t: "rest" } | { t: "slice"; start?: SVal; end?: SVal } | { t: "at"; span: Span; v: SVal };
    const subs: Sub[] = e.subscripts.map((s): Sub => {
      if (s.kind === "Ellipsis") return { t: "rest" };
      if (s.kind === "Slice") return { t: "slice", ...(s.start ? { start: this.expr(s.start, ctx) } : {}), ...(s.end ? { end: this.expr(s.end, ctx) } : {}) };
      return { t: "at", span: s.span, v: this.expr(s, ctx) };
    });
    if (v.kind === "unknown") return v;
    if (v.kind !== "tensor") {
      this.report("TFM4010", ctx.file, e.target.span, `only tensors can be indexed, found ${showValue(v)}`);
      return unknown;
    }
    const rank = v.shape.length;
    const named = subs.filter((s) => s.t !== "rest").length;
    if (named > rank || subs.filter((s) => s.t === "rest").length > 1) {
      this.report("TFM4008", ctx.file, e.span, `${named} subscripts for a tensor with ${rank} dims`);
      return unknown;
    }
    const out: Dim[] = [];
    let k = 0;
    for (const s of subs) {
      if (s.t === "rest") {
        const n = rank - named;
        out.push(...v.shape.slice(k, k + n));
        k += n;
        continue;
      }
      const size = v.shape[k++]!;
      if (s.t === "slice") {
        out.push(this.sliceSize(size, s.start, s.end, ctx, e.span));
        continue;
      }
      if (s.v.kind !== "int") {
        if (s.v.kind !== "unknown") this.report("TFM4010", ctx.file, s.span, `an index must be an integer, found ${showValue(s.v)}`);
        continue;
      }
      const [i, n] = [constValue(s.v.dim), constValue(size)];
      if (i !== undefined && n !== undefined && (i >= n || i < -n)) this.report("TFM4012", ctx.file, s.span, `index ${i} is out of bounds for a dim of size ${n}`);
    }
    out.push(...v.shape.slice(k));
    const result = tensor(v.dtype, out);
    return this.recording ? this.op({ kind: "index", x: v, subs, out: result }) : result;
  }

  /**
   * The length of `start:end` on a dim of `size`. A slice must lie within its dim (0 ≤ start ≤
   * end ≤ size, negative bounds counting from the end): unlike PyTorch, tfm does not clamp, so a
   * mistaken bound is an error rather than a silently shorter tensor. Provably out of bounds is an
   * error here; bounds that depend on run-time dims are checked when the model runs (TFM6001).
   */
  private sliceSize(size: Dim, start: SVal | undefined, end: SVal | undefined, ctx: Ctx, span: Span): Dim {
    const asDim = (v: SVal | undefined, dflt: Dim): Dim | undefined => {
      if (!v) return dflt;
      if (v.kind !== "int") return undefined;
      const c = constValue(v.dim);
      return c !== undefined && c < 0 ? addDim(size, v.dim) : v.dim;
    };
    // A bound that is a float, a bool, a string or a tensor is an error (PyTorch: "slice indices must be integers"), never a silently whole slice.
    for (const v of [start, end]) {
      if (v && v.kind !== "int" && v.kind !== "unknown") {
        this.report("TFM4010", ctx.file, span, `a slice bound must be an integer, found ${showValue(v)}`);
        return unknownDim;
      }
    }
    const a = asDim(start, constDim(0));
    const b = asDim(end, size);
    if (!a || !b) return symDim("(slice)");
    for (const [lo, hi, what] of [[constDim(0), a, "the start is before the dim's beginning"], [a, b, "the end is before the start"], [b, size, "the end is past the dim's end"]] as const) {
      if (nonNegative(subDim(hi, lo)) === false) {
        this.report("TFM4012", ctx.file, span, `slice ${showDim(a)}:${showDim(b)} is out of bounds for a dim of size ${showDim(size)}: ${what}`, ["tfm does not clamp slice bounds as PyTorch does: write bounds within the dim"]);
        return unknownDim;
      }
    }
    return subDim(b, a);
  }

  /** `wte.weight`, `encoder.norm.weight`: weights and sub-layers of layers. */
  private member(e: A.MemberAccess, ctx: Ctx): SVal {
    const decl = this.res.memberOf(e);
    const ref = decl && this.layerOf(e.target, ctx);
    if (!ref) return unknown;
    const inner: Ctx = { file: ref.block.file, path: ref.path, scope: new Scope(), lazy: new Map(), states: new Map(), appended: new Set() };
    for (const [k, v] of ref.hparams) inner.scope.define(k, v);
    for (const m of ref.block.decl.body) this.hoist(m, inner);
    return this.valueOf(this.local(decl.name), inner);
  }

  private layerOf(t: A.Expr, ctx: Ctx): LayerRef | undefined {
    if (t.kind === "Name") {
      const b = this.lookup(this.local(t), ctx);
      return b?.kind === "layer" && !b.stacked ? b : undefined;
    }
    if (t.kind !== "Member") return undefined;
    const decl = this.res.memberOf(t);
    if (decl?.kind !== "Layer" || decl.repeat) return undefined;
    const parent = this.layerOf(t.target, ctx);
    if (!parent) return undefined;
    const inner: Ctx = { file: parent.block.file, path: parent.path, scope: new Scope(), lazy: new Map(), states: new Map(), appended: new Set() };
    for (const [k, v] of parent.hparams) inner.scope.define(k, v);
    const ref = this.layerRef(decl, inner);
    return ref.kind === "layer" ? ref : undefined;
  }
}

/** An expression as source text; one with a syntax error inside (checked after errors, for hovers) as `?`. */
const showExpr = (e: A.Expr): string => (hasSyntaxError(e) ? "?" : formatExpr(e));

function hasSyntaxError(e: A.Expr | A.Subscript): boolean {
  switch (e.kind) {
    case "Error": return true;
    case "Unary": return hasSyntaxError(e.operand);
    case "Binary": return hasSyntaxError(e.left) || hasSyntaxError(e.right);
    case "Call": return hasSyntaxError(e.callee) || e.args.some((a) => hasSyntaxError(a.value));
    case "Index": return hasSyntaxError(e.target) || e.subscripts.some(hasSyntaxError);
    case "Member": return hasSyntaxError(e.target);
    case "List": return e.elements.some(hasSyntaxError);
    case "Slice": return (!!e.start && hasSyntaxError(e.start)) || (!!e.end && hasSyntaxError(e.end));
    default: return false;
  }
}

/** Values the IR must compute: tensors, and scalars whose value is only known at run time. */
const needsNode = (v: SVal): boolean => v.kind === "tensor" || (v.kind === "float" && v.value === undefined) || (v.kind === "bool" && v.value === undefined);

const joinPath = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** The size of an erroneous slice: a fresh symbol, so nothing downstream is reported about it. */
const unknownDim = symDim("(invalid slice)");

/** A parameter of an unreached block stands for any value of its type. */
function symbolFor(p: A.ParamDecl): SVal | undefined {
  const t = p.type?.kind === "ScalarType" ? p.type.name : undefined;
  if (t === "int") return { kind: "int", dim: symDim(p.name.name) };
  if (t === "float") return { kind: "float" };
  if (t === "bool") return { kind: "bool" };
  return undefined;
}

/** The value of a builtin parameter's default, written as .tfm source in the builtin table. */
function defaultValue(text: string): SVal {
  if (/^-?\d+$/.test(text)) return intVal(Number(text));
  if (text === "true" || text === "false") return { kind: "bool", value: text === "true" };
  if (isDTypeName(text)) return { kind: "dtype", name: text as A.DTypeName };
  return { kind: "float", value: Number(text) };
}

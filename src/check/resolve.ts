// Name binding: every name in every block and function resolves to a declaration, or gets a
// diagnostic (undefined with did-you-mean, duplicate, wrong kind, bad arguments). Works on the
// generic declarations, so blocks that are never instantiated are checked too.
import { DiagnosticSink, type Related } from "../diag/diagnostic.js";
import { didYouMean } from "../diag/suggest.js";
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import { matchArgs, type Signature } from "./args.js";
import { builtins, constants, dtypeNames, isBuiltin, pastDim } from "./builtins.js";
import { Scope, describe, type GlobalSym, type LocalKind, type LocalSym, type Sym } from "./symbols.js";

export interface Reference {
  readonly file: string;
  readonly span: Span;
  readonly sym: Sym;
}

/** A node that names something: a name in an expression or type, an identifier (declared or referring), a member access. */
export type Named = A.Name | A.Ident;

export interface Resolution {
  /**
   * What each name denotes, keyed by its node, in the user's file and the library: a use (an
   * expression's name, a callee, a type's dim, an output or assignment target) gives the symbol it
   * refers to, a declaration's name the symbol it declares. Later phases read this, never scopes.
   */
  symbolOf(node: Named): Sym | undefined;
  /** The weight or sub-layer a member access (`wte.weight`) names, in the block of its layer. */
  memberOf(node: A.MemberAccess): A.TensorParamDecl | A.LayerDecl | undefined;
  /** The global names as the user's file sees them (its declarations shadow the library's). */
  readonly globals: ReadonlyMap<string, GlobalSym>;
  /** The global names as code in `file` sees them: the library never sees the user's names. */
  globalsFor(file: string): ReadonlyMap<string, GlobalSym>;
  /** Every resolved use of a name, for go-to-definition and hovers. */
  readonly references: readonly Reference[];
}

export interface Unit {
  readonly file: string;
  readonly program: A.Program;
}

/** The side tables one resolution fills: symbols by node, member accesses by node. */
interface Tables {
  readonly symbols: Map<Named, Sym>;
  readonly members: Map<A.MemberAccess, A.TensorParamDecl | A.LayerDecl>;
}

const newTables = (): Tables => ({ symbols: new Map(), members: new Map() });

/** The library's globals and its resolved names: the same for every compilation, so made once per parsed library. */
const libraries = new WeakMap<readonly Unit[], { base: ReadonlyMap<string, GlobalSym>; tables: Tables }>();

function library(prelude: readonly Unit[]): { base: ReadonlyMap<string, GlobalSym>; tables: Tables } {
  const hit = libraries.get(prelude);
  if (hit) return hit;
  const base = new Map<string, GlobalSym>();
  for (const name of Object.keys(builtins)) if (isBuiltin(name)) base.set(name, { kind: "builtin", name });
  for (const name of Object.keys(constants)) base.set(name, { kind: "constant", name });
  for (const name of dtypeNames) base.set(name, { kind: "dtype", name });
  base.set(pastDim, { kind: "cached", name: pastDim });
  const tables = newTables();
  for (const u of prelude) {
    for (const item of u.program.items) {
      if (!item.name.name) continue;
      const g: GlobalSym = item.kind === "Block" ? { kind: "block", name: item.name.name, decl: item, file: u.file } : { kind: "fn", name: item.name.name, decl: item, file: u.file };
      base.set(item.name.name, g);
      tables.symbols.set(item.name, g);
    }
  }
  // The library's own diagnostics are its tests' business (test/unit/std): here only its names are wanted.
  for (const u of prelude) {
    const r = new Resolver(base, u.file, new DiagnosticSink(u.file), [], tables);
    for (const item of u.program.items) r.item(item);
  }
  const lib = { base, tables };
  libraries.set(prelude, lib);
  return lib;
}

/** Builds the global table (prelude first; the user's file may shadow it) and resolves `user`. */
export function resolveProgram(prelude: readonly Unit[], user: Unit, sink: DiagnosticSink): Resolution {
  const { base, tables: lib } = library(prelude);
  const globals = new Map(base);
  const tables = newTables();
  const userNames = new Map<string, A.Item>();
  for (const item of user.program.items) {
    const name = item.name.name;
    if (!name) continue;
    const first = userNames.get(name);
    if (first) {
      sink.report("TFM2002", item.name.span, `\`${name}\` is defined more than once`, { related: [{ span: first.name.span, message: "first defined here" }] });
      continue;
    }
    userNames.set(name, item);
    const g: GlobalSym = item.kind === "Block" ? { kind: "block", name, decl: item, file: user.file } : { kind: "fn", name, decl: item, file: user.file };
    globals.set(name, g);
    tables.symbols.set(item.name, g);
  }
  const references: Reference[] = [];
  const r = new Resolver(globals, user.file, sink, references, tables);
  for (const item of user.program.items) r.item(item);
  checkModels(user, sink);
  checkRecursion(user, globals, sink);
  return {
    symbolOf: (n) => tables.symbols.get(n) ?? lib.symbols.get(n),
    memberOf: (n) => tables.members.get(n) ?? lib.members.get(n),
    globals,
    references,
    globalsFor: (file) => (file === user.file ? globals : base),
  };
}

function checkModels(user: Unit, sink: DiagnosticSink): void {
  const models = user.program.items.filter((i): i is A.BlockDecl => i.kind === "Block" && i.isModel);
  for (const m of models.slice(1)) {
    sink.report("TFM2009", m.name.span, "a file may define only one `model`", { related: [{ span: models[0]!.name.span, message: "the model is defined here" }] });
  }
}

/** A block that (through its layers) instantiates itself, or a function that calls itself. */
function checkRecursion(user: Unit, globals: ReadonlyMap<string, GlobalSym>, sink: DiagnosticSink): void {
  const edges = (item: A.Item): { name: string; span: Span }[] => {
    const out: { name: string; span: Span }[] = [];
    const walkExpr = (e: A.Expr | A.Subscript | A.Dim | undefined): void => {
      if (!e) return;
      switch (e.kind) {
        case "Call":
          if (e.callee.kind === "Name") out.push({ name: e.callee.name, span: e.callee.span });
          walkExpr(e.callee);
          e.args.forEach((a) => walkExpr(a.value));
          return;
        case "Binary": walkExpr(e.left); walkExpr(e.right); return;
        case "Unary": walkExpr(e.operand); return;
        case "Index": walkExpr(e.target); e.subscripts.forEach(walkExpr); return;
        case "Member": walkExpr(e.target); return;
        case "List": e.elements.forEach(walkExpr); return;
        case "Slice": walkExpr(e.start); walkExpr(e.end); return;
        default: return;
      }
    };
    const walk = (ms: readonly A.Member[]): void => {
      for (const m of ms) {
        if (m.kind === "Layer") out.push({ name: m.callee.name, span: m.callee.span });
        else if (m.kind === "If") { walkExpr(m.cond); walk(m.then); walk(m.else_ ?? []); }
        else if (m.kind === "Assign") walkExpr(m.value);
        else if (m.kind === "Return") m.values.forEach(walkExpr);
        else if (m.kind === "Output") walkExpr(m.value);
        else if (m.kind === "Input") walkExpr(m.default);
      }
    };
    walk(item.body);
    item.params.forEach((p) => walkExpr(p.default));
    return out;
  };
  // Depth-first search with an explicit stack: a chain of 10,000 functions must not overflow ours.
  const state = new Map<string, "active" | "done">();
  for (const root of user.program.items) {
    if (state.has(root.name.name)) continue;
    const stack: { name: string; edges: { name: string; span: Span }[]; next: number }[] = [];
    const enter = (name: string) => {
      const g = globals.get(name);
      if (!g || (g.kind !== "block" && g.kind !== "fn")) return;
      state.set(name, "active");
      stack.push({ name, edges: edges(g.decl), next: 0 });
    };
    enter(root.name.name);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const e = top.edges[top.next++];
      if (!e) {
        state.set(top.name, "done");
        stack.pop();
        continue;
      }
      const st = state.get(e.name);
      if (st === "active") {
        const g = globals.get(top.name);
        if (g && "file" in g && g.file === user.file) {
          const path = stack.slice(stack.findIndex((f) => f.name === e.name)).map((f) => f.name);
          const shown = path.length > 6 ? [...path.slice(0, 3), "…", ...path.slice(-2)] : path;
          sink.report("TFM2010", e.span, `\`${e.name}\` uses itself: ${[...shown, e.name].join(" → ")}`);
        }
      } else if (!st) enter(e.name);
    }
  }
}

/** Declarations a body hoists: visible from the start of the body they are declared in. */
const declKind: Partial<Record<A.Member["kind"], LocalKind>> = { Input: "input", TensorParam: "param", State: "state", Layer: "layer" };

class Resolver {
  private fnReturns = false;
  /** The outputs of the block being resolved, by name. */
  private outputs = new Map<string, Span>();
  /** The states declared without `past` (by their name's offset in this file): written once, by `once`. */
  private readonly writtenOnce = new Set<number>();
  /** The first argument of the `once` call being resolved: the one place a state written once is named. */
  private onceArg: A.Expr | undefined;
  constructor(
    private readonly globals: ReadonlyMap<string, GlobalSym>,
    private readonly file: string,
    private readonly sink: DiagnosticSink,
    private readonly references: Reference[],
    private readonly tables: Tables,
  ) {}

  item(item: A.Item): void {
    const scope = new Scope();
    this.outputs = new Map();
    for (const p of item.params) {
      this.optExpr(p.default, scope);
      if (p.type?.kind === "TensorType") this.introduceDims(p.type, scope);
      if (!p.name.name) continue;
      const prior = scope.own(p.name.name);
      if (prior) this.duplicate(p.name, prior);
      else this.define(scope, item.kind === "Fn" ? "arg" : "hparam", p.name).used = true;
      if (p.type?.kind === "TensorType") this.tensorType(p.type, scope);
    }
    if (item.kind === "Fn") {
      this.fnReturns = false;
      this.body(item.body, scope, "fn");
      if (!this.fnReturns) this.sink.report("TFM2012", item.name.span, `function \`${item.name.name}\` has no \`return\``);
      else {
        const last = item.body[item.body.length - 1];
        if (last?.kind !== "Return") this.sink.report("TFM2011", (item.body.find((m) => m.kind === "Return") ?? item).span, "`return` must be the last statement of a function");
      }
    } else {
      for (const m of item.body) if (m.kind === "Input") this.introduceDims(m.type, scope);
      this.body(item.body, scope, "block");
      if (!hasOutput(item.body)) this.sink.report("TFM2012", item.name.span, `block \`${item.name.name}\` has no \`output\``);
    }
    this.warnUnused(scope);
  }

  /** Declares `name` in `scope`; `node` is the node that declares it (a name in a type for a dim). */
  private define(scope: Scope, kind: LocalKind, name: A.Ident, extra: Partial<LocalSym> = {}, node: Named = name): LocalSym {
    const sym: LocalSym = { kind, name: name.name, span: name.span, file: this.file, used: false, ...extra };
    scope.define(sym);
    this.tables.symbols.set(node, sym);
    return sym;
  }

  private duplicate(name: A.Ident, first: LocalSym): void {
    this.sink.report("TFM2002", name.span, `\`${name.name}\` is already defined in this block`, { related: [{ span: first.span, message: `${describe(first)} is defined here` }] });
  }

  /** Bare names in an input type that are not yet defined become symbolic dimensions. */
  private introduceDims(t: A.TensorType, scope: Scope): void {
    for (const d of t.dims) {
      if (d.kind === "Name" && !scope.lookup(d.name) && !this.globals.has(d.name)) {
        this.define(scope, "dim", { name: d.name, span: d.span }, {}, d).used = true;
      } else if (d.kind === "Pack" && d.name.name && !scope.lookup(d.name.name)) {
        this.define(scope, "pack", d.name).used = true;
      }
    }
  }

  private tensorType(t: A.TensorType, scope: Scope): void {
    for (const d of t.dims) {
      if (d.kind === "Ellipsis") continue;
      if (d.kind === "Pack") {
        const s = scope.lookup(d.name.name);
        if (!s || s.kind !== "pack") this.undefinedName(d.name.name, d.name.span, scope);
        else this.reference(d.name, s);
        continue;
      }
      this.expr(d, scope);
    }
  }

  private body(members: readonly A.Member[], scope: Scope, ctx: "block" | "fn", nested = false): void {
    // Inputs, outputs and `return` define a block's or function's interface: top level only, so
    // the interface does not depend on parameter values.
    if (nested) {
      for (const m of members) {
        if (m.kind === "Input" || m.kind === "Output" || m.kind === "Return") {
          const what = m.kind === "Return" ? "`return`" : `\`${m.kind.toLowerCase()}\``;
          this.sink.report("TFM2011", m.span, `${what} must be at the top level of the ${ctx === "fn" ? "function" : "block"}, not inside \`if\``, { notes: m.kind === "Input" ? [] : ["bind a name inside the `if` and use it after it"] });
        }
      }
    }
    // Hoist this body's declarations (inputs, weights, layers).
    for (const m of members) {
      const kind = declKind[m.kind];
      if (!kind || ctx === "fn") continue;
      const name = (m as A.InputDecl | A.TensorParamDecl | A.StateDecl | A.LayerDecl).name;
      if (!name.name) continue;
      const prior = scope.lookup(name.name);
      if (prior && prior.kind !== "dim") { this.duplicate(name, prior); continue; }
      const extra: Partial<LocalSym> = {};
      if (m.kind === "Layer") {
        Object.assign(extra, { layer: m });
        const g = this.globals.get(m.callee.name);
        if (g?.kind === "block") Object.assign(extra, { block: g });
        if (m.repeat) Object.assign(extra, { stacked: true });
      }
      this.define(scope, kind, name, extra).used = kind !== "layer";
    }
    for (const m of members) this.member(m, scope, ctx);
  }

  private member(m: A.Member, scope: Scope, ctx: "block" | "fn"): void {
    const notHere = (what: string) => this.sink.report("TFM2011", m.span, `${what} is not allowed in a ${ctx === "fn" ? "function (functions have no weights, inputs or outputs: use a block)" : "block"}`);
    switch (m.kind) {
      case "Input":
        if (ctx === "fn") return notHere("`input`");
        this.tensorType(m.type, scope);
        this.optExpr(m.default, scope);
        return;
      case "TensorParam":
        if (ctx === "fn") return notHere("`param`");
        this.tensorType(m.type, scope);
        return;
      case "State": {
        if (ctx === "fn") return notHere("`state`");
        this.tensorType(m.type, scope);
        const pasts = m.type.dims.filter((d) => d.kind === "Name" && d.name === pastDim).length;
        const pack = m.type.dims.find((d) => d.kind === "Ellipsis" || d.kind === "Pack");
        if (pack) this.sink.report("TFM2020", pack.span, "a state's shape is written dim by dim: no `...` or `*pack`");
        else if (pasts > 1) this.sink.report("TFM2020", m.type.span, `a state's type has at most one dim \`past\`, the axis it grows along; found ${pasts}`, { notes: ["a KV cache: `state k_cache: f32[B, n_head, past, head_dim]`; a state written once per sequence has none: `state mem_k: f32[B, n_head, src_len, head_dim]`"] });
        // Without `past`, a state is written once per sequence (`once`), and read only through it.
        if (pasts === 0 && !pack) this.writtenOnce.add(m.name.span.start);
        return;
      }
      case "Layer":
        if (ctx === "fn") return notHere("`layer`");
        return this.layer(m, scope);
      case "Ignore":
        if (ctx === "fn") return notHere("`ignore`");
        return;
      case "Output": {
        if (ctx === "fn") return notHere("`output`");
        const prior = this.outputs.get(m.name.name);
        if (prior) this.sink.report("TFM2002", m.name.span, `output \`${m.name.name}\` is declared twice`, { related: [{ span: prior, message: "first declared here" }] });
        else this.outputs.set(m.name.name, m.name.span);
        if (m.type) this.tensorType(m.type, scope);
        if (m.value) this.expr(m.value, scope);
        else if (m.name.name) {
          const s = scope.lookup(m.name.name);
          if (!s) this.sink.report("TFM2018", m.name.span, `output \`${m.name.name}\` has no value: write \`output ${m.name.name} = ...\` or bind \`${m.name.name}\` first`, { notes: () => didYouMean(m.name.name, scope.visible()) });
          else {
            s.used = true;
            this.reference(m.name, s);
          }
        }
        if (m.value && m.name.name) this.assignTo(m.name, scope, true);
        return;
      }
      case "Assign":
        this.expr(m.value, scope);
        for (const t of m.targets) this.assignTo(t, scope, false);
        return;
      case "If": {
        this.expr(m.cond, scope);
        for (const branch of [m.then, m.else_ ?? []]) {
          const inner = new Scope(scope);
          this.body(branch, inner, ctx, true);
          this.warnUnused(inner);
        }
        return;
      }
      case "Return":
        if (ctx === "block") return notHere("`return`");
        m.values.forEach((v) => this.expr(v, scope));
        this.fnReturns = true;
        return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  private assignTo(t: A.Ident, scope: Scope, isOutput: boolean): void {
    if (!t.name) return;
    const prior = scope.lookup(t.name);
    if (prior && (prior.kind === "binding" || prior.kind === "input" || prior.kind === "arg")) {
      if (isOutput) prior.used = true;
      this.tables.symbols.set(t, prior);
      return; // rebinding, as `x = norm(x)` in PyTorch
    }
    if (prior) {
      this.sink.report("TFM2002", t.span, `cannot assign to ${describe(prior)}`, { related: [{ span: prior.span, message: "defined here" }] });
      return;
    }
    this.define(scope, "binding", t).used = isOutput;
  }

  private layer(m: A.LayerDecl, scope: Scope): void {
    this.optExpr(m.repeat, scope);
    // The copy index of `repeat(n, i)` is a parameter of the arguments alone.
    const args = m.repeatIndex ? new Scope(scope) : scope;
    if (m.repeatIndex?.name) {
      const prior = scope.lookup(m.repeatIndex.name);
      if (prior) this.duplicate(m.repeatIndex, prior);
      else this.define(args, "hparam", m.repeatIndex).used = true;
    }
    m.args.forEach((a) => this.expr(a.value, args));
    if (!m.callee.name) return;
    const g = this.globals.get(m.callee.name);
    if (!g) {
      const blocks = [...this.globals.values()].filter((s) => s.kind === "block").map((s) => s.name);
      this.sink.report("TFM2001", m.callee.span, `no block named \`${m.callee.name}\``, { notes: () => didYouMean(m.callee.name, blocks) });
      return;
    }
    this.reference(m.callee, g);
    if (g.kind !== "block") {
      const hint = g.kind === "fn" || g.kind === "builtin" ? ` (functions are called directly: \`y = ${g.name}(x)\`)` : "";
      this.sink.report("TFM2007", m.callee.span, `${describe(g)} is not a block${hint}`);
      return;
    }
    matchArgs(m.args, blockSig(g), m.span, this.sink);
  }

  private optExpr(e: A.Expr | undefined, scope: Scope): void {
    if (e) this.expr(e, scope);
  }

  private expr(e: A.Expr, scope: Scope): void {
    switch (e.kind) {
      case "Number": case "Bool": case "String": case "Error":
        return;
      case "Name": {
        const s = this.lookup(e, scope);
        if (s && (s.kind === "block")) this.sink.report("TFM2007", e.span, `${describe(s)} is not a value: declare it with \`layer name = ${s.name}(...)\` and call \`name(x)\``);
        else if (s && (s.kind === "fn" || s.kind === "builtin")) this.sink.report("TFM2007", e.span, `${describe(s)} is not a value: call it, \`${s.name}(...)\``);
        else if (s && s.kind === "layer") this.sink.report("TFM2007", e.span, `${describe(s)} is not a value: call it on its inputs, \`${s.name}(x)\``);
        else if (s && s.kind === "pack") this.sink.report("TFM2007", e.span, `${describe(s)} stands for several dims and can only be used in a tensor type`);
        else if (s && s.kind === "state" && this.isWrittenOnce(s) && e !== this.onceArg) {
          this.sink.report("TFM2019", e.span, `the state \`${s.name}\` has no \`past\` dim: it is written once per sequence, and read only as \`once(${s.name}, value)\``, {
            notes: [`\`x = once(${s.name}, value)\` is \`value\` on the call from empty state, and the state, unchanged, on every later call; a state that grows by \`append\` names the dim it grows along: \`f32[B, past, d]\``],
          });
        }
        return;
      }
      case "Unary":
        return this.expr(e.operand, scope);
      case "Binary":
        this.expr(e.left, scope);
        return this.expr(e.right, scope);
      case "List":
        return e.elements.forEach((x) => this.expr(x, scope));
      case "Index":
        this.expr(e.target, scope);
        for (const s of e.subscripts) {
          if (s.kind === "Ellipsis") continue;
          if (s.kind === "Slice") { this.optExpr(s.start, scope); this.optExpr(s.end, scope); continue; }
          this.expr(s, scope);
        }
        return;
      case "Member":
        this.memberPath(e, scope);
        return;
      case "Call": {
        const outer = this.onceArg;
        this.onceArg = e.callee.kind === "Name" && e.callee.name === "once" && !scope.lookup("once") ? e.args[0]?.value : undefined;
        e.args.forEach((a) => this.expr(a.value, scope));
        this.onceArg = outer;
        return this.call(e, scope);
      }
      default: {
        const never: never = e;
        return never;
      }
    }
  }

  private lookup(e: A.Name, scope: Scope): Sym | undefined {
    const s: Sym | undefined = scope.lookup(e.name) ?? this.globals.get(e.name);
    if (!s) {
      this.undefinedName(e.name, e.span, scope);
      return undefined;
    }
    if ("used" in s) s.used = true;
    this.reference(e, s);
    return s;
  }

  private undefinedName(name: string, span: Span, scope: Scope): void {
    const values = [...this.globals.values()].filter((g) => g.kind === "constant" || g.kind === "dtype").map((g) => g.name);
    this.sink.report("TFM2001", span, `\`${name}\` is not defined`, { notes: () => didYouMean(name, [...scope.visible(), ...values]) });
  }

  /** A use of `sym` at `node`: into the table, and the list of references for the editor. */
  private reference(node: Named, sym: Sym): void {
    this.tables.symbols.set(node, sym);
    this.references.push({ file: this.file, span: node.span, sym });
  }

  /** `wte.weight`, `encoder.norm.weight`: a weight or sub-layer of a layer. */
  private memberPath(e: A.MemberAccess, scope: Scope): A.TensorParamDecl | A.LayerDecl | undefined {
    const block = this.layerBlock(e.target, scope);
    if (!block) return undefined;
    const found = block.body.find((m): m is A.TensorParamDecl | A.LayerDecl => (m.kind === "TensorParam" || m.kind === "Layer") && m.name.name === e.name.name);
    if (!found) {
      const names = block.body.flatMap((m) => (m.kind === "TensorParam" || m.kind === "Layer" ? [m.name.name] : []));
      this.sink.report("TFM2001", e.name.span, `block \`${block.name.name}\` has no weight or layer \`${e.name.name}\``, { notes: () => didYouMean(e.name.name, names) });
    } else this.tables.members.set(e, found);
    return found;
  }

  /** The block instantiated by the (non-stacked) layer that `t` names, reporting what is wrong. */
  private layerBlock(t: A.Expr, scope: Scope): A.BlockDecl | undefined {
    let name: string;
    let stacked: boolean;
    let block: A.BlockDecl | undefined;
    if (t.kind === "Name") {
      const s = this.lookup(t, scope);
      if (!s) return undefined;
      if (s.kind !== "layer") {
        this.sink.report("TFM2007", t.span, `only layers have members; ${describe(s)} is not a layer`);
        return undefined;
      }
      [name, stacked, block] = [s.name, !!s.stacked, s.block?.decl];
    } else if (t.kind === "Member") {
      const sub = this.memberPath(t, scope);
      if (!sub) return undefined;
      if (sub.kind !== "Layer") {
        this.sink.report("TFM2007", t.span, `only layers have members; weight \`${sub.name.name}\` is not a layer`);
        return undefined;
      }
      const g = this.globals.get(sub.callee.name);
      [name, stacked, block] = [sub.name.name, !!sub.repeat, g?.kind === "block" ? g.decl : undefined];
    } else {
      this.expr(t, scope);
      if (!recovered(t)) this.sink.report("TFM2007", t.span, "only layers have members");
      return undefined;
    }
    if (stacked) {
      this.sink.report("TFM2007", t.span, `layer \`${name}\` is a repeat stack; its weights belong to each copy`);
      return undefined;
    }
    return block;
  }

  private call(e: A.Call, scope: Scope): void {
    if (e.callee.kind !== "Name") {
      this.expr(e.callee, scope);
      if (!recovered(e.callee)) this.sink.report("TFM2007", e.callee.span, "only functions and layers can be called");
      return;
    }
    const s = scope.lookup(e.callee.name) ?? this.globals.get(e.callee.name);
    if (!s) {
      const name = e.callee.name;
      const candidates = () => [...[...scope.visible()].filter((n) => scope.lookup(n)?.kind === "layer"), ...[...this.globals.values()].filter((g) => g.kind === "fn" || g.kind === "builtin").map((g) => g.name)];
      this.sink.report("TFM2001", e.callee.span, `\`${name}\` is not defined`, { notes: () => didYouMean(name, candidates()) });
      return;
    }
    if ("used" in s) s.used = true;
    this.reference(e.callee, s);
    const sig = this.signatureOf(s);
    if (sig === "unknown") return; // a layer whose block did not resolve: already reported
    if (!sig) {
      const hint = s.kind === "block" ? `: declare it with \`layer name = ${s.name}(...)\` and call \`name(x)\`` : "";
      this.sink.report("TFM2007", e.callee.span, `${describe(s)} is not callable${hint}`);
      return;
    }
    matchArgs(e.args, sig, e.span, this.sink);
    if (s.kind === "builtin" && (s.name === "append" || s.name === "once")) this.appendTarget(e, scope, s.name);
  }

  /** A state declared without `past` in this file (a local state symbol). */
  private isWrittenOnce(s: LocalSym): boolean {
    return s.file === this.file && this.writtenOnce.has(s.span.start);
  }

  /**
   * `append(k_cache, k)` and `once(mem_k, k)`: the first argument names a state of this block — one
   * with a `past` dim for `append`, one without for `once`.
   */
  private appendTarget(e: A.Call, scope: Scope, fn: "append" | "once"): void {
    const first = e.args[0];
    if (!first || first.name) return; // missing, or given by name: matchArgs has reported it, or it is checked below
    const target = first.value;
    const s = target.kind === "Name" ? scope.lookup(target.name) : undefined;
    if (recovered(target)) return;
    if (s?.kind === "state") {
      const once = this.isWrittenOnce(s);
      if (fn === "once" && !once) {
        this.sink.report("TFM2019", target.span, `\`once\` writes a state without a \`past\` dim, and \`${s.name}\` has one: it grows by \`append\``, { notes: ["a state written once per sequence is declared without `past`: `state mem_k: f32[B, n_head, src_len, head_dim]`"] });
      }
      // `append` to a state without `past`: TFM2019 where the state is named (Name, above).
      return;
    }
    const what = s ? `${describe(s)} is not a state` : "this is not a state";
    this.sink.report("TFM2019", target.span, `the first argument of \`${fn}\` must be a state of this block: ${what}`, {
      notes: [fn === "append" ? "`append(cache, x)` extends a tensor declared with `state cache: f32[..., past, ...]` along its `past` dim, and keeps the result for the next call" : "`once(mem, x)` is x on the call from empty state, and keeps it as the state `mem` (declared without `past`) for every later call"],
    });
  }

  private signatureOf(s: Sym): Signature | "unknown" | undefined {
    switch (s.kind) {
      case "builtin":
        return { what: describe(s), params: builtins[s.name].params.map((p) => ({ name: p.name, optional: "default" in p })) };
      case "fn":
        return { what: describe(s), params: s.decl.params.map((p) => ({ name: p.name.name, optional: !!p.default })), declared: declaredAt(s) };
      case "layer": {
        if (!s.block) return "unknown";
        const inputs = s.block.decl.body.filter((m): m is A.InputDecl => m.kind === "Input");
        return { what: describe(s), params: inputs.map((i) => ({ name: i.name.name, optional: !!i.default })), declared: declaredAt(s.block) };
      }
      default:
        return undefined;
    }
  }

  private warnUnused(scope: Scope): void {
    for (const s of scope.locals) {
      if (s.used || s.name.startsWith("_") || (s.kind !== "binding" && s.kind !== "layer")) continue;
      this.sink.report("TFM2017", s.span, `${describe(s)} is never used`, { notes: ["prefix the name with `_` to keep it unused on purpose"] });
    }
  }
}

/** Whether the parser invented part of `e` while recovering from a syntax error (already reported). */
function recovered(e: A.Expr): boolean {
  switch (e.kind) {
    case "Error": return true;
    case "Member": return !e.name.name || recovered(e.target);
    case "Call": return recovered(e.callee);
    case "Index": return recovered(e.target);
    default: return false;
  }
}

const hasOutput = (ms: readonly A.Member[]): boolean => ms.some((m) => m.kind === "Output");

function declaredAt(g: GlobalSym & { kind: "block" | "fn" }): Related {
  return { span: g.decl.name.span, message: `${describe(g)} is defined here`, file: g.file };
}

export function blockSig(g: GlobalSym & { kind: "block" }): Signature {
  return { what: describe(g), params: g.decl.params.map((p) => ({ name: p.name.name, optional: !!p.default })), declared: declaredAt(g) };
}

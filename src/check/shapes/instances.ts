// The model's instances, as the shape checker's walk of the model meets them: every layer
// instance by path, every weight with its checkpoint name, shape and dtype, every state and every
// `ignore` pattern. The walk meets them in evaluation order, a memoized application replays what
// the first one made under its own path, and the result lists everything in declaration order
// (depth first, members in source order), as a checkpoint's reader expects.
import type * as A from "../../syntax/ast.js";
import type { GlobalSym } from "../symbols.js";
import type { Instance, Instantiation, Weight } from "../elaborated.js";
import { coerce, evaluate, known, type Value } from "../evaluate.js";
import type { SVal } from "./value.js";

type Block = GlobalSym & { kind: "block" };
type State = Instantiation["states"][number];

/** A layer instance met by the walk: its parent's path, and where it sits in its parent (the layer's declaration, the copy of a stack). */
interface InstanceRec {
  readonly path: string;
  readonly parent: string | undefined;
  readonly pos: number;
  readonly copy: number;
  readonly block: Block;
  readonly hparams: ReadonlyMap<string, Value>;
}

/** What one application made, in the order made (each with the path of the instance it belongs to and its position there). */
export interface Made {
  readonly instances: readonly InstanceRec[];
  readonly weights: readonly { readonly w: Weight; readonly at: string }[];
  readonly states: readonly { readonly s: State; readonly at: string }[];
  readonly ignored: readonly { readonly pattern: string; readonly at: string; readonly pos: number; readonly k: number }[];
}

interface Mark {
  readonly i: number;
  readonly w: number;
  readonly s: number;
  readonly g: number;
}

export class InstanceCollector {
  private readonly instances: InstanceRec[] = [];
  private readonly weights: { w: Weight; at: string }[] = [];
  private readonly states: { s: State; at: string }[] = [];
  private readonly ignored: { pattern: string; at: string; pos: number; k: number }[] = [];
  private readonly seen = new Set<string>();

  constructor(model: Block, hparams: ReadonlyMap<string, Value>) {
    this.instance({ path: "", parent: undefined, pos: 0, copy: 0, block: model, hparams });
  }

  has(path: string): boolean {
    return this.seen.has(`i:${path}`);
  }

  /** A layer instance (once per path: a layer applied twice is one instance). */
  instance(r: InstanceRec): void {
    if (this.once(`i:${r.path}`)) this.instances.push(r);
  }

  /** The instance of `block` at `path`, its parameters as the checker evaluated them. */
  layer(block: Block, hparams: ReadonlyMap<string, SVal>, path: string, parent: string, decl: A.LayerDecl, copy: number): void {
    if (!this.has(path)) this.instance({ path, parent, pos: decl.span.start, copy, block, hparams: values(block, hparams) });
  }

  weight(w: Weight, at: string): void {
    if (this.once(`w:${w.name}`)) this.weights.push({ w, at });
  }

  state(s: State, at: string): void {
    if (this.once(`s:${s.name}`)) this.states.push({ s, at });
  }

  ignore(m: A.IgnoreDecl, at: string): void {
    m.patterns.forEach((p, k) => {
      if (this.once(`g:${at}:${m.span.start}:${k}`)) this.ignored.push({ pattern: join(at, p.value), at, pos: m.span.start, k });
    });
  }

  mark(): Mark {
    return { i: this.instances.length, w: this.weights.length, s: this.states.length, g: this.ignored.length };
  }

  since(m: Mark): Made {
    return { instances: this.instances.slice(m.i), weights: this.weights.slice(m.w), states: this.states.slice(m.s), ignored: this.ignored.slice(m.g) };
  }

  /** What an application at `from` made, made again by one at `to` (a memoized application). */
  replay(made: Made, from: string, to: string): void {
    if (from === to) return;
    const re = (name: string) => (name === from ? to : name.startsWith(from + ".") ? to + name.slice(from.length) : name);
    for (const r of made.instances) this.instance({ ...r, path: re(r.path), parent: r.parent === undefined ? undefined : re(r.parent) });
    for (const { w, at } of made.weights) this.weight({ ...w, name: re(w.name) }, re(at));
    for (const { s, at } of made.states) this.state({ ...s, name: re(s.name) }, re(at));
    for (const g of made.ignored) {
      const at = re(g.at);
      if (this.once(`g:${at}:${g.pos}:${g.k}`)) this.ignored.push({ ...g, at, pattern: re(g.pattern) });
    }
  }

  /** The instantiated model, in declaration order. */
  result(): Instantiation {
    const byPath = new Map(this.instances.map((r) => [r.path, r]));
    const keys = new Map<string, number[]>();
    const key = (path: string): number[] => {
      let k = keys.get(path);
      if (k) return k;
      const r = byPath.get(path);
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
    const model = tree(this.instances[0]!);
    return {
      model,
      weights: order(this.weights, (x) => x.at, (x) => x.w.decl.span.start).map((x) => x.w),
      ignored: order(this.ignored, (x) => x.at, (x) => x.pos).map((x) => x.pattern),
      states: order(this.states, (x) => x.at, (x) => x.s.decl.span.start).map((x) => x.s),
    };
  }

  private once(k: string): boolean {
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    return true;
  }
}

/** A block's parameters as compile-time values, each of its declared type (an int given for a float is a float). */
function values(block: Block, hparams: ReadonlyMap<string, SVal>): Map<string, Value> {
  const env = new Map<string, Value>();
  const quiet = () => {};
  for (const p of block.decl.params) {
    const sv = hparams.get(p.name.name);
    const v = sv && known(sv);
    if (!v) continue;
    const dflt = p.default ? evaluate(p.default, (n) => env.get(n), quiet) : undefined;
    const declared = p.type?.kind === "ScalarType" ? p.type.name : dflt?.kind;
    const typed = coerce(v, declared, p.name.span, quiet);
    if (typed) env.set(p.name.name, typed);
  }
  return env;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

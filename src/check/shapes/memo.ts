// Applications of a block or function are memoized: applied again to the same parameters and
// argument shapes, it gives the first result without evaluating the body again. While the model
// is elaborated, the first application's typed operations are replayed for the new one: fresh
// refs, the new arguments in place of the old, the new checkpoint path on its weights, and the new
// call site where the first application's ops took theirs from its caller.
import type { IndexSub, Site, TypedOp } from "../elaborated.js";
import { showValue, type SVal } from "./value.js";
import type { Made } from "./instances.js";
import type { LocalSym } from "../symbols.js";

export interface Applied {
  readonly result: SVal;
  readonly args: readonly (SVal | undefined)[];
  /** Checkpoint prefix of the application (for functions: their caller's layer path, where their names live). */
  readonly path: string;
  /** The caller's site: the ops that took it take the new caller's. */
  readonly site: Site | undefined;
  /** The typed operations the application recorded, in order. */
  readonly ops: readonly TypedOp[];
  /** While elaborating the model: the instances, weights and states it made (made again, renamed, for a replay). */
  readonly made?: Made;
}

const refOf = (v: SVal | undefined): number | undefined => (v && "ref" in v ? v.ref : undefined);

/**
 * The memo key of an application. While elaborating, it also says which arguments are one value
 * (`f(x, x)` is not `f(x, y)`: the ops name their operands) and which parameters are run-time
 * values (a parameter is not replaced on replay).
 */
export function memoKey(tag: string, hparams: ReadonlyMap<LocalSym, SVal>, args: readonly (SVal | undefined)[], elaborating: boolean): string {
  const hp = [...hparams].map(([k, v]) => `${k.name}=${showValue(v)}${elaborating && refOf(v) !== undefined ? `#${refOf(v)}` : ""}`).join(",");
  const as = args.map((a, i) => {
    const shown = a ? showValue(a) : "-";
    const alias = elaborating && refOf(a) !== undefined ? args.findIndex((b) => refOf(b) === refOf(a)) : i;
    return alias === i ? shown : `${shown}=#${alias}`;
  });
  return `${tag}:${hp}:${as.join(",")}`;
}

/** Appends `first`'s operations again for an application to `args` at `path`, called from `site`; returns its result. */
export function replay(first: Applied, args: readonly (SVal | undefined)[], path: string, site: Site | undefined, fresh: () => number, push: (op: TypedOp) => void): SVal {
  const refs = new Map<number, number>();
  const pair = (a: SVal | undefined, b: SVal | undefined): void => {
    const [x, y] = [refOf(a), refOf(b)];
    if (x !== undefined && y !== undefined) refs.set(x, y);
    if (a && b && (a.kind === "list" || a.kind === "tuple") && (b.kind === "list" || b.kind === "tuple")) a.items.forEach((item, i) => pair(item, b.items[i]));
  };
  first.args.forEach((a, i) => pair(a, args[i]));
  const use = (v: SVal): SVal => {
    if (v.kind === "list" || v.kind === "tuple") return { kind: v.kind, items: v.items.map(use) };
    const r = refOf(v);
    return r !== undefined && refs.has(r) ? ({ ...v, ref: refs.get(r)! } as SVal) : v;
  };
  const def = (v: SVal): SVal => {
    if (v.kind === "tuple") return { kind: "tuple", items: v.items.map(def) };
    const r = refOf(v);
    if (r === undefined) return v;
    const n = fresh();
    refs.set(r, n);
    return { ...v, ref: n } as SVal;
  };
  const sub = (s: IndexSub): IndexSub =>
    s.t === "rest" ? s : s.t === "at" ? { t: "at", v: use(s.v) } : { t: "slice", ...(s.start ? { start: use(s.start) } : {}), ...(s.end ? { end: use(s.end) } : {}) };
  const rename = (name: string) => (first.path && name.startsWith(first.path + ".") ? path + name.slice(first.path.length) : name);
  // A name bound in a function lives at its caller's path, "" at the model's level.
  const relocate = (name: string) => {
    const rest = first.path ? (name.startsWith(first.path + ".") ? name.slice(first.path.length + 1) : name) : name;
    return path ? `${path}.${rest}` : rest;
  };
  for (const op of first.ops) {
    const at = op.site === first.site ? site : op.site;
    switch (op.kind) {
      case "input": case "output":
        throw new Error("replay: a block or function has no model inputs or outputs");
      case "weight": push({ ...op, site: at, name: rename(op.name), out: def(op.out) }); break;
      case "state": push({ ...op, site: at, name: rename(op.name), out: def(op.out) }); break;
      case "unary": push({ ...op, site: at, x: use(op.x), out: def(op.out) }); break;
      case "binary": push({ ...op, site: at, a: use(op.a), b: use(op.b), out: def(op.out) }); break;
      case "builtin": push({ ...op, site: at, args: op.args.map(use), out: def(op.out) }); break;
      case "name": push({ ...op, site: at, name: relocate(op.name), value: use(op.value) }); break;
      case "index": push({ ...op, site: at, x: use(op.x), subs: op.subs.map(sub), out: def(op.out) }); break;
      default: {
        const never: never = op;
        return never;
      }
    }
  }
  return use(first.result);
}

// From declarations to the instantiated model: where a block is instantiated, the checkpoint
// paths of a `layer` declaration, its instances' parameter values, and the weights under it.
import type { Instance, Weight } from "../check/elaborated.js";
import { show } from "../check/evaluate.js";
import type * as A from "../syntax/ast.js";
import { isLocal } from "../check/symbols.js";
import type { Checked } from "./documents.js";

const byBlock = new WeakMap<Checked, Map<A.BlockDecl, Instance[]>>();

/** Every instance of the model tree, grouped by the block declaration it instantiates. */
function instancesByBlock(c: Checked): Map<A.BlockDecl, Instance[]> {
  let map = byBlock.get(c);
  if (map) return map;
  map = new Map();
  const stack = c.result.instance ? [c.result.instance.model] : [];
  for (let inst = stack.pop(); inst; inst = stack.pop()) {
    const list = map.get(inst.block.decl) ?? [];
    if (!list.length) map.set(inst.block.decl, list);
    list.push(inst);
    for (let i = inst.children.length - 1; i >= 0; i--) stack.push(inst.children[i]!);
  }
  for (const list of map.values()) list.sort((a, b) => comparePaths(a.path, b.path));
  byBlock.set(c, map);
  return map;
}

/** `h.2` before `h.10`: numeric segments compare as numbers. */
function comparePaths(a: string, b: string): number {
  const [x, y] = [a.split("."), b.split(".")];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const [s, t] = [x[i]!, y[i]!];
    if (s === t) continue;
    const [m, n] = [Number(s), Number(t)];
    return Number.isInteger(m) && Number.isInteger(n) ? m - n : s < t ? -1 : 1;
  }
  return x.length - y.length;
}

export const instancesOf = (c: Checked, block: A.BlockDecl): readonly Instance[] => instancesByBlock(c).get(block) ?? [];

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** The instances a `layer` declaration of `block` made: one per instance of `block`, or one per copy of a repeat stack. */
export function layerInstances(c: Checked, block: A.BlockDecl, layer: A.LayerDecl): Instance[] {
  const out: Instance[] = [];
  for (const parent of instancesOf(c, block)) {
    const base = join(parent.path, layer.checkpointName?.value ?? layer.name.name);
    for (const child of parent.children) {
      if (child.path === base || (layer.repeat && child.path.startsWith(base + ".") && /^\d+$/.test(child.path.slice(base.length + 1)))) out.push(child);
    }
  }
  return out;
}

/** The instances a layer expression (`wte`, `encoder.norm`) of a block's body stands for (its names as the resolver bound them). */
export function exprInstances(c: Checked, block: A.BlockDecl, e: A.Expr): Instance[] {
  if (e.kind === "Name") {
    const s = c.result.resolution?.symbolOf(e);
    const layer = s && isLocal(s) ? s.layer : undefined;
    return layer && !layer.repeat ? layerInstances(c, block, layer) : [];
  }
  if (e.kind !== "Member") return [];
  const member = c.result.resolution?.memberOf(e);
  const layer = member?.kind === "Layer" ? member : undefined;
  return exprInstances(c, block, e.target).flatMap((parent) => {
    const path = layer && !layer.repeat ? join(parent.path, layer.checkpointName?.value ?? layer.name.name) : undefined;
    return parent.children.filter((ch) => ch.path === path);
  });
}

/** The weights at or below a checkpoint path. */
export function weightsUnder(c: Checked, path: string): Weight[] {
  return (c.result.instance?.weights ?? []).filter((w) => w.name.startsWith(path + "."));
}

/** The weights a `param` declaration became, one per instance of its block. */
export function weightsOf(c: Checked, decl: A.TensorParamDecl): Weight[] {
  return (c.result.instance?.weights ?? []).filter((w) => w.decl === decl);
}

/** The distinct values a block parameter took across the block's instances. */
export function hparamValues(c: Checked, block: A.BlockDecl, name: string): string[] {
  const seen = new Set<string>();
  for (const inst of instancesOf(c, block)) {
    const v = inst.hparams.get(name);
    if (v) seen.add(show(v));
  }
  return [...seen];
}

export const showWeight = (w: Weight): string => `${w.name}: ${w.dtype}[${w.shape.join(", ")}]${w.transposed ? " (stored transposed)" : ""}`;

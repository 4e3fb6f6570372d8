// Checking a run's inputs against the model and binding its symbolic dims: one code for every
// backend, so each rejects the same inputs with the same TFM6002 message.
import { constValue, type Dim, evalDim, showDim, symbolsOf } from "../../core/dim.js";
import { runtimeDType } from "../../core/dtype.js";
import { showShape, type Tensor } from "../../core/tensor.js";
import type { Graph, Node } from "../../ir/graph.js";
import { RunError } from "./errors.js";

/**
 * The values of the symbolic dims (batch, seq, ...) the inputs' shapes give, checking every input
 * against its declared type: present, of the declared runtime dtype and rank, every dim equal to
 * what its expression evaluates to. A dim that is a bare symbol binds it at its first occurrence;
 * the others are checked once every symbol is bound.
 */
export function bindInputs(g: Graph, inputs: ReadonlyMap<string, Tensor>): Map<string, number> {
  const symbols = new Map<string, number>();
  const later: [string, Dim, number][] = [];
  for (const port of g.inputs) {
    const node = g.nodes[port.node]!;
    const t = inputs.get(port.name);
    if (!t) throw new RunError("TFM6002", `input \`${port.name}\` is missing`);
    const type = `${node.dtype}[${node.shape.map(showDim).join(", ")}]`;
    if (t.dtype !== runtimeDType[node.dtype]) throw new RunError("TFM6002", `input \`${port.name}\` is ${t.dtype}${showShape(t.shape)}, but the model takes ${type}`);
    if (t.shape.length !== node.shape.length) throw new RunError("TFM6002", `input \`${port.name}\` has ${t.shape.length} dims ${showShape(t.shape)}, but the model takes ${type}`);
    node.shape.forEach((d, k) => {
      const terms = [...d.terms];
      const sym = terms.length === 1 && terms[0]![1] === 1 && terms[0]![0] !== "" ? terms[0]![0] : undefined;
      const known = sym !== undefined ? symbols.get(sym) : constValue(d);
      if (sym !== undefined && known === undefined) symbols.set(sym, t.shape[k]!);
      else if (known === undefined) later.push([port.name, d, t.shape[k]!]);
      else if (known !== t.shape[k]) throw new RunError("TFM6002", `input \`${port.name}\` has shape ${showShape(t.shape)}: dim ${k} should be ${showDim(d)} = ${known}`);
    });
  }
  for (const [name, d, size] of later) {
    if (evalDim(d, symbols) !== size) throw new RunError("TFM6002", `input \`${name}\`: a dim of size ${size} should be ${showDim(d)} = ${evalDim(d, symbols)}`);
  }
  return symbols;
}

/**
 * Checks, before anything is allocated, that every size the graph computes is a whole number at
 * these symbols: `arange(n / 3)` with n = 2, or `reshape(x, [n / 2, 2])` with n = 3, is TFM6002
 * at the user's line, naming the values, not a failure deep in the memory plan.
 */
export function checkSizes(g: Graph, symbols: ReadonlyMap<string, number>): void {
  const at = (dims: readonly Dim[]) => [...new Set(dims.flatMap(symbolsOf))].map((s) => `${s} = ${symbols.get(s)}`).join(", ") || "these sizes";
  for (const c of sizeChecks(g)) {
    const n = c.node;
    // A slice whose bounds depend on run-time dims (`x[3:]` of f32[b, ...]) must lie within its dim at these sizes (docs/LANGUAGE.md: not clamped), as the kernel would say.
    if (c.kind === "slice" && n.op === "slice" && n.attrs.start && n.attrs.end && n.attrs.axis !== undefined) {
      const x = g.nodes[n.inputs[0]!]!;
      const [start, end, size] = [evalDim(n.attrs.start, symbols), evalDim(n.attrs.end, symbols), evalDim(x.shape[n.attrs.axis]!, symbols)];
      if (start !== undefined && end !== undefined && size !== undefined && !(0 <= start && start <= end && end <= size)) {
        const shape = x.shape.map((d) => evalDim(d, symbols));
        throw new RunError("TFM6001", `slice: range [${start}, ${end}) is not within axis ${n.attrs.axis} of shape [${shape.join(", ")}] (size ${size}) at ${at([...x.shape, n.attrs.start, n.attrs.end])}: a slice must lie within its dim`, n.site);
      }
    } else if (c.kind === "dim") {
      const d = c.dim;
      const v = evalDim(d, symbols);
      if (v !== undefined && v < 0) throw new RunError("TFM6002", `the size ${showDim(d)} is ${v} for ${at([d])}: a size cannot be negative`, n.site);
      if (v !== undefined) continue;
      const names = symbolsOf(d);
      const message = names.some((s) => !symbols.has(s))
        ? unboundMessage(d)
        : `the size ${showDim(d)} is not a whole number for ${names.map((s) => `${s} = ${symbols.get(s)}`).join(", ")}: a dim must divide exactly`;
      throw new RunError("TFM6002", message, n.site);
    } else if (c.kind === "reshape") {
      // A reshape the checker could not prove (a warning, TFM4002) must keep the element count at these symbols.
      const from = g.nodes[n.inputs[0]!]!.shape.map((d) => evalDim(d, symbols)!);
      const to = n.shape.map((d) => evalDim(d, symbols)!);
      const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
      if (count(from) !== count(to)) {
        throw new RunError("TFM6002", `reshape of [${from.join(", ")}] (${count(from)} elements) to [${to.join(", ")}] (${count(to)} elements) at ${at([...g.nodes[n.inputs[0]!]!.shape, ...n.shape])}: a reshape keeps the number of elements`, n.site);
      }
    }
  }
}

/** One check of checkSizes: a node's slice bounds, one of its dims, or its reshape's element count. */
type SizeCheck = { readonly kind: "slice" | "reshape"; readonly node: Node } | { readonly kind: "dim"; readonly node: Node; readonly dim: Dim };

const checksOf = new WeakMap<Graph, readonly SizeCheck[]>();

/**
 * checkSizes's checks for a graph, in the order of its nodes (made once a graph: every call runs
 * them). A dim is checked at the first node whose shape has it: an equal dim (dims are in normal
 * form) has the same value wherever it occurs, so a later one can fail only where the first did. A
 * constant dim that is not negative, and a reshape between constant shapes of one element count,
 * can fail at no symbols, and are left out.
 */
function sizeChecks(g: Graph): readonly SizeCheck[] {
  let checks = checksOf.get(g);
  if (checks) return checks;
  const list: SizeCheck[] = [];
  const seen = new Set<string>();
  const key = (d: Dim) => [...d.terms].map(([m, c]) => `${m}\u0001${c}`).join("\u0002");
  const count = (dims: readonly Dim[]) => dims.reduce<number | undefined>((a, d) => (a === undefined || constValue(d) === undefined ? undefined : a * constValue(d)!), 1);
  for (const n of g.nodes) {
    if (n.op === "slice" && n.attrs.start && n.attrs.end && n.attrs.axis !== undefined) list.push({ kind: "slice", node: n });
    for (const d of n.shape) {
      const v = constValue(d);
      if (v !== undefined && v >= 0) continue;
      const k = key(d);
      if (seen.has(k)) continue;
      seen.add(k);
      list.push({ kind: "dim", node: n, dim: d });
    }
    if (n.op === "reshape") {
      const [from, to] = [count(g.nodes[n.inputs[0]!]!.shape), count(n.shape)];
      if (from === undefined || to === undefined || from !== to) list.push({ kind: "reshape", node: n });
    }
  }
  checksOf.set(g, (checks = list));
  return checks;
}

/** A dim's value at these symbols; TFM6002 when it depends on a symbol no input gives. */
export function dimValue(d: Dim, symbols: ReadonlyMap<string, number>): number {
  const v = evalDim(d, symbols);
  if (v === undefined) throw new RunError("TFM6002", unboundMessage(d));
  return v;
}

/** The message for a size that depends on a dim no input gives. */
export const unboundMessage = (d: Dim): string => `the size ${showDim(d)} depends on a dim no input gives`;

// When a kernel may write an output over one of its inputs. The contract with the backends: a
// kernel given an output in place over an input reads every element of that input it needs for
// an output element before it writes that element, and reads no element after it has written it
// (true of an elementwise loop, of a rows kernel that keeps each row's inputs until it writes the
// row, of a matmul epilogue applied per output tile). The memory plan grants it only where the
// input is read at the output's own index:
//   - the input dies in this kernel (no later kernel and no graph output reads it);
//   - it has the output's shape, dim by dim (provably), and its element size;
//   - inside the kernel only elementwise nodes read it (and, in a rows kernel, last-axis
//     reductions), directly or through reshapes — no permute, slice, expand or gather, which read
//     other indices; in a matmul kernel only epilogue nodes read it (never the matmul's operands);
//   - no node after the output (in the kernel's order, the order a backend may compute them in,
//     as the CPU's fused kernels do block by block) reads the input;
//   - the output is an elementwise node (a reduction's kernel needs its output apart from its input);
//   - the kernel's kind allows it: op (a single elementwise node), elementwise, rows, matmul
//     (epilogue); attention never (its output is written per query row while K and V are read
//     whole).
import { equalDims } from "../core/dim.js";
import type { Node } from "../ir/graph.js";
import { ops } from "../ir/ops.js";
import type { Kernel, KernelKind, Schedule } from "./kernel.js";
import type { ElementBytes, Liveness } from "./liveness.js";

/** Kinds that may write in place by default: all but attention. */
export const inPlaceKinds: readonly KernelKind[] = ["op", "elementwise", "rows", "matmul"];

const elementwise = (n: Node): boolean => {
  const c = ops[n.op].class;
  return c === "unary" || c === "binary" || c === "where";
};
const rowReduce = (n: Node): boolean => ops[n.op].class === "reduce" && n.op !== "argmax" && n.attrs.keepdim === true && n.attrs.axis === n.shape.length - 1;
const transparent = (n: Node): boolean => n.op === "reshape" || n.op === "dropout";

const sameShape = (a: Node, b: Node): boolean => a.shape.length === b.shape.length && a.shape.every((d, i) => equalDims(d, b.shape[i]!) === true);

/** Whether node `n` of kernel `k` may read a value that an output of `k` overwrites at the same index. */
function readerAllowed(k: Kernel, n: Node): boolean {
  switch (k.kind) {
    case "op":
    case "elementwise":
      return elementwise(n);
    case "rows":
      return elementwise(n) || rowReduce(n);
    case "matmul":
      return elementwise(n) && (k.epilogue ?? []).includes(n.id);
    case "attention":
      return false;
    default: {
      const never: never = k.kind;
      return never;
    }
  }
}

/** Whether output node `out` of the kernel at `step` may be written over the buffer of value `input` (a value owner). */
export function canWriteOver(s: Schedule, lv: Liveness, step: number, input: number, out: number, elementBytes: ElementBytes, kinds: readonly KernelKind[] = inPlaceKinds): boolean {
  const k = s.kernels[step]!;
  const g = s.graph;
  const o = g.nodes[out]!;
  const v = lv.byNode.get(input);
  if (!kinds.includes(k.kind) || !k.outputs.includes(out) || !v || v.last !== step || v.output || v.def >= step) return false;
  if (k.kind === "op" && k.nodes.length !== 1) return false;
  if (!elementwise(o)) return false;
  if (k.kind === "matmul" && !(k.epilogue ?? []).includes(out)) return false;
  if (elementBytes(o.dtype) !== elementBytes(g.nodes[input]!.dtype)) return false;
  // Every way the kernel reads the input: the kernel inputs standing for it, then through reshapes inside the kernel.
  const todo = k.inputs.filter((i) => lv.owner(i) === input);
  if (!todo.length) return false;
  for (let read = todo.pop(); read !== undefined; read = todo.pop()) {
    for (const id of k.nodes) {
      const n = g.nodes[id]!;
      if (!n.inputs.includes(read)) continue;
      if (transparent(n)) todo.push(id);
      else if (!readerAllowed(k, n) || !sameShape(g.nodes[read]!, o) || id > out) return false;
    }
  }
  return true;
}

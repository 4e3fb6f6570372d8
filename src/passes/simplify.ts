// Pass `simplify`: algebraic identities that hold exactly in IEEE floating point (and in i32), so
// the result is bit for bit the same: dropout (the identity at inference), x·1, 1·x, x/1, x − 0,
// x + (−0) and, for integers, x + 0; a cast to the same dtype, a reshape or expand to the same
// shape, a slice of a whole axis (the `:` of x[:, 0]), reshape∘reshape → one reshape,
// permute∘permute → one permute (none when it is the identity), where(c, x, x) → x. An operand
// is dropped only when the node's dtype and shape are that operand's, so broadcasting never
// changes a shape. Not done, because it changes a result: f32 x + 0 (−0 + 0 is +0),
// reassociation ((x·a)·b → x·(a·b) rounds differently), x·0 (NaN, ∞).
import type { Graph, Node } from "../ir/graph.js";
import { constValue } from "../core/dim.js";
import { dimKey, rewrite, sameShape, type Rewriter } from "./rewrite.js";

/** The value every element of `n` has, as stored at run time (f32-rounded, i32-wrapped), if known. */
function uniform(n: Node, r: Rewriter): number | undefined {
  if (n.op === "expand") return uniform(r.node(n.inputs[0]!), r);
  if (n.op !== "const" || typeof n.attrs.value !== "number") return undefined;
  const v = n.attrs.value;
  return n.dtype === "f32" ? Math.fround(v) : n.dtype === "i32" ? v | 0 : undefined;
}

/** `x` stands for `n` when it has n's dtype and shape (an operand broadcast to a larger shape does not). */
const fits = (x: Node, n: Node) => x.dtype === n.dtype && sameShape(x.shape, n.shape);

const isIdentity = (p: readonly number[]) => p.every((d, i) => d === i);

/** One rewrite of `n` (inputs already simplified), or undefined to keep it. */
function simplifyNode(n: Node, r: Rewriter): number | undefined {
  const [x, y] = n.inputs.map((i) => r.node(i));
  const operand = (k: number) => (fits(r.node(n.inputs[k]!), n) ? n.inputs[k]! : undefined);
  switch (n.op) {
    case "dropout":
      return n.inputs[0];
    case "cast":
    case "expand":
      return operand(0);
    case "slice":
      // x[:] along an axis: from 0 to the whole dim.
      return constValue(n.attrs.start!) === 0 && dimKey(n.attrs.end!) === dimKey(x!.shape[n.attrs.axis!]!) ? operand(0) : undefined;
    case "reshape": {
      if (fits(x!, n)) return n.inputs[0];
      if (x!.op !== "reshape") return undefined;
      const src = r.node(x!.inputs[0]!);
      return fits(src, n) ? src.id : r.add("reshape", [src.id], {}, n.dtype, n.shape);
    }
    case "permute": {
      const q = n.attrs.perm!;
      if (isIdentity(q)) return n.inputs[0];
      if (x!.op !== "permute") return undefined;
      // Output dim i is x's dim q[i], which is its input's dim p[q[i]].
      const p = x!.attrs.perm!;
      const composed = q.map((i) => p[i]!);
      return isIdentity(composed) ? x!.inputs[0] : r.add("permute", [x!.inputs[0]!], { perm: composed }, n.dtype, n.shape);
    }
    case "mul":
      if (uniform(y!, r) === 1) return operand(0) ?? (uniform(x!, r) === 1 ? operand(1) : undefined);
      return uniform(x!, r) === 1 ? operand(1) : undefined;
    case "div":
      return uniform(y!, r) === 1 ? operand(0) : undefined;
    case "sub": {
      const v = uniform(y!, r);
      // x − (+0) is x for every x, −0 included; x − (−0) is x + 0, which is not.
      return v !== undefined && Object.is(v, 0) ? operand(0) : undefined;
    }
    case "add": {
      // x + (−0) is x for every x; x + (+0) only for integers (f32: −0 + 0 = +0).
      const zero = (c: Node) => {
        const v = uniform(c, r);
        return v !== undefined && (Object.is(v, -0) || (v === 0 && n.dtype === "i32"));
      };
      if (zero(y!)) return operand(0) ?? (zero(x!) ? operand(1) : undefined);
      return zero(x!) ? operand(1) : undefined;
    }
    case "where":
      return n.inputs[1] === n.inputs[2] && fits(y!, n) ? n.inputs[1] : undefined;
    default:
      return undefined;
  }
}

export function simplify(g: Graph): Graph {
  return rewrite(g, simplifyNode);
}

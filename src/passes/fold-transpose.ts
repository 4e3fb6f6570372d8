// Pass `fold-transpose`: a matmul whose right operand is a transpose of a tensor x — the operand's
// k dim (its second-to-last) is x's innermost dim — reads x's layout directly with the attribute
// `transB` (the kernel takes b as [..., n, k], k contiguous), so the transposed copy is never made.
// For `matmul(a, permute(x, p))` with p[r-2] = r-1, let q be p with its last two entries swapped:
// permute(x, p) is permute(x, q) transposed in its last two dims. If q is the identity (p only
// swaps the last two dims: torch's x @ weight.T, a tied LM head) the matmul becomes
// `matmul(a, x) {transB}`; otherwise, when the permute has no other use, `matmul(a, permute(x, q))
// {transB}`, where permute(x, q) keeps x's innermost dim innermost and so copies whole rows
// (attention's q @ kᵀ after split_heads: one such permute instead of a permute and a transpose).
// The old permute is left to dce. A transposed left operand is left alone: the CPU kernel has no
// transA, and permuting it first would save nothing.
import type { Graph } from "../ir/graph.js";
import { rewrite } from "./rewrite.js";

const swapLastTwo = <T>(xs: readonly T[]): T[] => [...xs.slice(0, -2), xs[xs.length - 1]!, xs[xs.length - 2]!];

export function foldTranspose(g: Graph): Graph {
  const uses = new Array<number>(g.nodes.length).fill(0);
  for (const n of g.nodes) for (const i of n.inputs) uses[i]!++;
  for (const p of g.outputs) uses[p.node]!++;
  return rewrite(g, (n, r) => {
    if (n.op !== "matmul" || n.attrs.transB) return undefined;
    const b = r.node(n.inputs[1]!);
    const p = b.attrs.perm;
    if (b.op !== "permute" || !p || p.length < 2 || p[p.length - 2] !== p.length - 1) return undefined;
    const q = swapLastTwo(p);
    let operand: number;
    if (q.every((d, i) => d === i)) operand = b.inputs[0]!;
    else if (uses[g.nodes[n.id]!.inputs[1]!] === 1) operand = r.add("permute", [b.inputs[0]!], { perm: q }, b.dtype, swapLastTwo(b.shape));
    else return undefined;
    return r.add("matmul", [n.inputs[0]!, operand], { ...n.attrs, transB: true }, n.dtype, n.shape);
  });
}

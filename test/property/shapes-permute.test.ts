// Property: a declared type's dims may come in any order. Permuting the dims of a model input's
// type (each a bare name or an expression of names) gives the same checked shape, permuted the
// same way, and every dim evaluates to its expression's value; no diagnostic in any order. The
// checker once evaluated dims left to right and made `2 * n` in `f32[2 * n, n]` a silent 1.
// The seed is printed; replay with TFM_SHAPES_SEED=<seed>.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evalDim } from "../../src/core/dim.js";
import { showValue } from "../../src/check/shapes/value.js";
import { run } from "../helpers.js";
import { seedFromEnv } from "./shapes-oracle.js";

const names = ["a", "b", "c"] as const;
const values = new Map<string, number>([["a", 2], ["b", 3], ["c", 5]]);

/** A dim as source text and its value at `values`. */
type DimCase = { text: string; value: number };

const compound: fc.Arbitrary<DimCase> = fc.oneof(
  fc.tuple(fc.integer({ min: 2, max: 4 }), fc.constantFrom(...names)).map(([k, n]) => ({ text: `${k} * ${n}`, value: k * values.get(n)! })),
  fc.tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 3 })).map(([n, k]) => ({ text: `${n} + ${k}`, value: values.get(n)! + k })),
  fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names)).map(([n, m]) => ({ text: `${n} * ${m}`, value: values.get(n)! * values.get(m)! })),
  fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names)).map(([n, m]) => ({ text: `(${n} + ${m}) * 2`, value: (values.get(n)! + values.get(m)!) * 2 })),
);

/** The dims of one type: every name it uses bare at least once, some compound dims, shuffled. */
const typeCase = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.array(compound, { maxLength: 3 }))
  .chain(([k, extra]) => {
    const used = names.slice(0, k);
    const ok = extra.filter((d) => [...d.text.matchAll(/[a-c]/g)].every((m) => used.includes(m[0] as (typeof names)[number])));
    const dims = [...used.map((n) => ({ text: n, value: values.get(n)! })), ...ok];
    return fc.tuple(fc.constant(dims), fc.shuffledSubarray(dims.map((_, i) => i), { minLength: dims.length, maxLength: dims.length }));
  });

function shapes(dims: readonly DimCase[]) {
  const src = `model M() {\n  input x: f32[${dims.map((d) => d.text).join(", ")}]\n  output y = x * 2.0\n}\n`;
  const r = run(src);
  return { src, diagnostics: r.diagnostics.map((d) => `${d.code} ${d.message}`), x: r.shapes?.inputs[0]?.value, y: r.shapes?.outputs[0]?.value };
}

describe("shapes: the order of a declared type's dims does not matter", () => {
  const { seed } = seedFromEnv();
  it("permuting the dims permutes the checked shape (seed printed; replay with TFM_SHAPES_SEED)", () => {
    console.log(`[shapes-permute] seed=${seed} (replay: TFM_SHAPES_SEED=${seed})`);
    fc.assert(
      fc.property(typeCase, ([dims, perm]) => {
        const base = shapes(dims);
        const permuted = shapes(perm.map((i) => dims[i]!));
        for (const s of [base, permuted]) expect(s.diagnostics, s.src).toEqual([]);
        const bx = base.x!, px = permuted.x!;
        if (bx.kind !== "tensor" || px.kind !== "tensor" || permuted.y?.kind !== "tensor") throw new Error(`no tensor for x in ${permuted.src}`);
        perm.forEach((i, j) => {
          expect(showValue({ kind: "int", dim: px.shape[j]! }), permuted.src).toBe(showValue({ kind: "int", dim: bx.shape[i]! }));
          expect(evalDim(px.shape[j]!, values), permuted.src).toBe(dims[i]!.value);
        });
        expect(showValue(permuted.y), permuted.src).toBe(showValue(px));
      }),
      { seed, numRuns: 300 },
    );
  });
});

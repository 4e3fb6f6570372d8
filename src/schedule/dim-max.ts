// Maxima of symbolic sizes. A buffer that holds values of sizes a and b needs max(a, b) bytes;
// when one is provably ≥ the other (for every value of the dims, each ≥ 1) that is one Dim,
// otherwise both are kept: a size is a list of pairwise incomparable Dims (an antichain), read as
// their max and evaluated once the dims are bound. A comparison is proven (dim.ts's
// provablyNonNegative) or not made.
import { DimOverflow, evalDim, provablyNonNegative, showDim, subDim, symbolsOf, type Dim } from "../core/dim.js";

/** a ≥ b for every assignment of the symbols (each ≥ 1); false when it depends or cannot be told. */
export function provablyGeq(a: Dim, b: Dim): boolean {
  try {
    return provablyNonNegative(subDim(a, b));
  } catch (e) {
    if (e instanceof DimOverflow) return false;
    throw e;
  }
}

/** Whether the max of `ds` is provably ≥ `d`: some member is. */
export const holds = (ds: readonly Dim[], d: Dim): boolean => ds.some((x) => provablyGeq(x, d));

/** A dim's value with every symbol at 720720 (divisible by 1 to 16): an order for trying the largest first. */
function large(d: Dim): number {
  return evalDim(d, new Map(symbolsOf(d).map((s) => [s, 720720]))) ?? 0;
}

/**
 * The maxima of a list: each member is provably ≤ one of them (directly: the prover is not
 * transitive, so a member is dropped only for a kept one it is proven ≤). Their max is the list's
 * max. Tried largest first, so what is kept is usually pairwise incomparable.
 */
export function maxima(ds: readonly Dim[]): readonly Dim[] {
  const kept: Dim[] = [];
  for (const d of [...ds].sort((a, b) => large(b) - large(a))) if (!holds(kept, d)) kept.push(d);
  return kept;
}

/** The max of `ds` at the given dim values (0 for an empty list); undefined if a dim is unbound or a quotient is not exact there. */
export function evalMax(ds: readonly Dim[], symbols: ReadonlyMap<string, number>): number | undefined {
  let m = 0;
  for (const d of ds) {
    const v = evalDim(d, symbols);
    if (v === undefined) return undefined;
    m = Math.max(m, v);
  }
  return m;
}

/** `a`, or `max(a, b, ...)` for an antichain of several. */
export const showMax = (ds: readonly Dim[]): string => (ds.length === 0 ? "0" : ds.length === 1 ? showDim(ds[0]!) : `max(${ds.map(showDim).join(", ")})`);

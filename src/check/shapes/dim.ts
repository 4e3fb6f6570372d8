// Symbolic dimensions: integer polynomials over named symbols (`batch`, `seq`, or a block's
// parameters when it is checked on its own), in a normal form so that equal expressions compare
// equal. Arithmetic is exact: nothing passes 2^53, and division is exact or kept as an atom with
// the obligation that it divide. Symbols stand for sizes, so each is assumed to be at least 1.

/** A product of symbols with powers, as a canonical key: "seq", "batch*seq", "d^2". */
type Monomial = string;

export interface Dim {
  /** Coefficients by monomial; the constant term has key "". No zero coefficients. */
  readonly terms: ReadonlyMap<Monomial, number>;
}

export class DimOverflow extends Error {}

const safe = (v: number): number => {
  if (!Number.isSafeInteger(v)) throw new DimOverflow(`dimension arithmetic overflows 2^53`);
  return v;
};

function make(entries: Iterable<[Monomial, number]>): Dim {
  const terms = new Map<Monomial, number>();
  for (const [m, c] of entries) {
    const v = safe((terms.get(m) ?? 0) + c);
    if (v === 0) terms.delete(m);
    else terms.set(m, v);
  }
  return { terms: new Map([...terms].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}

export const constDim = (n: number): Dim => make([["", safe(n)]]);
export const symDim = (name: string): Dim => make([[name, 1]]);

/** The value of a dim with no symbols, else undefined. */
export function constValue(d: Dim): number | undefined {
  if (d.terms.size === 0) return 0;
  if (d.terms.size === 1 && d.terms.has("")) return d.terms.get("")!;
  return undefined;
}

const factors = (m: Monomial): string[] => (m ? m.split("*") : []);
const monomial = (fs: string[]): Monomial => [...fs].sort().join("*");

export const addDim = (a: Dim, b: Dim): Dim => make([...a.terms, ...b.terms]);
export const negDim = (a: Dim): Dim => make([...a.terms].map(([m, c]) => [m, -c] as [Monomial, number]));
export const subDim = (a: Dim, b: Dim): Dim => addDim(a, negDim(b));

export function mulDim(a: Dim, b: Dim): Dim {
  const out: [Monomial, number][] = [];
  for (const [ma, ca] of a.terms) for (const [mb, cb] of b.terms) out.push([monomial([...factors(ma), ...factors(mb)]), safe(ca * cb)]);
  return make(out);
}

/**
 * Exact division. Returns the quotient when it is a polynomial; otherwise an atom standing for
 * the quotient, with `exact: undefined` (cannot tell) or `exact: false` (provably not exact).
 */
export function divDim(a: Dim, b: Dim): { q: Dim; exact: boolean | undefined } {
  const bc = constValue(b);
  if (bc !== undefined && bc !== 0) {
    if ([...a.terms.values()].every((c) => c % bc === 0)) return { q: make([...a.terms].map(([m, c]) => [m, c / bc] as [Monomial, number])), exact: true };
    const ac = constValue(a);
    return { q: atom(a, b), exact: ac !== undefined ? false : undefined };
  }
  // Division by a single term: exact when it divides every term of `a`.
  if (b.terms.size === 1) {
    const [[mb, cb]] = [...b.terms];
    const fb = factors(mb);
    const out: [Monomial, number][] = [];
    for (const [ma, ca] of a.terms) {
      const fa = factors(ma);
      for (const f of fb) {
        const i = fa.indexOf(f);
        if (i < 0 || ca % cb !== 0) return { q: atom(a, b), exact: undefined };
        fa.splice(i, 1);
      }
      out.push([monomial(fa), ca / cb]);
    }
    return { q: make(out), exact: true };
  }
  if (equalDims(a, b) === true) return { q: constDim(1), exact: true };
  return { q: atom(a, b), exact: undefined };
}

/** An opaque symbol for a quotient that is not a polynomial: `(seq / 2)`. */
const atom = (a: Dim, b: Dim): Dim => symDim(`(${showDim(a)} / ${showDim(b)})`);

/**
 * Whether two dims are equal for every assignment of symbols ≥ 1: true (proven), false (provably
 * different) or undefined (depends on the symbols' values).
 */
export function equalDims(a: Dim, b: Dim): boolean | undefined {
  const d = subDim(a, b);
  if (d.terms.size === 0) return true;
  const cs = [...d.terms.values()];
  if (cs.every((c) => c > 0) || cs.every((c) => c < 0)) return false; // every monomial is ≥ 1
  return undefined;
}

export function showDim(d: Dim): string {
  if (d.terms.size === 0) return "0";
  let out = "";
  for (const [m, c] of d.terms) {
    const mag = Math.abs(c);
    const body = m === "" ? String(mag) : mag === 1 ? m.replace(/\*/g, " * ") : `${mag} * ${m.replace(/\*/g, " * ")}`;
    out += out === "" ? (c < 0 ? `-${body}` : body) : c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return out;
}

export const showShape = (s: readonly Dim[]): string => `[${s.map(showDim).join(", ")}]`;

/** The symbols a dim mentions (for "would hold if ..." messages). */
export const symbolsOf = (d: Dim): string[] => [...new Set([...d.terms.keys()].flatMap(factors))];

/** Substitutes concrete values for symbols; undefined if some symbol has no value. */
export function evalDim(d: Dim, values: ReadonlyMap<string, number>): number | undefined {
  let total = 0;
  for (const [m, c] of d.terms) {
    let v = c;
    for (const f of factors(m)) {
      const x = values.get(f);
      if (x === undefined) return undefined;
      v *= x;
    }
    total += v;
  }
  return total;
}

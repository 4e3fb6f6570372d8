// Symbolic dimensions: integer polynomials over named symbols (`batch`, `seq`, or a block's
// parameters when it is checked on its own), in a normal form so that equal expressions compare
// equal. Arithmetic is exact: nothing passes 2^53, and division is exact or kept as an atom with
// the obligation that it divide. Symbols stand for sizes, so each is assumed to be at least 1.

/**
 * A product of symbols, as a canonical key: the sorted factors joined by SEP ("seq", "batch·seq").
 * SEP never occurs in a symbol's name, not even in a quotient atom's (`(b * t / 2)`).
 */
type Monomial = string;
const SEP = "\u0000";

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

/** Each monomial's factors, split once (evalDim runs per node per call: the split was its cost). */
const split = new Map<Monomial, readonly string[]>();
const factors = (m: Monomial): readonly string[] => {
  let f = split.get(m);
  if (!f) split.set(m, (f = m ? m.split(SEP) : []));
  return f;
};

/** A dim's terms, each a coefficient and its factors (symbols or quotient atoms; none for the constant term), for writing dims out. */
export const termsOf = (d: Dim): { readonly coef: number; readonly factors: readonly string[] }[] => [...d.terms].map(([m, coef]) => ({ coef, factors: factors(m) }));
const monomial = (fs: string[]): Monomial => [...fs].sort().join(SEP);

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
      const fa = [...factors(ma)];
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

/**
 * Quotients that are not polynomials become opaque symbols (atoms) named like `(seq / 2)`. The
 * registry remembers what each stands for, so atoms still evaluate at run time and a quotient by
 * a constant can be multiplied out when dims are compared.
 */
const atoms = new Map<string, { readonly num: Dim; readonly den: Dim }>();
const grouped = (d: Dim) => (d.terms.size > 1 || [...d.terms].some(([m, c]) => m !== "" && (c !== 1 || factors(m).length > 1)) ? `(${showDim(d)})` : showDim(d));

function atom(num: Dim, den: Dim): Dim {
  const name = `(${grouped(num)} / ${grouped(den)})`;
  atoms.set(name, { num, den });
  return symDim(name);
}

/**
 * What a factor stands for when it is a quotient atom (`(seq / 2)`: seq and 2), else undefined (a
 * plain symbol). For writing dims out as data (src/bundle/); `divDim(num, den)` makes the atom again.
 */
export const quotientOf = (factor: string): { readonly num: Dim; readonly den: Dim } | undefined => atoms.get(factor);

/** Whether a factor is ≥ 1 whenever every symbol is: symbols are, and exact positive quotients. */
function positive(f: string): boolean {
  const a = atoms.get(f);
  return !a || (sign(a.num) === 1 && sign(a.den) === 1);
}

/** Sign of a dim for every assignment of symbols ≥ 1 (each positive monomial is then ≥ 1). */
function sign(d: Dim): 1 | 0 | -1 | undefined {
  if (d.terms.size === 0) return 0;
  if (![...d.terms.keys()].every((m) => factors(m).every(positive))) return undefined;
  const cs = [...d.terms.values()];
  if (cs.every((c) => c > 0)) return 1;
  if (cs.every((c) => c < 0)) return -1;
  return undefined;
}

/**
 * `d` as `poly / scale` with every quotient by a constant multiplied out, nested ones too
 * (`2 * (t / 2)` → `t / 1`): exact division is assumed, as its TFM4009 obligation says. Undefined
 * when that overflows.
 */
function expand(d: Dim): { poly: Dim; scale: number } | undefined {
  try {
    const terms: { poly: Dim; scale: number }[] = [];
    for (const [m, c] of d.terms) {
      let poly = constDim(c);
      let scale = 1;
      for (const f of factors(m)) {
        const a = atoms.get(f);
        const k = a ? constValue(a.den) : undefined;
        if (a && k !== undefined && k > 0) {
          const inner = expand(a.num);
          if (!inner) return undefined;
          poly = mulDim(poly, inner.poly);
          scale *= inner.scale * k;
        } else poly = mulDim(poly, symDim(f));
      }
      terms.push({ poly, scale });
    }
    const lcm = terms.reduce((l, t) => (l * t.scale) / gcd(l, t.scale), 1);
    if (!Number.isSafeInteger(lcm)) return undefined;
    return { poly: terms.reduce((sum, t) => addDim(sum, mulDim(t.poly, constDim(lcm / t.scale))), constDim(0)), scale: lcm };
  } catch (e) {
    if (e instanceof DimOverflow) return undefined;
    throw e;
  }
}
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The sign of `d`, looking through quotients by constants when the plain form cannot tell. */
function signOf(d: Dim): 1 | 0 | -1 | undefined {
  const s = sign(d);
  if (s !== undefined) return s;
  const e = expand(d);
  return e ? sign(e.poly) : undefined;
}

/** Whether d ≥ 0 for every assignment of symbols ≥ 1: true, false, or undefined (it depends). */
export function nonNegative(d: Dim): boolean | undefined {
  const s = signOf(d);
  return s === undefined ? undefined : s >= 0;
}

/**
 * Whether d ≥ 0 for every assignment of symbols ≥ 1, proven also where signs are mixed: with
 * quotients by constants multiplied out, and 1 + s put for each symbol s (now s ≥ 0; an exact
 * positive quotient is ≥ 1 too), no coefficient is negative (`201028·b·t − 3076·t`). False when it
 * cannot tell. For comparing sizes (memory planning); the checker keeps nonNegative.
 */
export function provablyNonNegative(d: Dim): boolean {
  if (nonNegative(d) === true) return true;
  try {
    let shifted = constDim(0);
    for (const [m, c] of (expand(d)?.poly ?? d).terms) {
      let t = constDim(c);
      for (const f of factors(m)) {
        if (!positive(f)) return false;
        t = mulDim(t, addDim(constDim(1), symDim(f)));
      }
      shifted = addDim(shifted, t);
    }
    return [...shifted.terms.values()].every((c) => c >= 0);
  } catch (e) {
    if (e instanceof DimOverflow) return false;
    throw e;
  }
}

/**
 * Whether two dims are equal for every assignment of symbols ≥ 1: true (proven), false (provably
 * different) or undefined (depends on the symbols' values).
 */
export function equalDims(a: Dim, b: Dim): boolean | undefined {
  const s = signOf(subDim(a, b));
  return s === undefined ? undefined : s === 0;
}

export function showDim(d: Dim): string {
  if (d.terms.size === 0) return "0";
  let out = "";
  for (const [m, c] of d.terms) {
    const mag = Math.abs(c);
    const shown = factors(m).join(" * ");
    const body = m === "" ? String(mag) : mag === 1 ? shown : `${mag} * ${shown}`;
    out += out === "" ? (c < 0 ? `-${body}` : body) : c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return out;
}

export const showShape = (s: readonly Dim[]): string => `[${s.map(showDim).join(", ")}]`;

/** The symbols a dim mentions (for "would hold if ..." messages), looking inside atoms. */
export function symbolsOf(d: Dim): string[] {
  const out = new Set<string>();
  for (const f of [...d.terms.keys()].flatMap(factors)) {
    const a = atoms.get(f);
    if (a) [...symbolsOf(a.num), ...symbolsOf(a.den)].forEach((s) => out.add(s));
    else out.add(f);
  }
  return [...out];
}

/** Substitutes concrete values for symbols; undefined if some symbol has no value. */
export function evalDim(d: Dim, values: ReadonlyMap<string, number>): number | undefined {
  let total = 0;
  for (const [m, c] of d.terms) {
    let v = c;
    for (const f of factors(m)) {
      const a = atoms.get(f);
      const x = values.get(f) ?? (a ? evalQuotient(a, values) : undefined);
      if (x === undefined) return undefined;
      v *= x;
    }
    total += v;
  }
  return total;
}

/** An atom's value: its quotient, when it divides exactly (undefined otherwise, or if unknown). */
function evalQuotient(a: { num: Dim; den: Dim }, values: ReadonlyMap<string, number>): number | undefined {
  const [n, d] = [evalDim(a.num, values), evalDim(a.den, values)];
  return n === undefined || d === undefined || d === 0 || n % d !== 0 ? undefined : n / d;
}

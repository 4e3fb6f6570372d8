// "Did you mean ...?": the closest candidate by edit distance, when it is close enough. Linear in
// the candidates: at most `maxSuggestionCandidates` names are considered (the innermost
// scopes come first), each in O(length) by Myers' bit-parallel algorithm for names of up to 32
// code units (longer ones by the O(length²) table with a cut-off).

/** The most names one suggestion considers (docs/LANGUAGE.md, "Limits"). */
export const maxSuggestionCandidates = 2000;

let rowA = new Int32Array(64);
let rowB = new Int32Array(64);

function lower(s: string): string {
  return /[A-Z]/.test(s) ? s.toLowerCase() : s;
}

/** Levenshtein distance of lower-cased `a` and `b`, or `cap + 1` once it must exceed `cap`. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  if (rowA.length <= b.length) [rowA, rowB] = [new Int32Array(b.length + 1), new Int32Array(b.length + 1)];
  let prev = rowA, cur = rowB;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let best = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1));
      cur[j] = d;
      if (d < best) best = d;
    }
    if (best > cap) return cap + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * Myers (1999) / Hyyrö (2001): the Levenshtein distance of `a` (1 to 32 code units, its bit
 * masks in `peq`) to `b`, one column of the table per character of `b`, as 32-bit vectors.
 */
function myers(m: number, peq: ReadonlyMap<number, number>, b: string): number {
  const last = 1 << (m - 1);
  let pv = -1 | 0, mv = 0, score = m;
  for (let j = 0; j < b.length; j++) {
    const eq = peq.get(b.charCodeAt(j)) ?? 0;
    const xv = eq | mv;
    const xh = ((((eq & pv) + pv) | 0) ^ pv) | eq;
    let ph = mv | ~(xh | pv);
    let mh = pv & xh;
    if (ph & last) score++;
    else if (mh & last) score--;
    ph = (ph << 1) | 1;
    mh = mh << 1;
    pv = mh | ~(xv | ph);
    mv = ph & xv;
  }
  return score;
}

/** The edit distance of `a` and `b` (both lower-cased), exact up to `cap`, else more than `cap`. */
export function editDistance(a: string, b: string, cap = Math.max(a.length, b.length)): number {
  if (a.length === 0 || a.length > 32) return a.length === 0 ? b.length : distance(a, b, cap);
  return myers(a.length, masks(a), b);
}

function masks(a: string): Map<number, number> {
  const peq = new Map<number, number>();
  for (let i = 0; i < a.length; i++) peq.set(a.charCodeAt(i), (peq.get(a.charCodeAt(i)) ?? 0) | (1 << i));
  return peq;
}

export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const cap = Math.max(1, Math.floor(name.length / 3));
  const key = lower(name);
  const peq = key.length > 0 && key.length <= 32 ? masks(key) : undefined;
  let considered = 0;
  let best: string | undefined;
  let bestD = cap + 1;
  for (const c of candidates) {
    if (++considered > maxSuggestionCandidates) break;
    if (c === name) continue;
    if (Math.abs(c.length - key.length) > cap) continue;
    const d = peq ? myers(key.length, peq, lower(c)) : distance(key, lower(c), cap);
    if (d < bestD || (d === bestD && best !== undefined && c < best)) [best, bestD] = [c, d];
  }
  return best;
}

export const didYouMean = (name: string, candidates: Iterable<string>): string[] => {
  const s = suggest(name, candidates);
  return s ? [`did you mean \`${s}\`?`] : [];
};

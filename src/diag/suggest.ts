// "Did you mean ...?": the closest candidate by edit distance, when it is close enough.

function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      best = Math.min(best, cur[j]!);
    }
    if (best > cap) return cap + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const cap = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestD = cap + 1;
  for (const c of candidates) {
    if (c === name) continue;
    const d = distance(name, c, cap);
    if (d < bestD || (d === bestD && best !== undefined && c < best)) [best, bestD] = [c, d];
  }
  return best;
}

export const didYouMean = (name: string, candidates: Iterable<string>): string[] => {
  const s = suggest(name, candidates);
  return s ? [`did you mean \`${s}\`?`] : [];
};

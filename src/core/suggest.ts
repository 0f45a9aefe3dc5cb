/** Edit distance (Levenshtein, case-insensitive, a case-only difference costs 0.5). */
export function distance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.toLowerCase() === b.toLowerCase()) return 0.5;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/** The candidate closest to `name`, if it is close enough to be a likely typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(Math.max(name.length, best.length) / 3));
  return bestScore <= limit ? best : undefined;
}

/** "did you mean 'x'?" or a short list of what exists. */
export function suggestion(name: string, candidates: readonly string[], what = 'names'): string {
  const near = closest(name, candidates);
  if (near !== undefined) return `did you mean '${near}'?`;
  if (candidates.length === 0) return `no ${what} are declared here`;
  const shown = candidates.slice(0, 12).map((c) => `'${c}'`).join(', ');
  return `declared ${what}: ${shown}${candidates.length > 12 ? `, … (${candidates.length - 12} more)` : ''}`;
}

import type { Signal } from './types.js';

/**
 * Ranks scores and assigns long/short target weights: rank 1 = highest score (ties broken by
 * symbol, code-unit order, so the answer never depends on input order); ranks 1..topN get
 * +grossPerSide/topN, the last bottomN ranks −grossPerSide/bottomN, the rest 0. A NaN score
 * ranks below every number. The caller checks topN + bottomN ≤ symbols.length.
 */
export function rankSignals(symbols: readonly string[], scores: ArrayLike<number>, topN: number, bottomN: number, grossPerSide = 1): Signal[] {
  const n = symbols.length;
  if (scores.length !== n) throw new RangeError(`rankSignals: ${scores.length} scores for ${n} symbols`);
  if (!(Number.isInteger(topN) && topN >= 0 && Number.isInteger(bottomN) && bottomN >= 0 && topN + bottomN <= n)) {
    throw new RangeError(`rankSignals: top_n ${topN} + bottom_n ${bottomN} must be non-negative integers with a sum ≤ ${n}`);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    const na = Number.isNaN(sa);
    const nb = Number.isNaN(sb);
    if (na !== nb) return na ? 1 : -1;
    if (!na && sa !== sb) return sb - sa;
    const ya = symbols[a]!;
    const yb = symbols[b]!;
    return ya < yb ? -1 : ya > yb ? 1 : 0;
  });
  const long = topN > 0 ? grossPerSide / topN : 0;
  const short = bottomN > 0 ? -grossPerSide / bottomN : 0;
  const firstShort = n - bottomN + 1;
  return order.map((i, k) => {
    const rank = k + 1;
    return { symbol: symbols[i]!, predicted_return: scores[i]!, rank, target_weight: rank <= topN ? long : rank >= firstShort ? short : 0 };
  });
}

import type { Signal } from './types.js';

/**
 * Ranks scores and assigns long/short target weights: rank 1 = highest score; ranks 1..topN
 * get +grossPerSide/topN, the last bottomN ranks −grossPerSide/bottomN, the rest 0. A NaN
 * score ranks below every number. The caller checks topN + bottomN ≤ symbols.length.
 *
 * Ties (equal scores) are broken explicitly, so the answer never depends on input order:
 *  1. higher `liquidity` first (the signal service passes the 20-day average dollar volume:
 *     between two names the model cannot tell apart, the one that is cheaper to trade);
 *     a NaN or missing liquidity ranks below any number;
 *  2. then the symbol, in code-unit order.
 * The same order applies on both sides of the book: among tied names at the short end, the
 * least liquid is shorted first (it ranks last).
 */
export const TIE_BREAK_RULE = 'score desc, then 20-day average dollar volume desc, then symbol asc';

export function rankSignals(symbols: readonly string[], scores: ArrayLike<number>, topN: number, bottomN: number, grossPerSide = 1, liquidity?: ArrayLike<number>): Signal[] {
  const n = symbols.length;
  if (scores.length !== n) throw new RangeError(`rankSignals: ${scores.length} scores for ${n} symbols`);
  if (liquidity !== undefined && liquidity.length !== n) throw new RangeError(`rankSignals: ${liquidity.length} liquidity values for ${n} symbols`);
  if (!(Number.isInteger(topN) && topN >= 0 && Number.isInteger(bottomN) && bottomN >= 0 && topN + bottomN <= n)) {
    throw new RangeError(`rankSignals: top_n ${topN} + bottom_n ${bottomN} must be non-negative integers with a sum ≤ ${n}`);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => descNaNLast(scores[a]!, scores[b]!) || (liquidity ? descNaNLast(liquidity[a]!, liquidity[b]!) : 0) || codeUnitOrder(symbols[a]!, symbols[b]!));
  const long = topN > 0 ? grossPerSide / topN : 0;
  const short = bottomN > 0 ? -grossPerSide / bottomN : 0;
  const firstShort = n - bottomN + 1;
  return order.map((i, k) => {
    const rank = k + 1;
    return { symbol: symbols[i]!, predicted_return: scores[i]!, rank, target_weight: rank <= topN ? long : rank >= firstShort ? short : 0 };
  });
}

/**
 * How many of the scores equal another score (NaN counts as a value): 0 when every score is
 * distinct, n when the model gives fewer distinct scores than symbols everywhere. A high
 * share means the model hardly tells the names apart and the tie rule picks the book.
 */
export function tiedCount(scores: ArrayLike<number>): number {
  const seen = new Map<number, number>();
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!; // Map keys compare with SameValueZero: NaN equals NaN, +0 equals −0
    seen.set(s, (seen.get(s) ?? 0) + 1);
  }
  let tied = 0;
  for (const c of seen.values()) if (c > 1) tied += c;
  return tied;
}

function descNaNLast(a: number, b: number): number {
  const na = Number.isNaN(a);
  const nb = Number.isNaN(b);
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  return a === b ? 0 : b > a ? 1 : -1;
}

function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

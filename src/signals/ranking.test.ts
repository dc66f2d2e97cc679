import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rankSignals, tiedCount } from './ranking.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('rankSignals', () => {
  it('ranks best first with +1/top_n longs, −1/bottom_n shorts and 0 between', () => {
    const s = rankSignals(['A', 'B', 'C', 'D', 'E'], [0.1, 0.5, -0.2, 0.3, -0.9], 2, 2);
    expect(s).toEqual([
      { symbol: 'B', predicted_return: 0.5, rank: 1, target_weight: 0.5 },
      { symbol: 'D', predicted_return: 0.3, rank: 2, target_weight: 0.5 },
      { symbol: 'A', predicted_return: 0.1, rank: 3, target_weight: 0 },
      { symbol: 'C', predicted_return: -0.2, rank: 4, target_weight: -0.5 },
      { symbol: 'E', predicted_return: -0.9, rank: 5, target_weight: -0.5 },
    ]);
  });

  it('breaks ties by symbol, whatever the input order', () => {
    const a = rankSignals(['MSFT', 'AAPL', 'KO', 'JPM'], [1, 1, 0, 1], 1, 1);
    expect(a.map((s) => [s.symbol, s.rank, s.target_weight])).toEqual([
      ['AAPL', 1, 1],
      ['JPM', 2, 0],
      ['MSFT', 3, 0],
      ['KO', 4, -1],
    ]);
    const b = rankSignals(['JPM', 'KO', 'AAPL', 'MSFT'], [1, 0, 1, 1], 1, 1);
    expect(b).toEqual(a);
  });

  it('breaks ties by liquidity (higher dollar volume first), then symbol, whatever the input order', () => {
    // The case: four names tie on the model's score; the book must not be picked alphabetically.
    const symbols = ['CBOE', 'DXC', 'INTC', 'MRK', 'AAPL', 'XOM'];
    const scores = [0.0167, 0.0167, 0.0167, 0.0167, 0.5, -0.4];
    const liquidity = [1.2e8, 0.9e8, 9.5e8, 6.1e8, 3e9, NaN];
    const a = rankSignals(symbols, scores, 3, 1, 1, liquidity);
    expect(a.map((s) => s.symbol)).toEqual(['AAPL', 'INTC', 'MRK', 'CBOE', 'DXC', 'XOM']);
    expect(a.filter((s) => s.target_weight > 0).map((s) => s.symbol)).toEqual(['AAPL', 'INTC', 'MRK']);
    // Every permutation of the input gives the same answer.
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let k = 0; k < 50; k++) {
      const perm = symbols.map((_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const shuffled = rankSignals(perm.map((i) => symbols[i]!), perm.map((i) => scores[i]!), 3, 1, 1, perm.map((i) => liquidity[i]!));
      expect(shuffled).toEqual(a);
    }
    // Equal liquidity (or none) falls back to the symbol; NaN liquidity ranks below any number.
    expect(rankSignals(['B', 'A', 'C'], [1, 1, 1], 1, 0, 1, [5, 5, NaN]).map((s) => s.symbol)).toEqual(['A', 'B', 'C']);
    expect(() => rankSignals(['A', 'B'], [1, 2], 1, 0, 1, [1])).toThrow(/1 liquidity values for 2/);
  });

  it('counts tied scores (NaN ties with NaN, 0 with -0)', () => {
    expect(tiedCount([0.1, 0.2, 0.3])).toBe(0);
    expect(tiedCount([0.1, 0.1, 0.3, 0.3, 0.3, 0.4])).toBe(5);
    expect(tiedCount([NaN, NaN, 0, -0, 1])).toBe(4);
    expect(tiedCount([])).toBe(0);
  });

  it('allows top_n / bottom_n of 0 and a book that is all long or all short', () => {
    expect(rankSignals(['A', 'B'], [1, 2], 0, 0).map((s) => s.target_weight)).toEqual([0, 0]);
    expect(rankSignals(['A', 'B', 'C'], [1, 2, 3], 3, 0).map((s) => s.target_weight)).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(rankSignals(['A', 'B', 'C'], [1, 2, 3], 0, 2).map((s) => s.target_weight)).toEqual([0, -0.5, -0.5]);
    expect(rankSignals(['A', 'B'], [1, 2], 1, 1).map((s) => s.target_weight)).toEqual([1, -1]);
    expect(rankSignals([], [], 0, 0)).toEqual([]);
  });

  it('scales each side to grossPerSide', () => {
    const s = rankSignals(['A', 'B', 'C', 'D'], [4, 3, 2, 1], 2, 1, 0.5);
    expect(s.map((x) => x.target_weight)).toEqual([0.25, 0.25, 0, -0.5]);
  });

  it('ranks NaN scores last', () => {
    expect(rankSignals(['A', 'B', 'C'], [NaN, -5, 1], 1, 1).map((s) => s.symbol)).toEqual(['C', 'B', 'A']);
  });

  it('refuses top_n + bottom_n above the symbol count and mismatched lengths', () => {
    expect(() => rankSignals(['A', 'B'], [1, 2], 2, 1)).toThrow(/≤ 2/);
    expect(() => rankSignals(['A'], [1, 2], 0, 0)).toThrow(/2 scores for 1/);
    expect(() => rankSignals(['A'], [1], -1, 0)).toThrow(RangeError);
  });

  it('property: ranks are 1..n, scores descend, sides sum to ±gross, order-independent', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[A-Z]{1,4}$/), { minLength: 1, maxLength: 60 }),
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 60, maxLength: 60 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(1, 0.5, 2),
        fc.array(fc.constantFrom(1e6, 2e6, 5e7, NaN), { minLength: 60, maxLength: 60 }),
        (symbols, rawScores, a, b, gross, rawLiq) => {
          const n = symbols.length;
          // coarse scores and liquidity so that ties happen on both keys
          const scores = symbols.map((_, i) => Math.round(rawScores[i]! * 4) / 4);
          const liq = symbols.map((_, i) => rawLiq[i]!);
          const top = a % (n + 1);
          const bottom = b % (n - top + 1);
          const out = rankSignals(symbols, scores, top, bottom, gross, liq);
          const liqOf = new Map(symbols.map((s, i) => [s, liq[i]!]));
          const before = (x: number, y: number) => x > y || (!Number.isNaN(x) && Number.isNaN(y));
          expect(out.map((s) => s.rank)).toEqual(symbols.map((_, i) => i + 1));
          for (let i = 1; i < n; i++) {
            const p = out[i - 1]!;
            const q = out[i]!;
            const lp = liqOf.get(p.symbol)!;
            const lq = liqOf.get(q.symbol)!;
            const sameLiq = lp === lq || (Number.isNaN(lp) && Number.isNaN(lq));
            expect(p.predicted_return > q.predicted_return || (p.predicted_return === q.predicted_return && (before(lp, lq) || (sameLiq && p.symbol < q.symbol)))).toBe(true);
          }
          const longs = out.filter((s) => s.target_weight > 0).map((s) => s.target_weight);
          const shorts = out.filter((s) => s.target_weight < 0).map((s) => s.target_weight);
          expect(longs).toHaveLength(top);
          expect(shorts).toHaveLength(bottom);
          if (top > 0) expect(Math.abs(sum(longs) - gross)).toBeLessThan(1e-12);
          if (bottom > 0) expect(Math.abs(sum(shorts) + gross)).toBeLessThan(1e-12);
          expect(out.slice(0, top).every((s) => s.target_weight === gross / top)).toBe(true);
          expect(out.slice(n - bottom).every((s) => s.target_weight === -gross / bottom)).toBe(true);
          // the same answer for any input order
          const perm = symbols.map((_, i) => i).reverse();
          const again = rankSignals(perm.map((i) => symbols[i]!), perm.map((i) => scores[i]!), top, bottom, gross, perm.map((i) => liq[i]!));
          expect(again).toEqual(out);
        },
      ),
      { numRuns: 300 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rankSignals } from './ranking.js';

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
        (symbols, rawScores, a, b, gross) => {
          const n = symbols.length;
          // coarse scores so that ties happen
          const scores = symbols.map((_, i) => Math.round(rawScores[i]! * 4) / 4);
          const top = a % (n + 1);
          const bottom = b % (n - top + 1);
          const out = rankSignals(symbols, scores, top, bottom, gross);
          expect(out.map((s) => s.rank)).toEqual(symbols.map((_, i) => i + 1));
          for (let i = 1; i < n; i++) {
            const p = out[i - 1]!;
            const q = out[i]!;
            expect(p.predicted_return > q.predicted_return || (p.predicted_return === q.predicted_return && p.symbol < q.symbol)).toBe(true);
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
          const again = rankSignals(perm.map((i) => symbols[i]!), perm.map((i) => scores[i]!), top, bottom, gross);
          expect(again).toEqual(out);
        },
      ),
      { numRuns: 300 },
    );
  });
});

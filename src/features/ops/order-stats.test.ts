import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { rollingOrderStats, rollingQuantile, rollingRank } from './order-stats.js';
import { f64, isNaNv, maxAbsDiff, naive, naiveRolling } from './test-helpers.js';

describe('Quantile / Rank by hand', () => {
  // x = [5, 1, 4, 2, 3], w = 4
  //   [5,1,4,2] sorted [1,2,4,5]
  //     q=0.8: pos 0.8·3 = 2.4 → 4 + (5-4)·0.4 = 4.4;   q=0.2: pos 0.6 → 1 + (2-1)·0.6 = 1.6
  //     rank of 2: 1 value below, 1 equal → average rank 2 → 2/4 = 0.5
  //   [1,4,2,3] sorted [1,2,3,4]
  //     q=0.8: 3 + (4-3)·0.4 = 3.4;   q=0.2: 1.6;   rank of 3: 2 below → rank 3 → 0.75
  const x = f64([5, 1, 4, 2, 3]);
  it('Quantile with linear interpolation', () => {
    const u = rollingQuantile(x, 4, 0.8);
    const d = rollingQuantile(x, 4, 0.2);
    expect([...u.subarray(0, 3)]).toEqual([NaN, NaN, NaN]);
    expect(u[3]).toBeCloseTo(4.4, 14);
    expect(u[4]).toBeCloseTo(3.4, 14);
    expect(d[3]).toBeCloseTo(1.6, 14);
    expect(d[4]).toBeCloseTo(1.6, 14);
    expect([...rollingQuantile(x, 4, 0.5)]).toEqual([NaN, NaN, NaN, 3, 2.5]); // medians
    expect([...rollingQuantile(x, 4, 0)]).toEqual([NaN, NaN, NaN, 1, 1]);
    expect([...rollingQuantile(x, 4, 1)]).toEqual([NaN, NaN, NaN, 5, 4]);
  });
  it('Rank (pct, average ties)', () => {
    expect([...rollingRank(x, 4)]).toEqual([NaN, NaN, NaN, 0.5, 0.75]);
    // [2,2,1,2]: the three 2s hold ranks 2,3,4 → average 3 → 3/4
    expect(rollingRank(f64([2, 2, 1, 2]), 4)[3]).toBe(0.75);
    // constant window: every value ties → average rank (w+1)/2 → (w+1)/(2w)
    expect(rollingRank(f64([7, 7, 7]), 3)[2]).toBeCloseTo(4 / 6, 15);
  });
});

describe('Quantile / Rank edge cases', () => {
  it('NaN inside a window → NaN; window larger than the series → NaN', () => {
    expect([...rollingRank(f64([1, NaN, 3, 2]), 2)]).toEqual([NaN, NaN, NaN, 0.5]);
    expect([...rollingQuantile(f64([1, NaN, 3, 2]), 2, 0.5)]).toEqual([NaN, NaN, NaN, 2.5]);
    expect([...rollingRank(f64([1, 2]), 3)]).toEqual([NaN, NaN]);
  });
  it('both code paths (w ≤ 64 sorted window, w > 64 Fenwick blocks) on prices near 1e4', () => {
    const x = f64(Array.from({ length: 400 }, (_, i) => 1e4 + Math.round(100 * Math.sin(i * 0.37) + 13 * Math.cos(i * 1.7))));
    for (const w of [5, 64, 65, 90, 200]) {
      expect(maxAbsDiff(rollingRank(x, w), naiveRolling(x, w, naive.rank, isNaNv))).toBe(0);
      expect(maxAbsDiff(rollingQuantile(x, w, 0.8), naiveRolling(x, w, (a) => naive.quantile(a, 0.8), isNaNv))).toBeLessThan(1e-9);
    }
  });
  it('rejects q outside [0, 1]', () => {
    expect(() => rollingQuantile(x0, 2, 1.5)).toThrow(InputError);
    expect(() => rollingOrderStats(x0, 2, [0.5], [], null)).toThrow(InputError);
  });
  const x0 = f64([1, 2, 3]);

  // Property tests against the naive O(n·w) reference: values from a small set (many ties),
  // with NaNs, windows on both sides of the w = 64 switch.
  const value = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -4, max: 4 }) }, { weight: 1, arbitrary: fc.constant(NaN) }, { weight: 3, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) });
  it('Rank equals pandas rolling(w).rank(pct=True) semantics', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.integer({ min: 1, max: 100 }), (xs, w) => {
        const x = f64(xs);
        expect(maxAbsDiff(rollingRank(x, w), naiveRolling(x, w, naive.rank, isNaNv))).toBeLessThan(1e-15);
      }),
      { numRuns: 300 },
    );
  });
  it('Quantile equals pandas rolling(w).quantile(q) (linear)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, w, q) => {
        const x = f64(xs);
        const lo = new Float64Array(x.length);
        const hi = new Float64Array(x.length);
        const rk = new Float64Array(x.length);
        rollingOrderStats(x, w, [q, 1 - q], [lo, hi], rk);
        expect(maxAbsDiff(lo, naiveRolling(x, w, (a) => naive.quantile(a, q), isNaNv))).toBeLessThan(1e-12);
        expect(maxAbsDiff(hi, naiveRolling(x, w, (a) => naive.quantile(a, 1 - q), isNaNv))).toBeLessThan(1e-12);
        expect(maxAbsDiff(rk, naiveRolling(x, w, naive.rank, isNaNv))).toBeLessThan(1e-15);
      }),
      { numRuns: 300 },
    );
  });
});

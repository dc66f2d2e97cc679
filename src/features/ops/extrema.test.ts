import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollingIdxMax, rollingIdxMin, rollingMax, rollingMaxIdx, rollingMin } from './extrema.js';
import { f64, isNaNv, maxAbsDiff, naive, naiveRolling } from './test-helpers.js';

describe('Max / Min / IdxMax / IdxMin by hand', () => {
  // x = [3, 1, 4, 1, 5, 9, 2, 6], w = 3 (positions 1..3 = oldest..newest)
  //   window      max (pos)   min (pos, first occurrence)
  //   [3,1,4]     4 (3)       1 (2)
  //   [1,4,1]     4 (2)       1 (1)
  //   [4,1,5]     5 (3)       1 (2)
  //   [1,5,9]     9 (3)       1 (1)
  //   [5,9,2]     9 (2)       2 (3)
  //   [9,2,6]     9 (1)       2 (2)
  const x = f64([3, 1, 4, 1, 5, 9, 2, 6]);
  it('Max / IdxMax', () => {
    expect([...rollingMax(x, 3)]).toEqual([NaN, NaN, 4, 4, 5, 9, 9, 9]);
    expect([...rollingIdxMax(x, 3)]).toEqual([NaN, NaN, 3, 2, 3, 3, 2, 1]);
  });
  it('Min / IdxMin', () => {
    expect([...rollingMin(x, 3)]).toEqual([NaN, NaN, 1, 1, 1, 1, 2, 2]);
    expect([...rollingIdxMin(x, 3)]).toEqual([NaN, NaN, 2, 1, 2, 1, 3, 2]);
  });
  it('fused Max+IdxMax equals the separate calls', () => {
    const m = new Float64Array(8);
    const i = new Float64Array(8);
    rollingMaxIdx(x, 3, m, i);
    expect([...m]).toEqual([...rollingMax(x, 3)]);
    expect([...i]).toEqual([...rollingIdxMax(x, 3)]);
  });
});

describe('Max / Min edge cases', () => {
  it('ties: first occurrence (numpy argmax)', () => {
    expect([...rollingIdxMax(f64([2, 2, 2, 2]), 3)]).toEqual([NaN, NaN, 1, 1]);
    expect([...rollingIdxMin(f64([0, 0, 0]), 2)]).toEqual([NaN, 1, 1]);
    expect([...rollingIdxMax(f64([1, 5, 3, 5, 5]), 4)]).toEqual([NaN, NaN, NaN, 2, 1]);
  });
  it('NaN inside a window → NaN; window larger than the series → NaN', () => {
    expect([...rollingMax(f64([1, NaN, 3, 2, 1]), 2)]).toEqual([NaN, NaN, NaN, 3, 2]);
    expect([...rollingIdxMin(f64([1, NaN, 3, 2, 1]), 2)]).toEqual([NaN, NaN, NaN, 2, 2]);
    expect([...rollingMin(f64([1, 2]), 3)]).toEqual([NaN, NaN]);
  });
  it('w = 1: the series itself, position 1', () => {
    expect([...rollingMax(f64([1, -2]), 1)]).toEqual([1, -2]);
    expect([...rollingIdxMax(f64([1, -2]), 1)]).toEqual([1, 1]);
  });
  it('random series with ties and NaN: equal to the naive reference', () => {
    const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(NaN));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 120 }), fc.integer({ min: 1, max: 30 }), (xs, w) => {
        const x = f64(xs);
        expect(maxAbsDiff(rollingMax(x, w), naiveRolling(x, w, naive.max, isNaNv))).toBe(0);
        expect(maxAbsDiff(rollingMin(x, w), naiveRolling(x, w, naive.min, isNaNv))).toBe(0);
        expect(maxAbsDiff(rollingIdxMax(x, w), naiveRolling(x, w, naive.idxMax, isNaNv))).toBe(0);
        expect(maxAbsDiff(rollingIdxMin(x, w), naiveRolling(x, w, naive.idxMin, isNaNv))).toBe(0);
      }),
    );
  });
});

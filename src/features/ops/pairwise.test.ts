import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { rollingCorr } from './pairwise.js';
import { f64, maxAbsDiff, naive, naiveRolling } from './test-helpers.js';

describe('Corr by hand', () => {
  // x = [1,2,3,4], y = [2,4,6,9], w = 3
  //   [1,2,3] vs [2,4,6]: y = 2x → r = 1
  //   [2,3,4] vs [4,6,9]: x̄ = 3, ȳ = 19/3; dx = [-1,0,1], dy = [-7/3,-1/3,8/3]
  //     Σdx·dy = 7/3 + 8/3 = 5, Σdx² = 2, Σdy² = (49+1+64)/9 = 114/9
  //     r = 5 / √(2·114/9) = 15 / √228 = 0.993399…
  it('sample Pearson correlation', () => {
    const r = rollingCorr(f64([1, 2, 3, 4]), f64([2, 4, 6, 9]), 3);
    expect([...r.subarray(0, 2)]).toEqual([NaN, NaN]);
    expect(r[2]).toBeCloseTo(1, 14);
    expect(r[3]).toBeCloseTo(15 / Math.sqrt(228), 14);
  });
});

describe('Corr edge cases', () => {
  it('zero variance in either window → NaN (also at 1e4, where rounding could fake a variance)', () => {
    const x = f64([1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.3]);
    const y = f64([1, 2, 3, 4]);
    expect([...rollingCorr(x, y, 3)]).toEqual([NaN, NaN, NaN, expect.closeTo(Math.sqrt(3) / 2, 12)]);
    expect(rollingCorr(y, f64([5, 5, 5, 5]), 2)[3]).toBeNaN();
  });
  it('minStd: NaN where a window std ≤ minStd (Qlib np.isclose(std, 0, atol=2e-5))', () => {
    const x = f64([1, 1 + 1e-5, 1, 1 + 1e-5]);
    const y = f64([1, 2, 3, 5]);
    expect(rollingCorr(x, y, 4)[3]).not.toBeNaN();
    expect(rollingCorr(x, y, 4, undefined, { minStd: 2e-5 })[3]).toBeNaN();
  });
  it('NaN / ±Infinity in either series poisons the windows containing it', () => {
    const r = rollingCorr(f64([1, 2, NaN, 4, 5, 6]), f64([1, 3, 2, Infinity, 3, 7]), 2);
    expect([...r]).toEqual([NaN, 1, NaN, NaN, NaN, 1]);
  });
  it('window larger than the series; mismatched lengths', () => {
    expect([...rollingCorr(f64([1, 2]), f64([1, 2]), 3)]).toEqual([NaN, NaN]);
    expect(() => rollingCorr(f64([1, 2]), f64([1]), 2)).toThrow(InputError);
  });
  it('random series: equal to the naive reference, within [-1, 1]', () => {
    const pair = fc.integer({ min: 0, max: 150 }).chain((n) =>
      fc.tuple(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: n, maxLength: n }), fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: n, maxLength: n })),
    );
    fc.assert(
      fc.property(pair, fc.integer({ min: 2, max: 40 }), ([xs, ys], w) => {
        const x = f64(xs.map((v) => 1e4 + v));
        const y = f64(ys);
        const r = rollingCorr(x, y, w);
        for (const v of r) expect(Number.isNaN(v) || (v >= -1 && v <= 1)).toBe(true);
        const ref = naiveRolling(
          Float64Array.from(x, (_, i) => i),
          w,
          (idx) => {
            const a = idx.map((i) => x[i]!);
            const b = idx.map((i) => y[i]!);
            return naive.std(a) > 1e-6 && naive.std(b) > 1e-6 ? naive.corr(a, b) : NaN;
          },
        );
        const ours = r.map((v, i) => (Number.isNaN(ref[i]!) ? NaN : v));
        expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-8);
      }),
    );
  });
});

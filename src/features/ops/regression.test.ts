import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollingRegression, rollingResi, rollingRsquare, rollingSlope } from './regression.js';
import { f64, maxAbsDiff, maxRelDiff, naive, naiveRolling } from './test-helpers.js';

describe('Slope / Rsquare / Resi by hand', () => {
  // y = [1, 3, 2, 5, 4], w = 3, x = 1..3, x̄ = 2, Σ(x-x̄)² = 2
  //   [1,3,2]: ȳ = 2,    Σ(x-x̄)(y-ȳ) = (-1)(-1) + 0 + (1)(0) = 1   → slope 1/2
  //            Σ(y-ȳ)² = 1+1+0 = 2  → R² = 1²/(2·2) = 0.25
  //            fit at x=3: 2 + 0.5·1 = 2.5 → resi = 2 - 2.5 = -0.5
  //   [3,2,5]: ȳ = 10/3, Σ(x-x̄)(y-ȳ) = (-1)(-1/3) + (1)(5/3) = 2 → slope 1
  //            Σ(y-ȳ)² = (1+16+25)/9 = 42/9 → R² = 4/(2·42/9) = 3/7
  //            fit at x=3: 10/3 + 1 = 13/3 → resi = 5 - 13/3 = 2/3
  //   [2,5,4]: ȳ = 11/3, Σ(x-x̄)(y-ȳ) = (-1)(-5/3) + (1)(1/3) = 2 → slope 1
  //            Σ(y-ȳ)² = (25+16+1)/9 = 42/9 → R² = 3/7; resi = 4 - (11/3 + 1) = -2/3
  const y = f64([1, 3, 2, 5, 4]);
  it('Slope', () => {
    const s = rollingSlope(y, 3);
    expect([...s.subarray(0, 2)]).toEqual([NaN, NaN]);
    expect(s[2]).toBeCloseTo(0.5, 14);
    expect(s[3]).toBeCloseTo(1, 14);
    expect(s[4]).toBeCloseTo(1, 14);
  });
  it('Rsquare', () => {
    const r = rollingRsquare(y, 3);
    expect(r[2]).toBeCloseTo(0.25, 14);
    expect(r[3]).toBeCloseTo(3 / 7, 14);
    expect(r[4]).toBeCloseTo(3 / 7, 14);
  });
  it('Resi', () => {
    const r = rollingResi(y, 3);
    expect(r[2]).toBeCloseTo(-0.5, 14);
    expect(r[3]).toBeCloseTo(2 / 3, 14);
    expect(r[4]).toBeCloseTo(-2 / 3, 14);
  });
});

describe('Slope / Rsquare / Resi edge cases', () => {
  it('constant window: slope 0, resi 0, Rsquare NaN (0/0, as in Qlib)', () => {
    const y = f64([3, 1, 7, 7, 7, 7]);
    expect([...rollingSlope(y, 3).subarray(4)]).toEqual([0, 0]);
    expect([...rollingResi(y, 3).subarray(4)]).toEqual([0, 0]);
    expect([...rollingRsquare(y, 3).subarray(4)]).toEqual([NaN, NaN]);
  });
  it('a straight line around 1e4: slope exact, R² 1, residual 0', () => {
    const y = f64(Array.from({ length: 100 }, (_, i) => 1e4 + 2.5 * i));
    const s = rollingSlope(y, 20);
    const r = rollingRsquare(y, 20);
    const e = rollingResi(y, 20);
    for (let i = 19; i < 100; i++) {
      expect(Math.abs(s[i]! - 2.5)).toBeLessThan(1e-11);
      expect(Math.abs(r[i]! - 1)).toBeLessThan(1e-12);
      expect(Math.abs(e[i]!)).toBeLessThan(1e-9);
    }
  });
  it('minStd: Rsquare NaN where the window std ≤ minStd (Qlib atol 2e-5)', () => {
    const y = f64([1, 1 + 1e-6, 1, 2, 3]);
    const r = rollingRsquare(y, 3, undefined, { minStd: 2e-5 });
    // [1, 1+1e-6, 1]: std ≈ 5.8e-7 ≤ 2e-5 → NaN
    expect(r[2]).toBeNaN();
    // [1+1e-6, 1, 2] ≈ [1, 1, 2]: ȳ = 4/3, Σ(x-x̄)(y-ȳ) ≈ 1, Σ(y-ȳ)² ≈ 6/9 → R² ≈ 1/(2·6/9) = 0.75
    expect(r[3]).toBeCloseTo(0.75, 5);
    // [1, 2, 3] is a line → 1
    expect(r[4]).toBeCloseTo(1, 14);
    expect(rollingRsquare(y, 3)[2]).toBeGreaterThanOrEqual(0); // without minStd it is a number
  });
  it('NaN in the window, window larger than the series, w = 1', () => {
    const y = f64([1, 2, NaN, 4, 5, 7]);
    expect([...rollingSlope(y, 2)]).toEqual([NaN, 1, NaN, NaN, 1, 2]);
    expect([...rollingSlope(f64([1, 2]), 3)]).toEqual([NaN, NaN]);
    expect([...rollingSlope(f64([1, 2]), 1)]).toEqual([NaN, NaN]);
  });
  it('random series: equal to the naive OLS reference', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { maxLength: 150 }), fc.integer({ min: 2, max: 40 }), (ys, w) => {
        const y = f64(ys.map((v) => 1e4 + v));
        const slope = new Float64Array(y.length);
        const rsq = new Float64Array(y.length);
        const resi = new Float64Array(y.length);
        rollingRegression(y, w, slope, rsq, resi);
        expect(maxAbsDiff(slope, naiveRolling(y, w, (a) => naive.ols(a)[0]))).toBeLessThan(1e-9);
        expect(maxAbsDiff(resi, naiveRolling(y, w, (a) => naive.ols(a)[2]))).toBeLessThan(1e-8);
        // R² of a nearly flat window is ill-conditioned in any implementation; compare where the
        // window has some spread.
        const ref = naiveRolling(y, w, (a) => (naive.std(a) > 1e-3 ? naive.ols(a)[1] : NaN));
        const ours = rsq.map((v, i) => (Number.isNaN(ref[i]!) ? NaN : v));
        expect(maxRelDiff(ours, ref)).toBeLessThan(1e-9);
      }),
    );
  });
});

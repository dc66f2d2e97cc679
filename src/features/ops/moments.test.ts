import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { rollingMean, rollingMeanStd, rollingStd, rollingSum } from './moments.js';
import { f64, maxRelDiff, naive, naiveRolling } from './test-helpers.js';

describe('Mean / Std / Sum by hand', () => {
  // x = [1, 2, 3, 4, 10], w = 3
  //   window [1,2,3]:  sum 6,  mean 2,    squared deviations 1+0+1 = 2,             var 2/2 = 1
  //   window [2,3,4]:  sum 9,  mean 3,    squared deviations 1+0+1 = 2,             var 1
  //   window [3,4,10]: sum 17, mean 17/3, deviations -8/3, -5/3, 13/3 → (64+25+169)/9 = 258/9,
  //                    var 129/9 = 14.333…, std 3.785938…
  const x = f64([1, 2, 3, 4, 10]);
  it('Mean', () => {
    const m = rollingMean(x, 3);
    expect([...m.subarray(0, 2)]).toEqual([NaN, NaN]);
    expect(m[2]).toBe(2);
    expect(m[3]).toBe(3);
    expect(m[4]).toBeCloseTo(17 / 3, 14);
  });
  it('Std (sample, ddof 1)', () => {
    const s = rollingStd(x, 3);
    expect([...s.subarray(0, 2)]).toEqual([NaN, NaN]);
    expect(s[2]).toBeCloseTo(1, 14);
    expect(s[3]).toBeCloseTo(1, 14);
    expect(s[4]).toBeCloseTo(Math.sqrt(129 / 9), 13);
  });
  it('Sum', () => {
    expect([...rollingSum(x, 3)]).toEqual([NaN, NaN, 6, 9, 17]);
  });
  it('fused Mean+Std equals the separate calls', () => {
    const m = new Float64Array(5);
    const s = new Float64Array(5);
    rollingMeanStd(x, 3, m, s);
    expect([...m]).toEqual([...rollingMean(x, 3)]);
    expect([...s]).toEqual([...rollingStd(x, 3)]);
  });
});

describe('Mean / Std / Sum edge cases', () => {
  it('constant windows: Std exactly 0, Mean exactly the value, also after a volatile stretch at 1e4', () => {
    const x = f64([1e4 + 0.37, 1e4 - 1.2, 1e4 + 3.3, 1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.1]);
    const s = rollingStd(x, 3);
    const m = rollingMean(x, 3);
    expect([...s.subarray(5)]).toEqual([0, 0, 0]);
    expect([...m.subarray(5)]).toEqual([1e4 + 0.1, 1e4 + 0.1, 1e4 + 0.1]);
    expect([...rollingStd(f64([5, 5, 5, 5]), 2)]).toEqual([NaN, 0, 0, 0]);
    expect([...rollingSum(f64([0.1, 0.1, 0.1]), 3)]).toEqual([NaN, NaN, 0.1 * 3]);
  });
  it('zeros: Sum of an all-zero window is exactly 0 after non-zero values left it', () => {
    // 0.37 + 1.2 rounds; without the constant-window rule the sum could keep a 2e-16 residue.
    const s = rollingSum(f64([0.37, 1.2, 0.7, 0, 0, 0, 0]), 3);
    expect([...s.subarray(5)]).toEqual([0, 0]);
  });
  it('Std at 1e4 matches a two-pass reference to 1e-12 relative, never negative', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 30 }), (noise, w) => {
        const x = f64(noise.map((v) => 1e4 + Math.round(v * 100) / 100));
        const s = rollingStd(x, w);
        const ref = naiveRolling(x, w, naive.std);
        for (const v of s) expect(v >= 0 || Number.isNaN(v)).toBe(true);
        // absolute tolerance relative to the price level (cancellation is inherent at 1e4).
        expect(maxRelDiff(s, ref)).toBeLessThan(1e-8);
        expect(maxRelDiff(rollingMean(x, w), naiveRolling(x, w, naive.mean))).toBeLessThan(1e-12);
      }),
    );
  });
  it('random series: Mean/Sum/Std equal the naive O(n·w) reference', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { maxLength: 150 }), fc.integer({ min: 1, max: 40 }), (xs, w) => {
        const x = f64(xs);
        expect(maxRelDiff(rollingMean(x, w), naiveRolling(x, w, naive.mean))).toBeLessThan(1e-9);
        expect(maxRelDiff(rollingSum(x, w), naiveRolling(x, w, naive.sum))).toBeLessThan(1e-9);
        expect(maxRelDiff(rollingStd(x, w), naiveRolling(x, w, naive.std))).toBeLessThan(1e-7);
      }),
    );
  });
  it('NaN inside a window makes that window NaN; later windows recover', () => {
    // windows (w=2): [1,NaN] [NaN,3] → NaN; [3,4] → 3.5; [4,5] → 4.5
    const x = f64([1, NaN, 3, 4, 5]);
    expect([...rollingMean(x, 2)]).toEqual([NaN, NaN, NaN, 3.5, 4.5]);
    expect([...rollingSum(x, 2)]).toEqual([NaN, NaN, NaN, 7, 9]);
    const s = rollingStd(x, 2);
    expect([...s.subarray(0, 3)]).toEqual([NaN, NaN, NaN]);
    expect(s[3]).toBeCloseTo(Math.SQRT1_2, 14);
  });
  it('±Infinity inside a window is treated like NaN and does not poison later sums', () => {
    expect([...rollingSum(f64([1, Infinity, 3, 4, -Infinity, 1, 2]), 2)]).toEqual([NaN, NaN, NaN, 7, NaN, NaN, 3]);
  });
  it('window larger than the series: all NaN', () => {
    expect([...rollingMean(f64([1, 2, 3]), 5)]).toEqual([NaN, NaN, NaN]);
    expect([...rollingStd(f64([1, 2, 3]), 4)]).toEqual([NaN, NaN, NaN]);
    expect(rollingSum(new Float64Array(0), 3).length).toBe(0);
  });
  it('w = 1: Mean/Sum are the series, Std is NaN (ddof 1)', () => {
    const x = f64([1, 2.5, -3]);
    expect([...rollingMean(x, 1)]).toEqual([1, 2.5, -3]);
    expect([...rollingSum(x, 1)]).toEqual([1, 2.5, -3]);
    expect([...rollingStd(x, 1)]).toEqual([NaN, NaN, NaN]);
  });
  it('rejects bad windows and outputs', () => {
    expect(() => rollingMean(f64([1]), 0)).toThrow(InputError);
    expect(() => rollingMean(f64([1]), 2.5)).toThrow(InputError);
    expect(() => rollingSum(f64([1, 2]), 1, new Float64Array(3))).toThrow(InputError);
  });
});

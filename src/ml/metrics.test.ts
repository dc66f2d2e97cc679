import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { averageRanks, dailyIc, icStats, icSummary, mse, pearson, spearman } from './metrics.js';

describe('metrics', () => {
  it('MSE skips NaN pairs', () => {
    // (1−2)² + (2−4)² = 5 over 2 pairs.
    expect(mse([1, 2, NaN], [2, 4, 7])).toBe(2.5);
    expect(() => mse([1], [1, 2])).toThrow(InputError);
  });

  it('Pearson correlation by hand', () => {
    // a − 2.5 = [−1.5, −0.5, 0.5, 1.5], b − 5 = [−3, −1, 0, 4]: Σab = 11, Σa² = 5, Σb² = 26 → 11/√130.
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 14);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(pearson([1], [2])).toBeNaN();
  });

  it('Spearman averages tied ranks', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
    // ranks(a) = [1, 2.5, 2.5, 4], ranks(b) = [1, 2, 3, 4]: Σab = 2.25 + 0 + 0 + 2.25 = 4.5, Σa² = 4.5, Σb² = 5.
    expect(spearman([1, 2, 2, 3], [10, 20, 30, 40])).toBeCloseTo(4.5 / Math.sqrt(22.5), 14);
  });

  it('daily IC, rank IC, mean, std and ICIR by hand', () => {
    // Day 20: IC = 11/√130 ≈ 0.96476, rank IC = 1. Day 10 (rows out of order): IC = rank IC = −1.
    // Day 30: a single row → no IC. The NaN label row is dropped.
    const pred = [3, 1, 2, 3, 4, 1, 2, 9, 5];
    const label = [1, 2, 4, 5, 9, 3, 2, 1, NaN];
    const day = [10, 20, 20, 20, 20, 10, 10, 30, 20];
    const d = dailyIc(pred, label, day);
    expect(d.groups).toEqual([10, 20, 30]);
    expect(Array.from(d.counts)).toEqual([3, 4, 1]);
    const ic20 = 11 / Math.sqrt(130);
    expect(d.ic[0]).toBeCloseTo(-1, 14);
    expect(d.ic[1]).toBeCloseTo(ic20, 14);
    expect(d.ic[2]).toBeNaN();
    expect(d.rankIc[0]).toBeCloseTo(-1, 14);
    expect(d.rankIc[1]).toBeCloseTo(1, 14);
    const s = icSummary(pred, label, day);
    // mean = (ic20 − 1)/2, sample std of two values = |ic20 + 1|/√2, ICIR = mean/std.
    expect(s.ic.mean).toBeCloseTo((ic20 - 1) / 2, 14);
    expect(s.ic.std).toBeCloseTo((ic20 + 1) / Math.SQRT2, 14);
    expect(s.ic.icir).toBeCloseTo((ic20 - 1) / 2 / ((ic20 + 1) / Math.SQRT2), 14);
    expect(s.rankIc.mean).toBeCloseTo(0, 14);
    expect(s.rankIc.std).toBeCloseTo(Math.SQRT2, 14);
  });

  it('icStats: one value has no std', () => {
    expect(icStats([0.1, NaN])).toEqual({ mean: 0.1, std: NaN, icir: NaN });
  });
});

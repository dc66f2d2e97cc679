import { describe, expect, it } from 'vitest';
import { dayNumber } from '../core/clock.js';
import type { FeatureMatrix } from '../features/alpha158.js';
import { label0 } from '../features/alpha158.js';
import { buildSet, forwardReturn, zscoreByDate } from './dataset.js';

const D = dayNumber;

function matrix(symbol: string, days: string[], feats: number[][], label: number[]): FeatureMatrix {
  const rows = days.length;
  const F = feats[0]!.length;
  const values = new Float64Array(rows * F);
  for (let r = 0; r < rows; r++) for (let f = 0; f < F; f++) values[f * rows + r] = feats[r]![f]!;
  return { symbol, names: Array.from({ length: F }, (_, i) => `F${i}`), day: Int32Array.from(days.map(D)), rows, layout: 'column-major', values, label: Float64Array.from(label) };
}

describe('dataset', () => {
  it('z-scores the label across symbols per date (sample std)', () => {
    // Day 1: labels 1, 2, 3 → mean 2, sample std 1 → -1, 0, 1. Day 2: 10, 10 → no spread → NaN.
    const z = zscoreByDate(Float64Array.from([1, 2, 3, 10, 10]), Int32Array.from([1, 1, 1, 2, 2]));
    expect(Array.from(z.subarray(0, 3))).toEqual([-1, 0, 1]);
    expect(z[3]).toBeNaN();
  });

  it('keeps rows in range with a label, row-major, Inf as NaN, drops dates without a cross-section', () => {
    const a = matrix('AAA', ['2018-01-02', '2018-01-03', '2019-01-02'], [[1, Infinity], [2, 3], [9, 9]], [0.01, NaN, 0.02]);
    const b = matrix('BBB', ['2018-01-02', '2018-01-03', '2019-01-02'], [[4, 5], [6, 7], [9, 9]], [0.03, 0.04, 0.05]);
    const s = buildSet([a, b], { from: '2018-01-01', to: '2018-12-31' }, 'return');
    // 2018-01-03 keeps only BBB (AAA has no label) → one row on that date → dropped.
    expect(s.nRows).toBe(2);
    expect(s.symbol).toEqual(['AAA', 'BBB']);
    expect(Array.from(s.X)).toEqual([1, NaN, 4, 5]);
    // Two rows on 2018-01-02: 0.01 and 0.03 → z = -0.7071…, +0.7071…
    expect(s.y[0]).toBeCloseTo(-Math.SQRT1_2, 12);
    expect(s.y[1]).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('forwardReturn: from the next close over h days; horizon 1 is LABEL0', () => {
    const close = Float64Array.from([10, 11, 12, 15, 0, 16]);
    expect(Array.from(forwardReturn(close, 2))).toEqual([15 / 11 - 1, 0 / 12 - 1, 16 / 15 - 1, NaN, NaN, NaN]);
    // 16 / 0 is Infinity: not a return (NaN), like LABEL0.
    expect(Array.from(forwardReturn(close, 1))).toEqual(Array.from(label0(close)));
    expect(() => forwardReturn(close, 0)).toThrow(/horizon/);
  });

  it('trains on the labels given per matrix and keeps LABEL0 as next', () => {
    const a = matrix('AAA', ['2018-01-02', '2018-01-03'], [[1], [2]], [0.01, 0.02]);
    const b = matrix('BBB', ['2018-01-02', '2018-01-03'], [[3], [4]], [0.03, NaN]);
    const s = buildSet([a, b], { from: '2018-01-01', to: null }, 'return', [Float64Array.from([0.1, 0.5]), Float64Array.from([0.3, 0.7])]);
    expect(s.nRows).toBe(4);
    expect(Array.from(s.y).map((x) => Math.round(x * 1e9) / 1e9)).toEqual([-0.707106781, -0.707106781, 0.707106781, 0.707106781]);
    expect(Array.from(s.next)).toEqual([0.01, 0.02, 0.03, NaN]);
    expect(() => buildSet([a, b], { from: '2018-01-01', to: null }, 'return', [Float64Array.from([0.1])])).toThrow(/2 feature matrices/);
    expect(() => buildSet([a], { from: '2018-01-01', to: null }, 'return', [Float64Array.from([0.1])])).toThrow(/AAA: 1 labels for 2 rows/);
  });

  it('abs_return uses |LABEL0| before z-scoring', () => {
    const a = matrix('AAA', ['2018-01-02'], [[1]], [-0.05]);
    const b = matrix('BBB', ['2018-01-02'], [[1]], [0.01]);
    const c = matrix('CCC', ['2018-01-02'], [[1]], [0.03]);
    const s = buildSet([a, b, c], { from: '2018-01-01', to: null }, 'abs_return');
    // |labels| 0.05, 0.01, 0.03 → mean 0.03, std 0.02 → 1, -1, 0
    expect(Array.from(s.y).map((x) => Math.round(x * 1e9) / 1e9)).toEqual([1, -1, 0]);
  });
});

import { describe, expect, it } from 'vitest';
import { evalMetric, huberObjective, l2Objective, median } from './objectives.js';
import { Rng, sampleSorted } from './rng.js';

describe('objectives', () => {
  it('l2: gradient score − y, unit hessian, mean init', () => {
    const gh = new Float64Array(4);
    l2Objective.gradients(Float64Array.of(1, 5), Float64Array.of(2, 2), gh);
    expect(Array.from(gh)).toEqual([1, 1, -3, 1]);
    expect(l2Objective.initScore(Float64Array.of(1, 2, 6))).toBe(3);
  });

  it('huber: gradient clipped to ±delta, median init', () => {
    const gh = new Float64Array(6);
    huberObjective(1).gradients(Float64Array.of(0, 0, 0), Float64Array.of(0.5, 3, -2), gh);
    expect(Array.from(gh)).toEqual([0.5, 1, 1, 1, -1, 1]);
    expect(median(Float64Array.of(5, 1, 1000))).toBe(5);
    expect(median(Float64Array.of(4, 1, 2, 1000))).toBe(3);
  });

  it('metrics by hand', () => {
    const y = Float64Array.of(0, 0, 0);
    const s = Float64Array.of(1, -3, 0.5);
    expect(evalMetric('l2', y, s, 1)).toBeCloseTo((1 + 9 + 0.25) / 3, 14);
    expect(evalMetric('l1', y, s, 1)).toBeCloseTo(4.5 / 3, 14);
    // huber δ=1: 0.5·1² , 1·(3 − 0.5), 0.5·0.25
    expect(evalMetric('huber', y, s, 1)).toBeCloseTo((0.5 + 2.5 + 0.125) / 3, 14);
  });
});

describe('rng', () => {
  it('is reproducible and samples exactly k sorted rows', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    for (let i = 0; i < 10; i++) expect(a.nextU32()).toBe(b.nextU32());
    const inBag = new Int32Array(100);
    const oob = new Int32Array(100);
    const k = sampleSorted(100, 37, new Rng(1), inBag, oob);
    expect(k).toBe(37);
    const rows = [...inBag.subarray(0, 37), ...oob.subarray(0, 63)].sort((x, y) => x - y);
    expect(rows).toEqual(Array.from({ length: 100 }, (_, i) => i));
    for (let i = 1; i < 37; i++) expect(inBag[i]).toBeGreaterThan(inBag[i - 1]);
  });
});

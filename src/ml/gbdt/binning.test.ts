import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binMatrix,
  binValue,
  binningFromPadded,
  featureBounds,
  findBinBounds,
  fitBinning,
  makeBinning,
  paddedBounds,
  rowStrideFor,
} from './binning.js';

const sorted = (xs: number[]): Float64Array => Float64Array.from(xs).sort();

describe('findBinBounds', () => {
  it('gives each distinct value its own bin when there are few (midpoint bounds, last +Infinity)', () => {
    expect(Array.from(findBinBounds(sorted([3, 1, 1, 2, 3, 3]), 255))).toEqual([1.5, 2.5, Infinity]);
  });

  it('makes bins of about equal counts (quantiles) when there are many distinct values', () => {
    const vals = sorted(Array.from({ length: 1000 }, (_, i) => i));
    const b = findBinBounds(vals, 10);
    expect(b.length).toBe(10);
    const counts = new Array<number>(10).fill(0);
    for (const v of vals) counts[b.findIndex((u) => v <= u)]++;
    for (const c of counts) {
      expect(c).toBeGreaterThanOrEqual(95);
      expect(c).toBeLessThanOrEqual(105);
    }
  });

  it('gives a frequent value a bin of its own', () => {
    const xs = [...new Array<number>(500).fill(0), ...Array.from({ length: 500 }, (_, i) => 1 + i)];
    const b = findBinBounds(sorted(xs), 10);
    const k = b.findIndex((u) => 0 <= u);
    expect(k === 0 || b[k - 1] < 0).toBe(true);
    expect(b[k]).toBeLessThan(1); // 0 alone in its bin
  });

  it('never exceeds maxBin and keeps bounds strictly increasing', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 2, max: 40 }), (xs, maxBin) => {
        const b = findBinBounds(sorted(xs), maxBin);
        expect(b.length).toBeLessThanOrEqual(maxBin);
        expect(b[b.length - 1]).toBe(Infinity);
        for (let i = 1; i < b.length; i++) expect(b[i]).toBeGreaterThan(b[i - 1]);
        // Equal values never straddle a bound.
        const s = sorted(xs);
        for (let i = 1; i < s.length; i++) if (s[i] === s[i - 1]) expect(b.findIndex((u) => s[i] <= u)).toBe(b.findIndex((u) => s[i - 1] <= u));
      }),
      { numRuns: 300 },
    );
  });

  it('handles a constant feature and a feature without values', () => {
    expect(Array.from(findBinBounds(sorted([7, 7, 7]), 255))).toEqual([Infinity]);
    expect(Array.from(findBinBounds(new Float64Array(0), 255))).toEqual([Infinity]);
  });
});

describe('binning a matrix', () => {
  it('puts NaN and ±Infinity in the reserved missing bin (the last one)', () => {
    const binning = makeBinning([Float64Array.of(0.5, 1.5, Infinity)]);
    expect(binValue(binning, 0, 0)).toBe(0);
    expect(binValue(binning, 0, 0.5)).toBe(0);
    expect(binValue(binning, 0, 0.6)).toBe(1);
    expect(binValue(binning, 0, 1e300)).toBe(2);
    for (const v of [NaN, Infinity, -Infinity]) expect(binValue(binning, 0, v)).toBe(3);
    const bins = binMatrix(Float64Array.of(0, NaN, 2, -Infinity, Infinity), 5, 1, binning);
    expect(rowStrideFor(1)).toBe(4);
    expect([0, 1, 2, 3, 4].map((r) => bins[r * 4])).toEqual([0, 3, 2, 3, 3]);
  });

  it('bins with the branch-free search exactly as a binary search does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ noNaN: false }), fc.constantFrom(0, 1, -1, 0.5)), { minLength: 6, maxLength: 120 }),
        fc.integer({ min: 2, max: 255 }),
        (vals, maxBin) => {
          const F = 3;
          const n = Math.floor(vals.length / F);
          const X = Float64Array.from(vals.slice(0, n * F));
          const binning = fitBinning(X, n, F, { maxBin, sampleCount: 1000, seed: 1 });
          const bins = binMatrix(X, n, F, binning);
          const S = rowStrideFor(F);
          for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) expect(bins[i * S + j]).toBe(binValue(binning, j, X[i * F + j]));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds bounds from a seeded sample of rows: same seed, same bounds', () => {
    const n = 5000;
    const X = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453));
    const a = fitBinning(X, n, 1, { maxBin: 255, sampleCount: 300, seed: 9 });
    const b = fitBinning(X, n, 1, { maxBin: 255, sampleCount: 300, seed: 9 });
    const c = fitBinning(X, n, 1, { maxBin: 255, sampleCount: 300, seed: 10 });
    expect(Array.from(featureBounds(a, 0))).toEqual(Array.from(featureBounds(b, 0)));
    expect(Array.from(featureBounds(a, 0))).not.toEqual(Array.from(featureBounds(c, 0)));
    expect(a.nValueBins[0]).toBeLessThanOrEqual(255);
  });

  it('round-trips through the padded layout', () => {
    const binning = makeBinning([Float64Array.of(1, Infinity), Float64Array.of(Infinity), Float64Array.of(-1, 0, 1, Infinity)]);
    const back = binningFromPadded(paddedBounds(binning), binning.nValueBins);
    expect(back).toEqual(binning);
  });
});

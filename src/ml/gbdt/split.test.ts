import { describe, expect, it } from 'vitest';
import { binMatrix, makeBinning, rowStrideFor } from './binning.js';
import { accumulateHistogram, makeHistLayout } from './histogram.js';
import { R_BIN, R_DEFAULT_LEFT, R_FEATURE, R_GAIN, R_LEFT_COUNT, R_LEFT_G, R_SIZE, findBestSplitForFeature, leafGain, leafOutput, resetSplit, thresholdL1, type SplitParams } from './split.js';

const params = (p: Partial<SplitParams> = {}): SplitParams => ({ lambdaL1: 0, lambdaL2: 0, minDataInLeaf: 1, minSumHessianInLeaf: 0, minGainToSplit: 0, ...p });

/** Histogram (one feature) of values x with gradients g and unit hessians, bins = distinct values. */
function histOf(x: number[], g: number[], bounds: number[]): { hist: Float64Array; nv: number } {
  const binning = makeBinning([Float64Array.from(bounds)]);
  const bins = binMatrix(Float64Array.from(x), x.length, 1, binning);
  const layout = makeHistLayout(binning.nValueBins);
  const hist = new Float64Array(layout.slotSize + 512);
  const gh = new Float64Array(2 * x.length);
  g.forEach((v, i) => {
    gh[2 * i] = v;
    gh[2 * i + 1] = 1;
  });
  const idx = Int32Array.from(x.keys());
  const trash = layout.slotSize;
  accumulateHistogram(new Uint32Array(bins.buffer), rowStrideFor(1) >> 2, gh, idx, 0, x.length, Int32Array.of(0), 1, Int32Array.of(0, trash, trash, trash), hist);
  return { hist, nv: binning.nValueBins[0] };
}

function best(x: number[], g: number[], bounds: number[], p: SplitParams): Float64Array {
  const { hist, nv } = histOf(x, g, bounds);
  const out = new Float64Array(R_SIZE);
  resetSplit(out, 0);
  const G = g.reduce((s, v) => s + v, 0);
  findBestSplitForFeature(hist, 0, nv, 0, G, x.length, x.length, p, out, 0);
  return out;
}

describe('regularised gain and leaf output (LightGBM formulas)', () => {
  it('soft-thresholds gradients by lambda_l1', () => {
    expect(thresholdL1(5, 2)).toBe(3);
    expect(thresholdL1(-5, 2)).toBe(-3);
    expect(thresholdL1(1.5, 2)).toBe(0);
    expect(leafOutput(-6, 2, 0, 1)).toBe(2); // −G/(H+λ2)
    expect(leafOutput(-6, 2, 3, 1)).toBe(1); // −T(G)/(H+λ2)
    expect(leafGain(-6, 2, 3, 1)).toBe(3); // T(G)²/(H+λ2)
  });

  it('L1 zeroes a leaf whose |sum gradient| is at most lambda_l1', () => {
    expect(leafOutput(40, 100, 50, 0)).toBe(0);
    expect(leafOutput(-50, 100, 50, 10)).toBe(0);
    expect(leafGain(49, 10, 50, 0)).toBe(0);
  });
});

describe('best split of a feature', () => {
  // x = 1..6, y = [1, 1, 1, 5, 5, 6], initial score = mean(y) = 19/6, l2 gradients g = score − y, h = 1.
  const x = [1, 2, 3, 4, 5, 6];
  const y = [1, 1, 1, 5, 5, 6];
  const base = 19 / 6;
  const g = y.map((v) => base - v);
  const bounds = [1.5, 2.5, 3.5, 4.5, 5.5, Infinity];

  it('matches the gain computed by hand', () => {
    // Split x <= 3 | x > 3: G_L = 3·19/6 − 3 = 6.5, G_R = −6.5, H_L = H_R = 3, G = 0.
    // With λ2 = 1: gain = 6.5²/(3+1) + 6.5²/(3+1) − 0²/(6+1) = 21.125
    // (x <= 2: 10.02, x <= 4: 11.62, x <= 5: 5.35, x <= 1: 4.43 — all lower).
    const r = best(x, g, bounds, params({ lambdaL2: 1 }));
    expect(r[R_FEATURE]).toBe(0);
    expect(r[R_BIN]).toBe(2);
    expect(r[R_GAIN]).toBeCloseTo(21.125, 12);
    expect(r[R_LEFT_G]).toBeCloseTo(6.5, 12);
    expect(r[R_LEFT_COUNT]).toBe(3);
    // With λ1 = 1 as well: T(±6.5) = ±5.5 → 2 · 5.5²/4 = 15.125.
    expect(best(x, g, bounds, params({ lambdaL1: 1, lambdaL2: 1 }))[R_GAIN]).toBeCloseTo(15.125, 12);
  });

  it('respects min_data_in_leaf and min_gain_to_split', () => {
    expect(best(x, g, bounds, params({ lambdaL2: 1, minDataInLeaf: 4 }))[R_GAIN]).toBe(-Infinity);
    expect(best(x, g, bounds, params({ lambdaL2: 1, minGainToSplit: 22 }))[R_GAIN]).toBe(-Infinity);
    // min_data_in_leaf = 2 still allows x <= 3.
    expect(best(x, g, bounds, params({ lambdaL2: 1, minDataInLeaf: 2 }))[R_BIN]).toBe(2);
  });

  it('learns the default direction of missing values', () => {
    // Low group (x = 1, 2) has y = 0, high group (x = 3, 4) y = 10, NaN rows y = 10 → NaN goes right.
    const xs = [1, 2, 1, 2, 3, 4, 3, 4, NaN, NaN, NaN];
    const ys = [0, 0, 0, 0, 10, 10, 10, 10, 10, 10, 10];
    const m = ys.reduce((s, v) => s + v, 0) / ys.length;
    const right = best(xs, ys.map((v) => m - v), [1.5, 2.5, 3.5, Infinity], params());
    expect(right[R_BIN]).toBe(1);
    expect(right[R_DEFAULT_LEFT]).toBe(0);
    // Same values, NaN rows like the low group → NaN goes left.
    const ys2 = [0, 0, 0, 0, 10, 10, 10, 10, 0, 0, 0];
    const m2 = ys2.reduce((s, v) => s + v, 0) / ys2.length;
    const left = best(xs, ys2.map((v) => m2 - v), [1.5, 2.5, 3.5, Infinity], params());
    expect(left[R_BIN]).toBe(1);
    expect(left[R_DEFAULT_LEFT]).toBe(1);
    expect(left[R_LEFT_COUNT]).toBe(7);
  });

  it('can split values from missing values', () => {
    // All values alike, NaN rows differ: the split is "every value left, missing right".
    const r = best([1, 1, 2, 2, NaN, NaN], [-1, -1, -1, -1, 2, 2], [1.5, Infinity], params());
    expect(r[R_BIN]).toBe(1); // last value bin
    expect(r[R_DEFAULT_LEFT]).toBe(0);
    expect(r[R_LEFT_COUNT]).toBe(4);
  });
});

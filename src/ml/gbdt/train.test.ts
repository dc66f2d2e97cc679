import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { GbdtModel } from './model.js';
import { makeRegression } from './testdata.js';
import { trainGbdt } from './train.js';

const mseOf = (p: Float64Array, y: Float64Array): number => p.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / y.length;

describe('trainGbdt: trees', () => {
  it('recovers a step function with one split', async () => {
    const n = 400;
    const X = Float64Array.from({ length: n }, (_, i) => (i + 0.5) / n);
    const y = X.map((x) => (x < 0.3 ? 1 : 3));
    const { model } = await trainGbdt({ num_leaves: 2, learning_rate: 1, num_boost_round: 1, min_data_in_leaf: 1 }, { X, y, nRows: n, nFeatures: 1 });
    const t = model.trees[0];
    expect(t.numLeaves).toBe(2);
    expect(t.splitFeature[0]).toBe(0);
    expect(t.threshold[0]).toBeGreaterThan(119.5 / n); // between the last x < 0.3 ...
    expect(t.threshold[0]).toBeLessThan(120.5 / n); // ... and the first x >= 0.3
    const p = model.predict(Float64Array.of(0.05, 0.29, 0.31, 0.9), 4);
    expect(Array.from(p, (v) => Math.round(v * 1e9) / 1e9)).toEqual([1, 1, 3, 3]);
  });

  it('learns where missing values go: NaN rows like the high group go right', async () => {
    const n = 300;
    const X = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const g = i % 3; // 0: low, 1: high, 2: missing behaving like high
      X[i] = g === 0 ? i / n : g === 1 ? 2 + i / n : NaN;
      y[i] = g === 0 ? 0 : 10;
    }
    const res = await trainGbdt({ num_leaves: 2, learning_rate: 1, num_boost_round: 1, min_data_in_leaf: 5 }, { X, y, nRows: n, nFeatures: 1 });
    const t = res.model.trees[0];
    expect(t.decisionType[0] & 1).toBe(0); // default right
    expect(t.threshold[0]).toBeGreaterThan(1);
    expect(t.threshold[0]).toBeLessThan(2);
    expect(res.model.predict(Float64Array.of(NaN, Infinity, 0.5, 2.5), 4).map((v) => Math.round(v))).toEqual(Float64Array.of(10, 10, 0, 10));
    // Flip the NaN rows' labels: now they go left.
    for (let i = 2; i < n; i += 3) y[i] = 0;
    const res2 = await trainGbdt({ num_leaves: 2, learning_rate: 1, num_boost_round: 1, min_data_in_leaf: 5 }, { X, y, nRows: n, nFeatures: 1 });
    expect(res2.model.trees[0].decisionType[0] & 1).toBe(1);
    expect(Math.round(res2.model.predict(Float64Array.of(NaN), 1)[0])).toBe(0);
  });

  it('zeroes a leaf whose gradient sum is within lambda_l1', async () => {
    // Groups A (y = 3), B (y = −3), C (y = 0.1) of 100 rows. With mean init 1/30, C's gradient sum is
    // 100·(1/30 − 0.1) = −6.7: |G_C| < λ1 = 50, so C's leaf output is exactly 0; A and B get non-zero leaves.
    const n = 300;
    const X = Float64Array.from({ length: n }, (_, i) => i);
    const y = X.map((i) => (i < 100 ? 3 : i < 200 ? -3 : 0.1));
    const p = { num_leaves: 3, learning_rate: 1, num_boost_round: 1, min_data_in_leaf: 10 };
    const withL1 = await trainGbdt({ ...p, lambda_l1: 50 }, { X, y, nRows: n, nFeatures: 1 });
    const leaves = Array.from(withL1.model.trees[0].leafValue);
    expect(leaves).toHaveLength(3);
    expect(leaves.filter((v) => v === 0)).toHaveLength(1);
    expect(withL1.model.predict(Float64Array.of(250), 1)[0]).toBe(withL1.model.baseScore); // C: leaf 0
    const withoutL1 = await trainGbdt(p, { X, y, nRows: n, nFeatures: 1 });
    expect(Array.from(withoutL1.model.trees[0].leafValue).filter((v) => v === 0)).toHaveLength(0);
  });

  it('respects max_depth, num_leaves and min_data_in_leaf', async () => {
    const d = makeRegression(2000, 4, 1);
    const { model } = await trainGbdt({ num_leaves: 64, max_depth: 3, num_boost_round: 3, min_data_in_leaf: 30 }, d);
    for (const t of model.trees) {
      expect(t.numLeaves).toBeLessThanOrEqual(8);
      // Depth of every leaf <= 3.
      const depth = (node: number, dd: number): number => (node < 0 ? dd : Math.max(depth(t.leftChild[node], dd + 1), depth(t.rightChild[node], dd + 1)));
      expect(depth(0, 0)).toBeLessThanOrEqual(3);
    }
    const r2 = await trainGbdt({ num_leaves: 5, num_boost_round: 2, min_data_in_leaf: 30 }, d);
    for (const t of r2.model.trees) expect(t.numLeaves).toBe(5);
  });
});

describe('trainGbdt: boosting', () => {
  it('reduces the l2 training loss monotonically', async () => {
    const d = makeRegression(3000, 6, 2);
    const res = await trainGbdt({ num_leaves: 15, learning_rate: 0.3, num_boost_round: 40 }, d);
    expect(res.history).toHaveLength(40);
    for (let k = 1; k < res.history.length; k++) expect(res.history[k].train).toBeLessThanOrEqual(res.history[k - 1].train);
    expect(res.history[39].train).toBeLessThan(0.1 * res.history[0].train);
    // The model reproduces the training scores: its MSE is the last history entry.
    expect(mseOf(res.model.predict(d.X, d.nRows), d.y)).toBeCloseTo(res.history[39].train, 12);
    expect(res.bestIteration).toBe(40);
    expect(res.importance.split.reduce((s, v) => s + v, 0)).toBe(res.model.trees.reduce((s, t) => s + t.numLeaves - 1, 0));
    // The informative features carry the gain.
    const g = res.importance.gain;
    expect(g[0] + g[1]).toBeGreaterThan(g[4] + g[5]);
  });

  it('huber is robust to an outlier where l2 is not', async () => {
    const n = 600;
    const X = Float64Array.from({ length: n }, (_, i) => i / n);
    const y = X.map((x) => 2 * x);
    y[300] = 1000; // one corrupted label
    const p = { num_leaves: 8, learning_rate: 0.3, num_boost_round: 60, min_data_in_leaf: 20 };
    const l2 = await trainGbdt({ ...p, objective: 'l2' }, { X, y, nRows: n, nFeatures: 1 });
    const hub = await trainGbdt({ ...p, objective: 'huber', huber_delta: 1 }, { X, y, nRows: n, nFeatures: 1 });
    const probe = Float64Array.from({ length: 99 }, (_, k) => (k + 1) / 100);
    const err = (m: GbdtModel): number => Math.max(...Array.from(m.predict(probe, probe.length), (v, k) => Math.abs(v - 2 * probe[k])));
    expect(err(l2.model)).toBeGreaterThan(10); // the outlier drags its neighbourhood up by ~1000/20
    expect(err(hub.model)).toBeLessThan(0.5);
    expect(hub.history.at(-1)!.train).toBeLessThan(hub.history[0].train);
  });

  it('is deterministic for a seed (bagging and feature sampling included)', async () => {
    const d = makeRegression(2000, 8, 3);
    const p = { num_leaves: 15, num_boost_round: 15, feature_fraction: 0.6, bagging_fraction: 0.7, bagging_freq: 1, seed: 42 };
    const a = await trainGbdt(p, d);
    const b = await trainGbdt(p, d);
    expect(JSON.stringify(b.model.toJSON())).toBe(JSON.stringify(a.model.toJSON()));
    const c = await trainGbdt({ ...p, seed: 43 }, d);
    expect(JSON.stringify(c.model.toJSON())).not.toBe(JSON.stringify(a.model.toJSON()));
  });

  it('stops early and keeps the best iteration', async () => {
    const train = makeRegression(400, 5, 4, { noise: 3 });
    const valid = makeRegression(400, 5, 5, { noise: 3 });
    const seen: number[] = [];
    const res = await trainGbdt(
      { num_leaves: 31, learning_rate: 0.5, num_boost_round: 500, min_data_in_leaf: 5, early_stopping_rounds: 10 },
      train,
      valid,
      { onIteration: (it, tr, va) => (seen.push(it), expect(Number.isFinite(tr) && Number.isFinite(va!)).toBe(true)) },
    );
    const valids = res.history.map((h) => h.valid!);
    const best = valids.indexOf(Math.min(...valids)) + 1;
    expect(res.bestIteration).toBe(best);
    expect(res.history.length).toBe(best + 10); // stopped 10 rounds after the best
    expect(res.history.length).toBeLessThan(500);
    expect(seen).toEqual(res.history.map((h) => h.iteration));
    expect(res.model.numTrees).toBe(best);
    expect(mseOf(res.model.predict(valid.X, valid.nRows), valid.y)).toBeCloseTo(valids[best - 1], 12);
  });

  it('gives identical models with 1 and 2 threads (workers from TypeScript sources)', async () => {
    const d = makeRegression(6000, 13, 6);
    const p = { num_leaves: 31, num_boost_round: 8, feature_fraction: 0.8, bagging_fraction: 0.8, bagging_freq: 1, seed: 1, lambda_l1: 1, lambda_l2: 1 };
    const one = await trainGbdt(p, d, undefined, { threads: 1 });
    const two = await trainGbdt(p, d, undefined, { threads: 2 });
    expect(JSON.stringify(two.model.toJSON())).toBe(JSON.stringify(one.model.toJSON()));
    expect(two.history).toEqual(one.history);
    const three = await trainGbdt(p, d, undefined, { threads: 3 });
    expect(JSON.stringify(three.model.toJSON())).toBe(JSON.stringify(one.model.toJSON()));
  });

  it('trains with a tiny histogram pool (evicted histograms are rebuilt)', async () => {
    const d = makeRegression(3000, 6, 7);
    const p = { num_leaves: 40, num_boost_round: 3, min_data_in_leaf: 5 };
    const big = await trainGbdt(p, d);
    const small = await trainGbdt(p, d, undefined, { histogramPoolBytes: 1 });
    // Rebuilt histograms differ from parent − sibling only by rounding: same trees, same predictions to ~1e-12.
    expect(small.model.trees.map((t) => Array.from(t.splitFeature))).toEqual(big.model.trees.map((t) => Array.from(t.splitFeature)));
    const a = big.model.predict(d.X, d.nRows);
    const b = small.model.predict(d.X, d.nRows);
    for (let i = 0; i < d.nRows; i++) expect(b[i]).toBeCloseTo(a[i], 9);
  });
});

describe('trainGbdt: input validation', () => {
  const d = makeRegression(50, 2, 8);
  it('names the bad parameter', async () => {
    await expect(trainGbdt({ num_leaves: 1 }, d)).rejects.toThrow(/num_leaves/);
    await expect(trainGbdt({ learning_rate: -0.1 }, d)).rejects.toThrow(/learning_rate/);
    await expect(trainGbdt({ feature_fraction: 1.5 }, d)).rejects.toThrow(/feature_fraction/);
    await expect(trainGbdt({ objective: 'poisson' as 'l2' }, d)).rejects.toThrow(/objective/);
    await expect(trainGbdt({ max_bin: 300 }, d)).rejects.toThrow(/max_bin/);
    await expect(trainGbdt({ num_leafs: 3 } as never, d)).rejects.toThrow(/unknown GBDT parameter num_leafs/);
    await expect(trainGbdt({ num_leaves: 2.5 }, d)).rejects.toBeInstanceOf(InputError);
  });
  it('checks the data', async () => {
    await expect(trainGbdt({}, { ...d, nRows: 49 })).rejects.toThrow(/X has 100 values/);
    await expect(trainGbdt({}, { ...d, y: new Float64Array(3) })).rejects.toThrow(/labels/);
    await expect(trainGbdt({}, { ...d, y: d.y.map((v, i) => (i === 7 ? NaN : v)) })).rejects.toThrow(/y\[7\]/);
    await expect(trainGbdt({}, d, { ...d, nFeatures: 1, X: new Float64Array(50) })).rejects.toThrow(/valid.nFeatures/);
    await expect(trainGbdt({}, d, undefined, { threads: 0 })).rejects.toThrow(/threads/);
  });
});

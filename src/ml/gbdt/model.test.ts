import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { GbdtModel, MISSING_NAN, MISSING_NONE, MISSING_NONFINITE, MISSING_ZERO, decisionType, type GbdtModelInit, type GbdtTree } from './model.js';
import { makeRegression } from './testdata.js';
import { trainGbdt } from './train.js';

/** One stump on feature 0: x <= thr → left (−1) else right (+1). */
function stump(thr: number, dt: number): GbdtTree {
  return {
    numLeaves: 2,
    splitFeature: Int32Array.of(0),
    threshold: Float64Array.of(thr),
    decisionType: Uint8Array.of(dt),
    leftChild: Int32Array.of(-1),
    rightChild: Int32Array.of(-2),
    leafValue: Float64Array.of(-1, 1),
  };
}
const model1 = (t: GbdtTree, extra: Partial<GbdtModelInit> = {}): GbdtModel => new GbdtModel({ nFeatures: 1, baseScore: 0, trees: [t], ...extra });
const predict = (m: GbdtModel, xs: number[]): number[] => Array.from(m.predict(Float64Array.from(xs), xs.length));

describe('GbdtModel', () => {
  it('round-trips through JSON with identical predictions', async () => {
    const d = makeRegression(2000, 6, 11);
    const { model } = await trainGbdt({ num_leaves: 31, num_boost_round: 20, bagging_fraction: 0.8, bagging_freq: 1 }, { ...d, featureNames: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const text = JSON.stringify(model);
    const json = JSON.parse(text) as { format: string; version: number };
    expect(json.format).toBe('kestrel-gbdt');
    expect(json.version).toBe(1);
    const back = GbdtModel.fromJSON(text);
    expect(back.predict(d.X, d.nRows)).toEqual(model.predict(d.X, d.nRows));
    expect(back.featureNames).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(JSON.stringify(back)).toBe(text);
  });

  it('stores infinite thresholds as strings', () => {
    const m = model1(stump(Infinity, decisionType(false, MISSING_NONFINITE)));
    const text = JSON.stringify(m);
    expect(text).toContain('"Infinity"');
    expect(predict(GbdtModel.fromJSON(text), [1e308, NaN])).toEqual([-1, 1]);
  });

  it('applies each missing type', () => {
    const xs = [NaN, Infinity, -Infinity, 0, 1e-40, 0.5, -0.5];
    // Threshold 0.25, default left.
    expect(predict(model1(stump(0.25, decisionType(true, MISSING_NONFINITE))), xs)).toEqual([-1, -1, -1, -1, -1, 1, -1]);
    expect(predict(model1(stump(0.25, decisionType(true, MISSING_NAN))), xs)).toEqual([-1, 1, -1, -1, -1, 1, -1]);
    expect(predict(model1(stump(-0.25, decisionType(true, MISSING_ZERO))), xs)).toEqual([-1, 1, -1, -1, -1, 1, -1]);
    expect(predict(model1(stump(-0.25, decisionType(true, MISSING_NONE))), xs)).toEqual([1, 1, -1, 1, 1, 1, -1]);
    // Default right.
    expect(predict(model1(stump(0.25, decisionType(false, MISSING_NONFINITE))), xs)).toEqual([1, 1, 1, -1, -1, 1, -1]);
  });

  it('uses the same rules on the fast and the mixed-type paths', () => {
    const a = stump(0.1, decisionType(false, MISSING_NAN));
    const b = { ...stump(-0.2, decisionType(true, MISSING_NONE)), leafValue: Float64Array.of(10, 20) };
    const xs = [NaN, Infinity, -Infinity, 0, 0.15, -1];
    const mixed = new GbdtModel({ nFeatures: 1, baseScore: 0.5, trees: [a, b] });
    const sep = predict(model1(a), xs).map((v, i) => 0.5 + v + predict(model1(b), xs)[i]);
    expect(predict(mixed, xs)).toEqual(sep);
  });

  it('predicts the base score with no trees and single-leaf trees', () => {
    const leaf: GbdtTree = { ...stump(0, 0), numLeaves: 1, splitFeature: new Int32Array(0), threshold: new Float64Array(0), decisionType: new Uint8Array(0), leftChild: new Int32Array(0), rightChild: new Int32Array(0), leafValue: Float64Array.of(0.25) };
    expect(predict(new GbdtModel({ nFeatures: 1, baseScore: 2, trees: [] }), [1])).toEqual([2]);
    expect(predict(new GbdtModel({ nFeatures: 1, baseScore: 2, trees: [leaf] }), [1, NaN])).toEqual([2.25, 2.25]);
  });

  it('rejects malformed models and inputs with InputError', () => {
    const good = JSON.parse(JSON.stringify(model1(stump(0, 0)))) as Record<string, unknown> & { trees: Array<Record<string, unknown>> };
    const bad = (edit: (o: typeof good) => void): (() => GbdtModel) => {
      const o = structuredClone(good);
      edit(o);
      return () => GbdtModel.fromJSON(o);
    };
    expect(bad((o) => (o.format = 'xgboost'))).toThrow(/format/);
    expect(bad((o) => (o.version = 2))).toThrow(/version 2/);
    expect(bad((o) => (o.trees[0].leftChild = [0]))).toThrow(/out of range|two parents/);
    expect(bad((o) => (o.trees[0].splitFeature = [3]))).toThrow(/feature 3/);
    expect(bad((o) => (o.trees[0].leafValue = [1]))).toThrow(/leafValue/);
    expect(bad((o) => (o.trees[0].leftChild = [-2]))).toThrow(/two parents/);
    expect(bad((o) => (o.trees[0].decisionType = [300]))).toThrow(/decisionType/);
    expect(bad((o) => (o.trees[0].threshold = ['abc']))).toThrow(/not a number/);
    expect(() => GbdtModel.fromJSON('{')).toThrow(InputError);
    const m = model1(stump(0, 0));
    expect(() => m.predict(new Float64Array(3), 2)).toThrow(/expected nRows × nFeatures/);
    expect(() => m.predict([1, 2] as unknown as Float64Array, 2)).toThrow(InputError);
  });
});

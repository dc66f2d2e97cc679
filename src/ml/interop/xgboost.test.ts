import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { GbdtModel, loadXGBoostJson } from '../gbdt/model.js';
import { xgbThreshold } from './xgboost.js';

// Fixtures from src/ml/fixtures/make-xgb-fixture.py (XGBoost 1.7.4, reg:squarederror, 10 trees of depth 3).
const modelText = readFileSync(new URL('../fixtures/xgb-model.json', import.meta.url), 'utf8');
const cases = JSON.parse(readFileSync(new URL('../fixtures/xgb-cases.json', import.meta.url), 'utf8')) as {
  rows: Array<Array<number | null>>;
  predictions: number[];
};

describe('loadXGBoostJson', () => {
  it('matches XGBoost predictions (NaN rows and probes on split thresholds included) to 1e-5', () => {
    const model = loadXGBoostJson(modelText);
    expect(model.numTrees).toBe(10);
    expect(model.nFeatures).toBe(5);
    expect(model.baseScore).toBe(0.5);
    const X = Float64Array.from(cases.rows.flat().map((v) => (v === null ? NaN : v)));
    const p = model.predict(X, cases.rows.length);
    let maxErr = 0;
    cases.predictions.forEach((want, i) => (maxErr = Math.max(maxErr, Math.abs(p[i] - want))));
    expect(maxErr).toBeLessThan(1e-5);
    // And after a save/load in our format.
    expect(GbdtModel.fromJSON(JSON.stringify(model.toJSON())).predict(X, cases.rows.length)).toEqual(p);
  });

  it('converts `float32(x) < c` into `x <= T` exactly', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(f32, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -3, max: 3 }), (c, x, k) => {
        const T = xgbThreshold(c);
        // Values near the threshold are the interesting ones: also try x = c nudged by a few ulps of float32.
        const near = c + k * Math.abs(c) * 2 ** -24;
        for (const v of [x, near, c]) expect(v <= T).toBe(Math.fround(v) < Math.fround(c));
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects unsupported models with InputError', () => {
    const m = JSON.parse(modelText) as { learner: { objective: { name: string }; gradient_booster: { name: string }; learner_model_param: Record<string, string> } };
    const variant = (edit: (o: typeof m) => void): string => {
      const o = JSON.parse(modelText) as typeof m;
      edit(o);
      return JSON.stringify(o);
    };
    expect(() => loadXGBoostJson(variant((o) => (o.learner.objective.name = 'binary:logistic')))).toThrow(/objective/);
    expect(() => loadXGBoostJson(variant((o) => (o.learner.gradient_booster.name = 'gblinear')))).toThrow(/booster/);
    expect(() => loadXGBoostJson(variant((o) => (o.learner.learner_model_param.num_class = '3')))).toThrow(/multi-class/);
    expect(() => loadXGBoostJson('{"learner": {}}')).toThrow(InputError);
    expect(() => loadXGBoostJson('not json')).toThrow(InputError);
    void m;
  });

  it('accepts the 2.x bracketed base_score', () => {
    const o = JSON.parse(modelText) as { learner: { learner_model_param: { base_score: string } } };
    o.learner.learner_model_param.base_score = '[2.5E-1]';
    expect(loadXGBoostJson(o).baseScore).toBe(0.25);
  });
});

import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { DEFAULT_PARAMS, resolveParams } from './params.js';

describe('resolveParams', () => {
  it('fills LightGBM defaults and the metric from the objective', () => {
    const p = resolveParams({ objective: 'huber', num_leaves: 210 });
    expect(p).toEqual({ ...DEFAULT_PARAMS, objective: 'huber', num_leaves: 210, metric: 'huber' });
    expect(resolveParams(undefined).metric).toBe('l2');
  });

  it('throws InputError naming the bad parameter', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ learning_rate: 0 }, /learning_rate must be in \(0/],
      [{ num_leaves: 1 }, /num_leaves/],
      [{ max_depth: 1.5 }, /max_depth must be an integer/],
      [{ min_data_in_leaf: 0 }, /min_data_in_leaf/],
      [{ min_sum_hessian_in_leaf: -1 }, /min_sum_hessian_in_leaf/],
      [{ lambda_l1: -1 }, /lambda_l1/],
      [{ lambda_l2: NaN }, /lambda_l2 must be a finite number/],
      [{ feature_fraction: 0 }, /feature_fraction/],
      [{ bagging_fraction: 2 }, /bagging_fraction/],
      [{ bagging_freq: -1 }, /bagging_freq/],
      [{ seed: 0.5 }, /seed/],
      [{ num_boost_round: 0 }, /num_boost_round/],
      [{ early_stopping_rounds: -1 }, /early_stopping_rounds/],
      [{ objective: 'mse' }, /objective must be one of 'l2', 'huber'/],
      [{ huber_delta: 0 }, /huber_delta/],
      [{ max_bin: 256 }, /max_bin/],
      [{ min_gain_to_split: '1' }, /min_gain_to_split must be a finite number/],
      [{ metric: 'auc' }, /metric/],
      [{ numLeaves: 3 }, /unknown GBDT parameter numLeaves/],
    ];
    for (const [p, re] of cases) {
      expect(() => resolveParams(p as never)).toThrow(InputError);
      expect(() => resolveParams(p as never)).toThrow(re);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { checkPromotionGate, DEFAULT_GATE, gateThresholdProblem } from './promotion-gate.js';
import { decidePromotion, loadTrainConfig } from './training-job.js';

// The issue's model: full data, default training stopped at iteration 1.
const ISSUE = { valid_mse: 0.998, valid_mse_zero: 0.9979, valid_ic: -0.0014, valid_rank_ic: 0.003, valid_tie_share: 0.999 };
const GOOD = { valid_mse: 0.9951, valid_mse_zero: 0.9979, valid_ic: 0.021, valid_rank_ic: 0.018, valid_tie_share: 0 };
// The issue's model on the sample (measured: best iteration 2): its ICs clear 0.01 by chance, its scores are 96% ties.
const SAMPLE_ISSUE = { valid_mse: 0.97233, valid_mse_zero: 0.97258, valid_ic: 0.0169, valid_rank_ic: 0.0222, valid_tie_share: 0.96 };

describe('promotion gate', () => {
  it("fails the issue's model on every count, with one reason each", () => {
    const v = checkPromotionGate(ISSUE);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['valid MSE 0.99800 does not beat predicting zero (0.99790)', 'valid IC -0.0014 < 0.01', 'valid Rank IC 0.0030 < 0.01', '99.9% of valid scores tied > 90.0%']);
    expect(v.thresholds).toEqual(DEFAULT_GATE);
  });

  it("fails the issue's sample model on its ties alone", () => {
    expect(checkPromotionGate(SAMPLE_ISSUE).reasons).toEqual(['96.0% of valid scores tied > 90.0%']);
    expect(checkPromotionGate(SAMPLE_ISSUE, { max_valid_tie_share: 1 }).passed).toBe(true);
  });

  it('passes a model that beats zero and clears both IC minimums', () => {
    const v = checkPromotionGate(GOOD);
    expect(v.passed).toBe(true);
    expect(v.reasons).toEqual([]);
    expect(v.checks.map((c) => c.passed)).toEqual([true, true, true, true]);
  });

  it('needs strictly lower MSE than zero by default, and the configured margin when set', () => {
    expect(checkPromotionGate({ ...GOOD, valid_mse: GOOD.valid_mse_zero }).reasons).toEqual(['valid MSE 0.99790 does not beat predicting zero (0.99790)']);
    // 0.9951 is 0.28% below 0.9979: passes a 0.1% margin, fails a 1% one.
    expect(checkPromotionGate(GOOD, { min_mse_gain: 0.001 }).passed).toBe(true);
    expect(checkPromotionGate(GOOD, { min_mse_gain: 0.01 }).reasons[0]).toMatch(/does not beat predicting zero \(0\.99790\) by 1\.0%/);
  });

  it('IC minimums are configurable and inclusive', () => {
    expect(checkPromotionGate({ ...GOOD, valid_ic: 0.01, valid_rank_ic: 0.01 }).passed).toBe(true);
    expect(checkPromotionGate(GOOD, { min_valid_ic: 0.03 }).reasons).toEqual(['valid IC 0.0210 < 0.03']);
    expect(checkPromotionGate(ISSUE, { min_valid_ic: -1, min_valid_rank_ic: -1 }).reasons).toHaveLength(2);
  });

  it('fails versions without validation metrics (registered before the gate, or NaN)', () => {
    const v = checkPromotionGate({ test_ic: 0.05 });
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['no validation MSE recorded (of the model and of the zero predictor)', 'no valid IC (not recorded, or the scores are constant)', 'no valid Rank IC (not recorded, or the scores are constant)']);
    // A version from before tie shares were recorded is judged on the rest.
    const { valid_tie_share: _, ...older } = GOOD;
    expect(checkPromotionGate(older).checks.at(-1)).toMatchObject({ passed: true, reason: 'tie share not recorded (an older version): not checked' });
    expect(checkPromotionGate({ ...GOOD, valid_ic: NaN }).reasons).toEqual(['no valid IC (not recorded, or the scores are constant)']);
    expect(checkPromotionGate({ ...GOOD, valid_ic: null }).passed).toBe(false);
  });

  it('validates thresholds', () => {
    expect(gateThresholdProblem({ min_valid_ic: 2 })).toMatch(/min_valid_ic must be a number from -1 to 1/);
    expect(gateThresholdProblem({ min_mse_gain: -0.1 })).toMatch(/min_mse_gain/);
    expect(gateThresholdProblem({ min_mse_gain: 1 })).toMatch(/min_mse_gain/);
    expect(gateThresholdProblem({ max_valid_tie_share: 1.5 })).toMatch(/max_valid_tie_share must be a share from 0 to 1/);
    expect(gateThresholdProblem({ min_valid_rank_ic: 0.02, min_mse_gain: 0.001, max_valid_tie_share: 0.2 })).toBeNull();
    expect(() => loadTrainConfig(undefined, { gate: { min_valid_ic: Infinity } })).toThrow(/gate.min_valid_ic/);
    expect(() => loadTrainConfig(undefined, { gate: { min_valid_ic: 1.5 } })).toThrow(/gate: min_valid_ic must be a number from -1 to 1/);
    expect(() => loadTrainConfig(undefined, { gate: { min_ic: 0.1 } as never })).toThrow(/gate/);
    expect(loadTrainConfig(undefined, { gate: { min_valid_ic: 0.02 } }).gate).toEqual({ min_valid_ic: 0.02 });
  });
});

describe('promotion decision of kestrel train', () => {
  const cfg = (promote: 'never' | 'if_none' | 'always', force = false) => ({ promote, force, model_name: 'alpha158-gbdt' });
  const pass = checkPromotionGate(GOOD);
  const fail = checkPromotionGate(ISSUE);

  it('if_none and always promote only a model that passes the gate', () => {
    expect(decidePromotion(cfg('if_none'), pass, null, 1)).toMatchObject({ promoted: true, next: null });
    expect(decidePromotion(cfg('always'), pass, 3, 4)).toMatchObject({ promoted: true });
    for (const when of ['if_none', 'always'] as const) {
      const d = decidePromotion(cfg(when), fail, null, 2);
      expect(d.promoted).toBe(false);
      expect(d.reason).toBe('not promoted: fails the promotion gate (valid MSE 0.99800 does not beat predicting zero (0.99790); valid IC -0.0014 < 0.01; valid Rank IC 0.0030 < 0.01; 99.9% of valid scores tied > 90.0%)');
      expect(d.next).toMatch(/kestrel models promote alpha158-gbdt 2 --force/);
      expect(d.next).toMatch(/--promote always --force/);
    }
  });

  it('--force promotes past the gate and says so; never and an existing production version still win', () => {
    const forced = decidePromotion(cfg('always', true), fail, 1, 2);
    expect(forced.promoted).toBe(true);
    expect(forced.reason).toMatch(/^promoted \(--promote always --force\): forced past the gate \(valid MSE/);
    expect(decidePromotion(cfg('if_none', true), fail, null, 2).promoted).toBe(true);
    expect(decidePromotion(cfg('never', true), pass, null, 2)).toMatchObject({ promoted: false, reason: 'not promoted: --promote never' });
    const kept = decidePromotion(cfg('if_none'), pass, 1, 2);
    expect(kept).toMatchObject({ promoted: false, reason: 'not promoted: alpha158-gbdt already has production v1 (--promote if_none)' });
    expect(kept.next).toMatch(/kestrel models promote alpha158-gbdt 2/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { dayString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import type { Db } from '../db/db.js';
import { computeAlpha158 } from '../features/compute.js';
import { codeVersion } from '../registry/code-version.js';
import { ModelRegistry } from '../registry/models.js';
import { ExperimentTracker } from '../registry/tracking.js';
import { buildSplit, DEFAULT_SPLIT, forwardReturn, type LabeledSet } from './dataset.js';
import { icSummary, mse, tieShare } from './metrics.js';
import { checkPromotionGate, gateThresholdProblem, type GateVerdict } from './promotion-gate.js';
import { LABEL0_EXPR } from '../features/alpha158.js';
import { trainGbdt } from './gbdt/train.js';
import type { GbdtParams } from './gbdt/params.js';

/**
 * `kestrel train`: Alpha158 features → GBDT → metrics → promotion gate → experiment run →
 * registry version. The date split is Qlib's; the params and the label horizon are ours
 * (DEFAULT_TRAIN_PARAMS, DEFAULT_LABEL_HORIZON: docs/research.md has the measurements).
 */

/**
 * Qlib's LightGBM Alpha158 benchmark (tuned on CSI300). On US large caps it stops after 1–2
 * trees: with learning rate 0.2, 210 leaves and λ1 = 205.7, the first tree already fits
 * 2015–2017 noise that 2018 does not share, and on the 40-symbol sample nothing clears λ1 after
 * two trees (boosting stops). Kept for comparison (`--config` with these params) and benches.
 */
export const QLIB_ALPHA158_PARAMS: GbdtParams = {
  objective: 'l2',
  learning_rate: 0.2,
  max_depth: 8,
  num_leaves: 210,
  lambda_l1: 205.6999,
  lambda_l2: 580.9768,
  feature_fraction: 0.8879,
  bagging_fraction: 0.8789,
  bagging_freq: 1,
  early_stopping_rounds: 50,
  num_boost_round: 1000,
  seed: 42,
};

/**
 * The default: many small, heavily regularised trees (an additive model of a few features
 * with two-level interactions), which is what the weak cross-sectional signal in daily US
 * returns supports: 4 leaves of ≥ 5000 rows, λ2 = 1000, half the features per tree, 70% of
 * the rows per iteration, learning rate 0.05, early stopping after 50 rounds without a better
 * validation L2.
 */
export const DEFAULT_TRAIN_PARAMS: GbdtParams = {
  objective: 'l2',
  learning_rate: 0.05,
  max_depth: 2,
  num_leaves: 4,
  min_data_in_leaf: 5000,
  lambda_l1: 0,
  lambda_l2: 1000,
  feature_fraction: 0.5,
  bagging_fraction: 0.7,
  bagging_freq: 1,
  early_stopping_rounds: 50,
  num_boost_round: 1000,
  seed: 42,
};

export const DEFAULT_LABEL_HORIZON = 5;

const Range = z.object({ from: z.string(), to: z.string().nullable() }).strict();
export const TrainConfigSchema = z
  .object({
    model_name: z.string().default('alpha158-gbdt'),
    experiment: z.string().default('alpha158'),
    label: z.enum(['return', 'abs_return']).default('return'),
    /** Trading days the label's return spans, from the next close (1 = LABEL0, the next-day return). */
    label_horizon: z.number().int().min(1).max(60).default(DEFAULT_LABEL_HORIZON),
    split: z.object({ train: Range, valid: Range, test: Range }).strict().default(DEFAULT_SPLIT),
    params: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
    threads: z.number().int().min(1).max(64).default(2),
    symbols: z.array(z.string()).optional(),
    /**
     * never: stage only; if_none: promote when the model has no production version yet; always:
     * replace the production version. Either way only a model that passes the promotion gate
     * (src/ml/promotion-gate.ts), unless `force`.
     */
    promote: z.enum(['never', 'if_none', 'always']).default('if_none'),
    /** Promote (per `promote`) even when the gate fails. */
    force: z.boolean().default(false),
    /** Gate thresholds (defaults: DEFAULT_GATE). */
    gate: z
      .object({ min_valid_ic: z.number().optional(), min_valid_rank_ic: z.number().optional(), min_mse_gain: z.number().optional(), max_valid_tie_share: z.number().optional() })
      .strict()
      .default({})
      .superRefine((g, c) => {
        const problem = gateThresholdProblem(g);
        if (problem) c.addIssue({ code: 'custom', message: problem });
      }),
  })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export function loadTrainConfig(file: string | undefined, over: Partial<TrainConfig> = {}): TrainConfig {
  let json: unknown = {};
  if (file) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new InputError(`${file}: ${(e as Error).message}`, 'bad_config');
    }
  }
  const r = TrainConfigSchema.safeParse({ ...(json as object), ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) });
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${file ?? 'train config'}: ${i.path.join('.') || '(root)'}: ${i.message}`, 'bad_config');
  }
  return r.data;
}

export interface Promotion {
  promoted: boolean;
  /** One line: why it was (not) promoted. */
  reason: string;
  /** One line: what to do next when it was not (null when promoted). */
  next: string | null;
}

export interface TrainReport {
  model_name: string;
  model_version: number;
  model_status: string;
  run_id: string;
  label: string;
  label_horizon: number;
  gate: GateVerdict;
  promotion: Promotion;
  rows: { train: number; valid: number; test: number };
  best_iteration: number;
  train_seconds: number;
  valid_mse: number;
  valid_mse_zero: number;
  valid_ic: number;
  valid_rank_ic: number;
  valid_icir: number;
  valid_rank_icir: number;
  test_mse: number | null;
  test_ic: number | null;
  test_rank_ic: number | null;
  test_icir: number | null;
  test_rank_icir: number | null;
  /** IC and Rank IC against the next-day return (LABEL0) — what a daily-rebalanced book earns — whatever the label horizon. */
  valid_ic_next_day: number;
  valid_rank_ic_next_day: number;
  test_ic_next_day: number | null;
  test_rank_ic_next_day: number | null;
  /** Share of validation rows whose score equals another's on the same date (near 1 = a weak model). */
  valid_tie_share: number;
  feature_importance: Array<{ feature: string; gain: number; splits: number }>;
  artifact_path: string;
  code_version: string;
  timings_ms: Record<string, number>;
}

export async function runTraining(deps: { db: Db; clock: Clock; logger: Logger; dataDir: string; varDir: string; config: TrainConfig; progress?: (stage: string, done: number, total: number) => void }): Promise<TrainReport> {
  const { config: cfg, clock } = deps;
  const progress = deps.progress ?? (() => {});
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (k: string, since: number) => (timings[k] = Math.round(performance.now() - since));

  let t = performance.now();
  progress('features', 0, 1);
  const cat = await openCatalog(deps.dataDir);
  let sets: { train: LabeledSet; valid: LabeledSet; test: LabeledSet };
  try {
    const bars = await loadAdjustedBars(cat, { symbols: cfg.symbols });
    if (bars.size === 0) throw new InputError('no bars to train on: run `kestrel etl` first');
    const mats = await computeAlpha158(bars.values(), { threads: cfg.threads });
    const raw = cfg.label_horizon === 1 ? undefined : mats.map((m) => forwardReturn(bars.get(m.symbol)!.close, cfg.label_horizon));
    sets = buildSplit(mats, cfg.split, cfg.label, raw);
  } finally {
    cat.close();
  }
  lap('features', t);
  for (const [k, s] of Object.entries(sets)) if (s.nRows === 0 && k !== 'test') throw new InputError(`the ${k} split (${JSON.stringify(cfg.split[k as 'train'])}) has no labelled rows`);

  const params: GbdtParams = { ...DEFAULT_TRAIN_PARAMS, ...(cfg.params as GbdtParams) };
  const tracker = new ExperimentTracker(deps.db, join(deps.varDir, 'mlruns'), clock);
  const version = codeVersion();
  const run = await tracker.startRun({
    experiment: cfg.experiment,
    name: `${cfg.model_name}-${cfg.label}`,
    params: { ...(params as Record<string, number | string>), label: cfg.label, label_horizon: cfg.label_horizon, split: JSON.stringify(cfg.split), threads: cfg.threads, rows_train: sets.train.nRows },
    codeVersion: version,
  });
  try {
    t = performance.now();
    const total = params.num_boost_round ?? 1000;
    const result = await trainGbdt(
      params,
      { X: sets.train.X, y: sets.train.y, nRows: sets.train.nRows, nFeatures: sets.train.nFeatures, featureNames: sets.train.featureNames },
      { X: sets.valid.X, y: sets.valid.y, nRows: sets.valid.nRows, nFeatures: sets.valid.nFeatures, featureNames: sets.valid.featureNames },
      {
        threads: cfg.threads,
        onIteration: (it, train, valid) => {
          run.logMetric('train_l2', train, it);
          if (valid !== undefined) run.logMetric('valid_l2', valid, it);
          if (it % 5 === 0) progress('train', it, total);
        },
      },
    );
    const trainSeconds = (performance.now() - t) / 1000;
    lap('train', t);

    t = performance.now();
    const expr = labelExpr(cfg.label_horizon);
    const model = result.model.withLabel({ kind: cfg.label, expr: cfg.label === 'abs_return' ? `Abs(${expr})` : expr, transform: 'cross-sectional z-score per date' });
    const pv = model.predict(sets.valid.X, sets.valid.nRows);
    const vIc = icSummary(pv, sets.valid.y, sets.valid.day);
    const zero = new Float64Array(sets.valid.nRows);
    const vNext = icSummary(pv, sets.valid.next, sets.valid.day);
    let test: ReturnType<typeof icSummary> | null = null;
    let tNext: ReturnType<typeof icSummary> | null = null;
    let testMse: number | null = null;
    if (sets.test.nRows > 0) {
      const pt = model.predict(sets.test.X, sets.test.nRows);
      test = icSummary(pt, sets.test.y, sets.test.day);
      tNext = icSummary(pt, sets.test.next, sets.test.day);
      testMse = mse(pt, sets.test.y);
    }
    lap('evaluate', t);

    const names = sets.train.featureNames;
    const importance = names
      .map((feature, i) => ({ feature, gain: result.importance.gain[i]!, splits: result.importance.split[i]! }))
      .sort((a, b) => b.gain - a.gain);
    const metrics = {
      valid_mse: mse(pv, sets.valid.y),
      valid_mse_zero: mse(zero, sets.valid.y),
      valid_ic: vIc.ic.mean,
      valid_rank_ic: vIc.rankIc.mean,
      valid_icir: vIc.ic.icir,
      valid_rank_icir: vIc.rankIc.icir,
      test_mse: testMse,
      test_ic: test?.ic.mean ?? null,
      test_rank_ic: test?.rankIc.mean ?? null,
      test_icir: test?.ic.icir ?? null,
      test_rank_icir: test?.rankIc.icir ?? null,
      valid_ic_next_day: vNext.ic.mean,
      valid_rank_ic_next_day: vNext.rankIc.mean,
      test_ic_next_day: tNext?.ic.mean ?? null,
      test_rank_ic_next_day: tNext?.rankIc.mean ?? null,
      valid_tie_share: tieShare(pv, sets.valid.day),
      best_iteration: result.bestIteration,
      train_seconds: trainSeconds,
    };
    const artifactPath = run.logArtifact('model.json', model.toJSON());
    run.logArtifact('features.json', { names, label: cfg.label, label_horizon: cfg.label_horizon, label_expr: expr, zscore: 'per date' });
    run.logArtifact('importance.json', importance);
    run.logArtifact('config.json', { ...cfg, params });
    run.logArtifact('daily_ic.json', {
      valid: vIc.daily.groups.map((d, i) => ({ date: dayString(d), n: vIc.daily.counts[i], ic: vIc.daily.ic[i], rank_ic: vIc.daily.rankIc[i] })),
    });
    await run.finish(toFinite(metrics));

    const gate = checkPromotionGate(metrics, cfg.gate);
    run.logArtifact('gate.json', gate);
    const registry = new ModelRegistry(deps.db, clock);
    let mv = await registry.register({
      name: cfg.model_name,
      runId: run.id,
      artifactPath,
      metrics: toFinite(metrics),
      labelKind: cfg.label,
      description: `${cfg.label} label, best iteration ${result.bestIteration}, gate ${gate.passed ? 'passed' : `failed (${gate.reasons.join('; ')})`}`,
    });
    const prod = await registry.production(cfg.model_name);
    const promotion = decidePromotion(cfg, gate, prod?.version ?? null, mv.version);
    if (promotion.promoted) mv = (await registry.promote(cfg.model_name, mv.version, 'kestrel-train', promotion.reason)).promoted;
    timings.total = Math.round(performance.now() - t0);
    deps.logger.info({ model: cfg.model_name, version: mv.version, status: mv.status, run: run.id, gate: gate.passed, promotion: promotion.reason }, 'model registered');
    return {
      model_name: cfg.model_name,
      model_version: mv.version,
      model_status: mv.status,
      run_id: run.id,
      label: cfg.label,
      label_horizon: cfg.label_horizon,
      gate,
      promotion,
      rows: { train: sets.train.nRows, valid: sets.valid.nRows, test: sets.test.nRows },
      ...metrics,
      feature_importance: importance.slice(0, 20),
      artifact_path: artifactPath,
      code_version: version,
      timings_ms: timings,
    };
  } catch (e) {
    await run.fail(e);
    throw e;
  }
}

/** Qlib's expression of the raw label: LABEL0 for horizon 1, else the return from t+1 to t+1+h. */
export function labelExpr(horizon: number): string {
  return horizon === 1 ? LABEL0_EXPR : `Ref($close, -${horizon + 1})/Ref($close, -1) - 1`;
}

/** Whether `promote` and the gate let this version become production, and what to do when not. */
export function decidePromotion(cfg: Pick<TrainConfig, 'promote' | 'force' | 'model_name'>, gate: GateVerdict, productionVersion: number | null, version: number): Promotion {
  const name = cfg.model_name;
  if (cfg.promote === 'never') return { promoted: false, reason: 'not promoted: --promote never', next: `kestrel models promote ${name} ${version}` };
  if (cfg.promote === 'if_none' && productionVersion !== null) {
    return {
      promoted: false,
      reason: `not promoted: ${name} already has production v${productionVersion} (--promote if_none)${gate.passed ? '' : `; it also fails the gate (${gate.reasons.join('; ')})`}`,
      next: gate.passed ? `compare, then \`kestrel models promote ${name} ${version}\`` : `change the training params (docs/research.md)`,
    };
  }
  if (!gate.passed && !cfg.force) {
    return {
      promoted: false,
      reason: `not promoted: fails the promotion gate (${gate.reasons.join('; ')})`,
      next: `promote it anyway with \`kestrel models promote ${name} ${version} --force\` (or train with \`--promote always --force\`), or change the training params (\`kestrel train --config\`, docs/research.md)`,
    };
  }
  const why = gate.passed ? `gate passed (${gate.checks.map((c) => c.reason).join('; ')})` : `forced past the gate (${gate.reasons.join('; ')})`;
  return { promoted: true, reason: `promoted (--promote ${cfg.promote}${cfg.force ? ' --force' : ''}): ${why}`, next: null };
}

function toFinite(m: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v !== null && Number.isFinite(v) ? v : null]));
}

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
import { buildSplit, DEFAULT_SPLIT, type LabeledSet } from './dataset.js';
import { icSummary, mse } from './metrics.js';
import { trainGbdt } from './gbdt/train.js';
import type { GbdtParams } from './gbdt/params.js';

/**
 * `kestrel train`: Alpha158 features → GBDT → metrics → experiment run → registry version.
 * Defaults are Qlib's LightGBM Alpha158 benchmark and its date split.
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

const Range = z.object({ from: z.string(), to: z.string().nullable() }).strict();
export const TrainConfigSchema = z
  .object({
    model_name: z.string().default('alpha158-gbdt'),
    experiment: z.string().default('alpha158'),
    label: z.enum(['return', 'abs_return']).default('return'),
    split: z.object({ train: Range, valid: Range, test: Range }).strict().default(DEFAULT_SPLIT),
    params: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
    threads: z.number().int().min(1).max(64).default(2),
    symbols: z.array(z.string()).optional(),
    /** never: stage only; if_none: promote when the model has no production version yet; always. */
    promote: z.enum(['never', 'if_none', 'always']).default('if_none'),
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

export interface TrainReport {
  model_name: string;
  model_version: number;
  model_status: string;
  run_id: string;
  label: string;
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
    sets = buildSplit(mats, cfg.split, cfg.label);
  } finally {
    cat.close();
  }
  lap('features', t);
  for (const [k, s] of Object.entries(sets)) if (s.nRows === 0 && k !== 'test') throw new InputError(`the ${k} split (${JSON.stringify(cfg.split[k as 'train'])}) has no labelled rows`);

  const params: GbdtParams = { ...QLIB_ALPHA158_PARAMS, ...(cfg.params as GbdtParams) };
  const tracker = new ExperimentTracker(deps.db, join(deps.varDir, 'mlruns'), clock);
  const version = codeVersion();
  const run = await tracker.startRun({
    experiment: cfg.experiment,
    name: `${cfg.model_name}-${cfg.label}`,
    params: { ...(params as Record<string, number | string>), label: cfg.label, split: JSON.stringify(cfg.split), threads: cfg.threads, rows_train: sets.train.nRows },
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
    const model = result.model;
    const pv = model.predict(sets.valid.X, sets.valid.nRows);
    const vIc = icSummary(pv, sets.valid.y, sets.valid.day);
    const zero = new Float64Array(sets.valid.nRows);
    let test: ReturnType<typeof icSummary> | null = null;
    let testMse: number | null = null;
    if (sets.test.nRows > 0) {
      const pt = model.predict(sets.test.X, sets.test.nRows);
      test = icSummary(pt, sets.test.y, sets.test.day);
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
      best_iteration: result.bestIteration,
      train_seconds: trainSeconds,
    };
    const artifactPath = run.logArtifact('model.json', model.toJSON());
    run.logArtifact('features.json', { names, label: cfg.label, label_expr: 'Ref($close, -2)/Ref($close, -1) - 1', zscore: 'per date' });
    run.logArtifact('importance.json', importance);
    run.logArtifact('config.json', { ...cfg, params });
    run.logArtifact('daily_ic.json', {
      valid: vIc.daily.groups.map((d, i) => ({ date: dayString(d), n: vIc.daily.counts[i], ic: vIc.daily.ic[i], rank_ic: vIc.daily.rankIc[i] })),
    });
    await run.finish(toFinite(metrics));

    const registry = new ModelRegistry(deps.db, clock);
    let mv = await registry.register({ name: cfg.model_name, runId: run.id, artifactPath, metrics: toFinite(metrics), description: `${cfg.label} label, best iteration ${result.bestIteration}` });
    const hasProd = (await registry.production(cfg.model_name)) !== null;
    if (cfg.promote === 'always' || (cfg.promote === 'if_none' && !hasProd)) mv = (await registry.promote(cfg.model_name, mv.version, 'kestrel-train', `promote=${cfg.promote}`)).promoted;
    timings.total = Math.round(performance.now() - t0);
    deps.logger.info({ model: cfg.model_name, version: mv.version, status: mv.status, run: run.id }, 'model registered');
    return {
      model_name: cfg.model_name,
      model_version: mv.version,
      model_status: mv.status,
      run_id: run.id,
      label: cfg.label,
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

function toFinite(m: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v !== null && Number.isFinite(v) ? v : null]));
}

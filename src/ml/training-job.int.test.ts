import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { openCatalog } from '../data/catalog.js';
import { etl, tempDir } from '../data/test-helpers.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { buildFeatures } from '../features/feature-store.js';
import { ModelRegistry } from '../registry/models.js';
import { ExperimentTracker } from '../registry/tracking.js';
import { GbdtModel } from './gbdt/model.js';
import { loadTrainConfig, runTraining } from './training-job.js';

const SYMBOLS = ['AAPL', 'MSFT', 'AMZN', 'JPM', 'XOM', 'JNJ', 'KO', 'PG', 'WMT', 'INTC'];

describe('research pipeline on the bundled sample', () => {
  const tmp = tempDir('kestrel-train-');
  const dataDir = join(tmp.dir, 'data');
  const clock = fixedClock('2026-01-05T21:00:00Z');
  let db: Db;
  beforeAll(async () => {
    await etl(SAMPLE_BARS, dataDir);
    db = await openPglite(null);
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    tmp.cleanup();
  });

  it('kestrel features: the features view holds 158 Alpha158 columns and LABEL0, NULL where windows are not full', async () => {
    const r = await buildFeatures({ dataDir, clock, symbols: ['AAPL', 'MSFT'], threads: 1 });
    expect(r.columns).toBe(159);
    const cat = await openCatalog(dataDir);
    try {
      const cols = await cat.query<{ column_name: string }>("SELECT column_name FROM (DESCRIBE features)");
      expect(cols.length).toBe(2 + 159);
      expect(cols.slice(0, 4).map((c) => c.column_name)).toEqual(['date', 'symbol', 'KMID', 'KLEN']);
      const [row] = await cat.query<{ n: number; full60: number; first: string }>(
        "SELECT count(*)::INTEGER AS n, count(VSUMD60)::INTEGER AS full60, min(date)::VARCHAR AS first FROM features WHERE symbol = 'AAPL'",
      );
      // A 60-day window needs 60 bars (61 for the ones that use yesterday's close too).
      expect(row!.n - row!.full60).toBeGreaterThanOrEqual(59);
      expect(row!.n - row!.full60).toBeLessThanOrEqual(61);
      // Re-running writes nothing new.
      const again = await buildFeatures({ dataDir, clock, symbols: ['AAPL', 'MSFT'], threads: 1 });
      expect(again.files_written).toBe(0);
    } finally {
      cat.close();
    }
  });

  it('kestrel train: metrics, tracked run, label with the model; a gate failure stays staged, --force promotes, if_none keeps production', async () => {
    const params = { num_boost_round: 30, early_stopping_rounds: 10, num_leaves: 15, min_data_in_leaf: 200, lambda_l1: 0, lambda_l2: 1 };
    const varDir = join(tmp.dir, 'var');
    const registry = new ModelRegistry(db, clock);
    // An impossible IC minimum: the training completes, the version is registered staged, nothing is promoted.
    const strict = loadTrainConfig(undefined, { symbols: SYMBOLS, params, threads: 1, gate: { min_valid_ic: 1 } });
    const r = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir, config: strict });
    expect(r.rows.train).toBeGreaterThan(5000);
    expect(r.rows.valid).toBeGreaterThan(2000);
    for (const k of ['valid_mse', 'valid_ic', 'valid_rank_ic', 'test_ic', 'test_rank_ic', 'valid_ic_next_day', 'test_ic_next_day'] as const) expect(Number.isFinite(r[k])).toBe(true);
    expect(r.best_iteration).toBeGreaterThanOrEqual(1);
    expect([r.model_version, r.model_status, r.label, r.label_horizon]).toEqual([1, 'staged', 'return', 5]);
    expect(r.gate.passed).toBe(false);
    expect(r.gate.reasons).toContain(`valid IC ${r.valid_ic.toFixed(4)} < 1`);
    expect(r.promotion).toMatchObject({ promoted: false, reason: expect.stringMatching(/^not promoted: fails the promotion gate \(.*valid IC/) });
    expect(r.promotion.next).toMatch(/kestrel models promote alpha158-gbdt 1 --force/);
    expect(await registry.production('alpha158-gbdt')).toBeNull();
    expect(r.valid_tie_share).toBeGreaterThanOrEqual(0);

    const tracker = new ExperimentTracker(db, join(varDir, 'mlruns'), clock);
    const run = (await tracker.getRun(r.run_id))!;
    expect(run.status).toBe('finished');
    expect(run.params.num_leaves).toBe(15);
    expect(run.params.label_horizon).toBe(5);
    expect(run.metrics.valid_ic).toBeCloseTo(r.valid_ic, 12);
    const curve = await tracker.metricHistory(r.run_id, 'valid_l2');
    expect(curve.length).toBeGreaterThanOrEqual(r.best_iteration);
    expect(JSON.parse(readFileSync(join(run.artifact_dir, 'gate.json'), 'utf8'))).toEqual(r.gate);

    // The label travels: the registry row and the artifact both say what the model predicts.
    const v1 = (await registry.get('alpha158-gbdt', 1))!;
    expect(v1.label_kind).toBe('return');
    expect(v1.metrics.valid_mse_zero).toBeCloseTo(r.valid_mse_zero, 12);
    const model = GbdtModel.fromJSON(JSON.parse(readFileSync(r.artifact_path, 'utf8')));
    expect(model.nFeatures).toBe(158);
    expect(model.label).toEqual({ kind: 'return', expr: 'Ref($close, -6)/Ref($close, -1) - 1', transform: 'cross-sectional z-score per date' });

    // --force promotes past the gate, and says so.
    const forced = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir, config: { ...strict, force: true } });
    expect([forced.model_version, forced.model_status]).toEqual([2, 'production']);
    expect(forced.promotion.reason).toMatch(/^promoted \(--promote if_none --force\): forced past the gate/);

    // A model passing the gate still does not replace production under if_none.
    const lenient = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir, config: { ...strict, gate: { min_valid_ic: -1, min_valid_rank_ic: -1, max_valid_tie_share: 1, min_mse_gain: 0 } } });
    expect([lenient.model_version, lenient.model_status]).toEqual([3, 'staged']);
    expect(lenient.promotion.reason).toMatch(/already has production v2/);
    expect((await registry.production('alpha158-gbdt'))?.version).toBe(2);
  });

  it('label_horizon 1 trains on LABEL0 (the next-day return): its IC equals the next-day IC', async () => {
    const config = loadTrainConfig(undefined, { symbols: SYMBOLS.slice(0, 6), params: { num_boost_round: 5, early_stopping_rounds: 0, num_leaves: 4, min_data_in_leaf: 100 }, threads: 1, label_horizon: 1, promote: 'never' });
    const r = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir: join(tmp.dir, 'var1'), config });
    expect(r.valid_ic).toBeCloseTo(r.valid_ic_next_day, 12);
    expect(r.test_rank_ic).toBeCloseTo(r.test_rank_ic_next_day!, 12);
    expect(GbdtModel.fromJSON(JSON.parse(readFileSync(r.artifact_path, 'utf8'))).label?.expr).toBe('Ref($close, -2)/Ref($close, -1) - 1');
    expect(r.promotion).toMatchObject({ promoted: false, reason: 'not promoted: --promote never' });
  });

  it('bad training config names the key', () => {
    expect(() => loadTrainConfig(undefined, { label: 'vol' as 'return' })).toThrow(/label/);
    expect(() => loadTrainConfig(undefined, { label_horizon: 0 })).toThrow(/label_horizon/);
    expect(() => loadTrainConfig(undefined, { label_horizon: 2.5 })).toThrow(/label_horizon/);
  });
});

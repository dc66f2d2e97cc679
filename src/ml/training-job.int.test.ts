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

  it('kestrel train: metrics, tracked run, registered and promoted model that reloads identically', async () => {
    const config = loadTrainConfig(undefined, { symbols: SYMBOLS, params: { num_boost_round: 30, early_stopping_rounds: 10, num_leaves: 15, lambda_l1: 0, lambda_l2: 1 }, threads: 1 });
    const r = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir: join(tmp.dir, 'var'), config });
    expect(r.rows.train).toBeGreaterThan(5000);
    expect(r.rows.valid).toBeGreaterThan(2000);
    for (const k of ['valid_mse', 'valid_ic', 'valid_rank_ic', 'test_ic', 'test_rank_ic'] as const) expect(Number.isFinite(r[k])).toBe(true);
    expect(r.best_iteration).toBeGreaterThanOrEqual(1);
    expect(r.model_version).toBe(1);
    expect(r.model_status).toBe('production');

    const tracker = new ExperimentTracker(db, join(tmp.dir, 'var', 'mlruns'), clock);
    const run = (await tracker.getRun(r.run_id))!;
    expect(run.status).toBe('finished');
    expect(run.params.num_leaves).toBe(15);
    expect(run.metrics.valid_ic).toBeCloseTo(r.valid_ic, 12);
    const curve = await tracker.metricHistory(r.run_id, 'valid_l2');
    expect(curve.length).toBeGreaterThanOrEqual(r.best_iteration);

    const model = GbdtModel.fromJSON(JSON.parse(readFileSync(r.artifact_path, 'utf8')));
    expect(model.nFeatures).toBe(158);

    // A second run is staged: production stays with v1 until someone promotes.
    const r2 = await runTraining({ db, clock, logger: silentLogger(), dataDir, varDir: join(tmp.dir, 'var'), config });
    expect([r2.model_version, r2.model_status]).toEqual([2, 'staged']);
    expect((await new ModelRegistry(db, clock).production('alpha158-gbdt'))?.version).toBe(1);
  });

  it('bad training config names the key', () => {
    expect(() => loadTrainConfig(undefined, { label: 'vol' as 'return' })).toThrow(/label/);
  });
});

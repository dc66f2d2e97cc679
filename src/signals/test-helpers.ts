import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryBackend, MemoryBus, type Bus } from '../bus/index.js';
import { fixedClock, systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import type { SymbolBars } from '../data/bars.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import { etl, tempDir } from '../data/test-helpers.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { computeAlpha158 } from '../features/compute.js';
import { buildSet } from '../ml/dataset.js';
import { trainGbdt } from '../ml/index.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { ModelRegistry, type ModelVersion } from '../registry/models.js';
import { buildSignalsApp, type SignalsApp, type SignalsAppOptions } from './app.js';

/**
 * Test plumbing of the signal service: the bundled sample ETL'd into a temp data dir, tiny GBDT
 * models trained on its Alpha158 features (saved as JSON, registered on in-memory PGlite), and
 * apps on an isolated in-process bus.
 */

export const MODEL = 'alpha158-gbdt';
/** Symbols the tiny models train on (they score any symbol). */
export const TRAIN_SYMBOLS = ['AAPL', 'MSFT', 'AMZN', 'JPM', 'XOM', 'JNJ', 'KO', 'PG'];
/** The last date of the sample (a Friday). */
export const LAST_DATE = '2020-01-10';

export interface SignalsFixture {
  dataDir: string;
  varDir: string;
  db: Db;
  registry: ModelRegistry;
  clock: Clock;
  bars: Map<string, SymbolBars>;
  /** Trains a tiny model (rounds trees) and writes its JSON; returns the path. */
  trainModel(rounds: number, seed?: number): Promise<string>;
  /** Registers `path` under MODEL and makes it production. */
  promote(path: string): Promise<ModelVersion>;
  cleanup(): Promise<void>;
}

export async function signalsFixture(): Promise<SignalsFixture> {
  const tmp = tempDir('kestrel-signals-');
  const dataDir = join(tmp.dir, 'data');
  const varDir = join(tmp.dir, 'var');
  mkdirSync(join(varDir, 'models'), { recursive: true });
  await etl(SAMPLE_BARS, dataDir);
  const cat = await openCatalog(dataDir);
  let bars: Map<string, SymbolBars>;
  try {
    bars = await loadAdjustedBars(cat);
  } finally {
    cat.close();
  }
  const mats = await computeAlpha158(TRAIN_SYMBOLS.map((s) => bars.get(s)!), { threads: 1 });
  const set = buildSet(mats, { from: '2015-01-01', to: '2019-06-30' }, 'return');
  const db = await openPglite(null);
  await migrate(db);
  const clock = systemClock;
  const registry = new ModelRegistry(db, clock);
  let n = 0;
  return {
    dataDir,
    varDir,
    db,
    registry,
    clock,
    bars,
    async trainModel(rounds, seed = 7) {
      const { model } = await trainGbdt(
        { objective: 'l2', learning_rate: 0.3, num_leaves: 7, max_depth: 4, min_data_in_leaf: 50, num_boost_round: rounds, early_stopping_rounds: 0, feature_fraction: 0.8, seed },
        { X: set.X, y: set.y, nRows: set.nRows, nFeatures: set.nFeatures, featureNames: set.featureNames },
        undefined,
        { threads: 1 },
      );
      const path = join(varDir, 'models', `model-${++n}.json`);
      writeFileSync(path, JSON.stringify(model));
      return path;
    },
    async promote(path) {
      const v = await registry.register({ name: MODEL, artifactPath: path });
      return (await registry.promote(MODEL, v.version)).promoted;
    },
    async cleanup() {
      await db.close();
      tmp.cleanup();
    },
  };
}

export interface TestApp {
  app: SignalsApp;
  bus: Bus;
  metrics: Metrics;
  close(): Promise<void>;
}

/** An app over the fixture on its own in-process bus (pollMs 0 unless given). */
export async function testApp(fx: SignalsFixture, over: Partial<SignalsAppOptions> & { bus?: Bus; logger?: Logger } = {}): Promise<TestApp> {
  const metrics = over.metrics ?? createMetrics('signals-test', { defaultMetrics: false });
  const bus = over.bus ?? new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend(), metrics });
  let app: SignalsApp;
  try {
    app = await buildSignalsApp({ db: fx.db, bus, clock: fixedClock('2020-01-10T21:30:00Z'), logger: over.logger ?? silentLogger(), dataDir: fx.dataDir, pollMs: 0, metrics, ...over });
  } catch (e) {
    if (!over.bus) await bus.close();
    throw e;
  }
  return {
    app,
    bus,
    metrics,
    close: async () => {
      await app.close();
      if (!over.bus) await bus.close();
    },
  };
}

/** Reads one sample of a metric (text exposition) or null. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | null> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) return null;
  const v = (m.values as Array<{ value: number; labels: Record<string, string | number> }>).find((s) => Object.entries(labels).every(([k, val]) => String(s.labels[k]) === val));
  return v ? v.value : null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, openBus, type Bus } from '../bus/index.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { fixedClock } from '../core/clock.js';
import { loadConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { dec, ZERO } from '../core/money.js';
import { etl, tempDir } from '../data/test-helpers.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { loadTrainConfig, runTraining } from '../ml/training-job.js';
import { runPaper, type PaperReport } from './paper-run.js';

/**
 * Risk drill on a real paper run (issue #7): held names gap 25% against the book on one day.
 * The circuit breaker must trip that day; afterwards nothing that adds risk reaches the broker,
 * while orders that reduce positions still do.
 */
describe('paper run with a scripted price shock', () => {
  const tmp = tempDir('kestrel-shock-');
  const dataDir = join(tmp.dir, 'data');
  let books: Db;
  let registry: Db;
  let bus: Bus;
  let report: PaperReport;
  const SHOCK = '2019-12-27';

  beforeAll(async () => {
    await etl(SAMPLE_BARS, dataDir);
    registry = await openPglite(null);
    await migrate(registry);
    const cfg = loadTrainConfig(undefined, { params: { num_boost_round: 20, early_stopping_rounds: 0, num_leaves: 15, lambda_l1: 0, lambda_l2: 1 }, threads: 1 });
    await runTraining({ db: registry, clock: fixedClock('2020-01-02T00:00:00Z'), logger: silentLogger(), dataDir, varDir: join(tmp.dir, 'var'), config: cfg });
    books = await openPglite(null);
    await migrate(books);
    bus = await openBus({ logger: silentLogger(), memory: new MemoryBackend() });
    const config = loadConfig({ KESTREL_DATA_DIR: dataDir, KESTREL_VAR_DIR: join(tmp.dir, 'var'), RISK_DAILY_LOSS_PCT: '5' });
    report = await runPaper(
      { config, logger: silentLogger(), asOf: '2020-01-03', days: 8, capital: '1000000', maxPositionPct: '0.1', topN: 4, bottomN: 4, slippageBps: 5, shock: { date: SHOCK, move: 0.25 } },
      { db: books, registryDb: registry, bus },
    );
  }, 180_000);

  afterAll(async () => {
    await bus?.close();
    await books?.close();
    await registry?.close();
    tmp.cleanup();
  });

  it('the loss crosses 5% on the shock day and the breaker trips that day', async () => {
    const i = report.daily.findIndex((d) => d.date === SHOCK);
    const before = dec(report.daily[i - 1]!.equity);
    const loss = before.minus(report.daily[i]!.equity).div(before);
    expect(loss.gt('0.05')).toBe(true);
    const trips = await books.query<{ to_state: string; code: string; created_at: string }>(
      "SELECT to_state, code, created_at FROM risk_events WHERE kind = 'breaker' AND to_state = 'TRIPPED' ORDER BY id",
    );
    expect(trips.rows.length).toBeGreaterThanOrEqual(1);
    expect(trips.rows[0]!.code).toBe('daily_loss');
    expect(trips.rows[0]!.created_at.slice(0, 10)).toBe(SHOCK);
  });

  it('after the trip no risk-increasing order reaches the broker; reducing orders still do', async () => {
    const fills = await books.query<{ symbol: string; side: string; qty: string; trade_date: string }>(
      'SELECT f.symbol, f.side, f.qty::text AS qty, o.trade_date FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY f.id',
    );
    const pos = new Map<string, ReturnType<typeof dec>>();
    let reducingAfter = 0;
    for (const f of fills.rows) {
      const cur = pos.get(f.symbol) ?? ZERO;
      const next = f.side === 'buy' ? cur.plus(f.qty) : cur.minus(f.qty);
      if (f.trade_date >= SHOCK && f.trade_date > report.daily.find((d) => d.date === SHOCK)!.date) {
        // Strictly after the shock day's trip: every fill moves its position toward zero without flipping.
        expect(next.abs().lte(cur.abs()) && (next.isZero() || next.isPositive() === cur.isPositive())).toBe(true);
        reducingAfter++;
      }
      pos.set(f.symbol, next);
    }
    // The orchestrator sizes within risk: while tripped it plans no new risk (legs marked `limited`),
    // so nothing risk-increasing is even attempted — and the gateway's check would refuse it anyway.
    const limited = await books.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orchestration_orders oo JOIN orchestration_runs r ON r.id = oo.run_id WHERE r.trade_date > $1 AND oo.order_status = 'limited'`,
      [SHOCK],
    );
    expect(limited.rows[0]!.n).toBeGreaterThan(0);
    expect(reducingAfter).toBeGreaterThan(0);
  });
});

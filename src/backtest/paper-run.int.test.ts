import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBus, type Bus } from '../bus/index.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { fixedClock } from '../core/clock.js';
import { loadConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import { etl, tempDir } from '../data/test-helpers.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { loadTrainConfig, runTraining } from '../ml/training-job.js';
import { runPaper, type PaperReport } from './paper-run.js';

const REDIS = process.env.KESTREL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** End to end on the real servers: books in PostgreSQL, cache/bus in Redis, the whole stack over HTTP. */
describe('paper run (PostgreSQL + Redis)', () => {
  const tmp = tempDir('kestrel-paper-');
  const dataDir = join(tmp.dir, 'data');
  let books: Db;
  let registry: Db;
  let bus: Bus;
  let drop: () => Promise<void>;
  let report: PaperReport;

  beforeAll(async () => {
    await etl(SAMPLE_BARS, dataDir);
    registry = await openPglite(null);
    await migrate(registry);
    const cfg = loadTrainConfig(undefined, { params: { num_boost_round: 20, early_stopping_rounds: 0, num_leaves: 15, lambda_l1: 0, lambda_l2: 1 }, threads: 1 });
    await runTraining({ db: registry, clock: fixedClock('2020-01-02T00:00:00Z'), logger: silentLogger(), dataDir, varDir: join(tmp.dir, 'var'), config: cfg });
    const schema = await createTestSchema();
    drop = schema.drop;
    books = openPostgres({ url: schema.url });
    await migrate(books);
    bus = await openBus({ redisUrl: REDIS, logger: silentLogger(), keyPrefix: `kt-paper-${process.pid}:` });
    const config = { ...loadConfig({ KESTREL_DATA_DIR: dataDir, KESTREL_VAR_DIR: join(tmp.dir, 'var'), REDIS_URL: REDIS }) };
    report = await runPaper(
      { config, logger: silentLogger(), asOf: '2019-12-31', days: 6, capital: '1000000', maxPositionPct: '0.1', topN: 4, bottomN: 4, slippageBps: 5 },
      { db: books, registryDb: registry, bus },
    );
  }, 180_000);

  afterAll(async () => {
    await bus?.close();
    await books?.close();
    await registry?.close();
    await drop?.();
    tmp.cleanup();
  });

  it('trades every day and the books reconcile: total P&L = equity change, to the cent', () => {
    expect(report.days).toBe(6);
    expect(report.to).toBe('2019-12-31');
    expect(report.daily).toHaveLength(6);
    expect(report.orders.length).toBeGreaterThan(8);
    expect(report.daily.every((d) => d.run_status === 'completed' || d.run_status === 'partial')).toBe(true);
    // Checked exactly inside, shown to the cent: the difference is exactly zero.
    expect(report.reconciled).toBe(true);
    expect(report.reconciliation_difference).toBe('0.00');
    // Our fills ledger and the broker's account agree exactly.
    expect(report.broker_cash_difference).toBe('0.00');
    // Rounded to the cent, the identity still holds exactly (capital is whole cents): no residue.
    expect(dec(report.total_pnl).eq(dec(report.equity_end).minus(report.equity_start))).toBe(true);
    const off = report.daily.filter((d) => !dec(d.total_pnl).eq(dec(d.equity).minus(report.equity_start)));
    expect(off).toEqual([]);
    for (const v of [report.total_pnl, report.realized_pnl, report.unrealized_pnl, report.equity_end, ...report.daily.map((d) => d.equity)]) expect(v).toMatch(/^-?\d+\.\d{2}$/);
  });

  it('realized + unrealized per symbol add up to the total, and everything is UTC', () => {
    // Each figure is rounded from its exact value, so rounded parts add up to the total within half a cent each.
    const perSymbol = report.per_symbol.reduce((s, p) => s.plus(p.total_pnl), dec(0));
    expect(perSymbol.minus(report.total_pnl).abs().lte(dec('0.005').times(report.per_symbol.length))).toBe(true);
    expect(report.timezone).toBe('UTC');
    expect(report.generated_at).toMatch(/Z$/);
    expect(dec(report.realized_pnl).plus(report.unrealized_pnl).minus(report.total_pnl).abs().lte('0.01')).toBe(true);
    expect(report.runs.every((r) => r.finished_at !== null && r.finished_at.startsWith(r.trade_date))).toBe(true);
    expect(report.refusals.orders).toBe(report.daily.reduce((n, d) => n + d.refused, 0));
  });

  it('every order was filled at that day\'s close ± slippage, never twice', async () => {
    const r = await books.query<{ n: number; dup: number }>(`SELECT count(*)::int AS n, (count(*) - count(DISTINCT client_order_id))::int AS dup FROM orders`);
    expect(r.rows[0]!.dup).toBe(0);
    const open = await books.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE status IN ('pending_new','accepted','new','partially_filled')`);
    expect(open.rows[0]!.n).toBe(0);
  });
});

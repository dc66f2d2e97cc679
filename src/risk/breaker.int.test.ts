import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { CircuitBreaker } from './breaker.js';
import { parseRiskConfig } from './config.js';
import { RiskEngine } from './engine.js';
import { RiskEventLog } from './events.js';
import { MapPriceSource, PgRiskStateProvider, StaticEquitySource } from './provider.js';
import { RedisStateStore } from './state-store.js';

/**
 * Two gateway "replicas" — independent breakers, engines, Redis connections and Postgres pools —
 * over the real Redis (127.0.0.1:6379, a unique key prefix) and the real Postgres (a fresh
 * schema). Fails, never skips, when either server is missing.
 */
const REDIS_URL = process.env.KESTREL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `kt-risk-${randomBytes(4).toString('hex')}:`;
const clock = fixedClock('2025-03-04T15:00:00Z');
const config = parseRiskConfig({ limits: { max_position_pct: 0.5 }, correlation: { enabled: false }, breaker: { quiet_period_s: 60 } });

async function connectRedis(): Promise<Redis> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
  } catch (e) {
    r.disconnect();
    throw new Error(`Redis is required for integration tests at ${REDIS_URL} (${(e as Error).message}); start it: redis-server --daemonize yes`, { cause: e });
  }
  return r;
}

interface Replica {
  redis: Redis;
  db: Db;
  breaker: CircuitBreaker;
  engine: RiskEngine;
}

let schema: Awaited<ReturnType<typeof createTestSchema>>;
const replicas: Replica[] = [];

beforeAll(async () => {
  schema = await createTestSchema();
  const prices = new MapPriceSource();
  prices.set('AAPL', '200', clock.now());
  prices.set('MSFT', '400', clock.now());
  const equity = new StaticEquitySource({ equity: dec('100000'), buyingPower: dec('100000') });
  for (let i = 0; i < 2; i++) {
    const redis = await connectRedis();
    const db = openPostgres({ url: schema.url, max: 3 });
    if (i === 0) {
      await migrate(db);
      await db.query("INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, updated_at) VALUES ('AAPL', 100, 190, 19000, now())");
    }
    const events = new RiskEventLog(db);
    const breaker = new CircuitBreaker({ store: new RedisStateStore(redis, { keyPrefix: prefix }), events, clock, logger: silentLogger(), config: config.breaker });
    const provider = new PgRiskStateProvider({ db, clock, prices, equity, correlation: config.correlation });
    replicas.push({ redis, db, breaker, engine: new RiskEngine({ config, provider, breaker, events, logger: silentLogger() }) });
  }
});

afterAll(async () => {
  const r0 = replicas[0];
  if (r0) {
    const keys = await r0.redis.keys(`${prefix}*`);
    if (keys.length) await r0.redis.del(...keys);
  }
  for (const r of replicas) {
    await r.redis.quit();
    await r.db.close();
  }
  await schema?.drop();
});

const order = (side: 'buy' | 'sell', qty: string) => ({ client_order_id: `c-${side}-${qty}`, strategy_id: 's1', symbol: 'AAPL', side, qty, order_type: 'market' as const, limit_price: null, trade_date: '2025-03-04' });

describe('breaker agreement across two replicas (real Redis + Postgres)', () => {
  it('one trips, the other sees TRIPPED: refuses a risk-increasing order, passes a reducing one', async () => {
    const [a, b] = replicas as [Replica, Replica];
    expect((await b.engine.evaluate(order('buy', '10'))).decision).toEqual({ ok: true, reducing: false });
    expect((await a.breaker.trip('manual', 'integration test', 'alice')).changed).toBe(true);

    const inc = await b.engine.evaluate(order('buy', '10'));
    expect(inc.decision).toMatchObject({ ok: false, code: 'breaker_tripped' });
    expect(inc.gate.state).toBe('TRIPPED');
    expect((await b.engine.evaluate(order('sell', '40'))).decision).toEqual({ ok: true, reducing: true });
    expect((await b.engine.evaluate(order('sell', '101'))).decision).toMatchObject({ ok: false, code: 'breaker_tripped' }); // a flip increases risk

    const rows = await b.db.query<{ kind: string; code: string; to_state: string | null; actor: string }>('SELECT kind, code, to_state, actor FROM risk_events ORDER BY id');
    expect(rows.rows).toEqual([
      { kind: 'breaker', code: 'manual', to_state: 'TRIPPED', actor: 'alice' },
      { kind: 'pretrade_rejected', code: 'breaker_tripped', to_state: null, actor: 'system' },
      { kind: 'pretrade_rejected', code: 'breaker_tripped', to_state: null, actor: 'system' },
    ]);
  });

  it('racing resets and trips: compare-and-set in Redis lets exactly one win, audited once', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const resets = await Promise.all([a.breaker.reset('resume a', 'alice', '100000', '2025-03-04'), b.breaker.reset('resume b', 'bob', '100000', '2025-03-04')]);
    expect(resets.filter((r) => r.changed)).toHaveLength(1);
    expect((await a.breaker.current()).state).toBe('QUIET_PERIOD');
    expect((await b.breaker.current()).version).toBe(2);

    const trips = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).breaker.trip('manual', `race ${i}`, `op${i}`)));
    expect(trips.filter((t) => t.changed)).toHaveLength(1);
    const audit = await a.db.query<{ breaker_version: number; to_state: string }>("SELECT breaker_version, to_state FROM risk_events WHERE kind = 'breaker' ORDER BY breaker_version");
    expect(audit.rows).toEqual([
      { breaker_version: 1, to_state: 'TRIPPED' },
      { breaker_version: 2, to_state: 'QUIET_PERIOD' },
      { breaker_version: 3, to_state: 'TRIPPED' },
    ]);
  });

  it('after the quiet period both replicas return to OPEN (whichever notices first makes the step)', async () => {
    const [a, b] = replicas as [Replica, Replica];
    await a.breaker.reset('resume', 'alice', '100000', '2025-03-04');
    clock.advance(60_000);
    const [sa, sb] = await Promise.all([a.breaker.current(), b.breaker.current()]);
    expect([sa.state, sb.state]).toEqual(['OPEN', 'OPEN']);
    expect(sa.version).toBe(sb.version);
    expect((await b.engine.evaluate(order('buy', '10'))).decision.ok).toBe(true);
  });
});

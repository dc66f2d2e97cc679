import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { CircuitBreaker, breakerKey, type BreakerTransition } from './breaker.js';
import { defaultRiskConfig, parseRiskConfig, type BreakerConfig } from './config.js';
import { RiskEventLog } from './events.js';
import { MemoryStateStore, type StateStore } from './state-store.js';
import { ctxOf, T0 } from './test-helpers.js';

let db: Db;
beforeAll(async () => {
  db = await openPglite(null);
  await migrate(db);
});
afterAll(async () => {
  await db.close();
});

let n = 0;
function setup(cfg: BreakerConfig = defaultRiskConfig().breaker, store: StateStore = new MemoryStateStore()) {
  const clock = fixedClock(new Date(T0));
  const id = `t${++n}`;
  const events = new RiskEventLog(db);
  const make = () => new CircuitBreaker({ store, events, clock, logger: silentLogger(), config: cfg, id });
  return { clock, id, events, store, a: make(), b: make(), make };
}

const breakerRows = async (id: string) =>
  (await db.query<{ breaker_version: number; from_state: string | null; to_state: string; code: string; actor: string; reason: string; created_at: string }>(
    "SELECT breaker_version, from_state, to_state, code, actor, reason, created_at FROM risk_events WHERE kind = 'breaker' AND breaker_id = $1 ORDER BY breaker_version",
    [id],
  )).rows;

describe('CircuitBreaker over a shared store', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it('starts OPEN; trip → TRIPPED; reset → QUIET_PERIOD; cool-down → OPEN, each audited once with who/why/when', async () => {
    expect((await s.a.current()).state).toBe('OPEN');
    const t = await s.a.trip('manual', 'desk halt', 'alice');
    expect(t).toMatchObject({ changed: true, state: { state: 'TRIPPED', version: 1, actor: 'alice', reason: 'desk halt', trigger: 'manual' } });
    s.clock.advance(60_000);
    const r = await s.b.reset('all clear', 'bob', '97000', '2025-03-04');
    expect(r).toMatchObject({ changed: true, state: { state: 'QUIET_PERIOD', version: 2, quiet_until: new Date(T0 + 60_000 + 1_800_000).toISOString() } });
    s.clock.advance(1_799_999);
    expect((await s.a.current()).state).toBe('QUIET_PERIOD');
    s.clock.advance(1);
    expect((await s.b.current()).state).toBe('OPEN');
    expect((await s.a.current())).toMatchObject({ state: 'OPEN', version: 3, trigger: 'cooldown', actor: 'system' });
    expect(await breakerRows(s.id)).toEqual([
      { breaker_version: 1, from_state: 'OPEN', to_state: 'TRIPPED', code: 'manual', actor: 'alice', reason: 'desk halt', created_at: new Date(T0).toISOString() },
      { breaker_version: 2, from_state: 'TRIPPED', to_state: 'QUIET_PERIOD', code: 'reset', actor: 'bob', reason: 'all clear', created_at: new Date(T0 + 60_000).toISOString() },
      { breaker_version: 3, from_state: 'QUIET_PERIOD', to_state: 'OPEN', code: 'cooldown', actor: 'system', reason: 'quiet period elapsed', created_at: new Date(T0 + 1_860_000).toISOString() },
    ]);
  });

  it('two replicas racing: exactly one transition wins, both agree, one audit row', async () => {
    const seen: BreakerTransition[] = [];
    s.a.onTransition((t) => void seen.push(t));
    s.b.onTransition((t) => void seen.push(t));
    const [x, y] = await Promise.all([s.a.trip('daily_loss', 'loss from a', 'system'), s.b.trip('manual', 'from b', 'carol')]);
    expect([x.changed, y.changed].sort()).toEqual([false, true]);
    const loser = x.changed ? y : x;
    expect(loser.refused?.code).toBe('already_tripped');
    expect((await s.a.current()).version).toBe(1);
    expect((await s.b.current()).version).toBe(1);
    expect(seen).toHaveLength(1);
    expect(await breakerRows(s.id)).toHaveLength(1);
  });

  it('a reset is refused unless TRIPPED, and needs the equity', async () => {
    expect(await s.a.reset('x', 'bob', '1', '2025-03-04')).toMatchObject({ changed: false, refused: { code: 'not_tripped' } });
    await s.a.trip('manual', 'x', 'alice');
    expect(await s.a.reset('x', 'bob', null, '2025-03-04')).toMatchObject({ changed: false, refused: { code: 'no_equity' } });
    expect(await s.a.trip('manual', 'again', 'alice')).toMatchObject({ changed: false, refused: { code: 'already_tripped' } });
  });

  it('a lost store (Redis flushed) is re-seeded from the audit trail: a TRIPPED breaker stays TRIPPED', async () => {
    await s.a.trip('manual', 'before the flush', 'alice');
    (s.store as MemoryStateStore).clear();
    const fresh = s.make();
    expect(await fresh.current()).toMatchObject({ state: 'TRIPPED', version: 1, reason: 'before the flush' });
    expect(await fresh.reset('after', 'bob', '100', '2025-03-04')).toMatchObject({ changed: true, state: { version: 2 } });
    expect(await breakerRows(s.id)).toHaveLength(2);
  });

  it('an unreadable store makes the gate UNAVAILABLE (fail closed); a corrupt value too', async () => {
    const broken: StateStore = { get: async () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379')), compareAndSet: async () => false };
    const x = setup(defaultRiskConfig().breaker, broken);
    expect(await x.a.gate()).toMatchObject({ state: 'UNAVAILABLE', detail: expect.stringContaining('ECONNREFUSED') });
    await s.store.compareAndSet(breakerKey(s.id), null, '{"state":"MAYBE"}');
    expect((await s.a.gate()).state).toBe('UNAVAILABLE');
  });

  it('a transition whose audit write failed is audited by the next read (any replica)', async () => {
    const flaky = new RiskEventLog(db);
    let fail = true;
    const orig = flaky.record.bind(flaky);
    flaky.record = async (e) => {
      if (fail) throw new Error('database down');
      return orig(e);
    };
    const a = new CircuitBreaker({ store: s.store, events: flaky, clock: s.clock, logger: silentLogger(), config: defaultRiskConfig().breaker, id: s.id });
    expect((await a.trip('manual', 'while pg is down', 'alice')).changed).toBe(true);
    expect(await breakerRows(s.id)).toHaveLength(0);
    fail = false;
    await s.b.current();
    expect(await breakerRows(s.id)).toMatchObject([{ breaker_version: 1, reason: 'while pg is down' }]);
  });
});

describe('automatic triggers (evaluate)', () => {
  it('daily loss of 5 % of start-of-day equity trips; 4.99 % does not', async () => {
    const s = setup();
    expect((await s.a.evaluate(ctxOf({ equity: '95001' }))).tripped).toBeNull();
    const r = await s.a.evaluate(ctxOf({ equity: '95000' }));
    expect(r.tripped).toMatchObject({ changed: true, state: { state: 'TRIPPED', trigger: 'daily_loss', actor: 'system', reason: 'equity 95000 is 5% below start-of-day equity 100000 (limit 5%)' } });
    expect((await s.b.evaluate(ctxOf({ equity: '90000' }))).tripped).toBeNull(); // already tripped: nothing to do
  });

  it('after a reset: the tight quiet period re-trips at 1 % below the equity at reset, then OPEN measures from it', async () => {
    const s = setup();
    await s.a.evaluate(ctxOf({ equity: '94000' }));
    await s.a.reset('resume', 'bob', '94000', '2025-03-04');
    expect((await s.a.evaluate(ctxOf({ equity: '93100' }))).tripped).toBeNull(); // −0.96 %
    expect((await s.a.evaluate(ctxOf({ equity: '93060' }))).tripped).toMatchObject({ state: { state: 'TRIPPED', trigger: 'daily_loss' } });
    await s.a.reset('resume again', 'bob', '93060', '2025-03-04');
    s.clock.advance(1_800_000);
    expect((await s.a.current()).state).toBe('OPEN');
    // 5 % from 93 060 is 88 407.
    expect((await s.a.evaluate(ctxOf({ equity: '88408' }))).tripped).toBeNull();
    expect((await s.a.evaluate(ctxOf({ equity: '88407' }))).tripped).toMatchObject({ changed: true });
  });

  it('stale market data and broker error rate, when configured', async () => {
    const cfg = parseRiskConfig({ breaker: { stale_data_s: 60, error_rate: { max_errors: 3, window_s: 10 } } }).breaker;
    const s = setup(cfg);
    const held = { positions: { AAA: { qty: 10 } } };
    expect((await s.a.evaluate(ctxOf(held))).tripped).toBeNull();
    const stale = ctxOf({ ...held, prices: { AAA: { price: '100', ts: T0 - 61_000 } } });
    expect((await s.a.evaluate(stale)).tripped).toMatchObject({ state: { trigger: 'stale_data', reason: 'no last price within 60 s for held AAA' } });

    const e = setup(cfg);
    e.a.noteError(new Date(T0 - 11_000)); // outside the window
    e.a.noteError(new Date(T0 - 5_000));
    e.a.noteError(new Date(T0 - 1_000));
    expect((await e.a.evaluate(ctxOf(held))).tripped).toBeNull();
    e.a.noteError(new Date(T0));
    expect((await e.a.evaluate(ctxOf(held))).tripped).toMatchObject({ state: { trigger: 'error_rate', reason: '3 broker errors within 10 s (limit 3)' } });
  });
});

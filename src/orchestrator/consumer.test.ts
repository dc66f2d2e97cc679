import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../bus/memory.js';
import { busGroups, busStreams, encodeSignalsGenerated } from '../bus/keys.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { createMetrics } from '../observability/metrics.js';
import { waitFor } from '../execution/test-helpers.js';
import { handleSignalsEvent, startSignalsConsumer } from './consumer.js';
import { createOrchestratorContext, type OrchestratorContext } from './run.js';
import { findRunByKey } from './store.js';
import { FakeGateway, freshDb, resetDb } from './test-helpers.js';
import { StaticPriceSource } from './prices.js';
import { StaticSignalsClient } from './signals-clients.js';
import { fixedClock } from '../core/clock.js';
import type { StreamConsumer } from '../bus/types.js';
import type { StrategyConfig } from './types.js';

/**
 * The signals.generated trigger on the in-process bus (same consumer-group semantics as
 * Redis), with the in-memory gateway. Today is 2025-01-21 (New York).
 */
const STRATEGIES: StrategyConfig[] = [
  { strategy_id: 'alpha', capital: '100000', max_position_pct: 0.5, top_n: 1, bottom_n: 1 },
  { strategy_id: 'beta', capital: 50000, max_position_pct: '0.25', top_n: 1, bottom_n: 0 },
];
const event = (as_of_date: string) => encodeSignalsGenerated({ as_of_date, symbols: ['AAPL', 'XOM'], model_version: 'lgbm:v3', timestamp: '2025-01-21T01:00:00.000Z' });

let db: Db;
beforeAll(async () => {
  db = await freshDb();
});
afterAll(async () => {
  await db?.close();
});

interface Replica {
  ctx: OrchestratorContext;
  gateway: FakeGateway;
  signals: StaticSignalsClient;
}

const clock = fixedClock('2025-01-21T14:00:00Z');
function replica(gateway?: FakeGateway): Replica {
  const signals = new StaticSignalsClient({ '2025-01-17': { AAPL: 1, XOM: -1 }, '2025-01-21': { AAPL: -1, XOM: 1 }, '2025-01-14': { AAPL: 1, XOM: -1 } });
  const g = gateway ?? new FakeGateway(clock);
  const prices = new StaticPriceSource({ all: { AAPL: '200', XOM: '100' } });
  const ctx = createOrchestratorContext({ db, clock, logger: silentLogger(), signals, gateway: g, prices, metrics: createMetrics('orchestrator', { defaultMetrics: false }), tuning: { scheduling: true, retryBaseMs: 1 } });
  return { ctx, gateway: g, signals };
}

const consumers: StreamConsumer[] = [];
let bus: MemoryBus;
afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
  await bus?.close();
  await resetDb(db);
  clock.set('2025-01-21T14:00:00Z');
});

const newBus = () => (bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend({ clock: { now: () => new Date() } }), keyPrefix: 't:' }));
const eventsHandled = async (r: Replica) => Number((await r.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).match(/outcome="ran"[^\n]* (\d+)/)?.[1] ?? 0);

describe('signals.generated consumer', () => {
  it('events published while the orchestrator was down are processed when it starts, each strategy once', async () => {
    newBus();
    const r = replica();
    // Never started before: the group is created at the start of the stream, nothing is missed.
    await bus.xadd(busStreams.signalsGenerated, event('2025-01-17')); // trade date 2025-01-21 = today: runs now
    await bus.xadd(busStreams.signalsGenerated, event('2025-01-21')); // trade date 2025-01-22: scheduled
    consumers.push(startSignalsConsumer({ ctx: r.ctx, bus, strategies: STRATEGIES, consumerName: 'o1', consume: { blockMs: 50 } }));
    await waitFor('both events', async () => (await findRunByKey(db, 'beta', '2025-01-21')) !== null);
    await waitFor('acked', async () => r.ctx.metrics && bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator).length === 0);
    expect(await findRunByKey(db, 'alpha', '2025-01-17')).toMatchObject({ status: 'completed', trigger: 'event', attempt: 1, orders_submitted: 2 });
    // beta runs on the same account after alpha: it diffs against alpha's positions (one account per strategy, see docs).
    expect(await findRunByKey(db, 'beta', '2025-01-17')).toMatchObject({ status: 'completed', attempt: 1, orders_submitted: 2 });
    expect(await findRunByKey(db, 'alpha', '2025-01-21')).toMatchObject({ status: 'scheduled', trade_date: '2025-01-22' });
    expect(r.gateway.created()).toHaveLength(4);

    // Redelivery of the same event (e.g. a replay): no new orders.
    await bus.xadd(busStreams.signalsGenerated, event('2025-01-17'));
    await waitFor('third handled', async () => (await eventsHandled(r)) === 6);
    expect(r.gateway.created()).toHaveLength(4);
  });

  it('a consumer that stopped picks up what was published meanwhile', async () => {
    newBus();
    const r = replica();
    const c = startSignalsConsumer({ ctx: r.ctx, bus, strategies: STRATEGIES.slice(0, 1), consumerName: 'o1', consume: { blockMs: 50 } });
    await waitFor('group', async () => {
      try {
        bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator);
        return true;
      } catch {
        return false; // NOGROUP: not created yet
      }
    });
    await c.stop();
    await bus.xadd(busStreams.signalsGenerated, event('2025-01-17'));
    expect(await findRunByKey(db, 'alpha', '2025-01-17')).toBeNull();
    consumers.push(startSignalsConsumer({ ctx: r.ctx, bus, strategies: STRATEGIES.slice(0, 1), consumerName: 'o1', consume: { blockMs: 50 } }));
    await waitFor('run', async () => (await findRunByKey(db, 'alpha', '2025-01-17'))?.status === 'completed');
  });

  it('two replicas in one group: each event is handled by exactly one of them', async () => {
    newBus();
    const gateway = new FakeGateway(clock);
    const a = replica(gateway);
    const b = replica(gateway);
    consumers.push(startSignalsConsumer({ ctx: a.ctx, bus, strategies: STRATEGIES, consumerName: 'a', consume: { blockMs: 20, count: 1 } }));
    consumers.push(startSignalsConsumer({ ctx: b.ctx, bus, strategies: STRATEGIES, consumerName: 'b', consume: { blockMs: 20, count: 1 } }));
    const dates = ['2025-01-14', '2025-01-17', '2025-01-21', '2025-01-14', '2025-01-17', '2025-01-21'];
    for (const d of dates) await bus.xadd(busStreams.signalsGenerated, event(d));
    await waitFor('all handled', async () => (await eventsHandled(a)) + (await eventsHandled(b)) + (await staleCount(a)) + (await staleCount(b)) === dates.length * STRATEGIES.length);
    // 2025-01-14's trade date (01-15) has passed: skipped, no run. The others ran once each.
    expect(await findRunByKey(db, 'alpha', '2025-01-14')).toBeNull();
    const runs = await db.query<{ attempt: number; orders_submitted: number; status: string }>('SELECT attempt, orders_submitted, status FROM orchestration_runs');
    expect(runs.rows).toHaveLength(4);
    expect(runs.rows.map((x) => x.attempt).sort()).toEqual([0, 0, 1, 1]); // two ran once, two are scheduled
    expect(gateway.created()).toHaveLength(runs.rows.reduce((n, x) => n + x.orders_submitted, 0));
    expect(bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator)).toEqual([]);
  });

  it('a run that failed leaves the event pending; it is retried and then succeeds', async () => {
    newBus();
    const r = replica();
    r.signals.failWith = new Error('signal service unavailable');
    consumers.push(startSignalsConsumer({ ctx: r.ctx, bus, strategies: STRATEGIES.slice(0, 1), consumerName: 'o1', consume: { blockMs: 20, claimIdleMs: 150, claimIntervalMs: 50 } }));
    await bus.xadd(busStreams.signalsGenerated, event('2025-01-17'));
    await waitFor('failed once', async () => (await findRunByKey(db, 'alpha', '2025-01-17'))?.status === 'failed');
    expect(bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator)).toHaveLength(1);
    r.signals.failWith = null;
    await waitFor('retried', async () => (await findRunByKey(db, 'alpha', '2025-01-17'))?.status === 'completed');
    await waitFor('acked', async () => bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator).length === 0);
    expect((await findRunByKey(db, 'alpha', '2025-01-17'))!.attempt).toBeGreaterThanOrEqual(2);
  });

  it('undecodable entries are acknowledged; the outcome of each strategy is reported', async () => {
    newBus();
    const r = replica();
    consumers.push(startSignalsConsumer({ ctx: r.ctx, bus, strategies: STRATEGIES, consumerName: 'o1', consume: { blockMs: 20 } }));
    await bus.xadd(busStreams.signalsGenerated, { as_of_date: 'yesterday', symbols: '[]', model_version: 'x', timestamp: 'now' });
    await waitFor('acked', async () => (await r.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).includes('outcome="invalid"'));
    expect(bus.backend.pending(`t:${busStreams.signalsGenerated}`, busGroups.orchestrator)).toEqual([]);

    const results = await handleSignalsEvent(r.ctx, [...STRATEGIES, { strategy_id: 'bad id!', capital: 1, max_position_pct: 1 }], { as_of_date: '2025-01-14', symbols: [], model_version: 'x', timestamp: '2025-01-15T00:00:00Z' });
    expect(results.map((x) => [x.strategy_id, x.outcome])).toEqual([
      ['alpha', 'stale'],
      ['beta', 'stale'],
      ['bad id!', 'invalid'],
    ]);
  });
});

async function staleCount(r: Replica): Promise<number> {
  return Number((await r.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).match(/outcome="stale"[^\n]* (\d+)/)?.[1] ?? 0);
}

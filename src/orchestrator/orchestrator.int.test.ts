import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerSim, type RunningBrokerSim } from '../broker-sim/index.js';
import { openBus } from '../bus/index.js';
import { MemoryBackend, MemoryBus } from '../bus/memory.js';
import { deletePrefix, freePort, openTestRedisBus, ThrowawayRedis, uniquePrefix } from '../bus/test-helpers.js';
import { busGroups, busStreams, encodeSignalsGenerated } from '../bus/keys.js';
import type { StreamConsumer } from '../bus/types.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { buildGatewayApp, type GatewayApp } from '../execution/app.js';
import { simBroker, SIM_KEYS, waitFor } from '../execution/test-helpers.js';
import { createMetrics } from '../observability/metrics.js';
import { buildOrchestratorApp, type OrchestratorApp } from './app.js';
import { startSignalsConsumer } from './consumer.js';
import { HttpGatewayClient } from './gateway-client.js';
import { StaticPriceSource } from './prices.js';
import { createOrchestratorContext, runDue } from './run.js';
import { StaticSignalsClient } from './signals-clients.js';
import { findRunByKey } from './store.js';
import type { RunOrderView, RunView } from './types.js';

/**
 * The orchestrator end to end on the real PostgreSQL server: the REAL execution gateway
 * (buildGatewayApp, listening on loopback, its own schema tables) and the REAL simulated broker
 * (Alpaca protocol over HTTP + WebSocket), a fixed-signal SignalsClient, the orchestrator app
 * over HTTP. The gateway takes new orders for "today" only, so one fixed clock, shared by the
 * gateway and the orchestrator, is set to each run's trade date.
 */
type RunBody = RunView & { orders: RunOrderView[] };

const D1 = '2025-01-16'; // → trade 2025-01-17 (Fri)
const D2 = '2025-01-17'; // → trade 2025-01-21 (Tue: Mon 2025-01-20 is MLK day)
const D3 = '2025-01-21'; // → 2025-01-22
const D4 = '2025-01-22'; // → 2025-01-23
const D5 = '2025-01-23'; // → 2025-01-24
const D6 = '2025-01-24'; // → 2025-01-27
const D7 = '2025-01-27'; // → 2025-01-28
const D8 = '2025-01-28'; // → 2025-01-29

const PRICES: Record<string, Record<string, string>> = {
  [D1]: { AAPL: '187.25', MSFT: '401.5', NVDA: '140.11', XOM: '105.3', T: '22.46', F: '10.07' },
  [D2]: { AAPL: '190', MSFT: '400', NVDA: '150', XOM: '100', T: '25', F: '10' },
};
for (const d of [D3, D4, D5, D6, D7, D8]) PRICES[d] = PRICES[D2]!;
const SCORES: Record<string, Record<string, number>> = {
  [D1]: { AAPL: 0.9, MSFT: 0.5, NVDA: 0.1, XOM: -0.2, T: -0.6, F: -0.8 },
  [D2]: { F: 0.9, AAPL: 0.7, XOM: 0.3, MSFT: 0, T: -0.5, NVDA: -0.9 },
  [D3]: { AAPL: 0.9, MSFT: 0.8, NVDA: 0.7, XOM: -0.7, T: -0.8, F: -0.9 },
  [D4]: { XOM: 0.9, T: 0.8, F: 0.7, AAPL: -0.7, MSFT: -0.8, NVDA: -0.9 },
  [D5]: { MSFT: 0.9, AAPL: 0.8, F: 0.7, XOM: -0.7, NVDA: -0.8, T: -0.9 },
  [D6]: { NVDA: 0.9, T: 0.8, XOM: 0.7, F: -0.7, AAPL: -0.8, MSFT: -0.9 },
  [D7]: { T: 0.9, NVDA: 0.8, AAPL: 0.7, MSFT: -0.7, F: -0.8, XOM: -0.9 },
  [D8]: { AAPL: 0.9, F: 0.8, T: 0.7, NVDA: -0.7, XOM: -0.8, MSFT: -0.9 },
};
const STRATEGY = { strategy_id: 'int-momentum', capital: '100000', max_position_pct: 0.4, top_n: 3, bottom_n: 2 };

let schema: Awaited<ReturnType<typeof createTestSchema>>;
let db: Db;
let sim: RunningBrokerSim;
let gateway: GatewayApp;
let gatewayUrl: string;
let app: OrchestratorApp;
let url: string;
const clock = fixedClock('2025-01-17T15:00:00Z');
const signals = new StaticSignalsClient(SCORES, { name: 'int', version: 3 });
const prices = new StaticPriceSource({ byDate: PRICES });

beforeAll(async () => {
  schema = await createTestSchema();
  db = openPostgres({ url: schema.url });
  await migrate(db);
  sim = await startBrokerSim({ prices: PRICES[D1], config: { startingCash: '1000000', apiKeyId: SIM_KEYS.keyId, apiSecretKey: SIM_KEYS.secretKey } });
  gateway = await buildGatewayApp({ db, broker: simBroker(sim), clock, logger: silentLogger(), retry: { baseMs: 50, maxMs: 200 } });
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  gatewayUrl = addr(gateway);
  app = await buildOrchestratorApp({
    db,
    clock,
    logger: silentLogger(),
    signals,
    gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }),
    prices,
    tuning: { retryBaseMs: 20 },
    background: { scheduler: false },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = addr(app);
  await gateway.gateway.startup;
});

afterAll(async () => {
  await app?.close();
  await gateway?.close();
  await sim?.close();
  await db?.close();
  await schema?.drop();
});

function addr(a: { server: { address(): unknown } }): string {
  const x = a.server.address() as { port: number } | null;
  return `http://127.0.0.1:${x?.port ?? 0}`;
}

async function run(body: Record<string, unknown>): Promise<{ status: number; body: RunBody }> {
  const r = await fetch(`${url}/api/v1/orchestration/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as RunBody };
}

const simOrders = () => sim.sim.listOrders({ status: 'all', limit: 500 });
const simPositions = () => Object.fromEntries(sim.sim.listPositions().map((p) => [p.symbol, p.qty]));
async function gatewayPositions(): Promise<Record<string, string>> {
  const r = (await (await fetch(`${gatewayUrl}/api/v1/positions`)).json()) as { positions: Array<{ symbol: string; qty: string }> };
  return Object.fromEntries(r.positions.map((p) => [p.symbol, p.qty]));
}
/** The gateway's positions (from fills over the stream) agree with the broker's. */
async function settled(): Promise<Record<string, string>> {
  return waitFor('gateway positions = broker positions', async () => {
    await gateway.gateway.consumer!.idle();
    const ours = await gatewayPositions();
    return JSON.stringify(Object.entries(ours).sort()) === JSON.stringify(Object.entries(simPositions()).sort()) && ours;
  });
}
function day(tradeDate: string, asOf: string): void {
  clock.set(`${tradeDate}T14:00:00Z`);
  sim.sim.setPrices(PRICES[asOf]!);
}
const legs = (orders: RunOrderView[]) => orders.filter((o) => o.qty !== null).map((o) => `${o.leg === 'rebalance' ? '' : `${o.leg} `}${o.side} ${o.qty} ${o.symbol}`);

describe('orchestrator with the real gateway and broker simulator on PostgreSQL', () => {
  it('day 1: a run sizes whole-share targets, submits them through the gateway, and the broker holds them', async () => {
    day('2025-01-17', D1);
    const r = await run({ ...STRATEGY, as_of_date: D1 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'completed', trade_date: '2025-01-17', model_version: 'int:v3', signals_count: 6, orders_planned: 5, orders_submitted: 5, orders_failed: 0 });
    // 1/3 of 100 000 long: 33333.33/187.25 = 178.0, /401.5 = 83.0, /140.11 = 237.9; ½ short: −2226 and −4965,
    // capped at 0.4 × 100 000: 40000/22.46 = 1780.9 → 1780, 40000/10.07 = 3972.2 → 3972.
    expect(legs(r.body.orders)).toEqual(['buy 178 AAPL', 'buy 83 MSFT', 'buy 237 NVDA', 'sell 1780 T', 'sell 3972 F']);
    expect(r.body.orders.filter((o) => o.capped).map((o) => o.symbol)).toEqual(['T', 'F']);
    expect(simOrders()).toHaveLength(5);
    for (const o of simOrders()) expect(o).toMatchObject({ type: 'market', time_in_force: 'day', status: 'filled' });
    expect(simPositions()).toEqual({ AAPL: '178', MSFT: '83', NVDA: '237', T: '-1780', F: '-3972' });
    expect(await settled()).toEqual(simPositions());
  });

  it('re-running the same (strategy_id, as_of_date) creates no new orders', async () => {
    const before = simOrders().length;
    const r = await run({ ...STRATEGY, as_of_date: D1 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'completed', attempt: 1 });
    expect(simOrders()).toHaveLength(before);
  });

  it('day 2: two concurrent identical requests → one set of orders that rebalances against the positions (closes, flips in two legs)', async () => {
    day('2025-01-21', D2);
    const before = simOrders().length;
    const [a, b] = await Promise.all([run({ ...STRATEGY, as_of_date: D2 }), run({ ...STRATEGY, as_of_date: D2 })]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.id).toBe(b.body.id);
    const r = a.status === 201 ? a : b;
    expect(r.body).toMatchObject({ status: 'completed', trade_date: '2025-01-21', orders_planned: 8, orders_submitted: 8 });
    // F −3972 → +3333 and NVDA +237 → −266 flip (close, then open); MSFT (weight 0) closes; AAPL 178 → 175;
    // T −1780 → −1600 (cap 40000/25); XOM new.
    expect(legs(r.body.orders)).toEqual(['close buy 3972 F', 'open buy 3333 F', 'sell 3 AAPL', 'buy 333 XOM', 'sell 83 MSFT', 'buy 180 T', 'close sell 237 NVDA', 'open sell 266 NVDA']);
    expect(simOrders()).toHaveLength(before + 8);
    expect(simPositions()).toEqual({ F: '3333', AAPL: '175', XOM: '333', T: '-1600', NVDA: '-266' });
    expect(await settled()).toEqual(simPositions());
    const again = await run({ ...STRATEGY, as_of_date: D2 });
    expect(again.status).toBe(200);
    expect(simOrders()).toHaveLength(before + 8);
  });

  it('the stream consumer: two events published while it was stopped are both run once when it starts', async () => {
    day('2025-01-22', D3);
    const bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend(), keyPrefix: 'int:' });
    const ctx = createOrchestratorContext({ db, clock, logger: silentLogger(), signals, gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }), prices, tuning: { scheduling: true, retryBaseMs: 20 } });
    const consumer = (name: string) => startSignalsConsumer({ ctx, bus, strategies: [STRATEGY], consumerName: name, consume: { blockMs: 50 } });
    // The orchestrator ran before (the group exists), then went down.
    await consumer('orch-1').stop();
    const before = simOrders().length;
    for (const d of [D3, D4]) await bus.xadd(busStreams.signalsGenerated, encodeSignalsGenerated({ as_of_date: d, symbols: Object.keys(SCORES[d]!), model_version: 'int:v3', timestamp: `${d}T22:00:00.000Z` }));
    const c = consumer('orch-1');
    try {
      await waitFor('D3 ran', async () => (await findRunByKey(db, STRATEGY.strategy_id, D3))?.status === 'completed');
      // D4's trade date (01-23) is tomorrow: recorded as scheduled, run when its day comes.
      await waitFor('D4 scheduled', async () => (await findRunByKey(db, STRATEGY.strategy_id, D4))?.status === 'scheduled');
      await waitFor('acked', async () => bus.backend.pending(`int:${busStreams.signalsGenerated}`, busGroups.orchestrator).length === 0);
      const d3 = (await findRunByKey(db, STRATEGY.strategy_id, D3))!;
      expect(d3).toMatchObject({ trigger: 'event', attempt: 1 });
      expect(simOrders()).toHaveLength(before + d3.orders_submitted);
      await settled();

      day('2025-01-23', D4);
      const [d4] = await runDue(ctx);
      expect(d4).toMatchObject({ as_of_date: D4, status: 'completed', attempt: 1 });
      expect(simOrders()).toHaveLength(before + d3.orders_submitted + d4!.orders_submitted);
      await settled();

      // The same events again (a replay): nothing new.
      const after = simOrders().length;
      for (const d of [D3, D4]) await bus.xadd(busStreams.signalsGenerated, encodeSignalsGenerated({ as_of_date: d, symbols: [], model_version: 'int:v3', timestamp: `${d}T22:00:00.000Z` }));
      await waitFor('replays acked', async () => bus.backend.pending(`int:${busStreams.signalsGenerated}`, busGroups.orchestrator).length === 0 && bus.backend.xlen(`int:${busStreams.signalsGenerated}`) === 4);
      await new Promise((r) => setTimeout(r, 200));
      expect(simOrders()).toHaveLength(after);
    } finally {
      await c.stop();
      await bus.close();
    }
  });

  it('two consumers in one group (two replicas): each event is handled once', async () => {
    day('2025-01-24', D5);
    const bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend(), keyPrefix: 'int2:' });
    const replicas = ['a', 'b'].map((n) => {
      const ctx = createOrchestratorContext({ db, clock, logger: silentLogger(), signals, gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }), prices, metrics: createMetrics('orchestrator', { defaultMetrics: false }), tuning: { scheduling: true, retryBaseMs: 20 } });
      return { ctx, consumer: startSignalsConsumer({ ctx, bus, strategies: [STRATEGY], consumerName: `replica-${n}`, consume: { blockMs: 20, count: 1 } }) };
    });
    const before = simOrders().length;
    const handled = async () => {
      let n = 0;
      for (const r of replicas) n += Number((await r.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).match(/outcome="ran"[^\n]* (\d+)/)?.[1] ?? 0);
      return n;
    };
    try {
      const events = [D5, D6, D5, D6];
      for (const d of events) await bus.xadd(busStreams.signalsGenerated, encodeSignalsGenerated({ as_of_date: d, symbols: [], model_version: 'int:v3', timestamp: `${d}T22:00:00.000Z` }));
      await waitFor('all handled', async () => (await handled()) === events.length);
      await waitFor('acked', async () => bus.backend.pending(`int2:${busStreams.signalsGenerated}`, busGroups.orchestrator).length === 0);
      expect(await handled()).toBe(events.length); // not more: no event went to both replicas
      const d5 = (await findRunByKey(db, STRATEGY.strategy_id, D5))!;
      expect(d5).toMatchObject({ status: 'completed', attempt: 1 });
      expect(await findRunByKey(db, STRATEGY.strategy_id, D6)).toMatchObject({ status: 'scheduled', attempt: 0 });
      expect(simOrders()).toHaveLength(before + d5.orders_submitted);
      await settled();
    } finally {
      await Promise.all(replicas.map((r: { consumer: StreamConsumer }) => r.consumer.stop()));
      await bus.close();
    }
  });

  it('real Redis: two orchestrator replicas on one stream and group; an event runs once, a replay adds nothing', async () => {
    day('2025-01-28', D7);
    const prefix = uniquePrefix();
    const buses = [await openTestRedisBus({ keyPrefix: prefix }), await openTestRedisBus({ keyPrefix: prefix })];
    const apps = await Promise.all(
      buses.map((bus, i) =>
        buildOrchestratorApp({
          db,
          clock,
          logger: silentLogger(),
          signals,
          gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }),
          prices,
          bus,
          strategies: [STRATEGY],
          background: { scheduler: false, consumer: { name: `redis-replica-${i}`, consume: { blockMs: 100 } } },
        }),
      ),
    );
    const ran = async () => {
      let n = 0;
      for (const a of apps) n += Number((await a.orchestrator.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).match(/outcome="ran"[^\n]* (\d+)/)?.[1] ?? 0);
      return n;
    };
    try {
      await Promise.all(apps.map((a) => a.ready()));
      const before = simOrders().length;
      const ev = encodeSignalsGenerated({ as_of_date: D7, symbols: [], model_version: 'int:v3', timestamp: `${D7}T22:00:00.000Z` });
      await buses[0]!.xadd(busStreams.signalsGenerated, ev);
      await waitFor('D7 ran', async () => (await findRunByKey(db, STRATEGY.strategy_id, D7))?.status === 'completed');
      const d7 = (await findRunByKey(db, STRATEGY.strategy_id, D7))!;
      expect(d7).toMatchObject({ trigger: 'event', attempt: 1 });
      expect(simOrders()).toHaveLength(before + d7.orders_submitted);
      await buses[1]!.xadd(busStreams.signalsGenerated, ev);
      await waitFor('both events handled', async () => (await ran()) === 2);
      expect(simOrders()).toHaveLength(before + d7.orders_submitted);
      await settled();
    } finally {
      await Promise.all(apps.map((a) => a.close()));
      await Promise.all(buses.map((b) => b.close()));
      await deletePrefix(prefix);
    }
  });

  it('Redis down: runs still go over HTTP (health degraded); after Redis is back the event for the same day adds nothing', async () => {
    day('2025-01-29', D8);
    const redis = new ThrowawayRedis(await freePort());
    await redis.start();
    const bus = await openBus({ redisUrl: redis.url, logger: silentLogger(), keyPrefix: 'outage:', redis: { commandTimeoutMs: 300, connectTimeoutMs: 300, maxBackoffMs: 200 } });
    const o = await buildOrchestratorApp({
      db,
      clock,
      logger: silentLogger(),
      signals,
      gateway: new HttpGatewayClient({ baseUrl: gatewayUrl }),
      prices,
      bus,
      strategies: [STRATEGY],
      background: { scheduler: false, consumer: { name: 'outage-1', consume: { blockMs: 100 } } },
    });
    try {
      await o.ready();
      await redis.kill();
      const before = simOrders().length;
      const r = await o.inject({ method: 'POST', url: '/api/v1/orchestration/run', payload: { ...STRATEGY, as_of_date: D8 } });
      expect(r.statusCode).toBe(201);
      const body = r.json() as RunBody;
      expect(body).toMatchObject({ status: 'completed', trigger: 'api' });
      expect(simOrders()).toHaveLength(before + body.orders_submitted);
      const h = (await o.inject({ url: '/health' })).json() as { status: string; checks: Record<string, { status: string }> };
      expect(h.status).toBe('degraded');
      expect(h.checks.bus!.status).toBe('down');
      expect(h.checks.database!.status).toBe('up');

      await redis.start(); // a fresh server: the stream and the group are gone; the consumer recreates them
      await waitFor('bus up', async () => bus.status() === 'up');
      await waitFor('event accepted', async () => {
        try {
          await bus.xadd(busStreams.signalsGenerated, encodeSignalsGenerated({ as_of_date: D8, symbols: [], model_version: 'int:v3', timestamp: `${D8}T22:00:00.000Z` }));
          return true;
        } catch {
          return false;
        }
      });
      await waitFor(
        'event handled',
        async () => (await o.orchestrator.ctx.registry.registry.getSingleMetricAsString('kestrel_orchestrator_events_total')).includes('outcome="ran"'),
        15_000,
      );
      expect(simOrders()).toHaveLength(before + body.orders_submitted);
      expect((await findRunByKey(db, STRATEGY.strategy_id, D8))!.attempt).toBe(1);
      await settled();
    } finally {
      await o.close();
      await bus.close();
      await redis.kill();
    }
  });

  it('GET /runs lists them newest first; /runs/:id has the plan; /health is up', async () => {
    const list = (await (await fetch(`${url}/api/v1/orchestration/runs?strategy_id=${STRATEGY.strategy_id}&limit=10`)).json()) as { runs: RunView[]; next_cursor: string | null };
    // Newest (highest id) first; D5 and D6 were created by two replicas racing, in either order.
    expect(list.runs.map((r) => r.as_of_date).sort().reverse()).toEqual([D8, D7, D6, D5, D4, D3, D2, D1]);
    expect(list.runs.map((r) => r.id)).toEqual([...list.runs.map((r) => r.id)].sort((a, b) => b - a));
    expect(list.next_cursor).toBeNull();
    const one = (await (await fetch(`${url}/api/v1/orchestration/runs/${list.runs.find((r) => r.as_of_date === D2)!.id}`)).json()) as RunBody;
    expect(one.orders).toHaveLength(8);
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ checks: { database: { status: 'up' }, gateway: { status: 'up' } } });
  });
});

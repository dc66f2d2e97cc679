import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPostgres } from '../db/postgres.js';
import { createTestSchema } from '../db/test-helpers.js';
import { buildGatewayApp, type GatewayApp } from './app.js';
import type { OrderRow } from './model.js';
import { order, postJson, simAdmin, simBroker, startSim, waitFor } from './test-helpers.js';

/** The gateway on the real PostgreSQL server, listening on loopback, against the real simulator. */
let schema: Awaited<ReturnType<typeof createTestSchema>>;
let sim: RunningBrokerSim;
let db: Db;
let app: GatewayApp;
let url: string;

beforeAll(async () => {
  schema = await createTestSchema();
  sim = await startSim();
  db = openPostgres({ url: schema.url });
  await migrate(db);
  app = await buildGatewayApp({
    db,
    broker: simBroker(sim, 1_000),
    clock: systemClock,
    logger: silentLogger(),
    retry: { baseMs: 100, maxMs: 400 },
    background: { retrier: { intervalMs: 100 } },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  url = typeof addr === 'object' && addr ? `http://127.0.0.1:${addr.port}` : '';
});
afterAll(async () => {
  await app?.close();
  await sim?.close();
  await db?.close();
  await schema?.drop();
});

const simOrdersFor = (coid: string) => sim.sim.listOrders({ status: 'all', limit: 500 }).filter((o) => o.client_order_id === coid);
const get = async (coid: string) => (await (await fetch(`${url}/api/v1/orders/${coid}`)).json()) as OrderRow;
async function positionsAgree() {
  await app.gateway.consumer!.idle();
  const ours = ((await (await fetch(`${url}/api/v1/positions`)).json()) as { positions: Array<{ symbol: string; qty: string; avg_entry_price: string }> }).positions;
  const theirs = sim.sim.listPositions();
  return JSON.stringify(ours.map((p) => [p.symbol, p.qty]).sort()) === JSON.stringify(theirs.map((p) => [p.symbol, p.qty]).sort());
}

describe('gateway on PostgreSQL', () => {
  it('64 concurrent identical POSTs → one 201, 63 × 200, one order id, exactly one broker order', async () => {
    await app.gateway.startup;
    const body = order({ strategy_id: 'concurrency', qty: '8' });
    const res = await Promise.all(Array.from({ length: 64 }, () => postJson(`${url}/api/v1/orders`, body)));
    expect(res.filter((r) => r.status === 201)).toHaveLength(1);
    expect(res.filter((r) => r.status === 200)).toHaveLength(63);
    expect(new Set(res.map((r) => r.body.id)).size).toBe(1);
    const coid = res[0]!.body.client_order_id as string;
    expect(simOrdersFor(coid)).toHaveLength(1);
    await waitFor('filled', async () => (await get(coid)).status === 'filled');
    await waitFor('positions agree', positionsAgree);
    const created = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM order_events WHERE kind = 'created'");
    expect(created.rows[0]!.n).toBe(1);
  });

  it('broker answering 503: orders stay pending, then the retrier submits each exactly once', async () => {
    await simAdmin(sim, 'POST', '/admin/faults', { submit: { mode: 'error_503', count: 1000 } });
    const bodies = [order({ strategy_id: 'outage-503', qty: '1' }), order({ strategy_id: 'outage-503', qty: '2', side: 'sell', symbol: 'MSFT' })];
    const created = await Promise.all(bodies.map((b) => postJson(`${url}/api/v1/orders`, b)));
    for (const r of created) expect(r.body).toMatchObject({ status: 'pending_new', broker_order_id: null });
    // Still pending after several retries while the broker is down.
    await waitFor('retried', async () => (await get(created[0]!.body.client_order_id as string)).submit_attempts >= 3);
    for (const r of created) expect((await get(r.body.client_order_id as string)).status).toBe('pending_new');
    await simAdmin(sim, 'DELETE', '/admin/faults');
    for (const r of created) {
      const coid = r.body.client_order_id as string;
      await waitFor(`${coid} filled`, async () => (await get(coid)).status === 'filled');
      expect(simOrdersFor(coid)).toHaveLength(1);
    }
    await waitFor('positions agree', positionsAgree);
  });

  it('broker unreachable (connection refused): orders stay pending, then exactly once after it is back', async () => {
    const port = Number(new URL(sim.baseUrl).port);
    sim.stream.setEnabled(false);
    sim.app.server.closeAllConnections();
    await new Promise<void>((r) => sim.app.server.close(() => r()));
    try {
      const r = await postJson(`${url}/api/v1/orders`, order({ strategy_id: 'outage-down', qty: '3' }));
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ status: 'pending_new', error: expect.stringMatching(/alpaca/) });
      const coid = r.body.client_order_id as string;
      await waitFor('retried while down', async () => (await get(coid)).submit_attempts >= 2);
      const h = await fetch(`${url}/health`);
      expect(((await h.json()) as { checks: unknown }).checks).toMatchObject({ broker: { status: 'down' }, database: { status: 'up' } });
      await new Promise<void>((res) => sim.app.server.listen(port, '127.0.0.1', () => res()));
      sim.stream.setEnabled(true);
      await waitFor(`${coid} filled`, async () => (await get(coid)).status === 'filled');
      expect(simOrdersFor(coid)).toHaveLength(1);
    } finally {
      if (!sim.app.server.listening) await new Promise<void>((res) => sim.app.server.listen(port, '127.0.0.1', () => res()));
      sim.stream.setEnabled(true);
    }
    await waitFor('stream back', async () => app.gateway.consumer!.state === 'connected');
    await waitFor('positions agree', positionsAgree);
  });

  it('a lost broker answer (order recorded, response lost) is adopted, not duplicated', async () => {
    await simAdmin(sim, 'POST', '/admin/faults', { submit: { mode: 'error_500', count: 1, after_create: true } });
    const r = await postJson(`${url}/api/v1/orders`, order({ strategy_id: 'lost-answer', qty: '4' }));
    expect(r.status).toBe(201);
    // pending_new, unless the stream's "new" for it was applied before the failed answer was recorded.
    expect(['pending_new', 'new', 'filled']).toContain(r.body.status);
    const coid = r.body.client_order_id as string;
    expect(simOrdersFor(coid)).toHaveLength(1);
    // The stream tells us about it (or the retrier's resubmission is answered "duplicate" and adopted).
    const done = await waitFor<OrderRow>('adopted', async () => {
      const o = await get(coid);
      return o.status === 'filled' && o;
    });
    expect(done.broker_order_id).toBe(simOrdersFor(coid)[0]!.id);
    expect(simOrdersFor(coid)).toHaveLength(1);
    const kinds = (await db.query<{ kind: string }>('SELECT kind FROM order_events WHERE client_order_id = $1 ORDER BY id', [coid])).rows.map((e) => e.kind);
    expect(kinds[0]).toBe('created');
    expect(kinds).toContain('trade_update:fill');
  });

  it('kill switch: engage → 403 on new orders and open orders canceled at the broker; disengage → accepted', async () => {
    const resting = await postJson(`${url}/api/v1/orders`, order({ strategy_id: 'ks', order_type: 'limit', limit_price: '1.5', qty: '9' }));
    expect(resting.body.status).toBe('new');
    const e = await postJson(`${url}/api/v1/kill-switch/engage`, { reason: 'integration test' });
    expect(e.status).toBe(200);
    expect(sim.sim.getOrderByClientId(resting.body.client_order_id as string)?.status).toBe('canceled');
    const before = sim.sim.listOrders({ status: 'all', limit: 500 }).length;
    const refused = await postJson(`${url}/api/v1/orders`, order({ strategy_id: 'ks', qty: '1' }));
    expect(refused.status).toBe(403);
    expect(sim.sim.listOrders({ status: 'all', limit: 500 })).toHaveLength(before);
    await waitFor('canceled here', async () => (await get(resting.body.client_order_id as string)).status === 'canceled');
    expect((await postJson(`${url}/api/v1/kill-switch/disengage`, { reason: 'done' })).status).toBe(200);
    const ok = await postJson(`${url}/api/v1/orders`, order({ strategy_id: 'ks', qty: '1' }));
    expect(ok.status).toBe(201);
    await waitFor('positions agree', positionsAgree);
  });
});

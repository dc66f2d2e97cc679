import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '../db/test-helpers.js';
import type { RunningBrokerSim } from '../broker-sim/index.js';
import type { OrderRow } from './model.js';
import { order, postJson, spawnGateway, startSim, waitFor, type GatewayChild } from './test-helpers.js';

/**
 * Several `kestrel serve gateway` processes on ONE PostgreSQL schema, the real simulator over
 * HTTP + WebSocket: exactly-once across processes, and a crash between the write-ahead and the
 * broker call (SIGKILL) repaired by the next start's reconciliation.
 */
let schema: Awaited<ReturnType<typeof createTestSchema>>;
let sim: RunningBrokerSim;
const children: GatewayChild[] = [];

beforeAll(async () => {
  schema = await createTestSchema();
  sim = await startSim();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await sim?.close();
  await schema?.drop();
});

async function start(args: string[] = []): Promise<GatewayChild> {
  const c = await spawnGateway({ databaseUrl: schema.url, sim, args });
  children.push(c);
  return c;
}

const simOrdersFor = (clientOrderId: string) => sim.sim.listOrders({ status: 'all', limit: 500 }).filter((o) => o.client_order_id === clientOrderId);

async function positionsAgree(url: string) {
  const ours = ((await (await fetch(`${url}/api/v1/positions`)).json()) as { positions: Array<{ symbol: string; qty: string }> }).positions;
  const theirs = sim.sim.listPositions();
  return JSON.stringify(ours.map((p) => [p.symbol, p.qty]).sort()) === JSON.stringify(theirs.map((p) => [p.symbol, p.qty]).sort());
}

describe('gateway processes on one database', () => {
  it('64 concurrent identical orders spread over 3 processes → exactly one broker order, one order id', async () => {
    const gws = await Promise.all([start(), start(), start()]);
    const body = order({ strategy_id: 'multi-proc', qty: '5' });
    const res = await Promise.all(Array.from({ length: 64 }, (_, i) => postJson(`${gws[i % 3]!.url}/api/v1/orders`, body)));
    const statuses = res.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(63);
    const ids = new Set(res.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const coid = res[0]!.body.client_order_id as string;
    expect(simOrdersFor(coid)).toHaveLength(1);
    // Each replica consumes the stream; the fill is applied once.
    await waitFor('filled', async () => ((await (await fetch(`${gws[2]!.url}/api/v1/orders/${coid}`)).json()) as OrderRow).status === 'filled');
    await waitFor('positions agree', () => positionsAgree(gws[1]!.url));
    await Promise.all(gws.map((g) => g.stop()));
  }, 120_000);

  it('crash after the write-ahead (SIGKILL) → restart → reconciliation: one broker order, positions equal the broker', async () => {
    const crashing = await start(['--test-fault', 'crash_after_write']);
    const body = order({ strategy_id: 'crash-test', symbol: 'MSFT', qty: '7' });
    await expect(postJson(`${crashing.url}/api/v1/orders`, body)).rejects.toThrow();
    expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // The write-ahead row survived; the broker never saw the order.
    const { Client } = (await import('pg')).default;
    const c = new Client({ connectionString: schema.url });
    await c.connect();
    const row = (await c.query<{ client_order_id: string; status: string }>("SELECT client_order_id, status FROM orders WHERE strategy_id = 'crash-test'")).rows[0]!;
    await c.end();
    expect(row.status).toBe('pending_new');
    expect(simOrdersFor(row.client_order_id)).toHaveLength(0);

    const restarted = await start();
    const done = await waitFor('reconciled and filled', async () => {
      const o = (await (await fetch(`${restarted.url}/api/v1/orders/${row.client_order_id}`)).json()) as OrderRow;
      return o.status === 'filled' && o;
    });
    expect(done.filled_qty).toBe('7');
    expect(simOrdersFor(row.client_order_id)).toHaveLength(1);
    await waitFor('positions agree', () => positionsAgree(restarted.url));
    // Submitting it again is a no-op.
    const again = await postJson(`${restarted.url}/api/v1/orders`, body);
    expect(again.status).toBe(200);
    expect(simOrdersFor(row.client_order_id)).toHaveLength(1);
    expect(await restarted.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);
});

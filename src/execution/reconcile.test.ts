import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newYorkDate } from '../core/clock.js';
import type { OrderRow } from './model.js';
import { embeddedGateway, simAdmin, type TestGateway } from './test-helpers.js';

/** Reconciliation against the simulator (embedded database; background work off, runs called directly). */
let g: TestGateway;
beforeAll(async () => {
  g = await embeddedGateway({ background: { tradeUpdates: false, retrier: false, reconcileOnStart: false } });
});
afterAll(() => g?.close());
beforeEach(async () => {
  await g.db.exec('TRUNCATE fills, positions, order_events, orders, reconciliation_runs CASCADE');
  await g.db.query('UPDATE kill_switch SET engaged = false');
  await simAdmin(g.sim, 'POST', '/admin/reset');
});

const today = () => newYorkDate(new Date());
async function pendingOrder(id: string, over: { symbol?: string; side?: 'buy' | 'sell'; qty?: string; trade_date?: string; age_ms?: number } = {}): Promise<OrderRow> {
  const at = new Date(Date.now() - (over.age_ms ?? 0)).toISOString();
  const r = await g.db.query<OrderRow>(
    `INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, time_in_force, trade_date, status, next_attempt_at, created_at, updated_at)
     VALUES ($1, 's', $2, $3, $4, 'market', 'day', $5, 'pending_new', $6, $6, $6) RETURNING *`,
    [id, over.symbol ?? 'AAPL', over.side ?? 'buy', over.qty ?? '10', over.trade_date ?? today(), at],
  );
  return r.rows[0]!;
}
const orderRow = async (id: string) => (await g.db.query<OrderRow>('SELECT * FROM orders WHERE client_order_id = $1', [id])).rows[0]!;
const ourPositions = async () => (await g.db.query<{ symbol: string; qty: string; avg_entry_price: string }>('SELECT symbol, qty, avg_entry_price FROM positions WHERE qty <> 0 ORDER BY symbol')).rows;
const brokerPositions = async () => (await g.broker.listPositions()).map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry_price: p.avg_entry_price }));

describe('reconciliation', () => {
  it('crash after the write-ahead: the pending order is submitted once, fills and positions follow', async () => {
    await pendingOrder('crash-1');
    const rep = await g.app.gateway.reconcile('startup');
    expect(rep.complete).toBe(true);
    expect(rep.actions).toContainEqual(expect.objectContaining({ kind: 'submitted', client_order_id: 'crash-1' }));
    expect(g.sim.sim.listOrders({ status: 'all' }).filter((o) => o.client_order_id === 'crash-1')).toHaveLength(1);
    // No stream here: the fill comes from reconciliation as a synthetic fill.
    expect(await orderRow('crash-1')).toMatchObject({ status: 'filled', filled_qty: '10' });
    expect(await ourPositions()).toEqual(await brokerPositions());
    // Running again changes nothing.
    const again = await g.app.gateway.reconcile('api');
    expect(again.actions).toEqual([]);
    expect(again.differences).toEqual([]);
    expect(g.sim.sim.listOrders({ status: 'all' })).toHaveLength(1);
  });

  it('crash after the broker call: the order at the broker is adopted, missed fills are booked', async () => {
    await pendingOrder('crash-2', { qty: '6', symbol: 'MSFT' });
    await g.broker.submitOrder({ client_order_id: 'crash-2', symbol: 'MSFT', side: 'buy', qty: '6', type: 'market', time_in_force: 'day' });
    const rep = await g.app.gateway.reconcile('startup');
    expect(rep.actions.map((a) => a.kind)).toEqual(['adopted', 'synthetic_fill']);
    expect(g.sim.sim.listOrders({ status: 'all' })).toHaveLength(1);
    expect(await orderRow('crash-2')).toMatchObject({ status: 'filled', filled_qty: '6', broker_order_id: expect.any(String) });
    const fills = await g.db.query<{ execution_id: string; synthetic: boolean; price: string }>('SELECT execution_id, synthetic, price FROM fills');
    expect(fills.rows).toEqual([{ execution_id: expect.stringMatching(/^recon:.+:6$/), synthetic: true, price: '200' }]);
    expect(await ourPositions()).toEqual(await brokerPositions());
  });

  it('a pending order whose trade date has passed is expired, never sent', async () => {
    await pendingOrder('stale-1', { trade_date: '2020-01-02', age_ms: 3_600_000 });
    const rep = await g.app.gateway.reconcile('startup');
    expect(rep.actions).toContainEqual(expect.objectContaining({ kind: 'expired_unsent', client_order_id: 'stale-1' }));
    expect(await orderRow('stale-1')).toMatchObject({ status: 'expired', error: expect.stringMatching(/never reached the broker/) });
    expect(g.sim.sim.listOrders({ status: 'all' })).toHaveLength(0);
  });

  it('broker orders we never placed are reported; a position that differs with nothing open is set to the broker', async () => {
    await g.broker.submitOrder({ client_order_id: 'manual-1', symbol: 'SPY', side: 'buy', qty: '3', type: 'market', time_in_force: 'day' });
    const rep = await g.app.gateway.reconcile('api');
    expect(rep.differences).toContainEqual(expect.objectContaining({ kind: 'unknown_broker_order', client_order_id: 'manual-1', fixed: false }));
    expect(rep.differences).toContainEqual(expect.objectContaining({ kind: 'position', symbol: 'SPY', fixed: true }));
    expect(await ourPositions()).toEqual(await brokerPositions());
    const ev = await g.db.query<{ kind: string }>("SELECT kind FROM order_events WHERE source = 'reconcile'");
    expect(ev.rows.map((e) => e.kind)).toContain('position_adjusted');
    const runs = await g.db.query<{ trigger: string; report: { differences: unknown[] } }>('SELECT trigger, report FROM reconciliation_runs');
    expect(runs.rows[0]!.report.differences.length).toBe(rep.differences.length);
  });

  it('with the kill switch engaged, a pending order is canceled locally instead of sent', async () => {
    await pendingOrder('k-held-1');
    await g.db.query('UPDATE kill_switch SET engaged = true');
    const rep = await g.app.gateway.reconcile('startup');
    expect(rep.actions).toContainEqual(expect.objectContaining({ kind: 'canceled_unsent' }));
    expect((await orderRow('k-held-1')).status).toBe('canceled');
    expect(g.sim.sim.listOrders({ status: 'all' })).toHaveLength(0);
  });

  it('broker unreachable → an incomplete report (503 from the API), nothing changed', async () => {
    await pendingOrder('down-1');
    // A second gateway on the same database whose simulator is gone.
    const dead = await embeddedGateway({ db: g.db, background: { tradeUpdates: false, retrier: false, reconcileOnStart: false } });
    await dead.sim.close();
    const r = await dead.app.inject({ method: 'POST', url: '/api/v1/reconcile' });
    expect(r.statusCode).toBe(503);
    expect(r.json().error).toBe('broker_unavailable');
    expect((await orderRow('down-1')).status).toBe('pending_new');
    await dead.close();
  });
});

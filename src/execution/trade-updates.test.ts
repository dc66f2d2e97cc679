import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import type { Broker, BrokerOrder, TradeUpdate, TradeUpdateEvent } from './broker.js';
import { createGatewayContext, type GatewayContext } from './context.js';
import type { OrderRow } from './model.js';
import { applyTradeUpdate } from './trade-updates.js';
import { freshPglite } from './test-helpers.js';

/** applyTradeUpdate on the embedded database; the broker is never called here. */
const noBroker = new Proxy({} as Broker, {
  get: (_t, p) => (p === 'name' ? 'none' : () => Promise.reject(new Error(`broker.${String(p)} must not be called`))),
});

let db: Db;
let ctx: GatewayContext;
const clock = fixedClock('2025-01-17T15:00:00Z');
beforeAll(async () => {
  db = await freshPglite();
  ctx = createGatewayContext({ db, broker: noBroker, clock, logger: silentLogger() });
});
afterAll(() => db.close());
beforeEach(async () => {
  await db.exec('TRUNCATE fills, positions, order_events, orders CASCADE');
});

let seq = 0;
async function newOrder(over: Partial<OrderRow> = {}): Promise<OrderRow> {
  const id = `test-${++seq}`;
  const r = await db.query<OrderRow>(
    `INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, time_in_force, trade_date, status, broker_order_id, created_at, updated_at)
     VALUES ($1, 's', $2, $3, $4, 'market', 'day', '2025-01-17', $5, $6, now(), now()) RETURNING *`,
    [id, over.symbol ?? 'AAPL', over.side ?? 'buy', over.qty ?? '10', over.status ?? 'new', over.broker_order_id ?? `b-${id}`],
  );
  return r.rows[0]!;
}

function update(o: OrderRow, event: TradeUpdateEvent, extra: { filled?: string; avg?: string; exec?: string; qty?: string; price?: string; status?: BrokerOrder['status'] } = {}): TradeUpdate {
  const bo: BrokerOrder = {
    id: o.broker_order_id!,
    client_order_id: o.client_order_id,
    symbol: o.symbol,
    side: o.side,
    qty: o.qty,
    type: 'market',
    time_in_force: 'day',
    limit_price: null,
    status: extra.status ?? (event === 'fill' ? 'filled' : event === 'partial_fill' ? 'partially_filled' : (event as BrokerOrder['status'])),
    filled_qty: extra.filled ?? '0',
    filled_avg_price: extra.avg ?? null,
    created_at: '2025-01-17T15:00:00Z',
    updated_at: '2025-01-17T15:00:00Z',
    submitted_at: null,
    filled_at: null,
    canceled_at: null,
  };
  return { event, order: bo, timestamp: '2025-01-17T15:00:01Z', ...(extra.exec ? { execution_id: extra.exec, qty: extra.qty, price: extra.price } : {}) };
}

const row = async (o: OrderRow) => (await db.query<OrderRow>('SELECT * FROM orders WHERE id = $1', [o.id])).rows[0]!;
const position = async (s = 'AAPL') => (await db.query<{ qty: string; avg_entry_price: string; realized_pnl: string }>('SELECT qty, avg_entry_price, realized_pnl FROM positions WHERE symbol = $1', [s])).rows[0];
const fillCount = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fills')).rows[0]!.n;

describe('trade updates', () => {
  it('partial fill then fill: fills recorded, status advances, position folds both', async () => {
    const o = await newOrder();
    expect(await applyTradeUpdate(ctx, update(o, 'partial_fill', { filled: '4', avg: '100', exec: 'e1', qty: '4', price: '100' }))).toBe('applied');
    expect(await row(o)).toMatchObject({ status: 'partially_filled', filled_qty: '4', filled_avg_price: '100' });
    expect(await applyTradeUpdate(ctx, update(o, 'fill', { filled: '10', avg: '100.6', exec: 'e2', qty: '6', price: '101' }))).toBe('applied');
    expect(await row(o)).toMatchObject({ status: 'filled', filled_qty: '10', filled_avg_price: '100.6' });
    expect(await position()).toMatchObject({ qty: '10', avg_entry_price: '100.6', realized_pnl: '0' });
  });

  it('a replayed execution changes nothing (fill dedup by execution_id)', async () => {
    const o = await newOrder();
    const u = update(o, 'fill', { filled: '10', avg: '100', exec: 'e1', qty: '10', price: '100' });
    expect(await applyTradeUpdate(ctx, u)).toBe('applied');
    const events = (await db.query('SELECT 1 FROM order_events')).rows.length;
    expect(await applyTradeUpdate(ctx, u)).toBe('duplicate');
    expect(await applyTradeUpdate(ctx, u)).toBe('duplicate');
    expect(await fillCount()).toBe(1);
    expect(await position()).toMatchObject({ qty: '10' });
    expect((await db.query('SELECT 1 FROM order_events')).rows.length).toBe(events);
  });

  it('late events are refused by the state machine; filled_qty never goes down', async () => {
    const o = await newOrder({ status: 'pending_new' });
    await applyTradeUpdate(ctx, update(o, 'fill', { filled: '10', avg: '100', exec: 'e2', qty: '6', price: '100' }));
    // The earlier partial arrives after the fill: its execution is real and counts, status stays.
    expect(await applyTradeUpdate(ctx, update(o, 'partial_fill', { filled: '4', avg: '100', exec: 'e1', qty: '4', price: '100' }))).toBe('applied');
    expect(await applyTradeUpdate(ctx, update(o, 'new'))).toBe('ignored');
    expect(await applyTradeUpdate(ctx, update(o, 'canceled'))).toBe('ignored');
    expect(await row(o)).toMatchObject({ status: 'filled', filled_qty: '10' });
    expect(await position()).toMatchObject({ qty: '10' });
  });

  it('status-only events move the order once; repeats are duplicates', async () => {
    const o = await newOrder({ status: 'pending_new' });
    expect(await applyTradeUpdate(ctx, update(o, 'new'))).toBe('applied');
    expect(await applyTradeUpdate(ctx, update(o, 'new'))).toBe('duplicate');
    expect(await applyTradeUpdate(ctx, update(o, 'pending_cancel'))).toBe('duplicate');
    expect(await applyTradeUpdate(ctx, update(o, 'canceled'))).toBe('applied');
    expect((await row(o)).status).toBe('canceled');
    const ev = (await db.query<{ from_status: string; to_status: string }>('SELECT from_status, to_status FROM order_events WHERE order_id = $1 ORDER BY id', [o.id])).rows;
    expect(ev).toEqual([
      { from_status: 'pending_new', to_status: 'new' },
      { from_status: 'new', to_status: 'canceled' },
    ]);
  });

  it('sells reduce and flip with realized P&L', async () => {
    const b = await newOrder({ side: 'buy', qty: '10' });
    await applyTradeUpdate(ctx, update(b, 'fill', { filled: '10', avg: '50', exec: 'b1', qty: '10', price: '50' }));
    const s = await newOrder({ side: 'sell', qty: '25' });
    await applyTradeUpdate(ctx, update(s, 'fill', { filled: '25', avg: '60', exec: 's1', qty: '25', price: '60' }));
    expect(await position()).toEqual({ qty: '-15', avg_entry_price: '60', realized_pnl: '100' });
  });

  it('after a synthetic (reconciliation) fill, a late real execution is only counted for what is still missing', async () => {
    const o = await newOrder();
    // Reconciliation booked 10 @ 100 for executions never received.
    await db.query("INSERT INTO fills (execution_id, order_id, symbol, side, qty, price, executed_at, synthetic, created_at) VALUES ('recon:x:10', $1, 'AAPL', 'buy', 10, 100, now(), true, now())", [o.id]);
    await db.query("INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at) VALUES ('AAPL', 10, 100, 1000, 0, now())");
    expect(await applyTradeUpdate(ctx, update(o, 'partial_fill', { filled: '4', avg: '100', exec: 'late1', qty: '4', price: '100' }))).toBe('applied');
    expect(await applyTradeUpdate(ctx, update(o, 'fill', { filled: '10', avg: '100', exec: 'late2', qty: '6', price: '100' }))).toBe('applied');
    expect(await fillCount()).toBe(1);
    expect(await position()).toMatchObject({ qty: '10' });
  });

  it('an update for an order we never placed is recorded and skipped', async () => {
    const ghost = { ...(await newOrder()), client_order_id: 'not-ours', broker_order_id: 'b-ghost' } as OrderRow;
    expect(await applyTradeUpdate(ctx, update(ghost, 'fill', { filled: '1', avg: '1', exec: 'g1', qty: '1', price: '1' }))).toBe('unknown_order');
    expect(await fillCount()).toBe(0);
    const ev = await db.query<{ kind: string; order_id: string | null }>("SELECT kind, order_id FROM order_events WHERE client_order_id = 'not-ours'");
    expect(ev.rows).toEqual([{ kind: 'unknown_order_update', order_id: null }]);
  });

  it('order_events is append-only', async () => {
    const o = await newOrder({ status: 'pending_new' });
    await applyTradeUpdate(ctx, update(o, 'new'));
    await expect(db.query('UPDATE order_events SET kind = $1', ['x'])).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM order_events')).rejects.toThrow(/append-only/);
  });

  it('a status-only update behind the state this process last saw is judged without reading the database', async () => {
    const o = await newOrder({ status: 'filled' });
    let queries = 0;
    const counting: GatewayContext = {
      ...ctx,
      db: {
        ...db,
        query: (sql, params) => {
          queries++;
          return db.query(sql, params);
        },
      } as Db,
    };
    counting.recent.add(o.client_order_id, { status: 'filled', filled_qty: '10', broker_order_id: o.broker_order_id });
    expect(await applyTradeUpdate(counting, update(o, 'new'))).toBe('ignored');
    expect(await applyTradeUpdate(counting, update(o, 'accepted'))).toBe('ignored');
    expect(queries).toBe(0);
    // Not a no-op against what is known: the locked path applies it.
    const open = await newOrder({ status: 'new' });
    counting.recent.add(open.client_order_id, { status: 'new', filled_qty: '0', broker_order_id: open.broker_order_id });
    expect(await applyTradeUpdate(counting, update(open, 'canceled'))).toBe('applied');
    expect((await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [open.id])).rows[0]!.status).toBe('canceled');
  });
});

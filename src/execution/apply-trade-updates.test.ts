import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { mulberry32 } from '../core/random.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import type { Broker, BrokerOrder, TradeUpdate } from './broker.js';
import { applyTradeUpdate, applyTradeUpdates, type ApplyResult } from './apply-trade-updates.js';
import { createGatewayContext, type GatewayContext } from './context.js';
import { freshPglite } from './test-helpers.js';

/**
 * The set-based batch must mean exactly what applying the same updates one transaction each
 * means: same results, orders, fills, positions and audit trail, for any split into batches.
 */
const noBroker = new Proxy({} as Broker, {
  get: (_t, p) => (p === 'name' ? 'none' : () => Promise.reject(new Error(`broker.${String(p)} must not be called`))),
});
const clock = fixedClock('2025-01-17T15:00:00Z');

let one: { db: Db; ctx: GatewayContext };
let batched: { db: Db; ctx: GatewayContext };
beforeAll(async () => {
  const open = async () => {
    const db = await freshPglite();
    return { db, ctx: createGatewayContext({ db, broker: noBroker, clock, logger: silentLogger() }) };
  };
  [one, batched] = await Promise.all([open(), open()]);
});
afterAll(async () => {
  await Promise.all([one.db.close(), batched.db.close()]);
});

interface Spec {
  id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
}


/** A plausible stream: per order new → partial fills → fill, replays of earlier events, late cancels, an unknown order; orders interleaved. */
function scenario(seed: number): { orders: Spec[]; stream: TradeUpdate[] } {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const orders: Spec[] = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, i) => ({ id: `o${seed}-${i}`, symbol: pick(['AAPL', 'MSFT']), side: pick(['buy', 'sell'] as const), qty: 1 + Math.floor(rnd() * 20) }));
  const perOrder = orders.map((o) => {
    const bo = (status: BrokerOrder['status'], filled: number, avg: string | null): BrokerOrder => ({
      id: `b-${o.id}`, client_order_id: o.id, symbol: o.symbol, side: o.side, qty: String(o.qty), type: 'market', time_in_force: 'day', limit_price: null, status,
      filled_qty: String(filled), filled_avg_price: avg, created_at: '2025-01-17T15:00:00Z', updated_at: '2025-01-17T15:00:00Z', submitted_at: null, filled_at: null, canceled_at: null,
    });
    const events: TradeUpdate[] = [];
    if (rnd() < 0.7) events.push({ event: 'new', order: bo('new', 0, null), timestamp: '2025-01-17T15:00:01Z' });
    let filled = 0;
    let k = 0;
    while (filled < o.qty) {
      const q = rnd() < 0.5 ? o.qty - filled : 1 + Math.floor(rnd() * (o.qty - filled));
      filled += q;
      const price = (100 + Math.floor(rnd() * 500) / 100).toFixed(2);
      const done = filled === o.qty;
      events.push({ event: done ? 'fill' : 'partial_fill', order: bo(done ? 'filled' : 'partially_filled', filled, price), timestamp: '2025-01-17T15:00:02Z', execution_id: `x-${o.id}-${k++}`, qty: String(q), price });
      if (rnd() < 0.3) events.push(events[Math.floor(rnd() * events.length)]!); // a replay
    }
    if (rnd() < 0.3) events.push({ event: 'canceled', order: bo('canceled', filled, null), timestamp: '2025-01-17T15:00:03Z' });
    return events;
  });
  const stream: TradeUpdate[] = [];
  while (perOrder.some((e) => e.length)) stream.push(pick(perOrder.filter((e) => e.length)).shift()!);
  if (rnd() < 0.5) stream.splice(Math.floor(rnd() * stream.length), 0, { event: 'fill', order: { ...stream[0]!.order, id: 'b-stranger', client_order_id: 'stranger' }, timestamp: '2025-01-17T15:00:02Z', execution_id: 'x-stranger', qty: '1', price: '10' });
  return { orders, stream };
}

async function seed(db: Db, orders: Spec[]): Promise<void> {
  await db.exec('TRUNCATE fills, positions, order_events, orders CASCADE');
  for (const o of orders) {
    await db.query(
      `INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, time_in_force, trade_date, status, created_at, updated_at)
       VALUES ($1, 's', $2, $3, $4, 'market', 'day', '2025-01-17', 'pending_new', now(), now())`,
      [o.id, o.symbol, o.side, String(o.qty)],
    );
  }
}

async function state(db: Db) {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    orders: await q('SELECT client_order_id, status, filled_qty::text, filled_avg_price::text, broker_order_id, error FROM orders ORDER BY client_order_id'),
    fills: await q('SELECT execution_id, o.client_order_id, f.symbol, f.side, f.qty::text, f.price::text FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY execution_id'),
    positions: await q('SELECT symbol, qty::text, avg_entry_price::text, cost_basis::text, realized_pnl::text FROM positions ORDER BY symbol'),
    events: await q(`SELECT client_order_id, kind, from_status, to_status, detail - 'timestamp' AS detail FROM order_events ORDER BY id`),
  };
}

describe('applyTradeUpdates (set-based) = one transaction per update', () => {
  it('same results and same books for any split of the stream into batches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), async (s, cuts) => {
        const { orders, stream } = scenario(s);
        await Promise.all([seed(one.db, orders), seed(batched.db, orders)]);
        const expected: ApplyResult[] = [];
        for (const u of stream) expected.push(await applyTradeUpdate(one.ctx, u));
        const got: ApplyResult[] = [];
        for (let i = 0, c = 0; i < stream.length; c++) {
          const n = cuts[c % cuts.length]!;
          got.push(...(await applyTradeUpdates(batched.ctx, stream.slice(i, i + n))));
          i += n;
        }
        expect(got).toEqual(expected);
        expect(await state(batched.db)).toEqual(await state(one.db));
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('a batch folds several fills of one symbol into its position and counts a replayed execution once', async () => {
    const { stream } = { stream: [] as TradeUpdate[] };
    const orders: Spec[] = [{ id: 'a', symbol: 'AAPL', side: 'buy', qty: 10 }, { id: 'b', symbol: 'AAPL', side: 'sell', qty: 4 }];
    await seed(batched.db, orders);
    const fill = (o: Spec, price: string, exec: string): TradeUpdate => ({
      event: 'fill',
      order: { id: `b-${o.id}`, client_order_id: o.id, symbol: o.symbol, side: o.side, qty: String(o.qty), type: 'market', time_in_force: 'day', limit_price: null, status: 'filled', filled_qty: String(o.qty), filled_avg_price: price, created_at: '2025-01-17T15:00:00Z', updated_at: '2025-01-17T15:00:00Z', submitted_at: null, filled_at: null, canceled_at: null },
      timestamp: '2025-01-17T15:00:02Z', execution_id: exec, qty: String(o.qty), price,
    });
    stream.push(fill(orders[0]!, '100', 'x1'), fill(orders[1]!, '110', 'x2'), fill(orders[0]!, '100', 'x1'));
    expect(await applyTradeUpdates(batched.ctx, stream)).toEqual(['applied', 'applied', 'duplicate']);
    const s = await state(batched.db);
    // Bought 10 @ 100, sold 4 @ 110: 6 left at 100, realized 40.
    expect(s.positions).toEqual([{ symbol: 'AAPL', qty: '6', avg_entry_price: '100', cost_basis: '600', realized_pnl: '40' }]);
    expect(s.fills.map((f) => f.execution_id)).toEqual(['x1', 'x2']);
    expect(s.orders.map((o) => o.status)).toEqual(['filled', 'filled']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedGateway, order, type TestGateway } from './test-helpers.js';

/**
 * Every bad input → 400 (shape: types, unknown/missing fields, malformed JSON, size) or 422
 * (values), with a reason per field — and nothing written, nothing sent.
 */
let g: TestGateway;
beforeAll(async () => {
  g = await embeddedGateway({ background: { tradeUpdates: false, retrier: false, reconcileOnStart: false } });
});
afterAll(() => g?.close());

async function nothingWrittenOrSent() {
  const o = await g.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
  const e = await g.db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_events');
  expect(o.rows[0]!.n).toBe(0);
  expect(e.rows[0]!.n).toBe(0);
  expect(g.sim.sim.listOrders({ status: 'all' })).toHaveLength(0);
}

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });

describe('order validation', () => {
  it.each<[string, unknown, number, string]>([
    ['lower-case garbage symbol', order({ symbol: 'not a symbol' }), 422, 'symbol'],
    ['symbol with digits first', order({ symbol: '1ABC' }), 422, 'symbol'],
    ['qty 0', order({ qty: '0' }), 422, 'qty'],
    ['negative qty', order({ qty: '-5' }), 422, 'qty'],
    ['fractional qty', order({ qty: '1.5' }), 422, 'qty'],
    ['qty as a JSON number (no coercion of bodies)', order({ qty: 2.5 }), 400, 'qty'],
    ['qty not a number', order({ qty: 'ten' }), 422, 'qty'],
    ['huge qty', order({ qty: '100000000' }), 422, 'qty'],
    ['limit order without limit_price', order({ order_type: 'limit' }), 422, 'limit_price'],
    ['limit_price on a market order', order({ limit_price: '10' }), 422, 'limit_price'],
    ['negative limit price', order({ order_type: 'limit', limit_price: '-1' }), 422, 'limit_price'],
    ['sub-penny limit price', order({ order_type: 'limit', limit_price: '10.001' }), 422, 'limit_price'],
    ['bad strategy id', order({ strategy_id: ' spaces ' }), 422, 'strategy_id'],
    ['bad trade date', order({ trade_date: '2025-02-30' }), 422, 'trade_date'],
    ['bad client_order_id charset', order({ client_order_id: 'has space' }), 422, 'client_order_id'],
    ['reserved client_order_id prefix', order({ client_order_id: 'ks-mine' }), 422, 'client_order_id'],
    ['client_order_id too long', order({ client_order_id: 'a'.repeat(129) }), 400, 'client_order_id'],
    ['unknown field', { ...order(), price: '10' }, 400, 'price'],
    ['missing side', { strategy_id: 's', symbol: 'AAPL', qty: '1', order_type: 'market' }, 400, 'side'],
    ['bad side', order({ side: 'hold' }), 400, 'side'],
    ['bad order_type', order({ order_type: 'stop' }), 400, 'order_type'],
    ['bad time_in_force', order({ time_in_force: 'forever' }), 400, 'time_in_force'],
    ['qty as an object', order({ qty: { n: 1 } }), 400, 'qty'],
  ])('%s → %i naming %s', async (_name, payload, status, field) => {
    const r = await post(payload);
    expect(r.statusCode).toBe(status);
    const b = r.json();
    expect(b.details.map((d: { field: string }) => d.field)).toContain(field);
    for (const d of b.details) expect(d.reason).toBeTruthy();
    await nothingWrittenOrSent();
  });

  it('reports every bad value at once', async () => {
    const r = await post(order({ symbol: '???', qty: '0', order_type: 'limit' }));
    expect(r.statusCode).toBe(422);
    expect(r.json().details.map((d: { field: string }) => d.field).sort()).toEqual(['limit_price', 'qty', 'symbol']);
    await nothingWrittenOrSent();
  });

  it('malformed JSON → 400, oversized body → 413, wrong content type → 415', async () => {
    expect((await post('{"strategy_id": "s",')).statusCode).toBe(400);
    expect((await post({ ...order(), client_order_id: 'x'.repeat(20_000) })).statusCode).toBe(413);
    const r = await g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: 'qty=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.statusCode).toBe(415);
    await nothingWrittenOrSent();
  });

  it('a new order for another trade date → 422 stale_trade_date', async () => {
    const r = await post(order({ trade_date: '2020-01-02' }));
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: 'stale_trade_date', details: [{ field: 'trade_date' }] });
    await nothingWrittenOrSent();
  });

  it('bad list filters and cursors → 400 with the field', async () => {
    for (const [url, field] of [
      ['/api/v1/orders?status=open_ish', 'status'],
      ['/api/v1/orders?since=yesterday', 'since'],
      ['/api/v1/orders?cursor=bm9wZQ', 'cursor'],
      ['/api/v1/orders?limit=0', 'limit'],
      ['/api/v1/orders?colour=red', 'colour'],
    ] as const) {
      const r = await g.app.inject({ url });
      expect(r.statusCode, url).toBe(400);
      expect(r.json().details.map((d: { field: string }) => d.field), url).toContain(field);
    }
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { buildGatewayApp } from './app.js';
import type { OrderRow } from './model.js';
import type { PreTradeCheck } from './pre-trade.js';
import { embeddedGateway, freshPglite, order, simAdmin, simBroker, startSim, waitFor, type TestGateway } from './test-helpers.js';
import { fixedClock, systemClock } from '../core/clock.js';

/**
 * The whole API on the embedded default (PGlite in this process) against the real simulator
 * over HTTP + WebSocket.
 */
const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
let g: TestGateway;
let refuseSymbol: string | null = null;
const check: PreTradeCheck = async (o) => (o.symbol === refuseSymbol ? { ok: false, code: 'max_position', reason: `position limit reached for ${o.symbol}` } : { ok: true });

beforeAll(async () => {
  g = await embeddedGateway({ apiToken: TOKEN, preTradeCheck: check, background: { retrier: { intervalMs: 50 } } });
});
afterAll(() => g?.close());
afterEach(() => {
  refuseSymbol = null;
});

const post = (payload: unknown, headers: Record<string, string> = auth) => g.app.inject({ method: 'POST', url: '/api/v1/orders', payload: payload as object, headers });
const getOrder = async (id: string) => (await g.app.inject({ url: `/api/v1/orders/${id}` })).json() as OrderRow;
const positions = async () => (await g.app.inject({ url: '/api/v1/positions' })).json().positions as Array<{ symbol: string; qty: string; avg_entry_price: string; realized_pnl: string }>;
const simOrders = () => g.sim.sim.listOrders({ status: 'all', limit: 500 });

describe('gateway API (embedded PGlite + simulator)', () => {
  it('creates an order (201), sends it once, and answers the same order again with 200', async () => {
    const first = await post(order({ qty: '10' }));
    expect(first.statusCode).toBe(201);
    const a = first.json() as OrderRow;
    expect(a).toMatchObject({ symbol: 'AAPL', side: 'buy', qty: '10', status: expect.stringMatching(/^(new|filled)$/), broker_order_id: expect.any(String) });
    expect(a.client_order_id).toMatch(/^ks-momentumv2-\d{8}-[a-z2-7]{26}$/);
    expect(first.headers.location).toBe(`/api/v1/orders/${a.client_order_id}`);

    const again = await post(order({ qty: '10.00', symbol: 'aapl' }));
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(a.id);
    expect(simOrders().filter((o) => o.client_order_id === a.client_order_id)).toHaveLength(1);

    // The fill arrives over the stream: status, fill row, position.
    const filled = await waitFor('fill applied', async () => {
      const o = await getOrder(a.client_order_id);
      return o.status === 'filled' && o;
    });
    expect(filled).toMatchObject({ filled_qty: '10', filled_avg_price: '100' });
    const fills = await g.db.query<{ qty: string; price: string }>('SELECT qty, price FROM fills WHERE order_id = $1', [a.id]);
    expect(fills.rows).toEqual([{ qty: '10', price: '100' }]);
    expect(await positions()).toContainEqual(expect.objectContaining({ symbol: 'AAPL', qty: '10', avg_entry_price: '100' }));
  });

  it('mutating endpoints need the bearer token; reads do not', async () => {
    expect((await post(order(), {})).statusCode).toBe(401);
    expect((await post(order(), { authorization: 'Bearer wrong-token-0123456789' })).statusCode).toBe(401);
    expect((await g.app.inject({ method: 'POST', url: '/api/v1/kill-switch/engage', payload: { reason: 'x' } })).statusCode).toBe(401);
    expect((await g.app.inject({ method: 'POST', url: '/api/v1/reconcile' })).statusCode).toBe(401);
    expect((await g.app.inject({ url: '/api/v1/orders' })).statusCode).toBe(200);
  });

  it('a caller-supplied client_order_id is used as is; reusing it for another order → 409', async () => {
    const r = await post(order({ client_order_id: 'my-own-id-1', symbol: 'MSFT', qty: '3' }));
    expect(r.statusCode).toBe(201);
    expect(r.json().client_order_id).toBe('my-own-id-1');
    expect((await post(order({ client_order_id: 'my-own-id-1', symbol: 'MSFT', qty: '3' }))).statusCode).toBe(200);
    const clash = await post(order({ client_order_id: 'my-own-id-1', symbol: 'MSFT', qty: '4' }));
    expect(clash.statusCode).toBe(409);
    expect(clash.json().error).toBe('client_order_id_conflict');
  });

  it('a pre-trade refusal → 422 with its code, no order row, nothing sent, audit event kept', async () => {
    refuseSymbol = 'SPY';
    const before = simOrders().length;
    const r = await post(order({ symbol: 'SPY', qty: '7' }));
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: 'max_position', message: 'position limit reached for SPY' });
    expect((await g.db.query("SELECT 1 FROM orders WHERE symbol = 'SPY'")).rows).toHaveLength(0);
    expect(simOrders().length).toBe(before);
    const ev = await g.db.query<{ kind: string; detail: { code: string } }>("SELECT kind, detail FROM order_events WHERE kind = 'pretrade_rejected'");
    expect(ev.rows[0]).toMatchObject({ kind: 'pretrade_rejected', detail: { code: 'max_position' } });
    // Once the limit allows it, the same intent goes through.
    refuseSymbol = null;
    expect((await post(order({ symbol: 'SPY', qty: '7' }))).statusCode).toBe(201);
    // And a refusal never hides an existing order: resubmitting it answers 200.
    refuseSymbol = 'SPY';
    expect((await post(order({ symbol: 'SPY', qty: '7' }))).statusCode).toBe(200);
  });

  it('the broker refusing an order → rejected with its message', async () => {
    const r = await post(order({ side: 'sell', symbol: 'MSFT', qty: '1000000' }));
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ status: 'rejected', error: expect.stringMatching(/insufficient qty/) });
  });

  it('broker down: the order stays pending_new; the retrier sends it exactly once when it is back', async () => {
    await simAdmin(g.sim, 'POST', '/admin/faults', { submit: { mode: 'error_503', count: 3 } });
    const r = await post(order({ symbol: 'MSFT', qty: '2' }));
    expect(r.statusCode).toBe(201);
    const o = r.json() as OrderRow;
    expect(o).toMatchObject({ status: 'pending_new', submit_attempts: 1, broker_order_id: null, error: expect.stringMatching(/503/) });
    // Resubmitting while pending returns it and sends nothing.
    expect((await post(order({ symbol: 'MSFT', qty: '2' }))).json().id).toBe(o.id);
    // Shorten the wait: the retrier picks it up at next_attempt_at.
    await g.db.query('UPDATE orders SET next_attempt_at = now() WHERE id = $1', [o.id]);
    const done = await waitFor('retrier submitted', async () => {
      const cur = await getOrder(o.client_order_id);
      return cur.status === 'filled' && cur;
    });
    expect(done.submit_attempts).toBeGreaterThanOrEqual(3);
    expect(simOrders().filter((x) => x.client_order_id === o.client_order_id)).toHaveLength(1);
    const kinds = (await g.db.query<{ kind: string }>('SELECT kind FROM order_events WHERE order_id = $1 ORDER BY id', [o.id])).rows.map((e) => e.kind);
    expect(kinds.slice(0, 4)).toEqual(['created', 'submit_failed', 'submit_failed', 'submit_failed']);
    expect(kinds).toContain('submitted');
  });

  it('kill switch: engage → 403 and open orders canceled at the broker; disengage → accepted again', async () => {
    // A resting limit order (far below the market) to be canceled.
    const resting = (await post(order({ order_type: 'limit', limit_price: '50', qty: '4' }))).json() as OrderRow;
    expect(resting.status).toBe('new');
    const e = await g.app.inject({ method: 'POST', url: '/api/v1/kill-switch/engage', headers: auth, payload: { reason: 'test', actor: 'vitest' } });
    expect(e.statusCode).toBe(200);
    expect(e.json()).toMatchObject({ engaged: true, reason: 'test', actor: 'vitest' });
    expect(e.json().canceled).toContainEqual({ client_order_id: resting.client_order_id, symbol: 'AAPL', where: 'broker' });
    expect(g.sim.sim.getOrderByClientId(resting.client_order_id)?.status).toBe('canceled');
    await waitFor('canceled recorded', async () => (await getOrder(resting.client_order_id)).status === 'canceled');

    const refused = await post(order({ qty: '11' }));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toBe('kill_switch_engaged');
    expect((await g.app.inject({ url: '/api/v1/kill-switch' })).json()).toMatchObject({ engaged: true, history: [{ action: 'engage', reason: 'test' }] });

    const d = await g.app.inject({ method: 'POST', url: '/api/v1/kill-switch/disengage', headers: auth, payload: { reason: 'resolved' } });
    expect(d.json()).toMatchObject({ engaged: false, actor: 'api' });
    expect((await post(order({ qty: '11' }))).statusCode).toBe(201);
  });

  it('cancel: a resting order → 200 canceled; again → 409; unknown → 404', async () => {
    const o = (await post(order({ order_type: 'limit', limit_price: '60', qty: '5' }))).json() as OrderRow;
    const c = await g.app.inject({ method: 'DELETE', url: `/api/v1/orders/${o.client_order_id}`, headers: auth });
    expect(c.statusCode).toBe(200);
    expect(c.json().status).toBe('canceled');
    expect((await g.app.inject({ method: 'DELETE', url: `/api/v1/orders/${o.client_order_id}`, headers: auth })).statusCode).toBe(409);
    expect((await g.app.inject({ method: 'DELETE', url: '/api/v1/orders/nope-1', headers: auth })).statusCode).toBe(404);
  });

  it('lists orders newest first with filters and cursor paging', async () => {
    const all: OrderRow[] = [];
    let cursor: string | null = null;
    do {
      const r = await g.app.inject({ url: `/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}` });
      expect(r.statusCode).toBe(200);
      const page = r.json() as { orders: OrderRow[]; next_cursor: string | null };
      expect(page.orders.length).toBeLessThanOrEqual(2);
      all.push(...page.orders);
      cursor = page.next_cursor;
    } while (cursor);
    const count = (await g.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders')).rows[0]!.n;
    expect(all).toHaveLength(count);
    expect(new Set(all.map((o) => o.id)).size).toBe(count);
    const times = all.map((o) => o.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    const msft = (await g.app.inject({ url: '/api/v1/orders?symbol=msft&status=filled,rejected' })).json().orders as OrderRow[];
    expect(msft.length).toBeGreaterThan(0);
    expect(msft.every((o) => o.symbol === 'MSFT' && ['filled', 'rejected'].includes(o.status))).toBe(true);
    const since = (await g.app.inject({ url: `/api/v1/orders?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}` })).json().orders;
    expect(since).toEqual([]);
  });

  it('positions follow the fills with average-cost P&L; the account endpoint adds totals', async () => {
    await post(order({ symbol: 'SPY', side: 'buy', qty: '10', strategy_id: 'pnl' }));
    g.sim.sim.setPrice('SPY', '460');
    await post(order({ symbol: 'SPY', side: 'sell', qty: '4', strategy_id: 'pnl' }));
    const spy = await waitFor('SPY position', async () => (await positions()).find((p) => p.symbol === 'SPY' && p.qty === '13'));
    // 7 @ 450 (earlier test) + 10 @ 450, sell 4 @ 460 → realized 4 × 10
    expect(spy).toMatchObject({ qty: '13', avg_entry_price: '450', realized_pnl: '40' });
    const acct = await g.app.inject({ url: '/api/v1/account' });
    expect(acct.statusCode).toBe(200);
    expect(acct.json()).toMatchObject({ broker: 'alpaca', account: { currency: 'USD' }, realized_pnl: '40' });
  });

  it('reconcile on demand: books agree with the broker → a report with no differences', async () => {
    await g.app.gateway.consumer!.idle();
    const r = await g.app.inject({ method: 'POST', url: '/api/v1/reconcile', headers: auth });
    expect(r.statusCode).toBe(200);
    const rep = r.json();
    expect(rep).toMatchObject({ trigger: 'api', complete: true, errors: [] });
    expect(rep.differences).toEqual([]);
    const broker = await g.broker.listPositions();
    const ours = await positions();
    expect(ours.map((p) => [p.symbol, p.qty]).sort()).toEqual(broker.map((p) => [p.symbol, p.qty]).sort());
  });

  it('health, metrics and the OpenAPI document', async () => {
    const h = await g.app.inject({ url: '/health' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', checks: { database: { status: 'up' }, broker: { status: 'up' }, trade_updates: { status: 'up' } } });
    const m = (await g.app.inject({ url: '/metrics' })).body;
    for (const name of ['kestrel_orders_submitted_total', 'kestrel_orders_duplicate_total', 'kestrel_orders_rejected_total', 'kestrel_broker_errors_total', 'kestrel_order_submit_seconds_bucket', 'kestrel_orders_pending']) {
      expect(m, name).toContain(name);
    }
    const doc = (await g.app.inject({ url: '/docs/json' })).json();
    for (const p of ['/api/v1/orders', '/api/v1/orders/{client_order_id}', '/api/v1/positions', '/api/v1/account', '/api/v1/reconcile', '/api/v1/kill-switch', '/api/v1/kill-switch/engage', '/api/v1/kill-switch/disengage']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    const body = doc.paths['/api/v1/orders'].post.requestBody.content['application/json'];
    expect(body.schema.properties.qty.example).toBe('10');
    expect(body.examples ?? body.schema.example).toBeDefined();
  });
});

describe('DRY_RUN', () => {
  it('records orders as dry_run and never calls the broker', async () => {
    const sim = await startSim();
    const db = await freshPglite();
    const app = await buildGatewayApp({ db, broker: simBroker(sim), clock: systemClock, logger: silentLogger(), dryRun: true });
    try {
      await app.ready();
      const r = await app.inject({ method: 'POST', url: '/api/v1/orders', payload: order() });
      expect(r.statusCode).toBe(201);
      expect(r.json()).toMatchObject({ status: 'dry_run', broker_order_id: null });
      expect((await app.inject({ method: 'POST', url: '/api/v1/orders', payload: order() })).statusCode).toBe(200);
      expect(sim.sim.listOrders({ status: 'all' })).toHaveLength(0);
      expect((await app.inject({ url: '/health' })).json().checks.broker).toBeUndefined();
    } finally {
      await app.close();
      await sim.close();
      await db.close();
    }
  });
});

describe('trade dates', () => {
  it('a caller id resubmitted the next day answers its order; a derived id is a new intent each day', async () => {
    const clock = fixedClock('2025-01-17T15:00:00Z');
    const t = await embeddedGateway({ clock, background: { tradeUpdates: false, retrier: false, reconcileOnStart: false } });
    try {
      const post = (p: object) => t.app.inject({ method: 'POST', url: '/api/v1/orders', payload: p });
      const own = await post(order({ client_order_id: 'rebalance-aapl-1' }));
      const derived = await post(order({ qty: '2' }));
      expect([own.statusCode, derived.statusCode]).toEqual([201, 201]);
      expect(derived.json().client_order_id).toMatch(/-20250117-/);
      clock.set('2025-01-18T15:00:00Z');
      const ownAgain = await post(order({ client_order_id: 'rebalance-aapl-1' }));
      expect(ownAgain.statusCode).toBe(200);
      expect(ownAgain.json().id).toBe(own.json().id);
      // Yesterday's derived order is found by passing its trade date …
      const yesterday = await post(order({ qty: '2', trade_date: '2025-01-17' }));
      expect([yesterday.statusCode, yesterday.json().id]).toEqual([200, derived.json().id]);
      // … and without it, the same order today is a new intent.
      const today = await post(order({ qty: '2' }));
      expect(today.statusCode).toBe(201);
      expect(today.json().client_order_id).toMatch(/-20250118-/);
    } finally {
      await t.close();
    }
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBrokerSim, type RunningBrokerSim } from './serve.js';

const KEYS = { 'APCA-API-KEY-ID': 'PKTEST', 'APCA-API-SECRET-KEY': 'sim-secret' };

describe('broker sim REST (Alpaca v2 conformance)', () => {
  let s: RunningBrokerSim;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = KEYS) => {
    const res = await fetch(s.baseUrl + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  const buy = (extra: Record<string, unknown> = {}) => call('POST', '/v2/orders', { symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day', ...extra });

  beforeAll(async () => {
    // Friday 2025-01-17 10:00 New York
    s = await startBrokerSim({ config: { apiKeyId: 'PKTEST', apiSecretKey: 'sim-secret', startingCash: '100000' }, prices: { AAPL: '100', MSFT: '400' }, clock: '2025-01-17T15:00:00Z' });
  });
  afterAll(() => s?.close());
  beforeEach(async () => {
    expect((await call('POST', '/admin/reset')).status).toBe(200);
    await call('POST', '/admin/prices', { prices: { AAPL: '100', MSFT: '400' } });
  });

  it('401 with Alpaca’s body without or with wrong keys; ops endpoints stay open', async () => {
    const attempts: Array<Record<string, string>> = [{}, { ...KEYS, 'APCA-API-SECRET-KEY': 'wrong' }, { 'APCA-API-KEY-ID': 'PKTEST' }];
    for (const h of attempts) {
      const r = await call('GET', '/v2/account', undefined, h);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ code: 40110000, message: 'request is not authorized' });
    }
    expect((await call('POST', '/admin/reset', undefined, {})).status).toBe(401);
    expect((await call('GET', '/health', undefined, {})).status).toBe(200);
  });

  it('POST /v2/orders answers the Alpaca order object', async () => {
    const r = await buy({ client_order_id: 'k-1' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      client_order_id: 'k-1',
      symbol: 'AAPL',
      asset_class: 'us_equity',
      qty: '10',
      filled_qty: '10',
      filled_avg_price: '100',
      order_class: 'simple',
      order_type: 'market',
      type: 'market',
      side: 'buy',
      time_in_force: 'day',
      limit_price: null,
      stop_price: null,
      status: 'filled',
      extended_hours: false,
      created_at: '2025-01-17T15:00:00.000Z',
      filled_at: '2025-01-17T15:00:00.000Z',
      canceled_at: null,
    });
    expect(r.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.asset_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    // numbers are accepted for decimals, as Alpaca does
    expect((await call('POST', '/v2/orders', { symbol: 'MSFT', qty: 1, side: 'buy', type: 'limit', limit_price: 399.5, time_in_force: 'gtc' })).body).toMatchObject({ qty: '1', limit_price: '399.5', status: 'new' });
  });

  it('duplicate client_order_id → 422 {code 40010001, "client_order_id must be unique"}', async () => {
    expect((await buy({ client_order_id: 'dup-1' })).status).toBe(200);
    const r = await buy({ client_order_id: 'dup-1' });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ code: 40010001, message: 'client_order_id must be unique' });
  });

  it('refuses bad requests like Alpaca: 422 for invalid orders, 400 for a malformed body, 403 for buying power', async () => {
    for (const body of [
      { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market' }, // no time_in_force
      { symbol: 'AAPL', qty: '1', side: 'long', type: 'market', time_in_force: 'day' },
      { symbol: 'NOT A SYMBOL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' },
      { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', surprise: true },
      { qty: '1', side: 'buy', type: 'market', time_in_force: 'day' },
    ]) {
      const r = await call('POST', '/v2/orders', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.code).toBe(40010001);
      expect(typeof r.body.message).toBe('string');
    }
    const bad = await call('POST', '/v2/orders', '{"symbol": "AAPL",');
    expect(bad).toMatchObject({ status: 400, body: { code: 40010000, message: 'request body format is invalid' } });
    const poor = await buy({ qty: '5000' });
    expect(poor.status).toBe(403);
    expect(poor.body).toEqual({ code: 40310000, message: 'insufficient buying power', buying_power: '100000', cost_basis: '500000' });
    expect((await call('GET', '/v2/nothing-here')).body).toEqual({ code: 40410000, message: 'endpoint not found' });
  });

  it('GET /v2/orders:by_client_order_id (literal colon) finds an order; 404 when unknown; 422 without the parameter', async () => {
    const placed = (await buy({ client_order_id: 'lookup-me' })).body;
    const r = await call('GET', '/v2/orders:by_client_order_id?client_order_id=lookup-me');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(placed);
    const miss = await call('GET', '/v2/orders:by_client_order_id?client_order_id=nope');
    expect(miss).toMatchObject({ status: 404, body: { code: 40410000 } });
    expect((await call('GET', '/v2/orders:by_client_order_id')).status).toBe(422);
  });

  it('GET /v2/orders/:id: 200, 404 for an unknown id, 422 for a malformed one', async () => {
    const placed = (await buy()).body;
    expect((await call('GET', `/v2/orders/${placed.id}`)).body).toEqual(placed);
    expect((await call('GET', `/v2/orders/${placed.id.replaceAll('-', '')}`)).body.id).toBe(placed.id);
    const unknown = await call('GET', '/v2/orders/0b6e6f0e-1111-4222-8333-444455556666');
    expect(unknown).toEqual(expect.objectContaining({ status: 404, body: { code: 40410000, message: 'order not found for 0b6e6f0e-1111-4222-8333-444455556666' } }));
    expect((await call('GET', '/v2/orders/banana')).status).toBe(422);
  });

  it('DELETE /v2/orders/:id: 204 for an open order, 422 once filled or canceled, 404 unknown', async () => {
    const resting = (await buy({ type: 'limit', limit_price: '90' })).body;
    const del = await call('DELETE', `/v2/orders/${resting.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeUndefined();
    expect((await call('GET', `/v2/orders/${resting.id}`)).body).toMatchObject({ status: 'canceled', canceled_at: '2025-01-17T15:00:00.000Z' });
    expect(await call('DELETE', `/v2/orders/${resting.id}`)).toMatchObject({ status: 422, body: { code: 42210000, message: 'order is already in "canceled" state' } });
    const filled = (await buy()).body;
    expect(await call('DELETE', `/v2/orders/${filled.id}`)).toMatchObject({ status: 422, body: { message: 'order is already in "filled" state' } });
    expect((await call('DELETE', '/v2/orders/0b6e6f0e-1111-4222-8333-444455556666')).status).toBe(404);
  });

  it('DELETE /v2/orders cancels every open order with a 207 multi-status list', async () => {
    const a = (await buy({ type: 'limit', limit_price: '90' })).body;
    const b = (await buy({ type: 'limit', limit_price: '80' })).body;
    await buy();
    const r = await call('DELETE', '/v2/orders');
    expect(r.status).toBe(207);
    expect(r.body.map((x: { id: string; status: number; body: { status: string } }) => [x.id, x.status, x.body.status])).toEqual([
      [a.id, 200, 'canceled'],
      [b.id, 200, 'canceled'],
    ]);
    expect((await call('DELETE', '/v2/orders')).body).toEqual([]);
  });

  it('GET /v2/orders filters by status, limit, direction, after, symbols, side', async () => {
    const o1 = (await buy()).body;
    const o2 = (await buy({ type: 'limit', limit_price: '90' })).body;
    const o3 = (await call('POST', '/v2/orders', { symbol: 'MSFT', qty: '1', side: 'sell', type: 'market', time_in_force: 'day' })).body;
    const ids = async (q: string) => ((await call('GET', `/v2/orders${q}`)).body as Array<{ id: string }>).map((o) => o.id);
    expect(await ids('')).toEqual([o2.id]);
    expect(await ids('?status=closed')).toEqual([o3.id, o1.id]);
    expect(await ids('?status=all&direction=asc')).toEqual([o1.id, o2.id, o3.id]);
    expect(await ids('?status=all&limit=2')).toEqual([o3.id, o2.id]);
    expect(await ids('?status=all&symbols=MSFT,TSLA')).toEqual([o3.id]);
    expect(await ids('?status=all&side=sell')).toEqual([o3.id]);
    expect(await ids('?status=all&after=2025-01-17T15:00:00Z')).toEqual([]);
    expect((await call('GET', '/v2/orders?status=weird')).status).toBe(422);
    expect((await call('GET', '/v2/orders?after=yesterday-ish')).status).toBe(422);
  });

  it('positions and account follow the fills', async () => {
    await buy();
    await call('POST', '/v2/orders', { symbol: 'MSFT', qty: '2', side: 'sell', type: 'market', time_in_force: 'day' });
    await call('POST', '/admin/prices', { prices: { AAPL: '101.5' } });
    const list = (await call('GET', '/v2/positions')).body;
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ symbol: 'AAPL', qty: '10', side: 'long', avg_entry_price: '100', market_value: '1015', cost_basis: '1000', unrealized_pl: '15', current_price: '101.5', asset_class: 'us_equity' });
    expect((await call('GET', '/v2/positions/msft')).body).toMatchObject({ symbol: 'MSFT', qty: '-2', side: 'short', market_value: '-800' });
    expect(await call('GET', '/v2/positions/TSLA')).toMatchObject({ status: 404, body: { code: 40410000, message: 'position does not exist' } });
    expect((await call('GET', '/v2/account')).body).toMatchObject({
      status: 'ACTIVE',
      currency: 'USD',
      cash: '99800',
      long_market_value: '1015',
      short_market_value: '-800',
      equity: '100015',
      portfolio_value: '100015',
      buying_power: '99800',
    });
  });

  it('GET /v2/clock follows the injected clock and the NYSE calendar', async () => {
    expect((await call('GET', '/v2/clock')).body).toEqual({
      timestamp: '2025-01-17T10:00:00.000-05:00',
      is_open: true,
      next_open: '2025-01-21T09:30:00.000-05:00', // Monday the 20th is MLK Day
      next_close: '2025-01-17T16:00:00.000-05:00',
    });
  });

  it('admin: prices re-check resting orders; bad prices are 422', async () => {
    const resting = (await buy({ type: 'limit', limit_price: '95' })).body;
    expect((await call('POST', '/admin/prices', { prices: { aapl: '94.5' } })).body).toEqual({ prices: { AAPL: '94.5' } });
    expect((await call('GET', `/v2/orders/${resting.id}`)).body).toMatchObject({ status: 'filled', filled_avg_price: '94.5' });
    expect((await call('POST', '/admin/prices', { prices: { AAPL: '-1' } })).status).toBe(422);
  });

  it('faults: the next N submissions fail with 503 / 500, then the broker recovers', async () => {
    await call('POST', '/admin/faults', { submit: { count: 2, mode: 'error_503' } });
    expect(await buy({ client_order_id: 'f-1' })).toMatchObject({ status: 503, body: { code: 50310000 } });
    expect((await buy({ client_order_id: 'f-1' })).status).toBe(503);
    expect((await buy({ client_order_id: 'f-1' })).status).toBe(200);
    await call('POST', '/admin/faults', { submit: { count: 1, mode: 'error_500', after_create: true } });
    expect((await buy({ client_order_id: 'f-2' })).status).toBe(500);
    // the order exists although the answer was an error: the ambiguous case
    expect((await call('GET', '/v2/orders:by_client_order_id?client_order_id=f-2')).body.status).toBe('filled');
    expect((await call('GET', '/admin/faults')).body).toEqual({ submit: null, stream: { enabled: true, clients: 0 } });
  });

  it('faults: a hanging submission holds the connection until the client gives up', async () => {
    await call('POST', '/admin/faults', { submit: { count: 1, mode: 'hang', after_create: true } });
    const err = await fetch(`${s.baseUrl}/v2/orders`, {
      method: 'POST',
      headers: { ...KEYS, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'h-1' }),
      signal: AbortSignal.timeout(150),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe('TimeoutError');
    expect((await call('GET', '/v2/orders:by_client_order_id?client_order_id=h-1')).status).toBe(200);
    // hang_ms cuts the connection by itself
    await call('POST', '/admin/faults', { submit: { count: 1, mode: 'hang', hang_ms: 50 } });
    await expect(buy()).rejects.toThrow();
  });

  it('documents the API at /docs and counts orders in /metrics', async () => {
    await buy();
    const doc = (await call('GET', '/docs/json', undefined, {})).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v2/orders', '/v2/orders:by_client_order_id', '/v2/orders/{order_id}', '/v2/positions', '/v2/account', '/admin/faults']));
    const metrics = await (await fetch(`${s.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/kestrel_broker_sim_orders_total\{.*outcome="accepted".*\} \d+/);
  });
});

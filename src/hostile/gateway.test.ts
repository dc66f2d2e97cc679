import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, HOSTILE_TOKEN, hostileGateway, type Counts, type HostileGateway } from './test-helpers.js';

/**
 * Issue #14, "Reliability under hostile input": the repros of the bounded attack on the
 * gateway, each answered 4xx with the field, nothing written, nothing sent to the broker.
 */
let g: HostileGateway;
beforeAll(async () => {
  g = await hostileGateway();
});
afterAll(() => g?.close());

const order = (over: Record<string, unknown> = {}) => ({ strategy_id: 'bad', symbol: 'AAPL', side: 'buy', qty: '1', order_type: 'market', ...over });
const post = (url: string, payload: unknown, headers: Record<string, string> = AUTH) =>
  g.app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });

async function unchanged(before: Counts): Promise<void> {
  expect(await g.counts()).toEqual(before);
}

describe('decimals: one bounded parser before any arithmetic or storage', () => {
  it('a short exponent in limit_price is refused in milliseconds, nothing written or sent (was: 89 s, heap limit)', async () => {
    for (const limit of ['1e1000000000', '1e10000000', '1E+999999999', '-1e10000000', '1e-10000000', '0.00000000001']) {
      const before = await g.counts();
      const t = performance.now();
      const r = await post('/api/v1/orders', order({ order_type: 'limit', limit_price: limit }));
      const ms = performance.now() - t;
      expect(r.statusCode, limit).toBe(422);
      expect(r.json()).toMatchObject({ error: 'invalid_order', details: [expect.objectContaining({ field: 'limit_price' })] });
      expect(r.body.length).toBeLessThan(2_000);
      expect(ms, limit).toBeLessThan(1_000);
      await unchanged(before);
    }
  });

  it('an exponent that stays in range is read exactly', async () => {
    g.mark();
    const r = await post('/api/v1/orders', order({ strategy_id: 'exp-ok', order_type: 'limit', limit_price: '1.0E2', qty: '2e0' }));
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ limit_price: '100', qty: '2' });
    expect(g.sim.sim.getOrderByClientId(r.json().client_order_id)).toMatchObject({ limit_price: '100', qty: '2' });
  });

  it('quantities: huge, exponent-shaped and whitespace-padded are refused', async () => {
    const before = await g.counts();
    for (const qty of ['1e1000000000', '1e10', ' 10', '10 ', '１０', '0x10', 'Infinity']) {
      const r = await post('/api/v1/orders', order({ qty }));
      expect(r.statusCode, qty).toBe(422);
      expect(r.json().details.map((d: { field: string }) => d.field)).toContain('qty');
    }
    await unchanged(before);
  });
});

describe('symbols: ASCII only, after at most an ASCII upper-casing', () => {
  it('"MſFT", "ıbm", "ﬀ", NBSP, BOM and U+2003 are refused with 422 — never sent as MSFT, IBM, FF (was: 201)', async () => {
    g.mark();
    for (const symbol of ['MſFT', 'ıbm', 'ﬀ', '\u00a0MSFT', '\ufeffMSFT', 'MSFT\u2003', ' MSFT', 'MSFT\n', 'ＭＳＦＴ', 'MS\u0000FT', 'ǆ']) {
      const before = await g.counts();
      const r = await post('/api/v1/orders', order({ symbol }));
      expect(r.statusCode, JSON.stringify(symbol)).toBe(422);
      expect(r.json()).toMatchObject({ error: 'invalid_order', details: [expect.objectContaining({ field: 'symbol' })] });
      await unchanged(before);
    }
    expect(g.sim.sim.listOrders({ status: 'all', limit: 500 }).filter((o) => ['MSFT', 'IBM', 'FF'].includes(o.symbol))).toEqual([]);
  });

  it('ASCII lower case is the one thing normalised', async () => {
    g.mark();
    const r = await post('/api/v1/orders', order({ strategy_id: 'lower', symbol: 'msft' }));
    expect(r.statusCode).toBe(201);
    expect(g.sim.sim.getOrderByClientId(r.json().client_order_id)).toMatchObject({ symbol: 'MSFT' });
  });
});

describe('wrong JSON types are refused (400), never coerced', () => {
  it('kill switch: {"reason":12345,"actor":true} does not engage it, {"reason":["x"]} does not disengage it', async () => {
    const engage = await post('/api/v1/kill-switch/engage', { reason: 12345, actor: true });
    expect(engage.statusCode).toBe(400);
    expect(engage.json().details.map((d: { field: string }) => d.field).sort()).toEqual(['actor', 'reason']);
    expect((await g.app.inject({ url: '/api/v1/kill-switch' })).json().engaged).toBe(false);

    expect((await post('/api/v1/kill-switch/engage', { reason: 'hostile test' })).statusCode).toBe(200);
    const dis = await post('/api/v1/kill-switch/disengage', { reason: ['x'] });
    expect(dis.statusCode).toBe(400);
    expect((await g.app.inject({ url: '/api/v1/kill-switch' })).json().engaged).toBe(true);
    expect((await post('/api/v1/kill-switch/disengage', { reason: 'done' })).statusCode).toBe(200);
    expect((await post('/api/v1/kill-switch/engage', { reason: 'nul\u0000byte' })).statusCode).toBe(400);
  });

  it('"qty":["0"], "side":["sell"], "symbol":123, "limit_price":187.25 → 400 naming the field', async () => {
    const before = await g.counts();
    for (const [over, field] of [
      [{ qty: ['0'] }, 'qty'],
      [{ side: ['sell'] }, 'side'],
      [{ symbol: 123 }, 'symbol'],
      [{ symbol: ['AAPL'] }, 'symbol'],
      [{ qty: 1 }, 'qty'],
      [{ order_type: 'limit', limit_price: 187.25 }, 'limit_price'],
      [{ strategy_id: true }, 'strategy_id'],
    ] as const) {
      const r = await post('/api/v1/orders', order(over));
      expect(r.statusCode, JSON.stringify(over)).toBe(400);
      expect(r.json().details.map((d: { field: string }) => d.field)).toContain(field);
    }
    await unchanged(before);
  });
});

describe('query strings: a schema per parameter, database errors mapped (was: 500 with PostgreSQL messages)', () => {
  it.each([
    ['/api/v1/orders?strategy_id=%00', 'strategy_id'],
    ['/api/v1/orders?symbol=%00', 'symbol'],
    ['/api/v1/orders?since=99999-01-01', 'since'],
    ['/api/v1/orders?since=238529', 'since'],
    ['/api/v1/orders?since=0001-01-01', 'since'],
    ['/api/v1/orders?limit=Infinity', 'limit'],
    ['/api/v1/orders?limit=1e2', 'limit'],
    ['/api/v1/orders?limit=%2010', 'limit'],
    ['/api/v1/orders?limit=1&limit=2', 'limit'],
    ['/api/v1/orders?symbol=M%C5%BFFT', 'symbol'],
    ['/api/v1/risk/events?before=1e20', 'before'],
    ['/api/v1/risk/events?before=9223372036854775808', 'before'],
    ['/api/v1/risk/events?symbol=%C4%B1bm', 'symbol'],
    ['/api/v1/positions?include_flat=1', 'include_flat'],
    ['/api/v1/account?x=1', 'x'],
    ['/api/v1/kill-switch?x=1', 'x'],
    ['/api/v1/risk/status?x=1', 'x'],
    ['/api/v1/orders/ks-bad%00id', 'client_order_id'],
  ])('%s → 400 naming %s', async (url, field) => {
    const r = await g.app.inject({ url });
    expect(r.statusCode).toBe(400);
    expect(r.json().details.map((d: { field: string }) => d.field)).toContain(field);
    expect(r.body).not.toMatch(/invalid input syntax|out of range for type|timestamptz|bigint/i);
  });

  it('valid filters still work, and a since inside the range is answered', async () => {
    expect((await g.app.inject({ url: '/api/v1/orders?since=2025-01-17&limit=5&symbol=msft&strategy_id=lower' })).statusCode).toBe(200);
    expect((await g.app.inject({ url: '/api/v1/orders?since=2025-01-17T09:30:00-05:00' })).statusCode).toBe(200);
    expect((await g.app.inject({ url: '/api/v1/risk/events?before=9007199254740991&limit=1' })).statusCode).toBe(200);
  });

  it('unknown fields in bodies of routes that take none are refused (POST /reconcile)', async () => {
    expect((await post('/api/v1/reconcile', { full: true })).statusCode).toBe(400);
    expect((await post('/api/v1/reconcile?deep=1', {})).statusCode).toBe(400);
  });
});

describe('auth and request ids', () => {
  it('the Bearer scheme is case-insensitive (RFC 7235); anything else is 401', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) expect((await post('/api/v1/kill-switch/disengage', { reason: 'scheme' }, { authorization: `${scheme} ${HOSTILE_TOKEN}` })).statusCode, scheme).toBe(200);
    for (const h of [`Basic ${HOSTILE_TOKEN}`, `Bearer${HOSTILE_TOKEN}`, `Bearer ${HOSTILE_TOKEN}x`, 'Bearer ', `Bearer ${HOSTILE_TOKEN} extra`]) {
      expect((await post('/api/v1/kill-switch/disengage', { reason: 'scheme' }, { authorization: h })).statusCode, h).toBe(401);
    }
  });

  it('x-request-id: a short plain one is kept, a 16 KB or odd one is replaced by our own', async () => {
    const ok = await g.app.inject({ url: '/api/v1/kill-switch', headers: { 'x-request-id': 'client-trace:42' } });
    expect(ok.headers['x-request-id']).toBe('client-trace:42');
    for (const id of ['x'.repeat(16 * 1024), 'a b', 'id\u00e9', 'x'.repeat(65)]) {
      const r = await g.app.inject({ url: '/api/v1/kill-switch', headers: { 'x-request-id': id } });
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('broker credentials refused', () => {
  let bad: HostileGateway;
  beforeAll(async () => {
    bad = await hostileGateway({ brokerKeys: { keyId: 'PKWRONG', secretKey: 'wrong-secret' } });
  });
  afterAll(() => bad?.close());

  it('GET /account when the broker answers 401 → 503 broker_unavailable naming the keys (was: 500)', async () => {
    const r = await bad.app.inject({ url: '/api/v1/account' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ error: 'broker_unavailable', message: expect.stringMatching(/HTTP 401.*ALPACA_API_KEY_ID/) });
  });
});

describe('off loopback: reads need a token; /health reports each dependency', () => {
  const READ = 'read-token-0123456789abcdef';
  let ro: HostileGateway;
  beforeAll(async () => {
    // A breaker store that cannot be reached (Redis down): the breaker fails closed.
    const down = { get: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')), compareAndSet: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) };
    ro = await hostileGateway({ readTokens: [READ, HOSTILE_TOKEN], store: down });
  });
  afterAll(() => ro?.close());

  it('cash, orders, positions and risk limits need READ_TOKEN or API_TOKEN; /health does not', async () => {
    for (const url of ['/api/v1/account', '/api/v1/orders', '/api/v1/positions', '/api/v1/risk/status', '/api/v1/risk/events', '/api/v1/kill-switch', '/metrics']) {
      expect((await ro.app.inject({ url })).statusCode, url).toBe(401);
      // Past the guard (risk/status answers 503 here: its breaker store is down).
      expect((await ro.app.inject({ url, headers: { authorization: `Bearer ${READ}` } })).statusCode, url).not.toBe(401);
      expect((await ro.app.inject({ url, headers: { authorization: `bearer ${HOSTILE_TOKEN}` } })).statusCode, url).toBe(url === '/api/v1/risk/status' ? 503 : 200);
    }
    // The read token is not a write token.
    expect((await ro.app.inject({ method: 'POST', url: '/api/v1/kill-switch/engage', payload: { reason: 'x' }, headers: { authorization: `Bearer ${READ}` } })).statusCode).toBe(401);
  });

  it('Redis down while the breaker fails closed → degraded, the breaker store named (was: ok)', async () => {
    const h = await ro.app.inject({ url: '/health' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'degraded', checks: { database: { status: 'up' }, broker: { status: 'up' }, breaker_store: { status: 'down', detail: expect.stringMatching(/ECONNREFUSED.*failing closed/) } } });
  });
});

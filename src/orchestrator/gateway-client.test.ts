import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newYorkDate } from '../core/clock.js';
import { embeddedGateway, type TestGateway } from '../execution/test-helpers.js';
import { GatewayError, HttpGatewayClient, InProcessGatewayClient, type GatewayClient } from './gateway-client.js';

/** Both clients against the real gateway (embedded PGlite + the simulator), and against a failing server. */
const TOKEN = 'gateway-token-0123456789abcdef';
let g: TestGateway;
let url: string;

beforeAll(async () => {
  g = await embeddedGateway({ apiToken: TOKEN });
  await g.app.listen({ port: 0, host: '127.0.0.1' });
  const a = g.app.server.address();
  url = typeof a === 'object' && a ? `http://127.0.0.1:${a.port}` : '';
});
afterAll(() => g?.close());

const clients: Array<[string, () => GatewayClient]> = [
  ['HttpGatewayClient', () => new HttpGatewayClient({ baseUrl: `${url}/`, apiToken: TOKEN })],
  ['InProcessGatewayClient', () => new InProcessGatewayClient(g.app, { apiToken: TOKEN })],
];

describe.each(clients)('%s', (name, make) => {
  const strategy = `gc-${name.slice(0, 4).toLowerCase()}`;
  const today = () => newYorkDate(new Date());

  it('submitOrder: created on the first call, found on the second (same client_order_id)', async () => {
    const c = make();
    const body = { strategy_id: strategy, symbol: 'AAPL', side: 'buy' as const, qty: '3', order_type: 'market' as const, time_in_force: 'day' as const, trade_date: today() };
    const a = await c.submitOrder(body);
    expect(a.created).toBe(true);
    expect(a.order).toMatchObject({ symbol: 'AAPL', qty: '3', trade_date: today(), client_order_id: expect.stringMatching(/^ks-/) });
    const b = await c.submitOrder({ ...body, client_order_id: a.order.client_order_id });
    expect(b).toMatchObject({ created: false, order: { id: a.order.id } });
    expect(await c.getOrder(a.order.client_order_id)).toMatchObject({ id: a.order.id });
    expect(await c.getOrder('never-seen-1')).toBeNull();
  });

  it('4xx: a non-retryable GatewayError with the gateway code, reason and field details', async () => {
    const c = make();
    const e = await c.submitOrder({ strategy_id: strategy, symbol: 'AAPL', side: 'buy', qty: '1.5', order_type: 'market' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GatewayError);
    expect(e).toMatchObject({ status: 422, code: 'invalid_order', retryable: false, details: [{ field: 'qty', reason: expect.stringMatching(/whole/) }] });
    const stale = await c.submitOrder({ strategy_id: strategy, symbol: 'AAPL', side: 'buy', qty: '1', order_type: 'market', trade_date: '2020-01-02' }).catch((x: unknown) => x);
    expect(stale).toMatchObject({ status: 422, code: 'stale_trade_date', retryable: false });
  });

  it('reads positions, orders, the account and health', async () => {
    const c = make();
    await g.app.gateway.consumer?.idle();
    const positions = await c.positions();
    expect(Array.isArray(positions)).toBe(true);
    const page = await c.orders({ strategy_id: strategy, limit: 10 });
    expect(page.orders.length).toBeGreaterThanOrEqual(1);
    expect(page.orders.every((o) => o.strategy_id === strategy)).toBe(true);
    expect((await c.account()).broker).toBe('alpaca');
    await expect(c.ping()).resolves.toBeUndefined();
  });
});

describe('HttpGatewayClient failure mapping', () => {
  let server: Server;
  let status = 503;
  let base: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: status === 401 ? 'unauthorized' : 'database_unavailable', message: 'nope' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    base = typeof a === 'object' && a ? `http://127.0.0.1:${a.port}` : '';
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('5xx → retryable; 401 → not retryable; no server → retryable gateway_unreachable; a timeout → retryable', async () => {
    const c = new HttpGatewayClient({ baseUrl: base });
    status = 503;
    await expect(c.positions()).rejects.toMatchObject({ status: 503, code: 'database_unavailable', retryable: true });
    status = 401;
    await expect(c.submitOrder({ strategy_id: 's', symbol: 'AAPL', side: 'buy', qty: '1', order_type: 'market' })).rejects.toMatchObject({ status: 401, code: 'unauthorized', retryable: false });
    const down = new HttpGatewayClient({ baseUrl: 'http://127.0.0.1:9' });
    await expect(down.positions()).rejects.toMatchObject({ status: 0, code: 'gateway_unreachable', retryable: true });
    const hang = createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const a = hang.address();
    try {
      const slow = new HttpGatewayClient({ baseUrl: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, timeoutMs: 100 });
      await expect(slow.ping()).rejects.toMatchObject({ code: 'gateway_unreachable', retryable: true });
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});

import { Alpaca, ApiError, NotFoundError, trading, ValidationError } from '@alpacahq/alpaca-trade-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerSim, type RunningBrokerSim } from './serve.js';

/**
 * The official SDK (4.x) against the simulator. 4.x has no `baseUrl` option and no default
 * export (that was 3.x): the trading host follows `paper`, so we point it at the sim with a
 * `pre` middleware that rewrites the paper host, or with the generated layer's `basePath`.
 */
const keyId = 'PKTEST';
const secret = 'sim-secret';

describe('official @alpacahq/alpaca-trade-api SDK against the sim', () => {
  let s: RunningBrokerSim;
  let alpaca: Alpaca;

  beforeAll(async () => {
    s = await startBrokerSim({ config: { apiKeyId: keyId, apiSecretKey: secret, startingCash: '100000' }, prices: { AAPL: '100', MSFT: '400' }, clock: '2025-01-17T15:00:00Z' });
    const toSim: trading.Middleware = { pre: async (ctx) => ({ url: ctx.url.replace(trading.TRADING_PAPER_HOST, s.baseUrl), init: ctx.init }) };
    alpaca = new Alpaca({ keyId, secret, paper: true, middleware: [toSim], retry: false, rateLimit: false, timeoutMs: 5000 });
  });
  afterAll(() => s?.close());

  it('createOrder (orders.market / limit), getOrderByClientOrderId, getAllOrders, cancel, positions, account, clock', async () => {
    const m = await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy', clientOrderId: 'sdk-1' });
    expect(m).toMatchObject({ clientOrderId: 'sdk-1', symbol: 'AAPL', status: 'filled', filledQty: '10', filledAvgPrice: '100', type: 'market', timeInForce: 'day' });
    expect(m.filledAt).toBeInstanceOf(Date);

    const l = await alpaca.trading.orders.limit({ symbol: 'MSFT', qty: 2, side: 'buy', limitPrice: 390, timeInForce: 'gtc', clientOrderId: 'sdk-2' });
    expect(l).toMatchObject({ status: 'new', limitPrice: '390' });
    const limitId = l.id!; // optional in the SDK's generated types

    expect((await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'sdk-1' })).id).toBe(m.id);
    expect((await alpaca.trading.orders.getOrderByOrderID({ orderId: limitId })).clientOrderId).toBe('sdk-2');

    const all = await alpaca.trading.orders.getAllOrders({ status: 'all', direction: 'asc' });
    expect(all.map((o) => o.clientOrderId)).toEqual(['sdk-1', 'sdk-2']);
    expect((await alpaca.trading.orders.getAllOrders({ status: 'open' })).map((o) => o.id)).toEqual([l.id]);

    await alpaca.trading.orders.deleteOrderByOrderID({ orderId: limitId });
    expect((await alpaca.trading.orders.getOrderByOrderID({ orderId: limitId })).status).toBe('canceled');
    await alpaca.trading.orders.limit({ symbol: 'MSFT', qty: 1, side: 'buy', limitPrice: 300, clientOrderId: 'sdk-3' });
    const canceled = await alpaca.trading.orders.deleteAllOrders();
    expect(canceled).toHaveLength(1);
    expect(canceled[0]!.status).toBe(200);

    const positions = await alpaca.trading.positions.getAllOpenPositions();
    expect(positions).toHaveLength(1);
    expect(positions[0]).toMatchObject({ symbol: 'AAPL', qty: '10', avgEntryPrice: '100', side: 'long' });
    expect((await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' })).marketValue).toBe('1000');

    const account = await alpaca.trading.account.getAccount();
    expect(account).toMatchObject({ cash: '99000', equity: '100000', buyingPower: '99000', currency: 'USD', status: 'ACTIVE' });
    expect((await alpaca.trading.validateConnection()).ok).toBe(true);

    const clock = await alpaca.trading.clock.legacyClock(); // GET /v2/clock (clock() is /v3/clock, not simulated)
    expect(clock.isOpen).toBe(true);
  });

  it('surfaces the sim’s errors as the SDK’s typed errors with Alpaca codes', async () => {
    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'sdk-dup' });
    const dup = await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'sdk-dup' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ValidationError);
    expect(dup).toMatchObject({ status: 422, code: 40010001 });
    expect((dup as Error).message).toMatch(/client_order_id must be unique/);
    const missing = await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'nope' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    const poor = await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 100000, side: 'buy' }).catch((e: unknown) => e);
    expect(poor).toBeInstanceOf(ApiError);
    expect(poor).toMatchObject({ status: 403, code: 40310000 });
    const wrongKeys = new Alpaca({ keyId, secret: 'wrong', middleware: [{ pre: async (ctx) => ({ url: ctx.url.replace(trading.TRADING_PAPER_HOST, s.baseUrl), init: ctx.init }) }], retry: false, rateLimit: false });
    const check = await wrongKeys.trading.validateConnection();
    expect(check).toMatchObject({ ok: false, status: 401, code: 40110000 });
  });

  it('the generated layer works with basePath pointing at the sim', async () => {
    const config = new trading.Configuration({ basePath: s.baseUrl, keyId, secret, retry: undefined });
    const orders = new trading.OrdersApi(config);
    const o = await orders.postOrder({ postOrderRequest: { symbol: 'AAPL', qty: '1', side: 'sell', type: 'market', timeInForce: 'day', clientOrderId: 'gen-1' } });
    expect(o).toMatchObject({ clientOrderId: 'gen-1', status: 'filled' });
    expect((await new trading.AccountsApi(config).getAccount()).id).toBe(s.sim.accountId);
  });

  it('the SDK’s trade_updates stream (custom url) authenticates, listens and receives binary frames; submitAndWait resolves', async () => {
    const stream = alpaca.trading.stream({ url: s.streamUrl, reconnect: false, pingIntervalMs: 0 });
    const events: string[] = [];
    stream.onTradeUpdate((u) => events.push(`${u.event}:${u.order.clientOrderId}`));
    const listening = new Promise<void>((resolve) => stream.on('subscription', () => resolve()));
    stream.subscribeTradeUpdates();
    stream.connect();
    try {
      expect((await stream.whenAuthenticated()).authenticated).toBe(true);
      await listening;
      await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'sdk-stream-1' });
      const deadline = Date.now() + 3000;
      while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(events).toEqual(['new:sdk-stream-1', 'fill:sdk-stream-1']);

      const filled = await alpaca.trading.submitAndWait({ type: 'market', symbol: 'AAPL', side: 'buy', qty: 1, clientOrderId: 'sdk-wait-1' }, { stream, timeoutMs: 5000 });
      expect(filled).toMatchObject({ clientOrderId: 'sdk-wait-1', status: 'filled' });
    } finally {
      stream.disconnect();
    }
  });
});

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBrokerSim, type RunningBrokerSim } from '../../broker-sim/serve.js';
import { BrokerDuplicateOrderError, BrokerRejectedError, BrokerUnavailableError, type BrokerOrderRequest, type TradeUpdate, type TradeUpdateSubscription } from '../broker.js';
import { AlpacaBroker, streamUrlFor } from './alpaca.js';

const KEY = 'PKTEST';
const SECRET = 'sim-secret';

async function until(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const req = (o: Partial<BrokerOrderRequest> = {}): BrokerOrderRequest => ({ client_order_id: `c-${Math.random().toString(36).slice(2)}`, symbol: 'AAPL', side: 'buy', qty: '10', type: 'market', time_in_force: 'day', ...o });

const ORDER_KEYS = ['canceled_at', 'client_order_id', 'created_at', 'filled_at', 'filled_avg_price', 'filled_qty', 'id', 'limit_price', 'qty', 'side', 'status', 'submitted_at', 'symbol', 'time_in_force', 'type', 'updated_at'];

describe('AlpacaBroker against the broker simulator', () => {
  let s: RunningBrokerSim;
  let broker: AlpacaBroker;
  const subs: TradeUpdateSubscription[] = [];

  beforeAll(async () => {
    s = await startBrokerSim({ config: { apiKeyId: KEY, apiSecretKey: SECRET, startingCash: '100000' }, prices: { AAPL: '100', MSFT: '400' } });
    broker = new AlpacaBroker({ keyId: KEY, secretKey: SECRET, baseUrl: s.baseUrl, timeoutMs: 500, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  });
  beforeEach(() => {
    s.sim.reset();
    s.faults.clear();
    s.stream.setEnabled(true);
  });
  afterEach(async () => {
    await Promise.all(subs.splice(0).map((x) => x.close()));
  });
  afterAll(() => s?.close());

  it('derives the stream URL from the base URL', () => {
    expect(streamUrlFor('https://paper-api.alpaca.markets')).toBe('wss://paper-api.alpaca.markets/stream');
    expect(streamUrlFor('http://127.0.0.1:7302/')).toBe('ws://127.0.0.1:7302/stream');
    expect(streamUrlFor('https://proxy.example/alpaca/v2')).toBe('wss://proxy.example/alpaca/stream');
  });

  it('submitOrder returns exactly the BrokerOrder fields', async () => {
    const o = await broker.submitOrder(req({ client_order_id: 'a-1' }));
    expect(Object.keys(o).sort()).toEqual(ORDER_KEYS);
    expect(o).toMatchObject({ client_order_id: 'a-1', status: 'filled', filled_qty: '10', filled_avg_price: '100', limit_price: null });
    const lim = await broker.submitOrder(req({ type: 'limit', limit_price: '90', time_in_force: 'gtc' }));
    expect(lim).toMatchObject({ status: 'new', limit_price: '90', filled_avg_price: null });
  });

  it('maps a duplicate client_order_id to BrokerDuplicateOrderError and other refusals to BrokerRejectedError', async () => {
    await broker.submitOrder(req({ client_order_id: 'dup' }));
    const dup = await broker.submitOrder(req({ client_order_id: 'dup' })).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(BrokerDuplicateOrderError);
    expect((dup as BrokerDuplicateOrderError).clientOrderId).toBe('dup');
    const bad = await broker.submitOrder(req({ symbol: '??' })).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BrokerRejectedError);
    expect((bad as BrokerRejectedError).status).toBe(422);
    const poor = await broker.submitOrder(req({ qty: '100000' })).catch((e: unknown) => e);
    expect(poor).toMatchObject({ name: 'BrokerRejectedError', status: 403 });
    expect((poor as Error).message).toMatch(/insufficient buying power/);
  });

  it('cancelOrder resolves for an open order and is rejected (422) for a filled one', async () => {
    const open = await broker.submitOrder(req({ type: 'limit', limit_price: '90' }));
    await broker.cancelOrder(open.id);
    expect((await broker.getOrderByClientId(open.client_order_id))?.status).toBe('canceled');
    const filled = await broker.submitOrder(req());
    await expect(broker.cancelOrder(filled.id)).rejects.toMatchObject({ name: 'BrokerRejectedError', status: 422 });
    await expect(broker.cancelOrder('0b6e6f0e-1111-4222-8333-444455556666')).rejects.toMatchObject({ status: 404 });
  });

  it('getOrderByClientId finds the order or returns null', async () => {
    const o = await broker.submitOrder(req({ client_order_id: 'find-me' }));
    expect(await broker.getOrderByClientId('find-me')).toEqual(o);
    expect(await broker.getOrderByClientId('never-sent')).toBeNull();
    // a 404 that is not Alpaca's answer (wrong base URL) is an error, not "no such order"
    const misrouted = new AlpacaBroker({ keyId: KEY, secretKey: SECRET, baseUrl: `${s.baseUrl}/not-alpaca` });
    await expect(misrouted.getOrderByClientId('never-sent')).rejects.toMatchObject({ name: 'BrokerRejectedError', status: 404 });
  });

  it('listOrders filters by status and after, oldest first', async () => {
    const a = await broker.submitOrder(req());
    const b = await broker.submitOrder(req({ type: 'limit', limit_price: '90' }));
    expect((await broker.listOrders({ status: 'open' })).map((o) => o.id)).toEqual([b.id]);
    expect((await broker.listOrders({ status: 'closed' })).map((o) => o.id)).toEqual([a.id]);
    expect((await broker.listOrders({ status: 'all' })).map((o) => o.id)).toEqual([a.id, b.id]);
    expect((await broker.listOrders({ status: 'all', limit: 1 })).map((o) => o.id)).toEqual([a.id]);
    expect(await broker.listOrders({ status: 'all', after: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
  });

  it('listPositions and getAccount map the Alpaca objects', async () => {
    await broker.submitOrder(req());
    await broker.submitOrder(req({ symbol: 'MSFT', side: 'sell', qty: '1' }));
    expect(await broker.listPositions()).toEqual([
      { symbol: 'AAPL', qty: '10', avg_entry_price: '100', side: 'long', market_value: '1000', current_price: '100', unrealized_pl: '0' },
      { symbol: 'MSFT', qty: '-1', avg_entry_price: '400', side: 'short', market_value: '-400', current_price: '400', unrealized_pl: '0' },
    ]);
    expect(await broker.getAccount()).toEqual({
      id: s.sim.accountId,
      status: 'ACTIVE',
      currency: 'USD',
      cash: '99400',
      equity: '100000',
      buying_power: '99400',
      portfolio_value: '100000',
      long_market_value: '1000',
      short_market_value: '-400',
    });
  });

  it('wrong keys are a BrokerRejectedError(401)', async () => {
    const wrong = new AlpacaBroker({ keyId: KEY, secretKey: 'nope', baseUrl: s.baseUrl });
    await expect(wrong.getAccount()).rejects.toMatchObject({ name: 'BrokerRejectedError', status: 401 });
    await expect(wrong.streamTradeUpdates(() => {})).rejects.toMatchObject({ name: 'BrokerRejectedError', status: 401 });
  });

  it('outages: 503, 500, a hang past the timeout and a dead port are BrokerUnavailableError', async () => {
    s.faults.failNextSubmissions({ count: 1, mode: 'error_503' });
    await expect(broker.submitOrder(req())).rejects.toBeInstanceOf(BrokerUnavailableError);
    s.faults.failNextSubmissions({ count: 1, mode: 'error_500', afterCreate: true });
    const lost = req();
    await expect(broker.submitOrder(lost)).rejects.toBeInstanceOf(BrokerUnavailableError);
    // the retry with the same client_order_id is a duplicate, and the lookup settles it
    await expect(broker.submitOrder(lost)).rejects.toBeInstanceOf(BrokerDuplicateOrderError);
    expect((await broker.getOrderByClientId(lost.client_order_id))?.status).toBe('filled');
    s.faults.failNextSubmissions({ count: 1, mode: 'hang' });
    const t = Date.now();
    const hung = await broker.submitOrder(req()).catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(BrokerUnavailableError);
    expect((hung as Error).message).toMatch(/no answer within 500 ms/);
    expect(Date.now() - t).toBeLessThan(2000);
    const dead = new AlpacaBroker({ keyId: KEY, secretKey: SECRET, baseUrl: 'http://127.0.0.1:1', timeoutMs: 500 });
    await expect(dead.getAccount()).rejects.toBeInstanceOf(BrokerUnavailableError);
  });

  it('never puts the secret in an error message', async () => {
    const dead = new AlpacaBroker({ keyId: KEY, secretKey: 'TOP-SECRET-VALUE', baseUrl: 'http://127.0.0.1:1', timeoutMs: 200 });
    const e = (await dead.getAccount().catch((x: unknown) => x)) as Error;
    expect(`${e.message} ${String(e.cause)}`).not.toContain('TOP-SECRET-VALUE');
    const wrong = new AlpacaBroker({ keyId: KEY, secretKey: 'TOP-SECRET-VALUE', baseUrl: s.baseUrl });
    expect(((await wrong.getAccount().catch((x: unknown) => x)) as Error).message).not.toContain('TOP-SECRET-VALUE');
  });

  it('streams trade updates in order and reconnects after the stream drops', async () => {
    const updates: TradeUpdate[] = [];
    const states: string[] = [];
    subs.push(await broker.streamTradeUpdates((u) => updates.push(u), (st) => states.push(st)));
    expect(states).toEqual(['connected']);
    const o = await broker.submitOrder(req({ client_order_id: 'str-1' }));
    await until(() => updates.length === 2);
    expect(updates.map((u) => u.event)).toEqual(['new', 'fill']);
    expect(updates[1]).toMatchObject({ event: 'fill', price: '100', qty: '10', position_qty: '10', order: { id: o.id, status: 'filled' } });
    expect(Object.keys(updates[1]!.order).sort()).toEqual(ORDER_KEYS);
    expect(updates[1]!.execution_id).toMatch(/^[0-9a-f-]{36}$/);

    s.stream.drop();
    await until(() => states.length >= 3);
    expect(states).toEqual(['connected', 'disconnected', 'connected']);
    await broker.submitOrder(req({ client_order_id: 'str-2' }));
    await until(() => updates.length === 4);
    expect(updates.slice(2).map((u) => [u.event, u.order.client_order_id])).toEqual([
      ['new', 'str-2'],
      ['fill', 'str-2'],
    ]);
  });

  it('keeps retrying with backoff while the stream is down, and close() stops it', async () => {
    s.stream.setEnabled(false);
    const states: string[] = [];
    const sub = await broker.streamTradeUpdates(() => {}, (st) => states.push(st));
    subs.push(sub);
    expect(states).toEqual([]);
    await new Promise((r) => setTimeout(r, 150)); // several refused attempts
    s.stream.setEnabled(true);
    await until(() => states.includes('connected'));
    await sub.close();
    expect(states).toEqual(['connected', 'disconnected']);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.stream.clientCount).toBe(0);
  });
});

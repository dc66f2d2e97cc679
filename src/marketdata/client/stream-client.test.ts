import { afterEach, describe, expect, it } from 'vitest';
import type { BarMsg, TradeMsg } from '../protocol/messages.js';
import type { ReplayServer } from '../replay/server.js';
import { KEYS, testServer, waitFor } from '../replay/test-kit.js';
import { backoffDelay, MarketDataClient, type GapInfo, type MarketDataClientOptions } from './stream-client.js';

describe('MarketDataClient against the replay server', () => {
  let server: ReplayServer | null = null;
  let client: MarketDataClient | null = null;
  afterEach(async () => {
    client?.close();
    client = null;
    await server?.close();
    server = null;
  });
  const make = (port: number, over: Partial<MarketDataClientOptions> = {}) =>
    new MarketDataClient({ url: `ws://127.0.0.1:${port}/v2/iex`, ...KEYS, backoff: { initialMs: 10, maxMs: 50, jitter: 0.5 }, ...over });

  it('authenticates, subscribes and receives trades in id order, bars at path end', async () => {
    server = testServer();
    const port = await server.listen(0);
    const trades: TradeMsg[] = [];
    const bars: BarMsg[] = [];
    client = make(port, { onTrade: (t) => trades.push(t), onBar: (b) => bars.push(b) });
    client.subscribe(['AAPL', 'MSFT']);
    await client.connect();
    expect(client.state).toBe('live');
    await waitFor(() => bars.length >= 2, 3000, 'bars');
    expect(trades.map((t) => t.i)).toEqual(trades.map((_, k) => k + 1));
    expect(new Set(trades.map((t) => t.S))).toEqual(new Set(['AAPL', 'MSFT']));
    expect(client.counters).toMatchObject({ malformed: 0, outOfOrder: 0 });
  });

  it('unsubscribe updates the live subscription', async () => {
    server = testServer();
    const port = await server.listen(0);
    const trades: TradeMsg[] = [];
    const subs: string[][] = [];
    client = make(port, { onTrade: (t) => trades.push(t), onSubscription: (s) => subs.push(s.trades) });
    client.subscribe(['AAPL']);
    await client.connect();
    client.subscribe(['MSFT']);
    await waitFor(() => trades.some((t) => t.S === 'MSFT'), 2000, 'MSFT trades');
    client.unsubscribe(['AAPL']);
    expect(client.symbols).toEqual(['MSFT']);
    // Once the server echoes the new subscription, only MSFT may arrive.
    await waitFor(() => JSON.stringify(subs.at(-1)) === '["MSFT"]', 2000, 'subscription echo');
    const mark = trades.length;
    await waitFor(() => trades.length >= mark + 5, 2000, 'more trades');
    expect(trades.slice(mark).every((t) => t.S === 'MSFT')).toBe(true);
  });

  it('reconnects after the server restarts on the same port, resubscribes and reports the gap', async () => {
    server = testServer();
    const port = await server.listen(0);
    const trades: TradeMsg[] = [];
    const gaps: GapInfo[] = [];
    client = make(port, { onTrade: (t) => trades.push(t), onGap: (g) => gaps.push(g) });
    client.subscribe(['AAPL']);
    await client.connect();
    await waitFor(() => trades.length >= 5, 2000, 'trades before drop');
    await server.close();
    server = null;
    await waitFor(() => client!.state === 'reconnecting', 2000, 'reconnecting');
    const lastBefore = trades.at(-1)!;
    // Let at least one reconnect attempt fail against the closed port.
    await new Promise((r) => setTimeout(r, 80));
    server = testServer();
    await server.listen(port);
    await client.whenLive();
    const mark = trades.length;
    await waitFor(() => trades.length >= mark + 3, 2000, 'trades after reconnect');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ lastTradeId: lastBefore.i, lastTradeTime: lastBefore.t });
    expect(gaps[0]!.attempts).toBeGreaterThanOrEqual(1);
    expect(client.counters.reconnects).toBe(1);
    // New connection: ids restart at 1 and are in order again.
    expect(trades.slice(mark).map((t) => t.i)).toEqual(trades.slice(mark).map((_, k) => k + 1));
    expect(trades.slice(mark).every((t) => t.S === 'AAPL')).toBe(true);
    expect(client.counters.outOfOrder).toBe(0);
  });

  it('counts and skips malformed and out-of-order messages', async () => {
    server = testServer();
    const port = await server.listen(0);
    const trades: TradeMsg[] = [];
    client = make(port, { onTrade: (t) => trades.push(t) });
    await client.connect();
    const good = { T: 't', S: 'ZZZ', x: 'V', p: 1.5, s: 10, t: '2025-01-17T15:00:00Z', c: [], z: 'C' };
    server.injectRaw('{garbage');
    server.injectRaw('{"T":"t"}');
    server.injectRaw(JSON.stringify([{ ...good, i: 5 }, { T: 't', S: 'ZZZ', p: 'x' }, { ...good, i: 4 }, { ...good, i: 6 }]));
    await waitFor(() => client!.counters.malformed >= 3 && trades.length >= 2, 2000, 'counters');
    expect(client.counters).toMatchObject({ malformed: 3, outOfOrder: 1, trades: 2 });
    expect(trades.map((t) => t.i)).toEqual([5, 6]);
    expect(client.state).toBe('live');
  });

  it('staleness watchdog fires when nothing arrives', async () => {
    server = testServer();
    const port = await server.listen(0);
    let stale = 0;
    client = make(port, { staleMs: 40, onStale: () => stale++ });
    await client.connect(); // no subscription → silence
    await waitFor(() => stale === 1, 2000, 'onStale');
    await new Promise((r) => setTimeout(r, 100));
    expect(stale).toBe(1); // once per silence
  });

  it('bad keys: connect rejects and the client does not retry', async () => {
    server = testServer();
    const port = await server.listen(0);
    const codes: number[] = [];
    client = make(port, { secret: 'nope', onServerError: (e) => codes.push(e.code) });
    await expect(client.connect()).rejects.toThrow(/auth failed/);
    expect(codes).toEqual([402]);
    expect(client.state).toBe('failed');
    await new Promise((r) => setTimeout(r, 60));
    expect(server.clientCount()).toBe(0);
  });
});

describe('backoffDelay', () => {
  it('doubles from initialMs, caps at maxMs, and jitters down by at most `jitter`', () => {
    const b = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10, 100].map((a) => backoffDelay(a, b, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(backoffDelay(2, b, () => 0.999999)).toBeGreaterThan(200);
    expect(backoffDelay(2, b, () => 1)).toBe(200);
    expect(backoffDelay(50, { initialMs: 10, maxMs: 30_000, jitter: 0 }, () => 0.5)).toBe(30_000);
  });
});

describe('MarketDataClient start-up', () => {
  it('keeps retrying until the server comes up; no gap is reported for a first connection', async () => {
    const probe = testServer();
    const port = await probe.listen(0);
    await probe.close();
    const gaps: GapInfo[] = [];
    const states: string[] = [];
    const client = new MarketDataClient({ url: `ws://127.0.0.1:${port}/v2/iex`, ...KEYS, backoff: { initialMs: 10, maxMs: 40 }, onGap: (g) => gaps.push(g), onState: (s) => states.push(s) });
    const live = client.connect();
    await new Promise((r) => setTimeout(r, 60));
    const server = testServer();
    try {
      await server.listen(port);
      await live;
      expect(gaps).toEqual([]);
      expect(states).not.toContain('reconnecting');
      expect(states.at(-1)).toBe('live');
    } finally {
      client.close();
      await server.close();
    }
  });
});

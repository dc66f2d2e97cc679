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

  it('counts sequence gaps and the ids they skip; a non-sequenced client (Alpaca) checks no order', async () => {
    server = testServer();
    const port = await server.listen(0);
    const trades: number[] = [];
    client = make(port, { onTrade: (t) => trades.push(t.i) });
    const loose: number[] = [];
    const other = make(port, { sequenced: false, onTrade: (t) => loose.push(t.i) });
    try {
      await Promise.all([client.connect(), other.connect()]);
      const t = (i: number) => ({ T: 't', S: 'ZZZ', i, x: 'V', p: 1.5, s: 10, t: '2025-01-17T15:00:00Z', c: [], z: 'C' });
      server.injectRaw(JSON.stringify([t(5), t(6), t(9)])); // 7, 8 missing
      server.injectRaw(JSON.stringify([t(8), t(12)])); // 8 late (out of order), 10, 11 missing
      await waitFor(() => trades.length >= 4 && loose.length >= 5, 2000, 'trades');
      expect(trades).toEqual([5, 6, 9, 12]);
      expect(client.counters).toMatchObject({ trades: 4, gaps: 2, missedTrades: 4, outOfOrder: 1 });
      expect(loose).toEqual([5, 6, 9, 8, 12]);
      expect(other.counters).toMatchObject({ trades: 5, gaps: 0, missedTrades: 0, outOfOrder: 0 });
    } finally {
      other.close();
    }
  });

  it('frame bookkeeping: receipt time, onFrameEnd after each frame, frame/control counts, subscription counts', async () => {
    server = testServer();
    const port = await server.listen(0);
    const events: string[] = [];
    let receivedAt = 0;
    client = make(port, {
      onTrade: (t) => {
        events.push(`t${t.i}`);
        receivedAt = client!.frameReceivedAt;
      },
      onFrameEnd: () => events.push('end'),
    });
    expect(client.subscriptionCounts).toEqual({ wanted: 0, confirmed: 0 });
    client.subscribe(['AAPL', 'MSFT', 'NOPE']);
    await client.connect();
    await waitFor(() => client!.subscriptionCounts.confirmed === 3, 2000, 'subscription echo');
    expect(client.subscriptionCounts).toEqual({ wanted: 3, confirmed: 3 });
    await waitFor(() => events.filter((e) => e === 'end').length >= 8, 2000, 'frames');
    // connected + authenticated + subscription: control messages, one frame each
    expect(client.counters.control).toBe(3);
    expect(client.counters.frames).toBeGreaterThanOrEqual(events.filter((e) => e === 'end').length);
    // the replay sends AAPL and MSFT of one step in one frame: two trades, then its end
    const firstTrade = events.indexOf('t1');
    expect(events.slice(firstTrade, firstTrade + 3)).toEqual(['t1', 't2', 'end']);
    expect(receivedAt).toBeGreaterThan(0);
    expect(receivedAt).toBeLessThanOrEqual(performance.now());
    expect(client.lastMessageAgeMs()).toBeLessThan(1000);
    server.drop();
    await waitFor(() => client!.state === 'reconnecting', 2000, 'drop');
    expect(client.subscriptionCounts.confirmed).toBe(0); // nothing confirmed without a connection
  });

  it('staleness watchdog fires when nothing arrives', async () => {
    server = testServer();
    const port = await server.listen(0);
    let stale = 0;
    client = make(port, { staleMs: 40, onStale: () => stale++ });
    await client.connect(); // no subscription → silence
    expect(client.isStale).toBe(false);
    await waitFor(() => stale === 1, 2000, 'onStale');
    expect(client.isStale).toBe(true);
    expect(client.lastMessageAgeMs()).toBeGreaterThanOrEqual(40);
    await new Promise((r) => setTimeout(r, 100));
    expect(stale).toBe(1); // once per silence
    server.injectRaw('[]');
    await waitFor(() => !client!.isStale, 2000, 'fresh again');
    expect(client.lastMessageAgeMs()).toBeLessThan(40);
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

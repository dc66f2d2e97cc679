import { afterEach, describe, expect, it } from 'vitest';
import type { ReplayServer } from './server.js';
import { KEYS, RawClient, testServer, waitFor } from './test-kit.js';

describe('replay server protocol', () => {
  let server: ReplayServer;
  const clients: RawClient[] = [];
  const connect = async (path = '/v2/iex') => {
    const c = await RawClient.open(`ws://127.0.0.1:${port}${path}`);
    clients.push(c);
    expect(await c.next()).toEqual([{ T: 'success', msg: 'connected' }]);
    return c;
  };
  let port = 0;
  const start = async () => {
    server = testServer();
    port = await server.listen(0);
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
  });

  it('bad keys → error 402 and close', async () => {
    await start();
    const c = await connect();
    c.send({ action: 'auth', key: 'k1', secret: 'wrong' });
    expect(await c.next()).toEqual([{ T: 'error', code: 402, msg: 'auth failed' }]);
    await waitFor(() => c.closed, 2000, 'close');
  });

  it('subscribe before auth → 401; bad JSON → 400; double auth → 403', async () => {
    await start();
    const c = await connect('/v2/sip');
    c.send({ action: 'subscribe', trades: ['AAPL'] });
    expect(await c.next()).toEqual([{ T: 'error', code: 401, msg: 'not authenticated' }]);
    c.send('{not json');
    expect(await c.next()).toEqual([{ T: 'error', code: 400, msg: 'invalid syntax' }]);
    c.send({ action: 'auth', ...KEYS });
    expect(await c.next()).toEqual([{ T: 'success', msg: 'authenticated' }]);
    c.send({ action: 'auth', ...KEYS });
    expect(await c.next()).toEqual([{ T: 'error', code: 403, msg: 'already authenticated' }]);
    c.send({ action: 'frobnicate' });
    expect(await c.next()).toEqual([{ T: 'error', code: 400, msg: 'invalid syntax' }]);
  });

  it('subscribe echoes the subscription, streams trades with increasing ids, bars at path end; unsubscribe stops it', async () => {
    await start();
    const c = await connect();
    c.send({ action: 'auth', ...KEYS });
    await c.next();
    c.send({ action: 'subscribe', trades: ['AAPL', 'MSFT'], bars: ['AAPL'] });
    expect(await c.nextOf('subscription')).toEqual([{ T: 'subscription', trades: ['AAPL', 'MSFT'], quotes: [], bars: ['AAPL'] }]);
    const trades: Array<Record<string, unknown>> = [];
    const bars: Array<Record<string, unknown>> = [];
    while (bars.length === 0) {
      const f = (await c.next()) as Array<Record<string, unknown>>;
      for (const m of f) (m.T === 't' ? trades : bars).push(m);
    }
    expect(trades.map((t) => t.i)).toEqual(trades.map((_, k) => k + 1));
    const aapl = trades.filter((t) => t.S === 'AAPL');
    expect(aapl).toHaveLength(20);
    expect(aapl[0]).toMatchObject({ T: 't', S: 'AAPL', p: 100, x: 'V', z: 'C', t: '2025-01-17T15:00:00.000Z' });
    expect(aapl.at(-1)!.p).toBe(102);
    expect(aapl.reduce((s, t) => s + (t.s as number), 0)).toBe(100_000);
    expect(bars[0]).toMatchObject({ T: 'b', S: 'AAPL', o: 100, h: 105, l: 95, c: 102, v: 100_000, t: '2025-01-17T15:00:00.000Z' });

    c.send({ action: 'unsubscribe', trades: ['AAPL', 'MSFT'], bars: ['AAPL'] });
    expect(await c.nextOf('subscription')).toEqual([{ T: 'subscription', trades: [], quotes: [], bars: [] }]);
    c.frames.length = 0;
    await new Promise((r) => setTimeout(r, 60));
    expect(c.frames).toEqual([]);
  });

  it('quotes-only subscription streams quotes bracketing the path, no trades', async () => {
    await start();
    const c = await connect();
    c.send({ action: 'auth', ...KEYS });
    await c.next();
    c.send({ action: 'subscribe', quotes: ['MSFT'] });
    await c.nextOf('subscription');
    const q = await c.nextOf('q');
    expect(q[0]).toMatchObject({ T: 'q', S: 'MSFT', bp: 399.99, ap: 400.01, t: '2025-01-17T15:00:00.000Z' });
    const more = (await c.next()) as Array<Record<string, unknown>>;
    expect(more.every((m) => m.T === 'q')).toBe(true);
  });

  it('symbol limit → 405; unknown path → refused', async () => {
    server = testServer({ maxSymbols: 2 });
    port = await server.listen(0);
    const c = await connect();
    c.send({ action: 'auth', ...KEYS });
    await c.next();
    c.send({ action: 'subscribe', quotes: ['A', 'B', 'C'] });
    expect(await c.next()).toEqual([{ T: 'error', code: 405, msg: 'symbol limit exceeded' }]);
    await expect(RawClient.open(`ws://127.0.0.1:${port}/v1/nope`)).rejects.toThrow();
  });

  it('rate: trades/s in total across symbols, round-robin, ids 1, 2, 3…; onSent sees every frame', async () => {
    const sent: Array<Record<string, unknown>> = [];
    server = testServer({ rate: 1000, onSent: (msgs) => void sent.push(...(msgs as unknown as Array<Record<string, unknown>>)) });
    port = await server.listen(0);
    const c = await connect();
    c.send({ action: 'auth', ...KEYS });
    await c.next();
    c.send({ action: 'subscribe', trades: ['AAPL', 'MSFT'] });
    await c.nextOf('subscription');
    await new Promise((r) => setTimeout(r, 100));
    const trades = () => sent.filter((m) => m.T === 't');
    const n0 = trades().length;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 400));
    const n1 = trades().length;
    const rate = ((n1 - n0) * 1000) / (performance.now() - t0);
    expect(rate).toBeGreaterThan(800); // the schedule catches up after timer lateness
    expect(rate).toBeLessThan(1200);
    const ts = trades();
    expect(ts.map((m) => m.i)).toEqual(ts.map((_, k) => k + 1));
    expect(ts.slice(0, 6).map((m) => m.S)).toEqual(['AAPL', 'MSFT', 'AAPL', 'MSFT', 'AAPL', 'MSFT']);
    // what the client received is what onSent saw
    await waitFor(() => c.frames.flat().filter((m) => (m as { T: string }).T === 't').length >= ts.length, 2000, 'frames');
    const got = c.frames.flat().filter((m) => (m as { T: string }).T === 't');
    expect(got.slice(0, ts.length)).toEqual(ts);
  });
});

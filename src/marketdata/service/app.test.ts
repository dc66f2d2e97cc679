import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../../bus/index.js';
import { silentLogger } from '../../core/logger.js';
import type { Db } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
import { openPglite } from '../../db/pglite.js';
import type { PnlSnapshot } from '../../pnl/portfolio.js';
import type { ReplayServer } from '../replay/server.js';
import { KEYS, testServer, waitFor } from '../replay/test-kit.js';
import { buildMarketDataApp, type MarketDataApp } from './app.js';
import { seedPositions } from './test-helpers.js';

describe('kestrel serve marketdata (app)', () => {
  let db: Db;
  let bus: MemoryBus;
  let server: ReplayServer;
  let app: MarketDataApp;
  beforeAll(async () => {
    db = await openPglite(null);
    await migrate(db);
    await seedPositions(db, [
      ['AAPL', '10', '100', '0'],
      ['MSFT', '-5', '400', '2.5'],
    ]);
    bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
    server = testServer();
    const port = await server.listen(0);
    app = await buildMarketDataApp({ db, bus, clock: { now: () => new Date() }, logger: silentLogger(), feed: { url: `ws://127.0.0.1:${port}/v2/iex`, ...KEYS } });
  });
  afterAll(async () => {
    await app?.close();
    await server?.close();
    await bus?.close();
    await db?.close();
  });

  it('recomputes P&L once per feed frame, never behind the price cache; serves the client metrics on /metrics', async () => {
    const { client, cache, pnl } = app.marketdata;
    // Every computation must include every trade applied before it.
    const behind: string[] = [];
    pnl.onCompute((s: PnlSnapshot) => {
      for (const p of s.positions) if (p.mark !== null && Number(p.mark) !== Number(cache.get(p.symbol)?.price)) behind.push(`${p.symbol} ${p.mark}`);
    });
    await app.ready();
    await waitFor(() => client.counters.trades >= 40, 5000, 'trades');
    const computations = pnl.computations;
    const frames = client.counters.frames;
    await waitFor(() => client.counters.frames >= frames + 10, 5000, 'more frames');
    // One computation per frame with trades (both symbols come in one frame): not per trade.
    const frameDelta = client.counters.frames - frames;
    const computeDelta = pnl.computations - computations;
    expect(computeDelta).toBeGreaterThanOrEqual(frameDelta - 1);
    expect(computeDelta).toBeLessThanOrEqual(frameDelta + 2); // + a position reload
    expect(behind).toEqual([]);

    const snap = (await app.inject({ url: '/api/v1/pnl' })).json() as PnlSnapshot;
    expect(snap.missing_marks).toEqual([]);
    expect(snap.positions.map((p) => p.symbol)).toEqual(['AAPL', 'MSFT']);

    const text = (await app.inject({ url: '/metrics' })).body;
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(value(/kestrel_marketdata_messages_total\{[^}]*type="trade"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(40);
    expect(value(/kestrel_marketdata_feed_live\{[^}]*\} (\d+)/)).toBe(1);
    expect(value(/kestrel_marketdata_subscribed_symbols\{[^}]*source="confirmed"[^}]*\} (\d+)/)).toBe(2);
    expect(value(/kestrel_marketdata_sequence_gaps_total\{[^}]*\} (\d+)/)).toBe(0);
    expect(value(/kestrel_marketdata_pnl_computations_total\{[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(text).toMatch(/kestrel_marketdata_ticks_written_total\{[^}]*table="trades"/);
  });
});

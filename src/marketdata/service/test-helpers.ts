import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../../bus/index.js';
import { silentLogger } from '../../core/logger.js';
import type { Db, Queryable } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
import type { BarMsg, ServerMsg, TradeMsg } from '../protocol/messages.js';
import { KEYS, testServer, waitFor } from '../replay/test-kit.js';
import { buildMarketDataApp } from './app.js';
import { enableTimescale, TickStore } from './tick-store.js';
import type { Bar, Trade } from './types.js';

/** The TickStore tests, run on PGlite (tick-store.test.ts) and on the real Postgres (tick-store.int.test.ts). */
export function tickStoreSuite(name: string, open: () => Promise<{ db: Db; done: () => Promise<void> }>): void {
  describe(`TickStore on ${name}`, () => {
    let db: Db;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ db, done } = await open());
      await migrate(db);
    });
    afterAll(async () => {
      await db?.close();
      await done?.();
    });

    const readTrades = async (symbol: string) =>
      (await db.query<{ symbol: string; trade_id: number; price: string; size: string; ts: string }>('SELECT symbol, trade_id, price::text AS price, size::text AS size, ts FROM trades WHERE symbol = $1 ORDER BY ts, trade_id', [symbol])).rows.map(
        (r) => ({ symbol: r.symbol, id: Number(r.trade_id), price: r.price, size: r.size, ts: new Date(r.ts).toISOString() }),
      );

    it('stores exactly the ticks sent, in one statement per flush; duplicates are harmless', async () => {
      const store = new TickStore({ db, batchSize: 50, flushIntervalMs: 60_000 });
      const real = db.transaction.bind(db);
      let statements = 0;
      db.transaction = ((fn: (tx: Queryable) => Promise<unknown>) =>
        real((tx) =>
          fn({
            query: (sql, params) => {
              statements++;
              return tx.query(sql, params);
            },
            exec: (sql) => tx.exec(sql),
          }),
        )) as Db['transaction'];
      const sent: Trade[] = [];
      for (let i = 0; i < 120; i++) {
        sent.push({ symbol: 'EXA', id: 1_000_000_000_000 + i, price: `187.${String(i).padStart(4, '0')}`, size: i % 3 ? '0.5' : '100', ts: new Date(Date.UTC(2026, 10, 25, 14, 30, 0, i * 7)).toISOString() });
      }
      for (const t of sent) expect(store.addTrade(t)).toBe(true);
      await store.flush();
      // replay half of them (reconnect overlap) plus the same trade id at another instant (distinct row)
      for (const t of sent.slice(60)) store.addTrade(t);
      const sameIdLater: Trade = { ...sent[0]!, ts: '2026-11-25T15:00:00.000Z', price: '190' };
      store.addTrade(sameIdLater);
      await store.close();
      db.transaction = real;
      expect(statements).toBe(store.stats.flushes); // one multi-row INSERT per flush
      const rows = await readTrades('EXA');
      expect(rows).toEqual([...sent, sameIdLater]);
      expect(store.stats.tradesWritten).toBe(120 + 61);
      expect(store.stats.flushes).toBeLessThanOrEqual(5);
      expect(store.addTrade(sent[0]!)).toBe(false); // closed
    });

    it('stores bars and applies retention to both tables', async () => {
      const store = new TickStore({ db, flushIntervalMs: 60_000 });
      const now = new Date('2026-11-25T15:00:00.000Z');
      const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
      const bar = (t: string): Bar => ({ symbol: 'RET', t, o: '10.01', h: '10.5', l: '9.99', c: '10.2', v: '12345' });
      store.addBar(bar(daysAgo(40)));
      store.addBar(bar(daysAgo(10)));
      store.addBar(bar(daysAgo(10))); // duplicate
      store.addTrade({ symbol: 'RET', id: 1, price: '10', size: '1', ts: daysAgo(31) });
      store.addTrade({ symbol: 'RET', id: 2, price: '10', size: '1', ts: daysAgo(29) });
      await store.flush();
      const bars = await db.query<{ t: string; o: string; v: string }>("SELECT t, o::text AS o, v::text AS v FROM bars_1m WHERE symbol = 'RET' ORDER BY t");
      expect(bars.rows.map((r) => [new Date(r.t).toISOString(), r.o, r.v])).toEqual([
        [daysAgo(40), '10.01', '12345'],
        [daysAgo(10), '10.01', '12345'],
      ]);
      expect(await store.deleteOlderThan(30, now)).toEqual({ trades: 1, bars: 1 });
      expect((await readTrades('RET')).map((t) => t.id)).toEqual([2]);
      expect((await db.query("SELECT 1 FROM bars_1m WHERE symbol = 'RET'")).rows).toHaveLength(1);
      await store.close();
    });

    it('flushes on the interval, bounds the buffer, and keeps rows of a failed flush for the retry', async () => {
      const store = new TickStore({ db, batchSize: 2, maxBuffered: 3, flushIntervalMs: 20 });
      const real = db.transaction.bind(db);
      let fail = true;
      db.transaction = (async (fn) => {
        if (fail) throw Object.assign(new Error('connect ECONNREFUSED (db down)'), { code: 'ECONNREFUSED' });
        return real(fn);
      }) as Db['transaction'];
      try {
        const t = (id: number): Trade => ({ symbol: 'BUF', id, price: '1', size: '1', ts: '2026-11-25T14:00:00.000Z' });
        store.addTrade(t(1));
        await expect(store.flush()).rejects.toThrow(/db down/);
        expect(store.buffered).toBe(1);
        store.addTrade(t(2));
        store.addTrade(t(3));
        expect(store.addTrade(t(4))).toBe(false); // full
        expect(store.stats.dropped).toBeGreaterThanOrEqual(1);
        fail = false;
        const deadline = Date.now() + 5000;
        while (store.buffered > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(store.buffered).toBe(0);
        await store.flush();
        expect((await readTrades('BUF')).map((x) => x.id)).toEqual([1, 2, 3]);
      } finally {
        db.transaction = real;
        await store.close();
      }
    });

    it('refuses malformed rows at the door and drops (does not retry) a batch the database rejects', async () => {
      const store = new TickStore({ db, flushIntervalMs: 60_000 });
      expect(store.addTrade({ symbol: 'BAD', id: 1, price: 'abc', size: '1', ts: '2026-11-25T14:00:00.000Z' })).toBe(false);
      expect(store.addTrade({ symbol: 'BAD', id: 1, price: '1', size: '1', ts: 'yesterday' })).toBe(false);
      expect(store.addBar({ symbol: 'BAD', t: '2026-11-25T14:00:00.000Z', o: '1', h: '1', l: '1', c: '1', v: 'x' })).toBe(false);
      expect(store.stats.dropped).toBe(3);
      // passes the shape check, violates CHECK (price > 0): a poison batch must not block later ones
      expect(store.addTrade({ symbol: 'BAD', id: 2, price: '-1', size: '1', ts: '2026-11-25T14:00:00.000Z' })).toBe(true);
      await expect(store.flush()).rejects.toThrow();
      expect(store.buffered).toBe(0);
      expect(store.stats.rejected).toBe(1);
      store.addTrade({ symbol: 'BAD', id: 3, price: '1', size: '1', ts: '2026-11-25T14:00:00.000Z' });
      await store.flush();
      expect((await readTrades('BAD')).map((t) => t.id)).toEqual([3]);
      await store.close();
    });

    it('a slow database: adds while a flush is in flight fold into one queued flush, not one per row', async () => {
      const store = new TickStore({ db, batchSize: 10, flushIntervalMs: 60_000 });
      const real = db.transaction.bind(db);
      let release: () => void = () => {};
      const hung = new Promise<void>((r) => (release = r));
      let transactions = 0;
      let next = 1000;
      const t = (id: number): Trade => ({ symbol: 'SLOW', id, price: '1', size: '1', ts: '2026-11-25T14:00:00.000Z' });
      db.transaction = (async (fn: (tx: Queryable) => Promise<unknown>) => {
        if (++transactions === 1) await hung;
        store.addTrade(t(next++)); // rows keep arriving during every write
        return real(fn);
      }) as Db['transaction'];
      try {
        for (let i = 0; i < 10; i++) store.addTrade(t(i)); // batch full → flush, which hangs
        await waitFor(() => transactions === 1, 2000, 'first flush');
        for (let i = 10; i < 200; i++) store.addTrade(t(i));
        release();
        await waitFor(() => transactions >= 2, 2000, 'second flush');
        await new Promise((r) => setTimeout(r, 100));
        // one queued flush took the 190 rows; a flush per add would be ~190 transactions
        expect(transactions).toBeLessThanOrEqual(3);
      } finally {
        db.transaction = real;
        await store.close();
      }
      expect((await readTrades('SLOW')).length).toBe(200 + transactions);
    });

    it('text values survive the array literals: quotes, backslashes, commas, braces, NULL', async () => {
      const store = new TickStore({ db, flushIntervalMs: 60_000 });
      const symbols = ['NULL', 'A,B', 'Q"X', 'B\\S', '{C}', ' SP '];
      symbols.forEach((symbol, k) => store.addTrade({ symbol, id: k + 1, price: '1.5', size: '2', ts: '2026-11-25T14:00:00.000Z' }));
      store.addBar({ symbol: 'Q"X', t: '2026-11-25T14:00:00.000Z', o: '1', h: '2', l: '0.5', c: '1.5', v: '10' });
      await store.close();
      for (const symbol of symbols) expect((await readTrades(symbol)).map((r) => r.symbol)).toEqual([symbol]);
      expect((await db.query('SELECT 1 FROM bars_1m WHERE symbol = $1', ['Q"X'])).rows).toHaveLength(1);
    });

    it('end to end through the client: replay server → MarketDataClient → TickStore stores exactly the trades sent, none lost', async () => {
      // A clock that moves 1 ms per reading: distinct timestamps, so a wrong ts cannot pass.
      let ms = Date.parse('2026-11-25T15:00:00.000Z');
      const sent: ServerMsg[] = [];
      const server = testServer({ clock: { now: () => new Date(ms++) }, rate: 2000, onSent: (msgs) => void sent.push(...msgs) });
      const port = await server.listen(0);
      await seedPositions(db, [
        ['AAPL', '10', '100', '0'],
        ['MSFT', '-5', '400', '0'],
      ]);
      const bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
      const app = await buildMarketDataApp({ db, bus, clock: { now: () => new Date() }, logger: silentLogger(), feed: { url: `ws://127.0.0.1:${port}/v2/iex`, ...KEYS } });
      try {
        await app.ready(); // subscribes to the symbols with positions
        const { client } = app.marketdata;
        await waitFor(() => client.counters.trades >= 600, 5000, 'trades');
        // Once the server echoes the empty subscription, every trade it sent has arrived.
        client.unsubscribe(['AAPL', 'MSFT']);
        await waitFor(() => client.subscriptionCounts.confirmed === 0, 2000, 'unsubscribe echo');
        await app.close(); // flushes the tick store
        const trades = sent.filter((m): m is TradeMsg => m.T === 't');
        expect(trades.map((m) => m.i)).toEqual(trades.map((_, k) => k + 1)); // the server's sequence
        expect(client.counters).toMatchObject({ trades: trades.length, gaps: 0, missedTrades: 0, outOfOrder: 0, malformed: 0 });
        const stored = [...(await readTrades('AAPL')), ...(await readTrades('MSFT'))].sort((a, b) => a.id - b.id);
        expect(stored).toEqual(trades.map((m) => ({ symbol: m.S, id: m.i, price: String(m.p), size: String(m.s), ts: m.t })));
        // bars_1m keeps the first bar of each (symbol, minute)
        const bars = sent.filter((m): m is BarMsg => m.T === 'b');
        expect(bars.length).toBeGreaterThan(0);
        const first = new Map<string, BarMsg>();
        for (const b of bars) if (!first.has(`${b.S} ${b.t}`)) first.set(`${b.S} ${b.t}`, b);
        const storedBars = await db.query<{ symbol: string; t: string; o: string; h: string; l: string; c: string; v: string }>(
          "SELECT symbol, t, o::text AS o, h::text AS h, l::text AS l, c::text AS c, v::text AS v FROM bars_1m WHERE symbol IN ('AAPL', 'MSFT') ORDER BY symbol, t",
        );
        expect(storedBars.rows.map((r) => ({ ...r, t: new Date(r.t).toISOString() }))).toEqual(
          [...first.values()].sort((a, b) => (a.S + a.t < b.S + b.t ? -1 : 1)).map((b) => ({ symbol: b.S, t: b.t, o: String(b.o), h: String(b.h), l: String(b.l), c: String(b.c), v: String(b.v) })),
        );
      } finally {
        await app.close();
        await bus.close();
        await server.close();
      }
    });

    it('enableTimescale is a no-op without the extension (the plain tables run)', async () => {
      const avail = await db.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'");
      expect(await enableTimescale(db)).toBe(avail.rows.length > 0);
    });
  });
}

/** Replaces the rows of `positions` (migrated db). */
export async function seedPositions(db: Db, rows: Array<[symbol: string, qty: string, avg: string, realized: string]>): Promise<void> {
  await db.query('DELETE FROM positions');
  for (const [symbol, qty, avg, realized] of rows) {
    await db.query('INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at) VALUES ($1, $2, $3, $2::numeric * $3::numeric, $4, now())', [symbol, qty, avg, realized]);
  }
}

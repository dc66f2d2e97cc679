import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../bus/memory.js';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { dec } from '../core/money.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import type { BrokerAccount } from '../execution/broker.js';
import { staticCorrelations } from './correlation.js';
import { brokerEquitySource, busPriceSource, DayStartStore, MapPriceSource, parsePriceEntry, PgRiskStateProvider, StaticEquitySource } from './provider.js';
import { busStateStore } from './state-store.js';

let db: Db;
const clock = fixedClock('2025-03-04T15:00:00Z');
beforeAll(async () => {
  db = await openPglite(null);
  await migrate(db);
  await db.exec(`
    INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, updated_at) VALUES
      ('AAA', 100, 10, 1000, now()), ('BBB', -20, 50, -1000, now()), ('FLAT', 0, 0, 0, now());
    INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, limit_price, time_in_force, trade_date, status, filled_qty, created_at, updated_at) VALUES
      ('o1', 's', 'AAA', 'buy', 50, 'limit', 9.5, 'day', '2025-03-04', 'partially_filled', 20, now(), now()),
      ('o2', 's', 'CCC', 'sell', 10, 'market', NULL, 'day', '2025-03-04', 'pending_new', 0, now(), now()),
      ('o3', 's', 'AAA', 'sell', 10, 'market', NULL, 'day', '2025-03-04', 'filled', 10, now(), now()),
      ('o4', 's', 'DDD', 'buy', 10, 'market', NULL, 'day', '2025-03-04', 'canceled', 0, now(), now());
  `);
});
afterAll(async () => {
  await db.close();
});

describe('PgRiskStateProvider', () => {
  it("reads the gateway's positions and open orders, prices for every symbol involved, equity, start of day, correlations", async () => {
    const prices = new MapPriceSource();
    prices.set('AAA', '11', clock.now());
    prices.set('ZZZ', '5', clock.now());
    const asked: string[][] = [];
    const corr = staticCorrelations({ AAA: { BBB: 0.9 } }, '2025-03-03');
    const provider = new PgRiskStateProvider({
      db,
      clock,
      prices,
      equity: new StaticEquitySource({ equity: dec('100000'), buyingPower: dec('200000') }),
      correlations: { lookup: async (symbols) => (asked.push([...symbols].sort()), corr) },
      correlation: { enabled: true },
    });
    const ctx = await provider.snapshot({ symbol: 'ZZZ' });
    expect(ctx.tradeDate).toBe('2025-03-04');
    expect([...ctx.positions].map(([s, p]) => [s, p.qty.toFixed(), p.avgPrice.toFixed()])).toEqual([
      ['AAA', '100', '10'],
      ['BBB', '-20', '50'],
    ]);
    expect(ctx.openOrders.map((o) => [o.symbol, o.side, o.remaining.toFixed(), o.limitPrice?.toFixed() ?? null])).toEqual([
      ['AAA', 'buy', '30', '9.5'],
      ['CCC', 'sell', '10', null],
    ]);
    expect(ctx.pending.get('AAA')!.buy.toFixed()).toBe('30');
    expect([...ctx.prices.keys()]).toEqual(['AAA', 'ZZZ']);
    expect(asked).toEqual([['AAA', 'BBB', 'CCC', 'ZZZ']]);
    expect(ctx.correlations?.corr('BBB', 'AAA')).toBe(0.9);
    expect(ctx.equity!.toFixed()).toBe('100000');
    expect(ctx.buyingPower!.toFixed()).toBe('200000');
    // The first snapshot of the day records the start-of-day equity; later ones keep it.
    expect(ctx.startOfDayEquity!.toFixed()).toBe('100000');
    const later = new PgRiskStateProvider({ db, clock, prices, equity: new StaticEquitySource({ equity: dec('90000'), buyingPower: null }), correlation: { enabled: false } });
    const ctx2 = await later.snapshot();
    expect(ctx2.startOfDayEquity!.toFixed()).toBe('100000');
    expect(ctx2.correlations).toBeNull();
    const rows = await db.query<{ trade_date: string; equity: string; source: string }>('SELECT trade_date, equity, source FROM risk_day_start');
    expect(rows.rows).toEqual([{ trade_date: '2025-03-04', equity: '100000', source: 'first_snapshot' }]);
  });

  it('unknown equity stays unknown (no start of day recorded); failing correlations become null', async () => {
    const provider = new PgRiskStateProvider({
      db,
      clock,
      prices: new MapPriceSource(),
      equity: new StaticEquitySource({ equity: null, buyingPower: null }),
      correlations: { lookup: async () => Promise.reject(new Error('no data')) },
      correlation: { enabled: true },
    });
    const ctx = await provider.snapshot({ tradeDate: '2025-03-05' });
    expect(ctx.equity).toBeNull();
    expect(ctx.startOfDayEquity).toBeNull();
    expect(ctx.correlations).toBeNull();
    // recordDayStart (e.g. at the open) wins over the first snapshot; the first record stays.
    await provider.recordDayStart('2025-03-05', dec('123456.78'), 'open');
    await provider.recordDayStart('2025-03-05', dec('1'), 'later');
    expect(await new DayStartStore(db, clock).get('2025-03-05')).toEqual(dec('123456.78'));
  });

  it('keeps the start-of-day equity per broker account: a new account starts its own day', async () => {
    const eq = new StaticEquitySource({ equity: dec('1000000'), buyingPower: null, account: 'acct-old' });
    const provider = new PgRiskStateProvider({ db, clock, prices: new MapPriceSource(), equity: eq, correlation: { enabled: false } });
    expect((await provider.snapshot({ tradeDate: '2025-03-06' })).startOfDayEquity!.toFixed()).toBe('1000000');
    // The simulator restarts with other cash: a new account id, its own reference (not a 90 % "loss").
    eq.snap = { equity: dec('100000'), buyingPower: null, account: 'acct-new' };
    expect((await provider.snapshot({ tradeDate: '2025-03-06' })).startOfDayEquity!.toFixed()).toBe('100000');
    // The same account keeps its first value; recordDayStart defaults to the last snapshot's account.
    eq.snap = { equity: dec('90000'), buyingPower: null, account: 'acct-new' };
    expect((await provider.snapshot({ tradeDate: '2025-03-06' })).startOfDayEquity!.toFixed()).toBe('100000');
    await provider.recordDayStart('2025-03-07', dec('95000'), 'open');
    const rows = await db.query<{ account: string; equity: string }>("SELECT account, equity::text AS equity FROM risk_day_start WHERE trade_date >= '2025-03-06' ORDER BY trade_date, account");
    expect(rows.rows).toEqual([
      { account: 'acct-new', equity: '100000' },
      { account: 'acct-old', equity: '1000000' },
      { account: 'acct-new', equity: '95000' },
    ]);
  });

  it('reads prices with the positions for the symbols the last snapshot held; a symbol new to the book is read after, and priced', async () => {
    const map = new MapPriceSource();
    for (const [s, p] of [['AAA', '11'], ['BBB', '49'], ['CCC', '7'], ['EEE', '3'], ['GONE', '1']] as const) map.set(s, p, clock.now());
    const calls: string[][] = [];
    const prices = { prices: (symbols: readonly string[]) => (calls.push([...symbols].sort()), map.prices(symbols)) };
    const provider = new PgRiskStateProvider({ db, clock, prices, equity: new StaticEquitySource({ equity: dec('100000'), buyingPower: null }), correlation: { enabled: false } });
    await provider.snapshot({ symbols: ['GONE'] });
    // First snapshot: nothing known yet, so only the asked symbol is read ahead; the book's after.
    expect(calls).toEqual([['GONE'], ['AAA', 'BBB', 'CCC']]);
    calls.length = 0;
    await db.exec(`INSERT INTO positions (symbol, qty, avg_entry_price, cost_basis, updated_at) VALUES ('EEE', 5, 3, 15, now())`);
    try {
      const ctx = await provider.snapshot({ symbols: ['AAA'] });
      // Read ahead: last snapshot's symbols (GONE included) + the asked one; after: only EEE.
      expect(calls).toEqual([['AAA', 'BBB', 'CCC', 'GONE'], ['EEE']]);
      // Priced: exactly the snapshot's symbols (GONE, no longer involved, is left out).
      expect([...ctx.prices.keys()].sort()).toEqual(['AAA', 'BBB', 'CCC', 'EEE']);
      expect(ctx.prices.get('EEE')!.price.toFixed()).toBe('3');
    } finally {
      await db.exec(`DELETE FROM positions WHERE symbol = 'EEE'`);
    }
  });
});

describe('price and equity sources', () => {
  it('busPriceSource reads price:{symbol} JSON in one MGET; malformed entries are missing', async () => {
    const bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
    await bus.setJson('price:AAA', { price: '12.34', size: 100, ts: '2025-03-04T14:59:00Z' });
    await bus.setJson('price:BBB', { price: 56.5, size: 1, ts: 1741100340000 });
    await bus.set('price:CCC', 'not json');
    await bus.setJson('price:DDD', { price: 'abc', ts: 1 });
    const m = await busPriceSource(bus).prices(['AAA', 'BBB', 'CCC', 'DDD', 'EEE']);
    expect([...m].map(([s, p]) => [s, p.price.toFixed(), p.ts])).toEqual([
      ['AAA', '12.34', Date.parse('2025-03-04T14:59:00Z')],
      ['BBB', '56.5', 1741100340000],
    ]);
    expect(parsePriceEntry('{"price":"1","ts":"nope"}')).toBeNull();
    // The same bus carries the breaker state (in-process CAS).
    const store = busStateStore(bus);
    expect(await Promise.all([store.compareAndSet('k', null, 'a'), store.compareAndSet('k', null, 'b')])).toEqual([true, false]);
    expect(await store.get('k')).toBe('a');
    await bus.close();
  });

  it('brokerEquitySource caches the account briefly and turns a failure into unknown', async () => {
    let calls = 0;
    let fail = false;
    const account = { equity: '100000.5', buying_power: '200001' } as BrokerAccount;
    const broker = {
      getAccount: async () => {
        calls++;
        if (fail) throw new Error('503');
        return account;
      },
    };
    const c = fixedClock('2025-03-04T15:00:00Z');
    const src = brokerEquitySource(broker, { clock: c, ttlMs: 1000 });
    const [a, b] = await Promise.all([src.equity(), src.equity()]);
    expect(calls).toBe(1);
    expect(a.equity!.toFixed()).toBe('100000.5');
    expect(b.buyingPower!.toFixed()).toBe('200001');
    c.advance(1000);
    fail = true;
    expect(await src.equity()).toEqual({ equity: null, buyingPower: null });
    expect(calls).toBe(2);
  });
});

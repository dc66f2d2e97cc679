import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerSim, type RunningBrokerSim } from '../broker-sim/serve.js';
import { StaticPrices } from '../broker-sim/prices.js';
import { parseActionsCsv } from '../data/corporate-actions.js';
import { parseBarFiles } from '../data/csv-bars.js';
import { BrokerUnavailableError } from '../execution/broker.js';
import { AlpacaBroker } from '../execution/brokers/alpaca.js';
import { parseServerFrame } from '../marketdata/protocol/messages.js';
import { SubscriptionManager } from '../marketdata/service/subscriptions.js';
import { liveMarkOf } from '../pnl/marks.js';
import { loadRiskConfig } from '../risk/config.js';
import { brokerEquitySource, parsePriceEntry } from '../risk/provider.js';
import { systemClock } from '../core/clock.js';

/**
 * Issue #14: every decimal and ticker that enters Kestrel goes through the one parser — not
 * only HTTP bodies but broker answers, Redis values, the market-data feed, CSV files and the
 * risk config. A value out of range is refused (or read as missing), never expanded or stored.
 */
const HUGE = '1e1000000000';

describe('Redis values (price:{symbol})', () => {
  it('risk and P&L read a hostile cache value as missing, in microseconds', () => {
    const now = new Date('2025-01-17T15:00:00Z');
    const t = performance.now();
    for (const price of [HUGE, '1e10000000', '-5', '0', '1e-400', ' 100', 'NaN', 1e300]) {
      const raw = JSON.stringify({ price, size: '1', ts: now.toISOString() });
      expect(parsePriceEntry(raw), String(price)).toBeNull();
      expect(liveMarkOf('AAPL', raw, { now, maxAgeMs: 60_000 }).state, String(price)).toBe('missing');
    }
    expect(parsePriceEntry('null')).toBeNull();
    expect(performance.now() - t).toBeLessThan(50);
    expect(parsePriceEntry(JSON.stringify({ price: '187.25', ts: now.toISOString() }))?.price.toString()).toBe('187.25');
  });
});

describe('broker answers', () => {
  let server: Server;
  let body = '{}';
  let url = '';
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const account = (over: Record<string, unknown>) => JSON.stringify({ id: 'a', status: 'ACTIVE', currency: 'USD', cash: '1', equity: '1', buying_power: '1', portfolio_value: '1', long_market_value: '0', short_market_value: '0', ...over });

  it('a decimal out of range is a bad answer (unavailable), never a number we compute with', async () => {
    const broker = new AlpacaBroker({ keyId: 'k', secretKey: 's', baseUrl: url, timeoutMs: 2_000 });
    for (const equity of [HUGE, '-1e10000000', '1e-400', 'lots', 1e300]) {
      body = account({ equity });
      const e = await broker.getAccount().catch((x: unknown) => x);
      expect(e, String(equity)).toBeInstanceOf(BrokerUnavailableError);
      expect((e as Error).message).toMatch(/unexpected account response: equity/);
    }
    body = account({ equity: 100000.5, cash: '99999.123456789' });
    expect(await broker.getAccount()).toMatchObject({ equity: '100000.5', cash: '99999.123456789' });
    // Risk's equity source: the bad answer reads as unknown (fail closed), not as a crash.
    body = account({ equity: HUGE });
    expect(await brokerEquitySource(broker, { clock: systemClock, ttlMs: 0 }).equity()).toEqual({ equity: null, buyingPower: null });
  });
});

describe('the simulated broker', () => {
  let sim: RunningBrokerSim;
  beforeAll(async () => {
    sim = await startBrokerSim({ prices: { AAPL: '100', MSFT: '100' } });
  });
  afterAll(() => sim?.close());
  const post = (path: string, payload: unknown) => fetch(sim.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', 'APCA-API-KEY-ID': 'k', 'APCA-API-SECRET-KEY': 's' }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  it('refuses what the gateway refuses: Unicode tickers, runaway exponents, wrong types; nothing is recorded', async () => {
    const base = { side: 'buy', type: 'market', time_in_force: 'day', qty: '1', symbol: 'AAPL' };
    for (const over of [{ symbol: 'MſFT' }, { symbol: '\u00a0MSFT' }, { symbol: 'MSFT ' }, { qty: HUGE }, { qty: '1e10' }, { type: 'limit', limit_price: HUGE }, { type: 'limit', limit_price: '1e-12' }]) {
      const r = await post('/v2/orders', { ...base, ...over });
      expect(r.status, JSON.stringify(over)).toBe(422);
    }
    expect((await post('/v2/orders', '{"symbol":"AAPL","side":"buy","type":"market","time_in_force":"day","qty":1e1000000000}')).status).toBe(422);
    expect((await post('/v2/orders', { ...base, side: ['buy'] })).status).toBe(422);
    expect(sim.sim.listOrders({ status: 'all' })).toHaveLength(0);
    // Alpaca takes decimals as JSON numbers too: read through their text.
    expect((await post('/v2/orders', { ...base, symbol: 'msft', qty: 2 })).status).toBe(200);
    expect(sim.sim.listOrders({ status: 'all' })).toMatchObject([{ symbol: 'MSFT', qty: '2' }]);
  });

  it('admin prices go through the same rules; a bad entry changes nothing', async () => {
    for (const prices of [{ AAPL: HUGE }, { AAPL: '-1' }, { MSFT: '101', 'MſFT': '100' }, { AAPL: '1e-12' }]) {
      expect((await post('/admin/prices', { prices })).status, JSON.stringify(prices)).toBe(422);
    }
    expect((await post('/admin/prices', { prices: { AAPL: 100 } })).status).toBe(400); // a number is not coerced
    expect(sim.sim.price('MSFT')).toBe('100');
    expect(sim.sim.price('AAPL')).toBe('100');
    expect(() => new StaticPrices({ AAPL: HUGE })).toThrow(/out of range/);
    expect(() => new StaticPrices({ 'ıbm': '1' })).toThrow(/not a ticker/);
  });
});

describe('the market-data feed', () => {
  it('trades with a price out of range are malformed, not prices', () => {
    const trade = (p: string, S = 'AAPL') => `[{"T":"t","S":"${S}","i":1,"x":"V","p":${p},"s":1,"t":"2025-01-17T15:00:00Z","c":[],"z":"C"}]`;
    expect(parseServerFrame(trade('187.25')).messages).toHaveLength(1);
    for (const p of ['1e1000000000', '1e9', '-1', '0']) expect(parseServerFrame(trade(p)), p).toMatchObject({ messages: [], malformed: 1 });
  });

  it('subscriptions follow only canonical tickers from the database', async () => {
    const calls: string[][] = [];
    const m = new SubscriptionManager({ target: { subscribe: (s) => calls.push(s), unsubscribe: () => {} }, positionSymbols: () => ['AAPL', 'MſFT', ' IBM', 'msft'], signalSymbols: () => ['ﬀ'] });
    await m.refresh();
    expect(calls).toEqual([['AAPL', 'MSFT']]);
  });
});

describe('files: CSV bars, corporate actions, risk config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kestrel-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('CSV: vendor share classes become BRK.B; Unicode tickers and out-of-range numbers are reported lines', () => {
    const f = join(dir, 'bars.csv');
    writeFileSync(
      f,
      [
        'date,symbol,open,high,low,close,volume',
        '2025-01-16,BRK-B,1,2,0.5,1.5,100',
        '2025-01-16,brk/b,1,2,0.5,1.5,100',
        '2025-01-16,MſFT,1,2,0.5,1.5,100',
        '2025-01-16,\u00a0IBM,1,2,0.5,1.5,100',
        `2025-01-16,AAPL,1,2,0.5,${HUGE},100`,
        '2025-01-16,AAPL,1,2,0.5,1e300,100',
      ].join('\n'),
    );
    const p = parseBarFiles([f]);
    expect([...p.series.keys()]).toEqual(['BRK.B']);
    expect(p.issues.map((i) => i.detail)).toEqual(['symbol "MſFT" is not a ticker (a letter, then up to 9 of A-Z 0-9, optionally a class: BRK.B or BRK-B)', 'symbol "\u00a0IBM" is not a ticker (a letter, then up to 9 of A-Z 0-9, optionally a class: BRK.B or BRK-B)', `close "${HUGE}" is out of range`, 'close "1e300" is out of range']);
  });

  it('corporate actions: the same ticker grammar', () => {
    expect(parseActionsCsv('symbol,ex_date,type,value\nBF-B,2025-01-16,dividend,0.2\n', 'a.csv').map((a) => a.symbol)).toEqual(['BF.B']);
    expect(() => parseActionsCsv('symbol,ex_date,type,value\nıbm,2025-01-16,dividend,0.2\n', 'a.csv')).toThrow(/bad symbol "ıbm"/);
  });

  it('risk config: money through the bounded parser, tickers through the one grammar', () => {
    const file = join(dir, 'risk.json');
    writeFileSync(file, JSON.stringify({ limits: { max_order_notional: HUGE } }));
    expect(() => loadRiskConfig({ file })).toThrow(/max_order_notional: is out of range/);
    expect(() => loadRiskConfig({ env: { RISK_RESTRICTED_SYMBOLS: 'AAPL,\u00a0GME' } })).toThrow(/restricted_symbols\.1/);
  });
});

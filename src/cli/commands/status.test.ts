import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../../bus/memory.js';
import { silentLogger } from '../../core/logger.js';
import { bar, etl, tempDir, writeBarsCsv } from '../../data/test-helpers.js';
import { collectStatus, renderStatus } from './status.js';
import { fakeGateway, statusConfig, type FakeGateway } from './test-helpers.js';

// Friday 2025-01-17, 10:00 New York.
const now = new Date('2025-01-17T15:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

const POSITIONS = [
  { symbol: 'AAPL', qty: '10', avg_entry_price: '180', realized_pnl: '1.5' }, // fresh live mark
  { symbol: 'MSFT', qty: '-2', avg_entry_price: '400', realized_pnl: '0' }, // stale mark of the close's own session: close wins
  { symbol: 'XOM', qty: '5', avg_entry_price: '100', realized_pnl: '0' }, // no live mark: close
  { symbol: 'GOOG', qty: '3', avg_entry_price: '90', realized_pnl: '0' }, // stale mark of today, no close: used, labelled
  { symbol: 'NVDA', qty: '1', avg_entry_price: '50', realized_pnl: '0' }, // nothing at all
  { symbol: 'TSLA', qty: '0', avg_entry_price: '0', realized_pnl: '4' }, // flat: realized only, not listed
];

describe('kestrel status: marks', () => {
  const tmp = tempDir('kestrel-status-');
  let gw: FakeGateway;
  const buses: MemoryBus[] = [];

  beforeAll(async () => {
    const csv = writeBarsCsv(join(tmp.dir, 'bars.csv'), [
      bar('AAPL', '2025-01-15', 185.5),
      bar('AAPL', '2025-01-16', 187.25),
      bar('MSFT', '2025-01-16', 401.5),
      bar('XOM', '2025-01-15', 105.3),
    ]);
    await etl(csv, join(tmp.dir, 'data'));
    gw = await fakeGateway(POSITIONS, '1000');
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(buses.map((b) => b.close()));
    tmp.cleanup();
  });

  async function priceCache(): Promise<MemoryBus> {
    const b = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
    buses.push(b);
    await b.setJson('price:AAPL', { price: '190.50', size: 100, ts: ago(3_000) });
    await b.setJson('price:MSFT', { price: '399', size: 10, ts: '2025-01-16T20:30:00.000Z' });
    await b.setJson('price:GOOG', { price: '95', size: 5, ts: '2025-01-17T14:50:00.000Z' });
    return b;
  }

  it('values positions at fresh live marks, else at the last close, and says which (JSON and text)', async () => {
    const config = await statusConfig(tmp.dir, gw.port);
    const r = await collectStatus(config, now, { bus: await priceCache() });

    expect(r.pnl).toMatchObject({ source: `live (gateway http://127.0.0.1:${gw.port})` });
    expect(r.pnl!.marks).toEqual({
      max_age_ms: 60_000,
      live: 1,
      stale: 1,
      close: 2,
      none: 1,
      oldest_stale_ts: '2025-01-17T14:50:00.000Z',
      close_dates: ['2025-01-15', '2025-01-16'],
      feed: 'price cache (injected)',
      closes: `bars_raw in ${join(tmp.dir, 'data')}`,
    });
    const by = Object.fromEntries(r.positions.map((p) => [p.symbol, p]));
    expect(Object.keys(by)).toEqual(['AAPL', 'MSFT', 'XOM', 'GOOG', 'NVDA']);
    expect(by.AAPL).toEqual({ symbol: 'AAPL', qty: '10', avg_entry_price: '180', mark: '190.5', mark_source: 'live', mark_ts: ago(3_000), mark_age_ms: 3_000, mark_stale: false, live_mark: 'fresh', unrealized_pnl: '105', realized_pnl: '1.5' });
    // The stale 399 is not used: the 2025-01-16 close (401.5) is from the same session and official.
    expect(by.MSFT).toMatchObject({ mark: '401.5', mark_source: 'close', mark_ts: '2025-01-16T21:00:00.000Z', mark_stale: false, live_mark: 'stale', unrealized_pnl: '-3' });
    expect(by.XOM).toMatchObject({ mark: '105.3', mark_source: 'close', mark_ts: '2025-01-15T21:00:00.000Z', live_mark: 'missing', unrealized_pnl: '26.5' });
    expect(by.GOOG).toMatchObject({ mark: '95', mark_source: 'live', mark_stale: true, live_mark: 'stale', mark_age_ms: 600_000, unrealized_pnl: '15' });
    expect(by.NVDA).toMatchObject({ mark: null, mark_source: null, live_mark: 'missing', unrealized_pnl: null });
    // unrealized 105 − 3 + 26.5 + 15 + 0; realized 1.5 + 4; market value 1905 − 803 + 526.5 + 285 + 50
    expect(r.pnl).toMatchObject({ unrealized_pnl: '143.5', realized_pnl: '5.5', total_pnl: '149', equity: '2963.5' });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);

    const text = renderStatus(r, false);
    expect(text).toContain(
      'marks: 1 live (≤ 60 s), 1 stale (oldest 2025-01-17T14:50:00.000Z), 2 from close (2025-01-15, 2025-01-16), 1 none (valued at entry) — price cache (injected)',
    );
    const row = (sym: string) => text.split('\n').find((l) => l.startsWith(`${sym} `)) ?? '';
    expect(row('AAPL')).toMatch(/190\.5\s+live 3 s\s+105\.00/);
    expect(row('MSFT')).toMatch(/401\.5\s+close 2025-01-16\s+-3\.00/);
    expect(row('XOM')).toMatch(/105\.3\s+close 2025-01-15\s+26\.50/);
    expect(row('GOOG')).toMatch(/95\s+stale 10 min\s+15\.00/);
    expect(row('NVDA')).toMatch(/NULL\s+-\s+-/);
  });

  it('the max age comes from MARKS_MAX_AGE_MS', async () => {
    const config = await statusConfig(tmp.dir, gw.port, { MARKS_MAX_AGE_MS: '1000' });
    const r = await collectStatus(config, now, { bus: await priceCache() });
    // 3 s old at a 1 s limit: stale, but from today's session, so still newer than the 2025-01-16 close.
    expect(r.positions.find((p) => p.symbol === 'AAPL')).toMatchObject({ mark: '190.5', mark_source: 'live', mark_stale: true, live_mark: 'stale' });
    expect(r.pnl!.marks).toMatchObject({ max_age_ms: 1_000, live: 0, stale: 2, close: 2, none: 1 });
    expect(renderStatus(r, false)).toContain('marks: 2 stale (oldest 2025-01-17T14:50:00.000Z), 2 from close');
  });

  it('without a price cache or stored data every position is at entry, and the report says why', async () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const config = await statusConfig(empty, gw.port);
    const r = await collectStatus(config, now, { bus: null });
    expect(r.pnl!.marks).toMatchObject({ live: 0, stale: 0, close: 0, none: 5, feed: 'none' });
    expect(r.pnl!.marks!.closes).toMatch(/^none: no data in .*empty/);
    expect(r.pnl!.unrealized_pnl).toBe('0');
    expect(r.positions.every((p) => p.mark === null && p.unrealized_pnl === null)).toBe(true);
  });

  it('a price cache that fails reads as no live marks, reported; closes still apply', async () => {
    const config = await statusConfig(tmp.dir, gw.port);
    const broken = {
      mget: async () => {
        throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
      },
    };
    const r = await collectStatus(config, now, { bus: broken });
    expect(r.pnl!.marks).toMatchObject({ live: 0, stale: 0, close: 3, none: 2 });
    expect(r.pnl!.marks!.feed).toMatch(/^none: reading the price cache failed \(WRONGTYPE/);
    expect(r.positions.find((p) => p.symbol === 'AAPL')).toMatchObject({ mark: '187.25', mark_source: 'close', live_mark: 'missing' });
  });
});

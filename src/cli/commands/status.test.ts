import { mkdirSync, writeFileSync } from 'node:fs';
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
    // Rounded at the edge (docs/concepts/pnl.md): money in cents, marks at their tick, averages 4 dp.
    expect(by.AAPL).toEqual({ symbol: 'AAPL', qty: '10', avg_entry_price: '180.0000', mark: '190.50', mark_source: 'live', mark_ts: ago(3_000), mark_age_ms: 3_000, mark_stale: false, live_mark: 'fresh', unrealized_pnl: '105.00', realized_pnl: '1.50' });
    // The stale 399 is not used: the 2025-01-16 close (401.5) is from the same session and official.
    expect(by.MSFT).toMatchObject({ mark: '401.50', mark_source: 'close', mark_ts: '2025-01-16T21:00:00.000Z', mark_stale: false, live_mark: 'stale', unrealized_pnl: '-3.00' });
    expect(by.XOM).toMatchObject({ mark: '105.30', mark_source: 'close', mark_ts: '2025-01-15T21:00:00.000Z', live_mark: 'missing', unrealized_pnl: '26.50' });
    expect(by.GOOG).toMatchObject({ mark: '95.00', mark_source: 'live', mark_stale: true, live_mark: 'stale', mark_age_ms: 600_000, unrealized_pnl: '15.00' });
    expect(by.NVDA).toMatchObject({ mark: null, mark_source: null, live_mark: 'missing', unrealized_pnl: null });
    // unrealized 105 − 3 + 26.5 + 15 + 0; realized 1.5 + 4; market value 1905 − 803 + 526.5 + 285 + 50
    expect(r.pnl).toMatchObject({ unrealized_pnl: '143.50', realized_pnl: '5.50', total_pnl: '149.00', equity: '2963.50' });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);

    const text = renderStatus(r, false);
    expect(text).toContain(
      'marks: 1 live (≤ 60 s), 1 stale (oldest 2025-01-17T14:50:00.000Z), 2 from close (2025-01-15, 2025-01-16), 1 none (valued at entry) — price cache (injected)',
    );
    const row = (sym: string) => text.split('\n').find((l) => l.startsWith(`${sym} `)) ?? '';
    expect(row('AAPL')).toMatch(/180\.0000\s+190\.50\s+live 3 s\s+105\.00/);
    expect(row('MSFT')).toMatch(/401\.50\s+close 2025-01-16\s+-3\.00/);
    expect(row('XOM')).toMatch(/105\.30\s+close 2025-01-15\s+26\.50/);
    expect(row('GOOG')).toMatch(/95\.00\s+stale 10 min\s+15\.00/);
    expect(row('NVDA')).toMatch(/\s-\s+-\s+-\s/);
  });

  it('the max age comes from MARKS_MAX_AGE_MS', async () => {
    const config = await statusConfig(tmp.dir, gw.port, { MARKS_MAX_AGE_MS: '1000' });
    const r = await collectStatus(config, now, { bus: await priceCache() });
    // 3 s old at a 1 s limit: stale, but from today's session, so still newer than the 2025-01-16 close.
    expect(r.positions.find((p) => p.symbol === 'AAPL')).toMatchObject({ mark: '190.50', mark_source: 'live', mark_stale: true, live_mark: 'stale' });
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
    expect(r.pnl!.unrealized_pnl).toBe('0.00');
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

describe('kestrel status: the last paper run', () => {
  const tmp = tempDir('kestrel-status-paper-');
  afterAll(() => tmp.cleanup());

  it('shows finished_at of each run and rounds money at the edge, also for a report written before that rule', async () => {
    const { freePort } = await import('../../bus/test-helpers.js');
    const config = await statusConfig(tmp.dir, await freePort()); // no gateway: the paper report is used
    mkdirSync(join(tmp.dir, 'var', 'paper'), { recursive: true });
    const run = { id: 1, as_of_date: '2020-01-09', trade_date: '2020-01-10', status: 'completed', signals_count: 30, orders_planned: 10, orders_submitted: 10, orders_failed: 0, model_version: 'm:v1', total_ms: 5 };
    const report = {
      from: '2019-12-12', to: '2020-01-10', generated_at: '2026-12-07T22:00:36.775Z', strategy_id: 'paper',
      // What the report used to hold: a total with a 1e-35 residue and an unrounded average.
      realized_pnl: '26436.296478405316', unrealized_pnl: '-1477.22647840531600000000000000000000001901', total_pnl: '24959.06999999999999999999999999999999998099', equity_end: '1024959.07',
      positions: [{ symbol: 'DXC', qty: '2760', avg_entry_price: '36.23695652173913043478260869565217391304', mark: '35.74', unrealized_pnl: '-1371.36', realized_pnl: '-66.19' }],
      runs: [{ ...run, finished_at: '2020-01-10T21:00:00.000Z' }, { ...run, id: 2 }],
    };
    writeFileSync(join(tmp.dir, 'var', 'paper', 'last-report.json'), JSON.stringify(report));
    const r = await collectStatus(config, now, { bus: null });
    expect(r.pnl).toMatchObject({ realized_pnl: '26436.30', unrealized_pnl: '-1477.23', total_pnl: '24959.07', equity: '1024959.07' });
    expect(r.positions[0]).toMatchObject({ qty: '2760', avg_entry_price: '36.2370', mark: '35.74' });
    // Newest first; a run from a report without finished_at shows null rather than failing.
    expect(r.runs.map((x) => [x.id, x.finished_at])).toEqual([[2, null], [1, '2020-01-10T21:00:00.000Z']]);
    expect(renderStatus(r, false)).toMatch(/realized 26436\.30 {2}unrealized -1477\.23 {2}total 24959\.07 {2}equity 1024959\.07/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend, MemoryBus } from '../bus/memory.js';
import { loadConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { chooseMark, DEFAULT_MARKS_MAX_AGE_MS, liveMarkOf, markedPnl, readLiveMarks, sessionCloseInstant, type CloseMark, type LiveMark } from './marks.js';

// Friday 2026-11-20, 15:00 New York (EST, UTC−5).
const now = new Date('2026-11-20T20:00:00.000Z');
const opts = { now, maxAgeMs: 60_000 };
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const tick = (price: string, ts: string) => JSON.stringify({ price, size: 100, ts });

const buses: MemoryBus[] = [];
function bus(): MemoryBus {
  const b = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
  buses.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

describe('readLiveMarks', () => {
  it('reads price:{symbol} and grades each mark fresh, stale or missing against maxAgeMs', async () => {
    const b = bus();
    await b.set('price:FRESH', tick('187.2500', ago(5_000)));
    await b.set('price:EDGE', tick('10', ago(60_000))); // exactly maxAgeMs: still fresh (≤)
    await b.set('price:STALE', tick('50.5', ago(60_001)));
    await b.set('price:AHEAD', tick('7', new Date(now.getTime() + 300).toISOString())); // host clock skew
    const marks = await readLiveMarks(b, ['FRESH', 'EDGE', 'STALE', 'AHEAD', 'GONE', 'FRESH'], opts);
    expect([...marks.keys()]).toEqual(['FRESH', 'EDGE', 'STALE', 'AHEAD', 'GONE']);
    expect(marks.get('FRESH')).toEqual({ symbol: 'FRESH', state: 'fresh', price: '187.25', ts: ago(5_000), age_ms: 5_000 });
    expect(marks.get('EDGE')).toMatchObject({ state: 'fresh', age_ms: 60_000 });
    expect(marks.get('STALE')).toEqual({ symbol: 'STALE', state: 'stale', price: '50.5', ts: ago(60_001), age_ms: 60_001 });
    expect(marks.get('AHEAD')).toMatchObject({ state: 'fresh', age_ms: 0 });
    expect(marks.get('GONE')).toEqual({ symbol: 'GONE', state: 'missing', price: null, ts: null, age_ms: null });
  });

  it('treats a value that does not parse as missing, never as a price', () => {
    for (const raw of ['not json', '"187.25"', 'null', JSON.stringify({ price: 187.25, ts: ago(1) }), JSON.stringify({ price: '-1', ts: ago(1) }), JSON.stringify({ price: '0', ts: ago(1) }), JSON.stringify({ price: '5', ts: 'yesterday' }), JSON.stringify({ price: 'abc', ts: ago(1) })]) {
      expect(liveMarkOf('X', raw, opts).state, raw).toBe('missing');
    }
    // UTC normalisation of an offset timestamp
    expect(liveMarkOf('X', tick('5', '2026-11-20T14:59:30-05:00'), opts)).toMatchObject({ state: 'fresh', ts: '2026-11-20T19:59:30.000Z', age_ms: 30_000 });
  });

  it('asks nothing of the bus for no symbols', async () => {
    const calls: string[][] = [];
    const marks = await readLiveMarks({ mget: async (k) => (calls.push([...k]), k.map(() => null)) }, [], opts);
    expect(marks.size).toBe(0);
    expect(calls).toEqual([]);
  });
});

describe('sessionCloseInstant', () => {
  it('is 16:00 New York in UTC, in standard and daylight time', () => {
    expect(sessionCloseInstant('2026-11-20')).toBe('2026-11-20T21:00:00.000Z');
    expect(sessionCloseInstant('2026-07-17')).toBe('2026-07-17T20:00:00.000Z');
    expect(() => sessionCloseInstant('2026-13-01')).toThrow(RangeError);
  });
});

describe('chooseMark', () => {
  const live = (state: LiveMark['state'], ts: string | null, price = '101'): LiveMark => ({ symbol: 'X', state, price: state === 'missing' ? null : price, ts, age_ms: ts ? now.getTime() - Date.parse(ts) : null });
  const close: CloseMark = { price: '99.5000', date: '2026-11-19' };

  it('uses a fresh live mark even when a close exists', () => {
    expect(chooseMark(live('fresh', ago(1_000)), close)).toEqual({ price: '101', ts: ago(1_000), source: 'live', stale: false });
  });

  it('prefers the close over a stale mark of the same session or earlier', () => {
    // 2026-11-19 15:00 New York: same session as the close
    expect(chooseMark(live('stale', '2026-11-19T20:00:00.000Z'), close)).toEqual({ price: '99.5', ts: '2026-11-19T21:00:00.000Z', source: 'close', stale: false });
    // after-hours print of that session (19:30 New York): the official close still wins
    expect(chooseMark(live('stale', '2026-11-20T00:30:00.000Z'), close)?.source).toBe('close');
  });

  it('uses a stale mark of a later session than the close, labelled stale', () => {
    expect(chooseMark(live('stale', ago(10 * 60_000)), close)).toEqual({ price: '101', ts: ago(10 * 60_000), source: 'live', stale: true });
    expect(chooseMark(live('stale', ago(10 * 60_000)), undefined)).toMatchObject({ source: 'live', stale: true });
  });

  it('falls back to the close when the live mark is missing; nothing when neither exists', () => {
    expect(chooseMark(live('missing', null), close)?.source).toBe('close');
    expect(chooseMark(undefined, close)?.source).toBe('close');
    expect(chooseMark(live('missing', null), undefined)).toBeUndefined();
  });
});

describe('markedPnl', () => {
  const positions = [
    { symbol: 'LIVE', qty: '10', avg_entry_price: '100', realized_pnl: '1.5' },
    { symbol: 'OLD', qty: '-5', avg_entry_price: '40', realized_pnl: '0' }, // stale mark from yesterday: close wins
    { symbol: 'LATE', qty: '2', avg_entry_price: '20', realized_pnl: '0' }, // stale mark from today: newer than the close
    { symbol: 'NOLIVE', qty: '3', avg_entry_price: '10', realized_pnl: '0' },
    { symbol: 'NOTHING', qty: '4', avg_entry_price: '5', realized_pnl: '0' },
    { symbol: 'FLAT', qty: '0', avg_entry_price: '0', realized_pnl: '-2' },
  ];
  const closes = new Map<string, CloseMark>([
    ['LIVE', { price: '90', date: '2026-11-19' }],
    ['OLD', { price: '38', date: '2026-11-19' }],
    ['LATE', { price: '21', date: '2026-11-19' }],
    ['NOLIVE', { price: '12.5', date: '2026-11-18' }],
    ['FLAT', { price: '1', date: '2026-11-19' }],
  ]);

  async function seeded(): Promise<MemoryBus> {
    const b = bus();
    await b.set('price:LIVE', tick('105.25', ago(2_000)));
    await b.set('price:OLD', tick('39', '2026-11-19T18:00:00.000Z'));
    await b.set('price:LATE', tick('22', ago(15 * 60_000)));
    await b.set('price:FLAT', tick('3', ago(1_000)));
    return b;
  }

  it('marks fresh live prices live, others at the close or a newer stale mark, and says which', async () => {
    const asked: string[][] = [];
    const snap = await markedPnl(positions, { bus: await seeded(), closes: async (s) => (asked.push(s), closes) }, { ...opts, cash: '1000' });
    // Only symbols without a fresh live mark are looked up in the closes (not LIVE, not FLAT).
    expect(asked).toEqual([['OLD', 'LATE', 'NOLIVE', 'NOTHING']]);
    const by = Object.fromEntries(snap.positions.map((p) => [p.symbol, p]));
    expect(by.LIVE).toMatchObject({ mark: '105.25', mark_source: 'live', live_mark: 'fresh', stale: false, mark_ts: ago(2_000), mark_age_ms: 2_000, unrealized_pnl: '52.5' });
    // (38 − 40) × −5 = 10
    expect(by.OLD).toMatchObject({ mark: '38', mark_source: 'close', live_mark: 'stale', stale: false, mark_ts: '2026-11-19T21:00:00.000Z', mark_age_ms: 23 * 3_600_000, unrealized_pnl: '10' });
    // (22 − 20) × 2 = 4, labelled stale
    expect(by.LATE).toMatchObject({ mark: '22', mark_source: 'live', live_mark: 'stale', stale: true, unrealized_pnl: '4' });
    // (12.5 − 10) × 3 = 7.5
    expect(by.NOLIVE).toMatchObject({ mark: '12.5', mark_source: 'close', live_mark: 'missing', unrealized_pnl: '7.5' });
    expect(by.NOTHING).toMatchObject({ mark: null, mark_source: null, live_mark: 'missing', mark_age_ms: null, unrealized_pnl: '0' });
    expect(by.FLAT).toMatchObject({ mark: null, mark_source: null, live_mark: null, realized_pnl: '-2' });
    expect(snap.marks).toEqual({ max_age_ms: 60_000, live: 1, stale: 1, close: 2, none: 1, oldest_stale_ts: ago(15 * 60_000), close_dates: ['2026-11-18', '2026-11-19'] });
    expect(snap.stale_marks).toEqual(['LATE']);
    expect(snap.missing_marks).toEqual(['NOTHING']);
    // 52.5 + 10 + 4 + 7.5 + 0 = 74; realized 1.5 − 2 = −0.5
    expect(snap.unrealized_pnl).toBe('74');
    expect(snap.total_pnl).toBe('73.5');
    // market value 1052.5 − 190 + 44 + 37.5 + 20 = 964
    expect(snap.equity).toBe('1964');
  });

  it('without a reachable price cache every position falls back to its close', async () => {
    const snap = await markedPnl(positions, { bus: null, closes: async () => closes }, opts);
    expect(snap.marks).toMatchObject({ live: 0, stale: 0, close: 4, none: 1 });
    expect(snap.positions.find((p) => p.symbol === 'LIVE')).toMatchObject({ mark: '90', mark_source: 'close', live_mark: 'missing', unrealized_pnl: '-100' });
  });

  it('grades against the configured max age', async () => {
    const b = await seeded();
    // 2 s old at a 1 s limit: stale; still today's session, so it beats yesterday's close, labelled.
    const strict = await markedPnl(positions, { bus: b, closes: async () => closes }, { now, maxAgeMs: 1_000 });
    expect(strict.positions.find((p) => p.symbol === 'LIVE')).toMatchObject({ mark: '105.25', mark_source: 'live', live_mark: 'stale', stale: true });
    expect(strict.marks).toMatchObject({ live: 0, stale: 2, close: 2, none: 1, oldest_stale_ts: ago(15 * 60_000) });
    // With today's close published (ETL after the bell), the same stale marks lose to it.
    const withToday = new Map([...closes, ['LIVE', { price: '104', date: '2026-11-20' }], ['LATE', { price: '23', date: '2026-11-20' }]]);
    const later = await markedPnl(positions, { bus: b, closes: async () => withToday }, { now, maxAgeMs: 1_000 });
    expect(later.positions.find((p) => p.symbol === 'LIVE')).toMatchObject({ mark: '104', mark_source: 'close', live_mark: 'stale', stale: false });
    expect(later.marks).toMatchObject({ live: 0, stale: 0, close: 4, none: 1, oldest_stale_ts: null });
  });
});

describe('MARKS_MAX_AGE_MS', () => {
  it('defaults to 60 s and is validated', () => {
    expect(loadConfig({}).marksMaxAgeMs).toBe(DEFAULT_MARKS_MAX_AGE_MS);
    expect(loadConfig({ MARKS_MAX_AGE_MS: '15000' }).marksMaxAgeMs).toBe(15_000);
    expect(() => loadConfig({ MARKS_MAX_AGE_MS: '10' })).toThrow(/MARKS_MAX_AGE_MS.*1000/);
    expect(() => loadConfig({ MARKS_MAX_AGE_MS: '1m' })).toThrow(/MARKS_MAX_AGE_MS/);
  });
});

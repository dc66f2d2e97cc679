import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber, dayString } from '../core/clock.js';
import { openCatalog } from '../data/catalog.js';
import { tradingDaysBetween } from '../data/calendar.js';
import { openDuck, type Duck } from '../data/duck.js';
import { bar, etl, tempDir, writeBarsCsv, type Row } from '../data/test-helpers.js';
import { CatalogCorrelationSource, pearson, staticCorrelations } from './correlation.js';
import { mulberry32 } from '../core/random.js';

/** Deterministic pseudo-random returns in [-0.5, 0.5). */
function rng(seed: number) {
  const next = mulberry32(seed);
  return () => next() - 0.5;
}

const DATES = Array.from(tradingDaysBetween(dayNumber('2024-09-02'), dayNumber('2024-12-31')), dayString);

/** AAA random; BBB = AAA's returns + small noise (corr ≈ 0.95); CCC independent; NEW only the last 20 days. */
function series(): Record<string, number[]> {
  const r = rng(7);
  const out: Record<string, number[]> = { AAA: [100], BBB: [50], CCC: [30], NEW: [] };
  for (let i = 1; i < DATES.length; i++) {
    const m = r() * 0.04;
    out.AAA!.push(out.AAA![i - 1]! * (1 + m));
    out.BBB!.push(out.BBB![i - 1]! * (1 + m + r() * 0.01));
    out.CCC!.push(out.CCC![i - 1]! * (1 + r() * 0.04));
  }
  out.NEW = out.AAA!.map((v, i) => (i >= DATES.length - 20 ? v * 2 : NaN));
  return out;
}

/** The expected correlation, computed directly from the closes of the window. */
function expected(s: Record<string, number[]>, a: string, b: string, beforeIdx: number, lookback: number): number {
  const ret = (xs: number[]) => xs.slice(beforeIdx - lookback - 1, beforeIdx).map((v, i, arr) => (i === 0 ? NaN : v / arr[i - 1]! - 1)).slice(1);
  const x = ret(s[a]!);
  const y = ret(s[b]!);
  const mx = x.reduce((p, v) => p + v, 0) / x.length;
  const my = y.reduce((p, v) => p + v, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('pearson', () => {
  it('is exact on hand-made series and skips missing values', () => {
    expect(pearson(Float64Array.from([1, 2, 3, 4]), Float64Array.from([2, 4, 6, 8]), 2)).toBeCloseTo(1, 12);
    expect(pearson(Float64Array.from([1, 2, 3, 4]), Float64Array.from([8, 6, 4, 2]), 2)).toBeCloseTo(-1, 12);
    expect(pearson(Float64Array.from([1, NaN, 3, 4, 5]), Float64Array.from([1, 100, 3, 4, 5]), 2)).toBeCloseTo(1, 12);
    expect(pearson(Float64Array.from([1, 2, 3]), Float64Array.from([1, 2, 3]), 4)).toBeNull(); // too few
    expect(pearson(Float64Array.from([1, 1, 1]), Float64Array.from([1, 2, 3]), 2)).toBeNull(); // constant
  });

  it('staticCorrelations is symmetric, 1 on the diagonal, null when unknown', () => {
    const m = staticCorrelations({ A: { B: 0.9 } });
    expect([m.corr('A', 'B'), m.corr('B', 'A'), m.corr('A', 'A'), m.corr('A', 'C')]).toEqual([0.9, 0.9, 1, null]);
  });
});

describe('CatalogCorrelationSource over DuckDB bars', () => {
  const s = series();
  let duck: Duck;
  let queries = 0;
  beforeAll(async () => {
    duck = await openDuck();
    await duck.run('CREATE TABLE bars (date DATE, symbol VARCHAR, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE)');
    const rows: string[] = [];
    for (const [sym, closes] of Object.entries(s)) closes.forEach((c, i) => Number.isFinite(c) && rows.push(`(DATE '${DATES[i]}', '${sym}', ${c}, ${c}, ${c}, ${c}, 1000)`));
    await duck.run(`INSERT INTO bars VALUES ${rows.join(', ')}`);
  });
  afterAll(() => duck.close());
  const source = () =>
    new CatalogCorrelationSource({
      open: async () => ({
        query: <T>(sql: string) => {
          queries++;
          return duck.rows<T>(sql);
        },
      }),
      lookbackDays: 60,
      minObservations: 40,
    });

  it('60-day correlations of daily returns, ending the trading day before the trade date', async () => {
    const src = source();
    const trade = DATES[DATES.length - 5]!; // data on and after it must not be used
    const idx = DATES.length - 5;
    const c = await src.lookup(['AAA', 'BBB', 'CCC'], trade);
    expect(c.asOf).toBe(DATES[idx - 1]);
    expect(c.corr('AAA', 'BBB')).toBeCloseTo(expected(s, 'AAA', 'BBB', idx, 60), 10);
    expect(c.corr('AAA', 'BBB')!).toBeGreaterThan(0.9);
    expect(c.corr('BBB', 'CCC')).toBeCloseTo(expected(s, 'BBB', 'CCC', idx, 60), 10);
    expect(Math.abs(c.corr('AAA', 'CCC')!)).toBeLessThan(0.5);
    expect(c.corr('AAA', 'AAA')).toBe(1);
    // Too little history (19 returns < 40) or no data at all: unknown.
    const c2 = await src.lookup(['AAA', 'NEW', 'NONE'], trade);
    expect(c2.corr('AAA', 'NEW')).toBeNull();
    expect(c2.corr('AAA', 'NONE')).toBeNull();
    await src.close();
  });

  it('is cached per trading date: only new symbols cost a query', async () => {
    const src = source();
    const trade = DATES[DATES.length - 1]!;
    queries = 0;
    await src.lookup(['AAA', 'BBB'], trade);
    const first = queries;
    expect(first).toBe(2); // the dates, then the closes
    await src.lookup(['BBB', 'AAA'], trade);
    expect(queries).toBe(first);
    await src.lookup(['AAA', 'CCC'], trade);
    expect(queries).toBe(first + 1);
    await src.close();
  });

  it('refuses tickers and dates that are not (no SQL injection)', async () => {
    const src = source();
    await expect(src.lookup(["AAA'; DROP TABLE bars; --"], '2024-12-31')).rejects.toThrow(/not a ticker/);
    await expect(src.lookup(['AAA'], "2024-12-31' OR 1=1")).rejects.toThrow(/YYYY-MM-DD/);
    await src.close();
  });
});

describe('CatalogCorrelationSource over the real catalog (openCatalog after an ETL)', () => {
  const tmp = tempDir('kestrel-risk-corr-');
  afterAll(() => tmp.cleanup());

  it('reads the adjusted bars view', async () => {
    const s = series();
    const rows: Row[] = [];
    for (const sym of ['AAA', 'BBB', 'CCC']) s[sym]!.forEach((c, i) => rows.push(bar(sym, DATES[i]!, Math.round(c * 100) / 100)));
    const csv = writeBarsCsv(join(tmp.dir, 'bars.csv'), rows);
    await etl(csv, join(tmp.dir, 'data'), { asOf: DATES[DATES.length - 1] });
    const src = new CatalogCorrelationSource({ open: () => openCatalog(join(tmp.dir, 'data')), lookbackDays: 60, minObservations: 40 });
    try {
      const c = await src.lookup(['AAA', 'BBB', 'CCC'], '2025-01-02');
      expect(c.asOf).toBe(DATES[DATES.length - 1]);
      expect(c.corr('AAA', 'BBB')!).toBeGreaterThan(0.9);
      expect(Math.abs(c.corr('AAA', 'CCC')!)).toBeLessThan(0.5);
    } finally {
      await src.close();
    }
  });
});

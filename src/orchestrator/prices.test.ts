import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../data/catalog.js';
import { bar, etl, tempDir, writeBarsCsv } from '../data/test-helpers.js';
import { CatalogPriceSource, StaticPriceSource } from './prices.js';

describe('CatalogPriceSource: bars_raw closes of the signal date', () => {
  const tmp = tempDir('kestrel-orch-prices-');
  let cat: Catalog;
  beforeAll(async () => {
    const csv = writeBarsCsv(join(tmp.dir, 'bars.csv'), [
      bar('AAPL', '2025-01-15', 185.5),
      bar('AAPL', '2025-01-16', 187.25),
      bar('MSFT', '2025-01-15', 400.1),
      bar('MSFT', '2025-01-16', 401.5),
      bar('XOM', '2025-01-15', 105.3),
    ]);
    await etl(csv, join(tmp.dir, 'data'));
    cat = await openCatalog(join(tmp.dir, 'data'));
  });
  afterAll(() => {
    cat?.close();
    tmp.cleanup();
  });

  it('returns exact decimals of the traded close on that date; symbols without a bar are absent', async () => {
    const src = new CatalogPriceSource(cat);
    const m = await src.prices('2025-01-16', ['AAPL', 'MSFT', 'XOM', 'NOPE']);
    expect([...m.entries()].map(([s, p]) => [s, p.toString()])).toEqual([
      ['AAPL', '187.25'],
      ['MSFT', '401.5'],
    ]);
    expect((await src.price('XOM', '2025-01-15'))!.toString()).toBe('105.3');
    expect(await src.price('XOM', '2025-01-16')).toBeNull();
    expect((await src.prices('2025-01-18', ['AAPL'])).size).toBe(0);
  });

  it('one query per date, whatever the symbols (cached per date, oldest dropped first)', async () => {
    let queries = 0;
    const counting = { views: cat.views, query: <T>(sql: string) => (queries++, cat.query<T>(sql)) };
    const src = new CatalogPriceSource(counting, { cacheDates: 1 });
    await Promise.all([src.prices('2025-01-16', ['AAPL']), src.prices('2025-01-16', ['MSFT']), src.price('AAPL', '2025-01-16')]);
    expect(queries).toBe(1);
    await src.price('AAPL', '2025-01-15');
    await src.price('AAPL', '2025-01-16');
    expect(queries).toBe(3);
  });

  it('{ open }: a fresh catalog per uncached date (a long-running service sees new ETL snapshots), closed after use', async () => {
    let opened = 0;
    let closed = 0;
    const src = new CatalogPriceSource({
      open: async () => {
        opened++;
        const c = await openCatalog(join(tmp.dir, 'data'));
        return { views: c.views, query: c.query, close: () => (closed++, c.close()) };
      },
    });
    expect((await src.price('AAPL', '2025-01-16'))!.toString()).toBe('187.25');
    expect((await src.price('MSFT', '2025-01-16'))!.toString()).toBe('401.5');
    expect([opened, closed]).toEqual([1, 1]);
  });

  it('refuses a malformed date (never interpolated into SQL) and a catalog without bars_raw', async () => {
    const src = new CatalogPriceSource(cat);
    await expect(src.prices("2025-01-16' OR 1=1 --", ['AAPL'])).rejects.toThrow(/not a date/);
    expect(() => new CatalogPriceSource({ views: [], query: cat.query })).toThrow(/bars_raw/);
  });
});

describe('StaticPriceSource', () => {
  it('per date, or one map for every date', async () => {
    const s = new StaticPriceSource({ byDate: { '2025-01-16': { AAPL: '187.25' } }, all: { AAPL: 1, MSFT: '2' } });
    expect((await s.price('AAPL', '2025-01-16'))!.toString()).toBe('187.25');
    expect((await s.price('AAPL', '2025-01-17'))!.toString()).toBe('1');
    expect([...(await s.prices('2025-01-16', ['AAPL', 'MSFT'])).keys()]).toEqual(['AAPL']);
  });
});

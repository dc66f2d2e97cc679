import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../data/catalog.js';
import { bar, etl, tempDir, writeBarsCsv } from '../../data/test-helpers.js';
import { catalogSource, staticSource } from './source.js';

describe('replay sources', () => {
  const tmp = tempDir('kestrel-md-source-');
  let cat: Catalog;
  beforeAll(async () => {
    const csv = writeBarsCsv(join(tmp.dir, 'bars.csv'), [
      bar('AAPL', '2025-01-15', 185.5, { open: 184, high: 186.75, low: 183.2, volume: 12345 }),
      bar('AAPL', '2025-01-16', 187.25),
      bar('MSFT', '2025-01-16', 401.5),
    ]);
    await etl(csv, join(tmp.dir, 'data'));
    cat = await openCatalog(join(tmp.dir, 'data'));
  });
  afterAll(() => {
    cat?.close();
    tmp.cleanup();
  });

  it('catalogSource reads traded bars from bars_raw', async () => {
    const src = await catalogSource(cat, { from: '2025-01-15', to: '2025-01-16' });
    expect(src.symbols()).toEqual(['AAPL', 'MSFT']);
    expect(src.day('AAPL', '2025-01-15')).toEqual({ open: 184, high: 186.75, low: 183.2, close: 185.5, volume: 12345 });
    expect(src.day('MSFT', '2025-01-15')).toBeNull();
    const only = await catalogSource(cat, { from: '2025-01-16', to: '2025-01-16', symbols: ['MSFT'] });
    expect(only.symbols()).toEqual(['MSFT']);
    await expect(catalogSource(cat, { from: 'x', to: '2025-01-16' })).rejects.toThrow(RangeError);
  });

  it('staticSource', () => {
    const s = staticSource({ B: {}, A: { '2025-01-02': { open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 } } });
    expect(s.symbols()).toEqual(['A', 'B']);
    expect(s.day('A', '2025-01-02')?.close).toBe(1.5);
    expect(s.day('C', '2025-01-02')).toBeNull();
  });
});

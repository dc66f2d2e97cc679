import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog } from './catalog.js';
import { EtlFailure } from './etl.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { readManifest } from './store.js';
import { bar, etl, tempDir, writeBarsCsv } from './test-helpers.js';
import { parseGates } from './quality/rules.js';

const tmp = tempDir('kestrel-etl-');
afterAll(() => tmp.cleanup());

async function q<T = Record<string, unknown>>(dataDir: string, sql: string): Promise<T[]> {
  const cat = await openCatalog(dataDir);
  try {
    return await cat.query<T>(sql);
  } finally {
    cat.close();
  }
}

describe('ETL on the bundled sample (real data, real defects)', () => {
  const dataDir = join(tmp.dir, 'sample');
  let first: Awaited<ReturnType<typeof etl>>;
  beforeAll(async () => {
    first = await etl(SAMPLE_BARS, dataDir);
  });

  it('publishes every row that passes and quarantines the rest, with reasons', async () => {
    expect(first.status).toBe('published');
    expect(first.input.symbols).toBe(40);
    const [{ n }] = await q<{ n: number }>(dataDir, 'SELECT count(*)::INTEGER AS n FROM bars');
    expect(n).toBe(first.published.rows);
    const [{ qn }] = await q<{ qn: number }>(dataDir, 'SELECT count(*)::INTEGER AS qn FROM quarantine');
    expect(qn).toBe(first.quarantined.rows);
    expect(first.published.rows + first.quarantined.rows).toBe(first.input.lines_read);
    // The sample carries real vendor defects; each must be caught by its rule.
    expect(first.rules.duplicate.quarantined).toBeGreaterThan(0);
    expect(first.rules.ohlc_invariant.quarantined).toBeGreaterThan(0);
    expect(first.rules.non_positive_volume.quarantined).toBeGreaterThan(0);
    expect(first.rules.large_move.quarantined).toBeGreaterThan(0);
    expect(first.missing_dates.total).toBeGreaterThan(0);
    const bad = await q<{ n: number }>(dataDir, 'SELECT count(*)::INTEGER AS n FROM bars WHERE low > high OR volume <= 0 OR close <= 0');
    expect(bad[0]!.n).toBe(0);
    const dups = await q<{ n: number }>(dataDir, 'SELECT count(*)::INTEGER AS n FROM (SELECT symbol, date FROM bars GROUP BY ALL HAVING count(*) > 1)');
    expect(dups[0]!.n).toBe(0);
  });

  it('adjusts for dividends derived from the vendor adj_close, close to the vendor', async () => {
    const err = first.adjustment.vendor_adj_close_error!;
    expect(err.rows).toBe(first.published.rows);
    expect(err.max).toBeLessThan(1e-4);
    expect(err.median).toBeLessThan(1e-5);
    // AAPL paid $0.77 with ex-date 2019-08-09 (public record).
    const aapl = await q<{ value: number }>(dataDir, "SELECT value FROM corporate_actions WHERE symbol = 'AAPL' AND ex_date = DATE '2019-08-09'");
    expect(aapl[0]!.value).toBeCloseTo(0.77, 3);
    // The last adjusted close equals the raw close; earlier ones are scaled down by the factor.
    const rows = await q<{ date: string; close: number; raw: number }>(
      dataDir,
      "SELECT strftime(b.date, '%Y-%m-%d') AS date, b.close, r.close AS raw FROM bars b JOIN bars_raw r USING (symbol, date) WHERE symbol = 'AAPL' AND b.date IN (DATE '2019-08-08', DATE '2020-01-10') ORDER BY date",
    );
    expect(rows[1]!.close).toBe(rows[1]!.raw);
    expect(rows[0]!.close / rows[0]!.raw).toBeLessThan(1);
  });

  it('is idempotent: the same input again writes no file and changes nothing', async () => {
    const before = readManifest(dataDir)!;
    const again = await etl(SAMPLE_BARS, dataDir);
    expect(again.published.files_written).toBe(0);
    expect(again.published.rows).toBe(first.published.rows);
    expect(again.quarantined.rows).toBe(first.quarantined.rows);
    expect(readManifest(dataDir)!.tables).toEqual(before.tables);
  });

  it('appending a new day rewrites only the current year, never history', async () => {
    const before = readManifest(dataDir)!;
    const file = writeBarsCsv(join(tmp.dir, 'next-day.csv'), [
      bar('AAPL', '2020-01-13', 316.96, { adj_close: 316.96 }),
      bar('MSFT', '2020-01-13', 163.28, { adj_close: 163.28 }),
    ]);
    const r = await etl(file, dataDir, { asOf: '2020-01-13' });
    expect(r.status).toBe('published');
    expect(r.freshness.ok).toBe(true);
    const after = readManifest(dataDir)!;
    const history = (t: string) => after.tables[t]!.filter((f) => !f.includes('year=2020'));
    expect(history('bars_raw')).toEqual(before.tables.bars_raw!.filter((f) => !f.includes('year=2020')));
    expect(history('bars_adjusted')).toEqual(before.tables.bars_adjusted!.filter((f) => !f.includes('year=2020')));
    expect(r.published.files_written).toBe(2);
    const [{ n }] = await q<{ n: number }>(dataDir, "SELECT count(*)::INTEGER AS n FROM bars WHERE date = DATE '2020-01-13'");
    expect(n).toBe(2);
    // Earlier quarantine entries survive an incremental run.
    const [{ qn }] = await q<{ qn: number }>(dataDir, 'SELECT count(*)::INTEGER AS qn FROM quarantine');
    expect(qn).toBe(first.quarantined.rows);
  });

  it('fails without publishing when data is stale against --as-of', async () => {
    const before = readFileSync(join(dataDir, '_manifest.json'), 'utf8');
    const file = writeBarsCsv(join(tmp.dir, 'old-day.csv'), [bar('AAPL', '2020-01-13', 316.96, { adj_close: 316.96 })]);
    const err = await etl(file, dataDir, { asOf: '2020-02-14' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlFailure);
    expect((err as EtlFailure).message).toMatch(/freshness/);
    expect((err as EtlFailure).report.status).toBe('failed');
    expect(readFileSync(join(dataDir, '_manifest.json'), 'utf8')).toBe(before);
    expect(existsSync(join(dataDir, '.staging'))).toBe(false);
  });
});

describe('ETL on hand-made series', () => {
  it('applies an actions file: a 2:1 split is adjusted, not quarantined as a move', async () => {
    const dir = join(tmp.dir, 'split');
    mkdirSync(dir);
    const bars = writeBarsCsv(join(dir, 'bars.csv'), [bar('ABC', '2019-06-03', 100), bar('ABC', '2019-06-04', 102), bar('ABC', '2019-06-05', 51), bar('ABC', '2019-06-06', 52)]);
    // Without the action the split day is a -50% move: quarantined (1 of 4 rows, so allow it).
    const noActions = await etl(bars, join(dir, 'd1'), { gates: parseGates({ maxQuarantineFraction: 0.5 }, 'test') });
    expect(noActions.rules.large_move.quarantined).toBe(1);
    // …and the default 5% whole-run tolerance refuses to publish such a file.
    await expect(etl(bars, join(dir, 'd0'))).rejects.toThrow(/maxQuarantineFraction/);

    const actions = join(dir, 'actions.csv');
    writeFileSync(actions, 'symbol,ex_date,type,value\nABC,2019-06-05,split,2:1\n');
    const r = await etl(bars, join(dir, 'd2'), { actionsFile: actions });
    expect(r.rules.large_move.quarantined).toBe(0);
    const rows = await q<{ close: number; volume: number }>(join(dir, 'd2'), 'SELECT close, volume FROM bars ORDER BY date');
    expect(rows.map((x) => x.close)).toEqual([50, 51, 51, 52]);
    expect(rows.map((x) => x.volume)).toEqual([2000, 2000, 1000, 1000]);
  });

  it('quarantines malformed lines with file and line, and keeps going', async () => {
    const file = join(tmp.dir, 'messy.csv');
    writeFileSync(file, 'date,symbol,open,high,low,close,volume\n2019-06-03,ABC,10,11,9,10,100\n2019-06-04,ABC,10,11,9\n2019-06-31,ABC,10,11,9,10,100\n2019-06-05,ABC,10,11,9,10.5,100\n');
    const r = await etl(file, join(tmp.dir, 'messy'), { gates: parseGates({ maxQuarantineFraction: 1 }, 'test') });
    expect(r.rules.malformed.quarantined).toBe(2);
    const rows = await q<{ line: number; detail: string; file: string }>(join(tmp.dir, 'messy'), "SELECT line, detail, file FROM quarantine WHERE rule = 'malformed' ORDER BY line");
    expect(rows.map((x) => x.line)).toEqual([3, 4]);
    expect(rows[0]!.file).toBe('messy.csv');
    expect(rows[1]!.detail).toMatch(/bad date/);
    expect(r.published.rows).toBe(2);
  });

  it('a tolerance exceeded publishes nothing on a fresh directory', async () => {
    const file = writeBarsCsv(join(tmp.dir, 'zero.csv'), [bar('ABC', '2019-06-03', 10), bar('ABC', '2019-06-04', 10, { volume: 0 })]);
    const dataDir = join(tmp.dir, 'tolerance');
    const err = await etl(file, dataDir, { gates: parseGates({ non_positive_volume: { maxRows: 0 } }, 'test') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlFailure);
    expect(existsSync(join(dataDir, '_manifest.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'raw')) ? readdirSync(join(dataDir, 'raw')).length : 0).toBe(0);
  });

  it('counts restated rows and lets the new value win', async () => {
    const dataDir = join(tmp.dir, 'restate');
    await etl(writeBarsCsv(join(tmp.dir, 'v1.csv'), [bar('ABC', '2019-06-03', 10), bar('ABC', '2019-06-04', 11)]), dataDir);
    const r = await etl(writeBarsCsv(join(tmp.dir, 'v2.csv'), [bar('ABC', '2019-06-04', 11.5)]), dataDir);
    expect(r.published.restated_rows).toBe(1);
    const rows = await q<{ close: number }>(dataDir, 'SELECT close FROM bars_raw ORDER BY date');
    expect(rows.map((x) => x.close)).toEqual([10, 11.5]);
  });

  it('cleans up what a crashed run left behind', async () => {
    const dataDir = join(tmp.dir, 'crash');
    const file = writeBarsCsv(join(tmp.dir, 'c.csv'), [bar('ABC', '2019-06-03', 10), bar('ABC', '2019-06-04', 11)]);
    await etl(file, dataDir);
    // A dead writer's staging folder and an unreferenced part file, as a kill -9 would leave them.
    mkdirSync(join(dataDir, '.staging', '999999999-1', 'raw'), { recursive: true });
    writeFileSync(join(dataDir, 'raw', 'bars', 'year=2019', 'part-deadbeef.parquet'), 'partial');
    const [{ n }] = await q<{ n: number }>(dataDir, 'SELECT count(*)::INTEGER AS n FROM bars');
    expect(n).toBe(2); // readers never see unreferenced files
    await etl(file, dataDir);
    expect(existsSync(join(dataDir, 'raw', 'bars', 'year=2019', 'part-deadbeef.parquet'))).toBe(false);
    expect(existsSync(join(dataDir, '.staging'))).toBe(false);
  });
});

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalog } from './catalog.js';
import { InputError } from '../core/errors.js';
import { readText } from './csv-bars.js';
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

  it('price_level quarantines what no other gate caught: SCG\'s sub-penny bar and BHF\'s days at another security\'s prices', async () => {
    // SCG's 69 rows are all sub-penny; 68 have zero volume (non_positive_volume), the 69th traded
    // 1.5M shares and passed every other rule: no earlier accepted close for large_move to compare with.
    const scg = await q<{ date: string; rule: string; detail: string }>(dataDir, "SELECT date::VARCHAR AS date, rule, detail FROM quarantine WHERE symbol = 'SCG' AND rule <> 'non_positive_volume'");
    expect(scg).toEqual([{ date: '2019-05-29', rule: 'price_level', detail: 'close 0.0045 is below the price floor 0.01 (minPrice)' }]);
    const [{ n }] = await q<{ n: number }>(dataDir, "SELECT count(*)::INTEGER AS n FROM bars WHERE symbol = 'SCG'");
    expect(n).toBe(0);
    // BHF 2017-07-05..12 trades at ~11.5, then from 2017-07-17 on at ~70 for years: six days of another series.
    const bhf = await q<{ date: string }>(dataDir, "SELECT date::VARCHAR AS date FROM quarantine WHERE symbol = 'BHF' AND rule = 'price_level' ORDER BY date");
    expect(bhf.map((r) => r.date)).toEqual(['2017-07-05', '2017-07-06', '2017-07-07', '2017-07-10', '2017-07-11', '2017-07-12']);
    const [bhfFirst] = await q<{ date: string; close: number }>(dataDir, "SELECT date::VARCHAR AS date, close FROM bars_raw WHERE symbol = 'BHF' ORDER BY date LIMIT 1");
    expect(bhfFirst).toEqual({ date: '2017-07-17', close: 70 });
    // Nothing else: PCG's real 2019 collapse (-52% in a day, then lower) is a level shift, not a glitch.
    expect(first.rules.price_level.by_symbol).toEqual({ BHF: 6, SCG: 1 });
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
    expect(rows[1]!.detail).toBe('date "2019-06-31" is not a calendar date');
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

describe('price_level and a real split in the sample (NFLX 7:1, ex-date 2015-07-15)', () => {
  // The sample is split-adjusted (Yahoo). Undo the split to get the prices as traded: before the
  // ex-date 7x the price and 1/7 the volume. No adj_close column, so no dividends are derived.
  const rawFile = join(tmp.dir, 'nflx-raw.csv');
  const adjusted: Map<string, number> = new Map();
  beforeAll(() => {
    const lines = readText(SAMPLE_BARS).trim().split('\n').slice(1).filter((l) => l.split(',')[1] === 'NFLX');
    const out = ['date,symbol,open,high,low,close,volume'];
    for (const l of lines) {
      const [date, symbol, o, h, lo, c, , v] = l.split(',');
      const k = date! < '2015-07-15' ? 7 : 1;
      adjusted.set(date!, Number(c));
      out.push([date, symbol, Number(o) * k, Number(h) * k, Number(lo) * k, Number(c) * k, Math.round(Number(v) / k)].join(','));
    }
    writeFileSync(rawFile, out.join('\n') + '\n');
  });

  it('with the actions file: nothing quarantined, and the adjusted closes are the vendor\'s split-adjusted ones', async () => {
    const actions = join(tmp.dir, 'nflx-actions.csv');
    writeFileSync(actions, 'symbol,ex_date,type,value\nNFLX,2015-07-15,split,7\n');
    const dataDir = join(tmp.dir, 'nflx-split');
    const r = await etl(rawFile, dataDir, { actionsFile: actions });
    expect(r.quarantined.rows).toBe(0);
    const rows = await q<{ date: string; close: number }>(dataDir, "SELECT date::VARCHAR AS date, close FROM bars WHERE date BETWEEN DATE '2015-07-13' AND DATE '2015-07-16' ORDER BY date");
    expect(rows.map((x) => x.date)).toEqual(['2015-07-13', '2015-07-14', '2015-07-15', '2015-07-16']);
    for (const x of rows) expect(x.close).toBeCloseTo(adjusted.get(x.date)!, 8);
  });

  it('without it: large_move flags the ex-date as before; price_level flags nothing (the median follows the step)', async () => {
    const r = await etl(rawFile, join(tmp.dir, 'nflx-nosplit'));
    expect(r.rules.price_level.quarantined).toBe(0);
    expect(r.rules.large_move.quarantined).toBe(1);
  });
});

describe('malformed input: every bad line is reported, a failed run publishes nothing', () => {
  const us = (n: number, good = 0) => {
    const rows = ['date,symbol,open,high,low,close,volume'];
    for (let i = 0; i < good; i++) rows.push(`2020-01-0${2 + i},AAPL,10,11,9,10,100`);
    for (let i = 0; i < n; i++) rows.push(`01/${String(2 + (i % 27)).padStart(2, '0')}/2020,AAPL,10,11,9,10,100`);
    return rows.join('\n') + '\n';
  };

  it('US dates: exit 2, the line, column and reason in the report and the message; nothing written', async () => {
    const file = join(tmp.dir, 'us.csv');
    writeFileSync(file, us(2));
    const dataDir = join(tmp.dir, 'us');
    const err = (await etl(file, dataDir).catch((e: unknown) => e)) as EtlFailure;
    expect(err).toBeInstanceOf(EtlFailure);
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('malformed_input');
    expect(err.message).toBe('no line of the input could be read: us.csv line 2: date "01/02/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO) (and 1 more malformed line); nothing published');
    expect(err.report.failure_code).toBe('malformed_input');
    expect(err.report.malformed_lines).toEqual({
      total: 2,
      listed: [
        { file: 'us.csv', line: 2, column: 'date', reason: 'date "01/02/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO)' },
        { file: 'us.csv', line: 3, column: 'date', reason: 'date "01/03/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO)' },
      ],
      not_listed: 0,
    });
    expect(existsSync(join(dataDir, '_manifest.json'))).toBe(false);
  });

  it('a failed run does not claim to have published the rows that passed (it used to say "published 2 rows")', async () => {
    const file = join(tmp.dir, 'us-mixed.csv');
    writeFileSync(file, us(98, 2));
    const err = (await etl(file, join(tmp.dir, 'us-mixed')).catch((e: unknown) => e)) as EtlFailure;
    expect(err.exitCode).toBe(2);
    expect(err.report.status).toBe('failed');
    expect(err.report.published).toMatchObject({ rows: 0, symbols: 0, first_date: null, last_date: null });
    expect(err.report.accepted_rows).toBe(2);
    expect(err.report.malformed_lines.listed).toHaveLength(20);
    expect(err.report.malformed_lines.not_listed).toBe(78);
    expect(err.report.malformed_lines.listed[0]).toEqual({ file: 'us-mixed.csv', line: 4, column: 'date', reason: 'date "01/02/2020" is not YYYY-MM-DD (US dates are not accepted; convert to ISO)' });
    expect(err.message).toMatch(/^98\.00% of input lines are malformed, tolerance is 5\.00% \(maxQuarantineFraction\): us-mixed\.csv line 4: /);
  });

  it('a tolerance broken by readable data is a quality failure (exit 1), not bad input', async () => {
    const file = writeBarsCsv(join(tmp.dir, 'zero-vol.csv'), [bar('ABC', '2019-06-03', 10), bar('ABC', '2019-06-04', 10, { volume: 0 })]);
    const err = (await etl(file, join(tmp.dir, 'zero-vol'), { gates: parseGates({ non_positive_volume: { maxRows: 0 } }, 'test') }).catch((e: unknown) => e)) as EtlFailure;
    expect(err.exitCode).toBe(1);
    expect(err.report.failure_code).toBe('quality_gate_failed');
    expect(err.report.published.rows).toBe(0);
    expect(err.report.accepted_rows).toBe(1);
  });

  it('an actions file that is missing or wrong names the --actions flag (exit 2)', async () => {
    const file = writeBarsCsv(join(tmp.dir, 'ok.csv'), [bar('ABC', '2019-06-03', 10)]);
    const missing = join(tmp.dir, 'nope-actions.csv');
    await expect(etl(file, join(tmp.dir, 'act'), { actionsFile: missing })).rejects.toThrow(`--actions ${JSON.stringify(missing)}: no such file or directory`);
    const bad = join(tmp.dir, 'bad-actions.csv');
    writeFileSync(bad, 'symbol,ex_date,type,value\nABC,2019-06-03,merger,2\n');
    const e = (await etl(file, join(tmp.dir, 'act'), { actionsFile: bad }).catch((x: unknown) => x)) as InputError;
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toBe(`--actions ${bad}:2: type must be "split" or "dividend", got "merger"`);
  });
});

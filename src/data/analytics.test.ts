import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import {
  HELPERS,
  buildHelperSql,
  correlationMatrixSql,
  coverageSql,
  returnsSql,
  rollingVolatilitySql,
  topMoversSql,
} from './analytics.js';

type Row = Record<string, unknown>;

const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/sql/', import.meta.url));
const DOCS_FILE = fileURLToPath(new URL('../../docs/sql-patterns.md', import.meta.url));

// Weekdays as in January 2019 (examples/sql filter on 2019, the bundled sample's last full year).
const DATES = ['2019-01-08', '2019-01-09', '2019-01-10', '2019-01-11', '2019-01-14', '2019-01-15'];
// AAPL moves +10%, -10%, +5%, -2%, +3%; MSFT exactly twice that (correlation +1);
// XOM exactly the opposite (correlation -1). Closes are written as exact decimals.
const CLOSES: Record<string, number[]> = {
  AAPL: [100, 110, 99, 103.95, 101.871, 104.92713],
  MSFT: [200, 240, 192, 211.2, 202.752, 214.91712],
  XOM: [50, 45, 49.5, 47.025, 47.9655, 46.526535],
};

/** Sample standard deviation, written out so the expected volatility is computed independently of SQL. */
function stdevSample(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
}

async function createFixture(con: DuckDBConnection): Promise<void> {
  // Same names and columns as the catalog views, as plain tables.
  await con.run(`CREATE TABLE bars (date DATE, symbol VARCHAR, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE)`);
  await con.run(
    `CREATE TABLE bars_raw (date DATE, symbol VARCHAR, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, adj_close DOUBLE, volume DOUBLE)`,
  );
  await con.run(`CREATE TABLE quarantine (date DATE, symbol VARCHAR, rule VARCHAR, detail VARCHAR, file VARCHAR, line INTEGER)`);
  await con.run(`CREATE TABLE corporate_actions (ex_date DATE, symbol VARCHAR, type VARCHAR, value DOUBLE, source VARCHAR)`);

  const bars: string[] = [];
  const raw: string[] = [];
  for (const [symbol, closes] of Object.entries(CLOSES)) {
    closes.forEach((c, i) => {
      const row = `DATE '${DATES[i]}', '${symbol}', ${c}, ${c * 1.01}, ${c * 0.99}, ${c}`;
      bars.push(`(${row}, ${1000 + i})`);
      raw.push(`(${row}, ${i % 2 ? 'NULL' : c}, ${1000 + i})`);
    });
  }
  await con.run(`INSERT INTO bars VALUES ${bars.join(', ')}`);
  await con.run(`INSERT INTO bars_raw VALUES ${raw.join(', ')}`);
  await con.run(`INSERT INTO quarantine VALUES
    (DATE '2019-01-16', 'AAPL', 'ohlc_invalid', 'high < low', 'aapl.csv', 8),
    (DATE '2019-01-17', 'AAPL', 'zero_volume', 'volume = 0', 'aapl.csv', 9),
    (DATE '2019-01-18', 'AAPL', 'ohlc_invalid', 'close > high', 'aapl.csv', 10),
    (DATE '2019-01-09', 'TSLA', 'duplicate_row', 'same date twice', 'tsla.csv', 3)`);
  await con.run(`INSERT INTO corporate_actions VALUES
    (DATE '2019-01-11', 'AAPL', 'dividend', 0.24, 'file'),
    (DATE '2019-01-12', 'AAPL', 'dividend', 0.25, 'derived'),
    (DATE '2019-01-14', 'MSFT', 'split', 2, 'file')`);
}

describe('analytics helpers against DuckDB', () => {
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  let tmp: string;

  async function q(sql: string): Promise<Row[]> {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Row[];
  }

  beforeAll(async () => {
    inst = await DuckDBInstance.create(':memory:');
    con = await inst.connect();
    await createFixture(con);
    tmp = mkdtempSync(join(tmpdir(), 'kestrel-sql-'));
  });

  afterAll(() => {
    con?.closeSync();
    inst?.closeSync();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('returns: simple and log returns, first bar has none', async () => {
    const rows = await q(buildHelperSql('returns', { symbols: 'AAPL' }));
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatchObject({ date: '2019-01-09', symbol: 'AAPL', close: 110, prev_close: 100 });
    expect(rows[0]!.simple_return).toBeCloseTo(0.1, 12);
    expect(rows[0]!.log_return).toBeCloseTo(Math.log(1.1), 12);
    expect(rows[1]!.simple_return).toBeCloseTo(-0.1, 12);
    expect(rows[1]!.log_return).toBeCloseTo(Math.log(0.9), 12);
  });

  it('returns: from keeps the first in-range return (previous close lies before from)', async () => {
    const rows = await q(HELPERS.returns!.build({ symbols: 'AAPL, MSFT', from: '2019-01-10', to: '2019-01-11' }));
    expect(rows.map((r) => `${r.symbol} ${r.date}`)).toEqual(['AAPL 2019-01-10', 'AAPL 2019-01-11', 'MSFT 2019-01-10', 'MSFT 2019-01-11']);
    expect(rows[0]!.prev_close).toBe(110);
    expect(rows[0]!.simple_return).toBeCloseTo(-0.1, 12);
    expect(rows[2]!.simple_return).toBeCloseTo(-0.2, 12);
  });

  it('returns: all symbols when none are given', async () => {
    const rows = await q(returnsSql());
    expect(rows).toHaveLength(15);
  });

  it('rolling_volatility: NULL until the window is full, then the annualised sample stdev', async () => {
    const rows = await q(buildHelperSql('rolling_volatility', { symbols: 'AAPL', window: '3' }));
    expect(rows.map((r) => r.date)).toEqual(DATES);
    expect(rows.map((r) => r.n)).toEqual([0, 1, 2, 3, 3, 3]);
    expect(rows.slice(0, 3).map((r) => r.volatility)).toEqual([null, null, null]);
    const l = [1.1, 0.9, 1.05, 0.98, 1.03].map(Math.log);
    // 1.6673936015386053 by hand: stdev(ln 1.1, ln 0.9, ln 1.05) * sqrt(252)
    expect(rows[3]!.volatility).toBeCloseTo(1.6673936015386053, 10);
    expect(rows[3]!.volatility).toBeCloseTo(stdevSample(l.slice(0, 3)) * Math.sqrt(252), 12);
    expect(rows[4]!.volatility).toBeCloseTo(stdevSample(l.slice(1, 4)) * Math.sqrt(252), 12);
    expect(rows[5]!.volatility).toBeCloseTo(stdevSample(l.slice(2, 5)) * Math.sqrt(252), 12);
  });

  it('rolling_volatility: from trims output but not the history the window looks back on', async () => {
    const rows = await q(rollingVolatilitySql({ symbols: ['AAPL'], window: 3, from: '2019-01-14' }));
    expect(rows.map((r) => r.date)).toEqual(['2019-01-14', '2019-01-15']);
    expect(rows[0]!.volatility).not.toBeNull();
  });

  it('rolling_volatility: default window 20 stays NULL on six bars', async () => {
    const rows = await q(HELPERS.rolling_volatility!.build({}));
    expect(rows).toHaveLength(18);
    expect(rows.every((r) => r.volatility === null)).toBe(true);
  });

  it('correlation_matrix: proportional returns give +1, opposite give -1, diagonal 1', async () => {
    const rows = await q(buildHelperSql('correlation_matrix', { symbols: 'AAPL,MSFT,XOM' }));
    expect(rows).toHaveLength(9);
    const corr = (a: string, b: string) => rows.find((r) => r.sym_a === a && r.sym_b === b)!;
    expect(corr('AAPL', 'MSFT').corr).toBeCloseTo(1, 9);
    expect(corr('MSFT', 'AAPL').corr).toBeCloseTo(1, 9);
    expect(corr('AAPL', 'XOM').corr).toBeCloseTo(-1, 9);
    expect(corr('MSFT', 'XOM').corr).toBeCloseTo(-1, 9);
    expect(corr('XOM', 'XOM').corr).toBeCloseTo(1, 9);
    expect(corr('AAPL', 'MSFT').n).toBe(5);
  });

  it('correlation_matrix: date range and a symbol with no data', async () => {
    const rows = await q(correlationMatrixSql({ symbols: ['AAPL', 'MSFT', 'NODATA'], from: '2019-01-10', to: '2019-01-14' }));
    expect(rows).toHaveLength(9);
    const am = rows.find((r) => r.sym_a === 'AAPL' && r.sym_b === 'MSFT')!;
    expect(am.n).toBe(3);
    expect(am.corr).toBeCloseTo(1, 9);
    const nd = rows.find((r) => r.sym_a === 'AAPL' && r.sym_b === 'NODATA')!;
    expect(nd).toMatchObject({ corr: null, n: 0 });
  });

  it('top_movers: on one date, limited, largest absolute move first', async () => {
    const rows = await q(buildHelperSql('top_movers', { date: '2019-01-09', limit: '2' }));
    expect(rows.map((r) => r.symbol)).toEqual(['MSFT', 'AAPL']);
    expect(rows[0]!.simple_return).toBeCloseTo(0.2, 12);
    expect(rows[0]!.abs_return).toBeCloseTo(0.2, 12);
    expect(rows[1]!.date).toBe('2019-01-09');
  });

  it('top_movers: over a range, ranked by absolute size (negative first here)', async () => {
    // MSFT in range: -20% (01-04), +10% (01-05), -4% (01-08); the +20% on 01-03 and
    // the +6% on 01-09 fall outside from/to.
    const rows = await q(topMoversSql({ symbols: ['MSFT'], from: '2019-01-10', to: '2019-01-14', limit: 5 }));
    expect(rows.map((r) => r.date)).toEqual(['2019-01-10', '2019-01-11', '2019-01-14']);
    expect(rows.map((r) => r.simple_return as number).map((x) => +x.toFixed(10))).toEqual([-0.2, 0.1, -0.04]);
    expect(rows[0]!.abs_return).toBeCloseTo(0.2, 12);
    const limited = await q(topMoversSql({ from: '2019-01-10', limit: 1 }));
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({ symbol: 'MSFT', date: '2019-01-10' });
  });

  it('coverage: date span, rows, quarantine counts and rules, quarantine-only symbols', async () => {
    const rows = await q(buildHelperSql('coverage', {}));
    expect(rows).toEqual([
      { symbol: 'AAPL', first_date: '2019-01-08', last_date: '2019-01-15', rows: 6, quarantined_rows: 3, quarantine_rules: 'ohlc_invalid,zero_volume' },
      { symbol: 'MSFT', first_date: '2019-01-08', last_date: '2019-01-15', rows: 6, quarantined_rows: 0, quarantine_rules: null },
      { symbol: 'TSLA', first_date: null, last_date: null, rows: 0, quarantined_rows: 1, quarantine_rules: 'duplicate_row' },
      { symbol: 'XOM', first_date: '2019-01-08', last_date: '2019-01-15', rows: 6, quarantined_rows: 0, quarantine_rules: null },
    ]);
  });

  it('coverage: filters by symbols and dates', async () => {
    const rows = await q(coverageSql({ symbols: ['AAPL'], from: '2019-01-11', to: '2019-01-16' }));
    expect(rows).toEqual([
      { symbol: 'AAPL', first_date: '2019-01-11', last_date: '2019-01-15', rows: 3, quarantined_rows: 1, quarantine_rules: 'ohlc_invalid' },
    ]);
  });

  it('non-positive prices give NULL returns instead of aborting the query', async () => {
    await con.run(`CREATE SCHEMA zero; CREATE TABLE zero.bars AS SELECT * FROM bars WHERE false;
      INSERT INTO zero.bars VALUES (DATE '2019-01-08','ZZ',1,1,1,10,1), (DATE '2019-01-09','ZZ',1,1,1,0,1), (DATE '2019-01-10','ZZ',1,1,1,5,1)`);
    try {
      await con.run(`SET search_path = 'zero,main'`);
      const rows = await q(returnsSql({ symbols: ['ZZ'] }));
      expect(rows.map((r) => [r.simple_return, r.log_return])).toEqual([
        [-1, null],
        [null, null],
      ]);
    } finally {
      await con.run(`SET search_path = 'main'`);
    }
  });

  it('every example in examples/sql is one statement that runs against the views', async () => {
    const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.sql')).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(files.length).toBeLessThanOrEqual(7);
    for (const f of files) {
      const sql = readFileSync(join(EXAMPLES_DIR, f), 'utf8');
      expect(sql, f).toContain(`kestrel sql --file examples/sql/${f}`);
      expect(sql.startsWith('--'), f).toBe(true);
      const stmts = await con.extractStatements(sql);
      expect(stmts.count, f).toBe(1);
      const rows = await q(sql).catch((e: unknown) => {
        throw new Error(`${f}: ${(e as Error).message}`);
      });
      expect(Array.isArray(rows), f).toBe(true);
    }
  });

  it('examples return the expected shape on the fixture', async () => {
    const ex = (f: string) => q(readFileSync(join(EXAMPLES_DIR, f), 'utf8'));
    expect(await ex('01_symbol_year.sql')).toHaveLength(6);
    const ratio = await ex('02_pair_ratio.sql');
    expect(ratio[0]!.aapl_msft_ratio).toBeCloseTo(0.5, 12);
    const div = await ex('05_dividend_history.sql');
    // Ex-date Saturday 2019-01-12 resolves to Friday's raw close via ASOF.
    expect(div.map((r) => r.price_date)).toEqual(['2019-01-10', '2019-01-11']);
    expect(div[0]!.yield).toBeCloseTo(0.24 / 99, 12);
    expect(div[1]!.year_to_date).toBeCloseTo(0.49, 12);
    const monthly = await ex('04_monthly_returns.sql');
    expect(monthly[0]).toMatchObject({ symbol: 'AAPL', month: '2019-01', month_close: 104.92713, monthly_return: null });
    const qr = await ex('06_quarantine_by_rule.sql');
    expect(qr[0]).toMatchObject({ rule: 'ohlc_invalid', sample_location: 'aapl.csv:8' });
  });

  it('every sql block in docs/sql-patterns.md runs (read_parquet against a temp hive layout)', async () => {
    // Write the fixture in the documented on-disk layout so read_parquet examples run too.
    mkdirSync(join(tmp, 'data', 'adjusted'), { recursive: true });
    const root = tmp.replace(/'/g, "''");
    await con.run(`COPY (SELECT *, year(date) AS year FROM bars) TO '${root}/data/adjusted/bars' (FORMAT parquet, PARTITION_BY (year))`);
    const md = readFileSync(DOCS_FILE, 'utf8');
    const blocks = [...md.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(5);
    for (const block of blocks) {
      const sql = block.replace(/'data\//g, `'${root}/data/`);
      const rows = await q(sql).catch((e: unknown) => {
        throw new Error(`docs block failed: ${(e as Error).message}\n${block}`);
      });
      if (block.includes('read_parquet')) expect(rows).toEqual([
        { symbol: 'AAPL', bars: '6', first_date: '2019-01-08', last_date: '2019-01-15' },
        { symbol: 'MSFT', bars: '6', first_date: '2019-01-08', last_date: '2019-01-15' },
        { symbol: 'XOM', bars: '6', first_date: '2019-01-08', last_date: '2019-01-15' },
      ]);
    }
  });
});

describe('analytics helper validation', () => {
  const bad: Array<[string, Record<string, string>]> = [
    ['returns', { symbols: "AAPL';DROP" }],
    ['returns', { symbols: "AAPL'); DROP TABLE bars; --" }],
    ['returns', { symbols: 'MſFT' }], // Unicode case folding would make it MSFT
    ['returns', { symbols: 'AAPL,,MSFT' }],
    ['returns', { symbols: '' }],
    ['returns', { symbols: 'ABCDEFGHIJK' }],
    ['returns', { from: '2019-13-01' }],
    ['returns', { from: '2019-02-30' }],
    ['returns', { from: "2019-01-01' OR 1=1 --" }],
    ['returns', { to: '2019/01/01' }],
    ['returns', { from: '2020-01-02', to: '2020-01-01' }],
    ['returns', { form: '2019-01-01' }],
    ['rolling_volatility', { window: '0' }],
    ['rolling_volatility', { window: '1' }],
    ['rolling_volatility', { window: '1001' }],
    ['rolling_volatility', { window: '2.5' }],
    ['rolling_volatility', { window: '-5' }],
    ['rolling_volatility', { window: '1e2' }],
    ['rolling_volatility', { window: '20; DROP TABLE bars' }],
    ['correlation_matrix', {}],
    ['correlation_matrix', { symbols: 'AAPL' }],
    ['correlation_matrix', { symbols: 'AAPL,AAPL' }],
    ['top_movers', { limit: '0' }],
    ['top_movers', { limit: '5000' }],
    ['top_movers', { date: '2019-01-09', from: '2019-01-07' }],
    ['top_movers', { date: 'yesterday' }],
    ['coverage', { symbols: 'AAPL;' }],
  ];

  it.each(bad)('%s %j throws InputError', (name, args) => {
    expect(() => buildHelperSql(name, args)).toThrow(InputError);
  });

  it('rejects the injection attempt with a message naming the bad symbol', () => {
    expect(() => HELPERS.returns!.build({ symbols: "AAPL';DROP" })).toThrow(/symbols: "AAPL';DROP" is not a valid symbol/);
  });

  it('typed builders validate too (library callers)', () => {
    expect(() => returnsSql({ symbols: ["X' OR '1'='1"] })).toThrow(InputError);
    expect(() => rollingVolatilitySql({ window: 20.5 })).toThrow(InputError);
    expect(() => rollingVolatilitySql({ window: Number.NaN })).toThrow(InputError);
    expect(() => topMoversSql({ limit: 1001 })).toThrow(InputError);
    expect(() => coverageSql({ symbols: [] })).toThrow(InputError);
    expect(() => correlationMatrixSql({ symbols: ['AAPL'] })).toThrow(InputError);
  });

  it('unknown helper names are InputError, including inherited keys', () => {
    expect(() => buildHelperSql('nope')).toThrow(InputError);
    expect(() => buildHelperSql('toString')).toThrow(InputError);
  });

  it('accepts valid tickers (ASCII lower case upper-cased, vendor dashes read as the class point), at the window limits', () => {
    expect(buildHelperSql('returns', { symbols: 'BRK.B,BF-B,aapl' })).toContain(`'BRK.B', 'BF.B', 'AAPL'`);
    expect(buildHelperSql('rolling_volatility', { window: '1000' })).toContain('999 PRECEDING');
    expect(buildHelperSql('top_movers', { limit: '1' })).toContain('LIMIT 1');
  });

  it('every helper documents itself', () => {
    expect(Object.keys(HELPERS).sort()).toEqual(['correlation_matrix', 'coverage', 'returns', 'rolling_volatility', 'top_movers']);
    for (const h of Object.values(HELPERS)) {
      expect(h.description.length).toBeGreaterThan(10);
      expect(h.params.length).toBeGreaterThan(5);
    }
  });
});

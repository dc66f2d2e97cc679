import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { SAMPLE_BARS } from './start.js';
import { etl, tempDir } from '../../data/test-helpers.js';
import { buildFeatures } from '../../features/feature-store.js';
import { fixedClock } from '../../core/clock.js';
import { splitStatements } from './sql.js';
import { formatCsv } from '../table.js';

/** Runs the CLI in-process; stdout collected as a string (a Writable that honours back-pressure). */
async function run(...argv: string[]) {
  const chunks = { out: '', err: '' };
  const sink = (k: 'out' | 'err') =>
    new Writable({
      highWaterMark: 1024, // small, so a large result must wait for 'drain'
      write(c, _e, cb) {
        chunks[k] += String(c);
        setImmediate(cb);
      },
    });
  const code = await main(argv, { stdout: sink('out'), stderr: sink('err') });
  return { code, ...chunks };
}

const tmp = tempDir('kestrel-sql-');
const dataDir = join(tmp.dir, 'data');
const sql = (...a: string[]) => run('sql', '--data-dir', dataDir, ...a);
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await etl(SAMPLE_BARS, dataDir);
});

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    expect(splitStatements("SELECT 1; SELECT ';' AS s;\n SELECT \"a;b\" FROM t")).toEqual(['SELECT 1', "SELECT ';' AS s", 'SELECT "a;b" FROM t']);
    expect(splitStatements("SELECT 'it''s; fine'; SELECT E'x\\'; y'")).toEqual(["SELECT 'it''s; fine'", "SELECT E'x\\'; y'"]);
    expect(splitStatements('SELECT $$a;b$$, $q$c;$q$; SELECT 2')).toEqual(['SELECT $$a;b$$, $q$c;$q$', 'SELECT 2']);
  });

  it('ignores semicolons in comments and drops comment-only pieces', () => {
    expect(splitStatements('-- a; b\nSELECT 1 /* ; /* nested; */ ; */ ;\n-- the end;\n')).toEqual(['-- a; b\nSELECT 1 /* ; /* nested; */ ; */']);
    expect(splitStatements(';;  ;')).toEqual([]);
  });
});

describe('kestrel sql: views that do not exist yet', () => {
  it('features before `kestrel features`: names the view and the command (it used to suggest pg_attrdef)', async () => {
    const r = await sql('SELECT count(*) FROM features');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`kestrel: view features does not exist yet in ${dataDir}: run \`kestrel features\` to create it\n`);
  });

  it('an unknown name lists the views instead of DuckDB internals', async () => {
    const r = await sql('SELECT * FROM bar');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^kestrel: no view or table named bar: did you mean bars\? the views are bars, bars_raw, quarantine, corporate_actions, features \(after `kestrel features`\)/);
    expect(r.err).not.toMatch(/pg_/);
  });

  it('before any ETL: says to run kestrel etl', async () => {
    const r = await run('sql', '--data-dir', join(tmp.dir, 'empty'), 'SELECT * FROM bars');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/run `kestrel etl --input <file>` first/);
  });
});

describe('kestrel sql is read-only', () => {
  it.each([
    ['COPY', (f: string) => `COPY (SELECT 1) TO '${f}'`],
    ['ATTACH', (f: string) => `ATTACH '${f}' AS x; CREATE TABLE x.t AS SELECT 1`],
    ['EXPORT', (f: string) => `EXPORT DATABASE '${f}'`],
  ])('refuses %s before it touches the disk (it used to write the file)', async (what, q) => {
    const target = join(tmp.dir, `written-by-${what}`);
    const r = await sql(q(target));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^kestrel: ${what} is not allowed.*kestrel sql is read-only`));
    expect(existsSync(target)).toBe(false);
  });

  it('an empty query is one clear line (it used to be "Error in native callback")', async () => {
    for (const q of ['', ';', '-- nothing\n']) {
      const r = await sql('--', q);
      expect(r.code).toBe(2);
      expect(r.err).toBe('kestrel: no SQL statement given (the query is empty or only comments)\n');
    }
  });

  it('refuses settings and installs; in-memory work (temp tables, macros) is fine', async () => {
    expect((await sql("SET temp_directory = '/tmp/x'; SELECT 1")).err).toMatch(/configuration has been locked/);
    expect((await sql('INSTALL httpfs')).err).toMatch(/^kestrel: INSTALL is not allowed/);
    const ok = await sql('--json', 'CREATE TEMP TABLE t AS SELECT 41 AS a; CREATE MACRO inc(x) AS x + 1; SELECT inc(a) AS b FROM t');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual([{ b: 42 }]);
  });
});

describe('kestrel sql: results of any size', () => {
  const Q = "SELECT date::VARCHAR AS date, symbol, close, volume FROM bars WHERE symbol IN ('AAPL', 'MSFT', 'KO') ORDER BY symbol, date";

  it('--csv and --json stream chunk by chunk and print what the materialized formats printed', async () => {
    const j = await sql('--json', Q);
    expect(j.code).toBe(0);
    const rows = JSON.parse(j.out) as Record<string, unknown>[];
    expect(rows.length).toBe(3 * 1259); // more than one 2048-row chunk
    expect(j.out).toBe(JSON.stringify(rows, null, 2) + '\n');
    const c = await sql('--csv', Q);
    expect(c.out).toBe(formatCsv(rows) + '\n');
    const empty = await sql('--json', `${Q} LIMIT 0`);
    expect(empty.out).toBe('[]\n');
    expect((await sql('--csv', `${Q} LIMIT 0`)).out).toBe('date,symbol,close,volume\n');
  });

  it('the table shows 200 rows and counts them all', async () => {
    const t = await sql(Q);
    expect(t.code).toBe(0);
    const lines = t.out.trimEnd().split('\n');
    expect(lines).toHaveLength(2 + 200 + 1);
    expect(lines.at(-1)).toBe('(3,777 rows, first 200 shown; use --csv, --json or --out for all)');
  });

  it('--out writes csv, parquet and json with DuckDB, and reads back the same rows', async () => {
    for (const ext of ['csv', 'parquet', 'json', 'jsonl']) {
      const f = join(tmp.dir, `out.${ext}`);
      const r = await sql('--out', f, Q);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`wrote 3,777 rows to ${f}\n`);
      const back = await sql('--json', `SELECT count(*)::INTEGER AS n, count(DISTINCT symbol)::INTEGER AS s FROM '${f}'`);
      expect(JSON.parse(back.out)).toEqual([{ n: 3777, s: 3 }]);
    }
    expect(JSON.parse(readFileSync(join(tmp.dir, 'out.json'), 'utf8'))).toHaveLength(3777);
  });

  it('--out with several statements writes the last; a failing query leaves no file', async () => {
    const f = join(tmp.dir, 'multi.csv');
    const file = join(tmp.dir, 'multi.sql');
    writeFileSync(file, "CREATE TEMP TABLE t AS SELECT 'a;b' AS s; -- first\nSELECT s, 2 AS n FROM t -- last, with a comment\n;\n");
    expect((await sql('--out', f, '--file', file)).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('s,n\na;b,2\n');
    const bad = join(tmp.dir, 'bad.csv');
    const r = await sql('--out', bad, 'SELECT 1/0::INTEGER AS x, error(\'boom\')');
    expect(r.code).toBe(2);
    expect(existsSync(bad)).toBe(false);
  });

  it('--out refuses what it cannot or must not write: one line naming the flag, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--out', join(tmp.dir, 'x.txt'), 'SELECT 1'], /^kestrel: --out ".*x\.txt": want a file name ending in \.csv\.gz, \.csv, \.parquet/],
      [['--out', join(tmp.dir, 'nope', 'x.csv'), 'SELECT 1'], /^kestrel: --out ".*x\.csv": directory .*nope does not exist/],
      [['--out', join(dataDir, '_manifest.json'), 'SELECT 1'], /^kestrel: --out ".*_manifest\.json": inside the data directory/],
      [['--out', join(tmp.dir, 'x.csv'), '--csv', 'SELECT 1'], /^kestrel: choose one of --csv, --out/],
      [['--out', join(tmp.dir, 'x.csv'), 'EXPLAIN SELECT 1'], /^kestrel: --out needs the last statement to be a query/],
      [['--file', join(tmp.dir, 'nope.sql')], /^kestrel: --file ".*nope\.sql": no such file/],
      [['--helper', 'nope'], /^kestrel: --helper "nope": unknown helper; known: /],
    ];
    for (const [args, msg] of cases) {
      const r = await sql(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(readFileSync(join(dataDir, '_manifest.json'), 'utf8')).toMatch(/"version": 1/);
  });

  it('SELECT * FROM features exports to parquet once features exist', async () => {
    await buildFeatures({ dataDir, clock: fixedClock('2026-01-05T21:00:00Z'), threads: 1, symbols: ['AAPL', 'MSFT'] });
    const f = join(tmp.dir, 'features.parquet');
    const r = await sql('--out', f, 'SELECT * FROM features');
    expect(r.out).toBe(`wrote 2,518 rows to ${f}\n`);
    const cols = await sql('--json', `SELECT count(*)::INTEGER AS n FROM (DESCRIBE SELECT * FROM '${f}')`);
    expect(JSON.parse(cols.out)).toEqual([{ n: 161 }]);
  });
});

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { SAMPLE_BARS } from '../cli/commands/start.js';
import { openCatalog } from '../data/catalog.js';
import { readText } from '../data/csv-bars.js';
import { sqlString } from '../data/duck.js';
import { readManifest, tableFiles } from '../data/store.js';
import { etl, tempDir } from '../data/test-helpers.js';
import { buildFeatures, prepareFeatures, type FeaturesOptions } from './feature-store.js';

const tmp = tempDir('kestrel-features-');
afterAll(() => tmp.cleanup());
const clock = fixedClock('2026-01-05T21:00:00Z');
const A = join(tmp.dir, 'a'); // full recompute: the reference
const B = join(tmp.dir, 'b'); // built up by partial updates
const build = (dataDir: string, o: Partial<FeaturesOptions> = {}) => buildFeatures({ dataDir, clock, threads: 1, ...o });

/** Rows of `where` in the features view of `dir` that differ from (or are missing in) the reference A, and the reverse. */
async function diffFromA(dir: string, where = 'true'): Promise<{ differing: number; rows: number }> {
  const cat = await openCatalog(dir);
  try {
    const ref = `read_parquet([${tableFiles(A, 'features').map(sqlString).join(', ')}], hive_partitioning = false)`;
    const [r] = await cat.query<{ differing: number; rows: number }>(
      `SELECT count(*) FILTER (WHERE x IS DISTINCT FROM y)::INTEGER AS differing, count(x)::INTEGER AS rows
         FROM (SELECT * FROM features WHERE ${where}) x FULL JOIN (SELECT * FROM ${ref} WHERE ${where}) y ON x.symbol = y.symbol AND x.date = y.date`,
    );
    return r!;
  } finally {
    cat.close();
  }
}

async function count(dir: string): Promise<{ n: number; s: number }> {
  const cat = await openCatalog(dir);
  try {
    return (await cat.query<{ n: number; s: number }>('SELECT count(*)::INTEGER AS n, count(DISTINCT symbol)::INTEGER AS s FROM features'))[0]!;
  } finally {
    cat.close();
  }
}

const featureFiles = (dir: string) => tableFiles(dir, 'features').map((f) => relative(dir, f)).sort();

describe('kestrel features: partial updates keep the rest of the store', { timeout: 120_000 }, () => {
  let full: Awaited<ReturnType<typeof build>>;
  let others: string[];
  beforeAll(async () => {
    // Five symbols of the sample keep the full recomputes this file needs quick.
    const keep = new Set(['AAPL', 'MSFT', 'KO', 'XOM', 'PCG']);
    const lines = readText(SAMPLE_BARS).trim().split('\n');
    const subset = join(tmp.dir, 'subset.csv');
    writeFileSync(subset, [lines[0], ...lines.slice(1).filter((l) => keep.has(l.split(',')[1]!))].join('\n') + '\n');
    await etl(subset, A);
    cpSync(A, B, { recursive: true });
    full = await build(A);
    const cat = await openCatalog(A);
    try {
      others = (await cat.query<{ symbol: string }>("SELECT DISTINCT symbol FROM bars WHERE symbol NOT IN ('AAPL', 'MSFT') ORDER BY symbol")).map((r) => r.symbol);
    } finally {
      cat.close();
    }
  });

  it('the --help example (--symbols AAPL,MSFT --from 2019-01-01) replaces those rows only; it used to leave 518 rows of 2 symbols', async () => {
    expect(full.full).toBe(true);
    const before = await count(A);
    expect(before.n).toBe(full.rows);
    const r = await build(A, { symbols: ['AAPL', 'MSFT'], from: '2019-01-01' });
    expect(r).toMatchObject({ full: false, symbols: 2, days: 259, rows: 518, replaced_rows: 518, first_date: '2019-01-02', last_date: '2020-01-10' });
    expect(r.kept).toEqual({ rows: before.n - 518, symbols: before.s - 2 });
    expect(r.store).toEqual({ rows: before.n, symbols: before.s });
    expect(await count(A)).toEqual(before);
    // Same bars, same values: every partition is reused as it was (idempotent).
    expect(r.files_written).toBe(0);
  });

  it('updated rows equal a full recompute: the 60-day windows before --from and LABEL0 after --to see real history', async () => {
    // B holds every symbol but AAPL and MSFT, then gets only their 2019 rows.
    const base = await build(B, { symbols: others });
    expect(base.kept.rows).toBe(0);
    const r = await build(B, { symbols: ['AAPL', 'MSFT'], from: '2019-01-01', to: '2019-12-31' });
    expect(r).toMatchObject({ symbols: 2, rows: 504, replaced_rows: 0, kept: { rows: base.rows, symbols: others.length } });
    const in2019 = "symbol IN ('AAPL', 'MSFT') AND date BETWEEN DATE '2019-01-01' AND DATE '2019-12-31'";
    expect(await diffFromA(B, in2019)).toEqual({ differing: 0, rows: 504 });
    expect(await diffFromA(B, `NOT (symbol IN ('AAPL', 'MSFT'))`)).toEqual({ differing: 0, rows: base.rows });
    // The comparison is not vacuous: the first updated day has full 60-day windows, the last a label.
    const cat = await openCatalog(B);
    try {
      const rows = await cat.query<{ date: string; VSUMD60: number | null; LABEL0: number | null }>(
        "SELECT date::VARCHAR AS date, VSUMD60, LABEL0 FROM features WHERE symbol = 'AAPL' AND date IN (DATE '2019-01-02', DATE '2019-12-31') ORDER BY date",
      );
      expect(rows.map((x) => x.date)).toEqual(['2019-01-02', '2019-12-31']);
      expect(rows.every((x) => x.VSUMD60 !== null && x.LABEL0 !== null)).toBe(true);
      const [{ n }] = await cat.query<{ n: number }>("SELECT count(*)::INTEGER AS n FROM features WHERE symbol = 'AAPL' AND date < DATE '2019-01-01'");
      expect(n).toBe(0);
    } finally {
      cat.close();
    }
  });

  it('a crash before the manifest swap leaves the old snapshot: staged files are never seen', async () => {
    const manifest = readFileSync(join(B, '_manifest.json'), 'utf8');
    const before = await count(B);
    // Everything up to the commit, then the process "dies": no commit, no discard.
    await prepareFeatures({ dataDir: B, clock, threads: 1, symbols: ['AAPL', 'MSFT'] });
    expect(readFileSync(join(B, '_manifest.json'), 'utf8')).toBe(manifest);
    expect(await count(B)).toEqual(before);
    // An explicit discard (a failed run) leaves it as it was too.
    const staged = await prepareFeatures({ dataDir: B, clock, threads: 1, symbols: ['AAPL', 'MSFT'] });
    staged.discard();
    expect(readFileSync(join(B, '_manifest.json'), 'utf8')).toBe(manifest);
  });

  it('changed partitions are merged and rewritten; the store then equals the full recompute, file names included after a full run', async () => {
    const r = await build(B, { symbols: ['AAPL', 'MSFT'] });
    expect(r.replaced_rows).toBe(504);
    // 2015-2018 and 2020 gain rows of AAPL and MSFT; 2019 already holds exactly these and is reused.
    expect(r.files_written).toBe(5);
    expect(r.files_reused).toBe(1);
    expect(await diffFromA(B)).toEqual({ differing: 0, rows: full.rows });
    // A full recompute names partitions by content: the same content, the same files as A.
    const again = await build(B);
    expect(again.full).toBe(true);
    expect(featureFiles(B)).toEqual(featureFiles(A));
  });

  it('a bad selection is one line naming the flag (exit 2), and the store is untouched', async () => {
    const manifest = readManifest(B);
    const cases: Array<[Partial<FeaturesOptions>, RegExp]> = [
      [{ symbols: ['AAPL', 'ZZZZ'] }, /^--symbols: no bars for ZZZZ/],
      [{ symbols: ['aapl'] }, /^--symbols: "aapl" is not a ticker/],
      [{ symbols: [] }, /^--symbols: want at least one symbol/],
      [{ from: '2019-02-30' }, /^--from "2019-02-30" must be a YYYY-MM-DD calendar date/],
      [{ from: '2019-06-01', to: '2019-01-01' }, /^--from 2019-06-01 is after --to 2019-01-01$/],
      [{ from: '2030-01-01' }, /^--from 2030-01-01: no bars in that range \(the bars span 2015-01-12 → 2020-01-10\)$/],
    ];
    for (const [o, msg] of cases) {
      const e = await build(B, o).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message).toMatch(msg);
    }
    expect(readManifest(B)).toEqual(manifest);
  });
});

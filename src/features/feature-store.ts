import { relative } from 'node:path';
import type { Clock } from '../core/clock.js';
import { dayNumber, dayString } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import type { Duck } from '../data/duck.js';
import { sqlString } from '../data/duck.js';
import { PartitionHash, SnapshotWriter, tableFiles } from '../data/store.js';
import { ALPHA158_NAMES, type FeatureMatrix } from './alpha158.js';
import { computeAlpha158 } from './compute.js';

/**
 * `kestrel features`: Alpha158 for every symbol from the adjusted bars, stored as Parquet
 * (`data/features/alpha158/year=YYYY/…`) behind the `features` view (date, symbol, the 158
 * columns, LABEL0). Undefined values (windows not yet full) are NULL in SQL. The view is
 * declared in data/catalog.ts so `kestrel sql` sees it without loading this module.
 *
 * Partial updates: `symbols` and/or `from`/`to` choose the rows to REPLACE — those symbols'
 * rows in that date range (every symbol when `symbols` is omitted, every date when the range
 * is) — and everything else in the store is kept. Windows and the label always see the
 * symbol's full history, so an updated row equals what a full recompute gives (the warm-up
 * of the 60-day windows before `from`, and the two days after a row that LABEL0 looks at).
 * The update is one snapshot: changed year partitions are staged, then the manifest is
 * swapped (docs/adr/0001), so a crash leaves the old store or the new one, never a mix.
 */
export interface FeaturesOptions {
  dataDir: string;
  clock: Clock;
  symbols?: string[];
  from?: string;
  to?: string;
  threads?: number;
  progress?: (stage: string, done: number, total: number) => void;
}

export interface FeaturesReport {
  /** Symbols with rows written by this run. */
  symbols: number;
  /** Rows written by this run (the replaced range). */
  rows: number;
  columns: number;
  first_date: string | null;
  last_date: string | null;
  /** Distinct dates among the rows written. */
  days: number;
  /** True when the whole store was recomputed (no --symbols, --from or --to). */
  full: boolean;
  /** Rows of the previous store that this run replaced. */
  replaced_rows: number;
  /** Rows of the previous store kept as they were; `symbols`: symbols this run did not touch at all. */
  kept: { rows: number; symbols: number };
  /** The store after the run. */
  store: { rows: number; symbols: number };
  files_written: number;
  files_reused: number;
  timings_ms: { load: number; compute: number; write: number; total: number };
}

const SYMBOL_RE = /^[A-Z][A-Z0-9.-]{0,9}$/;
const NAMES = [...ALPHA158_NAMES, 'LABEL0'];
const PART_RE = /year=(\d{4})\/part-([0-9a-f]+)\.parquet$/;

/** Computes and publishes; see prepareFeatures for the two halves. */
export async function buildFeatures(opts: FeaturesOptions): Promise<FeaturesReport> {
  const staged = await prepareFeatures(opts);
  return staged.commit();
}

export interface StagedFeatures {
  /** Publishes the staged snapshot (one manifest swap) and returns the report. */
  commit(): FeaturesReport;
  /** Drops the staged files; the store stays as it was. */
  discard(): void;
}

/**
 * Everything but the commit: validates the options, computes, and stages the new partitions.
 * Until `commit` the store (and every reader) sees the previous snapshot only.
 */
export async function prepareFeatures(opts: FeaturesOptions): Promise<StagedFeatures> {
  const t0 = performance.now();
  const progress = opts.progress ?? (() => {});
  const sel = selection(opts);
  const cat = await openCatalog(opts.dataDir);
  let writer: SnapshotWriter | null = null;
  try {
    progress('load', 0, 3);
    const bars = await loadAdjustedBars(cat, { symbols: sel.symbols });
    if (sel.symbols) {
      const unknown = sel.symbols.filter((s) => !bars.has(s));
      if (unknown.length) throw new InputError(`--symbols: no bars for ${unknown.join(', ')} (the symbols are those of \`kestrel sql "SELECT DISTINCT symbol FROM bars"\`)`, 'bad_usage');
    }
    const tLoad = performance.now();
    progress('compute', 1, 3);
    const mats = await computeAlpha158(bars.values(), { threads: opts.threads });
    const tCompute = performance.now();
    progress('write', 2, 3);
    const fresh = pickRows(mats, sel.lo, sel.hi);
    if (fresh.rows === 0 && (sel.from || sel.to)) {
      const span = [...bars.values()].reduce((a, b) => (b.day.length ? [Math.min(a[0]!, b.day[0]!), Math.max(a[1]!, b.day[b.day.length - 1]!)] : a), [Infinity, -Infinity]);
      const has = Number.isFinite(span[0]!) ? `the bars span ${dayString(span[0]!)} → ${dayString(span[1]!)}` : 'there are no bars';
      throw new InputError(`${sel.from ? `--from ${sel.from}` : ''}${sel.from && sel.to ? ' ' : ''}${sel.to ? `--to ${sel.to}` : ''}: no bars in that range (${has})`, 'bad_usage');
    }
    writer = new SnapshotWriter(opts.dataDir, cat.duck, () => opts.clock.now());
    const merged = await stageFeatures(cat.duck, writer, fresh, sel, tableFiles(opts.dataDir, 'features', cat.manifest), opts.dataDir);
    const tWrite = performance.now();
    const w = writer;
    const fromSnapshot = cat.manifest.created_at;
    const report: FeaturesReport = {
      symbols: fresh.picks.length,
      rows: fresh.rows,
      columns: NAMES.length,
      first_date: fresh.first,
      last_date: fresh.last,
      days: fresh.days,
      full: !sel.symbols && !sel.from && !sel.to,
      replaced_rows: merged.replaced,
      kept: { rows: merged.kept, symbols: merged.keptSymbols },
      store: { rows: merged.kept + fresh.rows, symbols: merged.storeSymbols },
      files_written: 0,
      files_reused: 0,
      timings_ms: { load: Math.round(tLoad - t0), compute: Math.round(tCompute - tLoad), write: Math.round(tWrite - tCompute), total: Math.round(tWrite - t0) },
    };
    return {
      commit: () => {
        w.commit({ features_computed_at: opts.clock.now().toISOString(), features_from_snapshot: fromSnapshot });
        progress('write', 3, 3);
        report.files_written = w.written.length;
        report.files_reused = w.reused.length;
        return report;
      },
      discard: () => w.discard(),
    };
  } catch (e) {
    writer?.discard();
    throw e;
  } finally {
    cat.close();
  }
}

interface Selection {
  symbols?: string[];
  from?: string;
  to?: string;
  lo: number;
  hi: number;
  /** SQL predicate over (symbol, date): the rows this run replaces. */
  where: string;
}

function selection(opts: FeaturesOptions): Selection {
  let symbols: string[] | undefined;
  if (opts.symbols !== undefined) {
    if (opts.symbols.length === 0) throw new InputError('--symbols: want at least one symbol, e.g. AAPL,MSFT', 'bad_usage');
    for (const s of opts.symbols) if (!SYMBOL_RE.test(s)) throw new InputError(`--symbols: ${JSON.stringify(s)} is not a ticker (a letter, then up to 9 of A-Z 0-9 . -)`, 'bad_usage');
    symbols = [...new Set(opts.symbols)].sort();
  }
  const date = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(dayNumber(v))) throw new InputError(`${flag} ${JSON.stringify(v)} must be a YYYY-MM-DD calendar date, e.g. 2019-01-02`, 'bad_usage');
    return v;
  };
  const from = date(opts.from, '--from');
  const to = date(opts.to, '--to');
  if (from && to && from > to) throw new InputError(`--from ${from} is after --to ${to}`, 'bad_usage');
  const where = [
    ...(symbols ? [`symbol IN (${symbols.map(sqlString).join(', ')})`] : []),
    ...(from ? [`date >= DATE '${from}'`] : []),
    ...(to ? [`date <= DATE '${to}'`] : []),
  ];
  return { symbols, from, to, lo: from ? dayNumber(from) : -Infinity, hi: to ? dayNumber(to) : Infinity, where: where.length ? where.join(' AND ') : 'true' };
}

const yearOf = (day: number) => new Date(day * 86_400_000).getUTCFullYear();

interface Fresh {
  picks: Array<{ m: FeatureMatrix; rows: number[] }>;
  rows: number;
  days: number;
  first: string | null;
  last: string | null;
}

/** The computed rows inside [lo, hi], per symbol. */
function pickRows(mats: FeatureMatrix[], lo: number, hi: number): Fresh {
  const picks: Fresh['picks'] = [];
  const days = new Set<number>();
  let n = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const m of mats) {
    const rows: number[] = [];
    for (let r = 0; r < m.rows; r++) if (m.day[r]! >= lo && m.day[r]! <= hi) rows.push(r);
    if (rows.length === 0) continue;
    picks.push({ m, rows });
    n += rows.length;
    for (const r of rows) days.add(m.day[r]!);
    first = Math.min(first, m.day[rows[0]!]!);
    last = Math.max(last, m.day[rows[rows.length - 1]!]!);
  }
  return { picks, rows: n, days: days.size, first: Number.isFinite(first) ? dayString(first) : null, last: Number.isFinite(last) ? dayString(last) : null };
}

/**
 * Stages the features table of the next snapshot. Per year partition:
 * - no row of the old partition is kept → the new rows alone, named by their content hash
 *   (what a full recompute always does: re-running it writes nothing);
 * - the old rows this run replaces equal the new ones → the old file, unchanged;
 * - otherwise → old rows outside the selection plus the new rows, one sorted file, named by a
 *   hash of what defines it (old file, selection, new content).
 * Years the selection does not touch keep their files.
 */
async function stageFeatures(duck: Duck, writer: SnapshotWriter, fresh: Fresh, sel: Selection, oldFiles: string[], dataDir: string) {
  const F = ALPHA158_NAMES.length;
  const n = fresh.rows;
  const sid = new Int32Array(n);
  const day = new Int32Array(n);
  const year = new Int32Array(n);
  const cols = Array.from({ length: F + 1 }, () => new Float64Array(n));
  let at = 0;
  fresh.picks.forEach(({ m, rows }, k) => {
    for (const r of rows) {
      sid[at] = k;
      day[at] = m.day[r]!;
      year[at] = yearOf(m.day[r]!);
      for (let f = 0; f < F; f++) cols[f]![at] = m.values[f * m.rows + r]!;
      cols[F]![at] = m.label[r]!;
      at++;
    }
  });
  // Content hash per year over the exact values written (rows are grouped by symbol, then day).
  const hashes = new Map<number, PartitionHash>();
  const rowsPerYear = new Map<number, number>();
  for (let i = 0; i < n; ) {
    const y = year[i]!;
    let j = i;
    while (j < n && year[j] === y && sid[j] === sid[i]) j++;
    let h = hashes.get(y);
    if (!h) hashes.set(y, (h = new PartitionHash().add(`features/alpha158/v1/${y}`)));
    h.add(fresh.picks[sid[i]!]!.m.symbol).add(day.subarray(i, j));
    for (const c of cols) h.add(c.subarray(i, j));
    rowsPerYear.set(y, (rowsPerYear.get(y) ?? 0) + j - i);
    i = j;
  }
  const freshHash = new Map([...hashes].map(([y, h]) => [y, h.digest()]));

  // The previous store, by year: how many rows this run replaces and how many it keeps.
  const oldByYear = new Map<number, string[]>();
  for (const f of oldFiles) {
    const m = PART_RE.exec(f.replace(/\\/g, '/'));
    if (!m) throw new InputError(`features: unexpected file in the manifest: ${f}`, 'bad_manifest');
    const list = oldByYear.get(Number(m[1])) ?? [];
    list.push(f);
    oldByYear.set(Number(m[1]), list);
  }
  const src = (files: string[]) => `read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false)`;
  const counts = new Map<number, { replaced: number; kept: number }>();
  const keptSymbols = new Set<string>();
  if (oldFiles.length) {
    const rows = await duck.rows<{ y: number; replaced: number; kept: number }>(
      `SELECT year(date)::INTEGER AS y, count(*) FILTER (WHERE ${sel.where})::INTEGER AS replaced, count(*) FILTER (WHERE NOT (${sel.where}))::INTEGER AS kept FROM ${src(oldFiles)} GROUP BY ALL`,
    );
    for (const r of rows) counts.set(r.y, { replaced: r.replaced, kept: r.kept });
    for (const r of await duck.rows<{ symbol: string }>(`SELECT DISTINCT symbol FROM ${src(oldFiles)} WHERE NOT (${sel.where})`)) keptSymbols.add(r.symbol);
  }

  const sqlCols = NAMES.map((c) => `CASE WHEN isnan(${c}) OR isinf(${c}) THEN NULL ELSE ${c} END AS ${c}`).join(', ');
  const freshSql = (y: number) => `SELECT DATE '1970-01-01' + day AS date, symbol, ${sqlCols} FROM stage_f JOIN stage_fs USING (sid) WHERE year = ${y}`;
  await duck.run(`CREATE OR REPLACE TEMP TABLE stage_f (sid INTEGER, day INTEGER, year INTEGER, ${NAMES.map((c) => `${c} DOUBLE`).join(', ')})`);
  await duck.run('CREATE OR REPLACE TEMP TABLE stage_fs (sid INTEGER, symbol VARCHAR)');
  const { INTEGER, VARCHAR } = await import('../data/duck.js');
  await duck.appendColumns('stage_fs', [INTEGER, VARCHAR], [fresh.picks.map((_, k) => k), fresh.picks.map((p) => p.m.symbol)], fresh.picks.length);
  let appended = false;
  const stage = async () => {
    if (!appended) await duck.appendTyped('stage_f', [sid, day, year, ...cols], n);
    appended = true;
  };

  const pure: Array<{ value: number; hash: string }> = [];
  let replaced = 0;
  let kept = 0;
  for (const y of [...new Set([...oldByYear.keys(), ...freshHash.keys()])].sort((a, b) => a - b)) {
    const old = oldByYear.get(y) ?? [];
    const c = counts.get(y) ?? { replaced: 0, kept: 0 };
    const newRows = rowsPerYear.get(y) ?? 0;
    replaced += c.replaced;
    kept += c.kept;
    if (c.kept === 0) {
      if (newRows) pure.push({ value: y, hash: freshHash.get(y)! });
      continue;
    }
    const oldHash = old.length === 1 ? PART_RE.exec(old[0]!.replace(/\\/g, '/'))![2]! : null;
    if (c.replaced === 0 && newRows === 0 && oldHash) {
      await writer.write('features', `year=${y}`, oldHash, ''); // untouched: the same file
      continue;
    }
    await stage();
    if (oldHash && c.replaced === newRows && (await sameRows(duck, `SELECT * FROM ${src(old)} WHERE ${sel.where}`, freshSql(y)))) {
      await writer.write('features', `year=${y}`, oldHash, '');
      continue;
    }
    const h = new PartitionHash().add(`features/alpha158/merge/v1/${y}`).add(old.map((f) => relative(dataDir, f)).join('\n')).add(sel.where).add(freshHash.get(y) ?? 'none');
    await writer.write('features', `year=${y}`, h.digest(), `SELECT * FROM (SELECT * FROM ${src(old)} WHERE NOT (${sel.where}) UNION ALL ${freshSql(y)}) ORDER BY symbol, date`);
  }
  // New-only partitions: one partitioned COPY for all of them (a full recompute takes this path).
  const todo = pure.filter((p) => !writer.has('features', `year=${p.value}`, p.hash));
  for (const p of pure) if (!todo.includes(p)) await writer.write('features', `year=${p.value}`, p.hash, '');
  if (todo.length) {
    await stage();
    await writer.writePartitioned('features', 'year', todo, `SELECT DATE '1970-01-01' + day AS date, symbol, ${sqlCols}, year FROM stage_f JOIN stage_fs USING (sid) WHERE year IN (${todo.map((p) => p.value).join(', ')}) ORDER BY symbol, day`);
  }
  writer.ensureTable('features');
  await duck.run('DROP TABLE stage_f; DROP TABLE stage_fs');
  const updated = new Set(fresh.picks.map((p) => p.m.symbol));
  const storeSymbols = new Set([...keptSymbols, ...updated]).size;
  return { replaced, kept, keptSymbols: [...keptSymbols].filter((s) => !updated.has(s) && !(sel.symbols ?? []).includes(s)).length, storeSymbols };
}

/**
 * True when two queries return the same rows, matched on (symbol, date), which is unique in the
 * store: NULLs equal, doubles bit for bit. (A join comparing whole-row structs; EXCEPT ALL over
 * 161 columns is several times slower.)
 */
async function sameRows(duck: Duck, a: string, b: string): Promise<boolean> {
  const [r] = await duck.rows<{ d: number }>(`SELECT count(*)::INTEGER AS d FROM (${a}) x FULL JOIN (${b}) y ON x.symbol = y.symbol AND x.date = y.date WHERE x IS DISTINCT FROM y`);
  return r!.d === 0;
}

import type { Clock } from '../core/clock.js';
import { dayNumber } from '../core/clock.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import { PartitionHash, SnapshotWriter } from '../data/store.js';
import { ALPHA158_NAMES, type FeatureMatrix } from './alpha158.js';
import { computeAlpha158 } from './compute.js';

/**
 * `kestrel features`: Alpha158 for every symbol from the adjusted bars, stored as Parquet
 * (`data/features/alpha158/year=YYYY/…`) behind the `features` view (date, symbol, the 158
 * columns, LABEL0). Windows always see the full history; --from/--to only bound what is
 * written. Undefined values (windows not yet full) are NULL in SQL. The view is declared in
 * data/catalog.ts so `kestrel sql` sees it without loading this module.
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
  symbols: number;
  rows: number;
  columns: number;
  first_date: string | null;
  last_date: string | null;
  files_written: number;
  files_reused: number;
  timings_ms: { load: number; compute: number; write: number; total: number };
}

export async function buildFeatures(opts: FeaturesOptions): Promise<FeaturesReport> {
  const t0 = performance.now();
  const progress = opts.progress ?? (() => {});
  const cat = await openCatalog(opts.dataDir);
  try {
    progress('load', 0, 3);
    const bars = await loadAdjustedBars(cat, { symbols: opts.symbols });
    const tLoad = performance.now();
    progress('compute', 1, 3);
    const mats = await computeAlpha158(bars.values(), { threads: opts.threads });
    const tCompute = performance.now();
    progress('write', 2, 3);
    const lo = opts.from ? dayNumber(opts.from) : -Infinity;
    const hi = opts.to ? dayNumber(opts.to) : Infinity;
    const writer = new SnapshotWriter(opts.dataDir, cat.duck, () => opts.clock.now());
    const written = await writeFeatureParquet(cat.duck, writer, mats, lo, hi);
    writer.commit({ features_computed_at: opts.clock.now().toISOString(), features_from_snapshot: cat.manifest.created_at });
    progress('write', 3, 3);
    const tWrite = performance.now();
    return {
      symbols: mats.length,
      rows: written.rows,
      columns: ALPHA158_NAMES.length + 1,
      first_date: written.first,
      last_date: written.last,
      files_written: writer.written.length,
      files_reused: writer.reused.length,
      timings_ms: { load: Math.round(tLoad - t0), compute: Math.round(tCompute - tLoad), write: Math.round(tWrite - tCompute), total: Math.round(tWrite - t0) },
    };
  } finally {
    cat.close();
  }
}

const yearOf = (day: number) => new Date(day * 86_400_000).getUTCFullYear();

async function writeFeatureParquet(duck: import('../data/duck.js').Duck, writer: SnapshotWriter, mats: FeatureMatrix[], lo: number, hi: number) {
  // Select rows in range, grouped by year, into typed columns (one copy, then straight into DuckDB).
  const F = ALPHA158_NAMES.length;
  const picks: Array<{ m: FeatureMatrix; rows: number[] }> = [];
  let n = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const m of mats) {
    const rows: number[] = [];
    for (let r = 0; r < m.rows; r++) if (m.day[r]! >= lo && m.day[r]! <= hi) rows.push(r);
    if (rows.length === 0) continue;
    picks.push({ m, rows });
    n += rows.length;
    first = Math.min(first, m.day[rows[0]!]!);
    last = Math.max(last, m.day[rows[rows.length - 1]!]!);
  }
  const sid = new Int32Array(n);
  const day = new Int32Array(n);
  const year = new Int32Array(n);
  const cols = Array.from({ length: F + 1 }, () => new Float64Array(n));
  const hashes = new Map<number, PartitionHash>();
  let at = 0;
  picks.forEach(({ m, rows }, k) => {
    for (const r of rows) {
      sid[at] = k;
      day[at] = m.day[r]!;
      year[at] = yearOf(m.day[r]!);
      for (let f = 0; f < F; f++) cols[f]![at] = m.values[f * m.rows + r]!;
      cols[F]![at] = m.label[r]!;
      at++;
    }
  });
  // Content hash per year partition over the exact values written.
  for (let i = 0; i < n; ) {
    const y = year[i]!;
    let j = i;
    while (j < n && year[j] === y && sid[j] === sid[i]) j++;
    let h = hashes.get(y);
    if (!h) hashes.set(y, (h = new PartitionHash().add(`features/alpha158/v1/${y}`)));
    h.add(picks[sid[i]!]!.m.symbol).add(day.subarray(i, j));
    for (const c of cols) h.add(c.subarray(i, j));
    i = j;
  }
  const names = [...ALPHA158_NAMES, 'LABEL0'];
  await duck.run(`CREATE OR REPLACE TEMP TABLE stage_f (sid INTEGER, day INTEGER, year INTEGER, ${names.map((c) => `${c} DOUBLE`).join(', ')})`);
  await duck.run('CREATE OR REPLACE TEMP TABLE stage_fs (sid INTEGER, symbol VARCHAR)');
  const { INTEGER, VARCHAR } = await import('../data/duck.js');
  await duck.appendColumns('stage_fs', [INTEGER, VARCHAR], [picks.map((_, k) => k), picks.map((p) => p.m.symbol)], picks.length);
  const parts = [...hashes].map(([y, h]) => ({ value: y, hash: h.digest() }));
  const todo = parts.filter((p) => !writer.has('features', `year=${p.value}`, p.hash));
  for (const p of parts) if (!todo.includes(p)) await writer.write('features', `year=${p.value}`, p.hash, '');
  if (todo.length) {
    await duck.appendTyped('stage_f', [sid, day, year, ...cols], n);
    const sel = names.map((c) => `CASE WHEN isnan(${c}) OR isinf(${c}) THEN NULL ELSE ${c} END AS ${c}`).join(', ');
    const years = todo.map((p) => p.value).join(', ');
    await writer.writePartitioned('features', 'year', todo, `SELECT DATE '1970-01-01' + day AS date, symbol, ${sel}, year FROM stage_f JOIN stage_fs USING (sid) WHERE year IN (${years}) ORDER BY symbol, day`);
  }
  await duck.run('DROP TABLE stage_f; DROP TABLE stage_fs');
  const fmt = (d: number) => (Number.isFinite(d) ? new Date(d * 86_400_000).toISOString().slice(0, 10) : null);
  return { rows: n, first: fmt(first), last: fmt(last) };
}

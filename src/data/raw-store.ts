import { dayNumber } from '../core/clock.js';
import { allocBars, type CorporateAction, type SymbolBars } from './bars.js';
import type { Duck } from './duck.js';
import { DOUBLE, INTEGER, sqlString, VARCHAR } from './duck.js';
import { PartitionHash, tableFiles, type Manifest, type SnapshotWriter, type StoreTable } from './store.js';

/**
 * Moves bar series, quarantine rows and corporate actions between JS and the Parquet store.
 * Bars are partitioned by calendar year, rows sorted by (symbol, date) inside a file.
 */

export interface QuarantineRow {
  date: string | null;
  symbol: string | null;
  rule: string;
  detail: string;
  file: string;
  line: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  adj_close: number | null;
  volume: number | null;
}

const EPOCH = "DATE '1970-01-01'";

/** Reads the published raw bars of the current snapshot back into series. */
export async function loadRawBars(duck: Duck, dataDir: string, manifest: Manifest | null): Promise<Map<string, SymbolBars>> {
  const out = new Map<string, SymbolBars>();
  const files = tableFiles(dataDir, 'bars_raw', manifest);
  if (files.length === 0) return out;
  const c = await duck.columns(
    `SELECT symbol, (date - ${EPOCH})::INTEGER AS day, open, high, low, close, adj_close, volume
       FROM read_parquet([${files.map(sqlString).join(', ')}]) ORDER BY symbol, date`,
  );
  const sym = c.symbol as string[];
  const n = sym.length;
  let s = 0;
  while (s < n) {
    let e = s;
    while (e < n && sym[e] === sym[s]) e++;
    const b = allocBars(sym[s]!, e - s, true);
    for (let i = s; i < e; i++) {
      const j = i - s;
      b.day[j] = c.day![i] as number;
      b.open[j] = c.open![i] as number;
      b.high[j] = c.high![i] as number;
      b.low[j] = c.low![i] as number;
      b.close[j] = c.close![i] as number;
      b.adjClose![j] = (c.adj_close![i] as number | null) ?? NaN;
      b.volume[j] = c.volume![i] as number;
      b.fileIdx[j] = 0;
      b.line[j] = 0;
    }
    out.set(sym[s]!, b);
    s = e;
  }
  return out;
}

export async function loadQuarantine(duck: Duck, dataDir: string, manifest: Manifest | null): Promise<QuarantineRow[]> {
  const files = tableFiles(dataDir, 'quarantine', manifest);
  if (files.length === 0) return [];
  return duck.rows<QuarantineRow>(`SELECT * FROM read_parquet([${files.map(sqlString).join(', ')}])`);
}

export async function loadActions(duck: Duck, dataDir: string, manifest: Manifest | null): Promise<CorporateAction[]> {
  const files = tableFiles(dataDir, 'corporate_actions', manifest);
  if (files.length === 0) return [];
  const rows = await duck.rows<{ ex_date: string; symbol: string; type: 'split' | 'dividend'; value: number; source: 'file' | 'derived' }>(
    `SELECT strftime(ex_date, '%Y-%m-%d') AS ex_date, symbol, type, value, source FROM read_parquet([${files.map(sqlString).join(', ')}])`,
  );
  return rows.map((r) => ({ symbol: r.symbol, exDate: r.ex_date, type: r.type, value: r.value, source: r.source }));
}

const yearOfDay = (day: number) => new Date(day * 86_400_000).getUTCFullYear();

/**
 * Writes series as year partitions of `table`. Only partitions whose content hash is new get
 * written; the rest keep their existing files. `extra` adds per-row columns (e.g. factors).
 */
export async function writeBarPartitions(
  duck: Duck,
  writer: SnapshotWriter,
  table: Extract<StoreTable, 'bars_raw' | 'bars_adjusted'>,
  series: SymbolBars[],
  columns: { adjClose: boolean; factor?: Map<string, Float64Array> },
): Promise<void> {
  // Split each series into year slices and hash every (year) partition.
  const byYear = new Map<number, Array<{ b: SymbolBars; s: number; e: number }>>();
  for (const b of series) {
    let s = 0;
    while (s < b.day.length) {
      const y = yearOfDay(b.day[s]!);
      let e = s;
      while (e < b.day.length && yearOfDay(b.day[e]!) === y) e++;
      let list = byYear.get(y);
      if (!list) byYear.set(y, (list = []));
      list.push({ b, s, e });
      s = e;
    }
  }
  const tmp = `stage_${table}`;
  const pending: Array<{ year: number; hash: string; slices: Array<{ b: SymbolBars; s: number; e: number }> }> = [];
  for (const year of [...byYear.keys()].sort((a, b) => a - b)) {
    const h = new PartitionHash().add(`${table}/v1/${year}`);
    const slices = byYear.get(year)!;
    for (const { b, s, e } of slices) {
      h.add(b.symbol).add(b.day.subarray(s, e)).add(b.open.subarray(s, e)).add(b.high.subarray(s, e)).add(b.low.subarray(s, e)).add(b.close.subarray(s, e)).add(b.volume.subarray(s, e));
      if (columns.adjClose && b.adjClose) h.add(b.adjClose.subarray(s, e));
      const f = columns.factor?.get(b.symbol);
      if (f) h.add(f.subarray(s, e));
    }
    const hash = h.digest();
    if (writer.has(table, `year=${year}`, hash)) await writer.write(table, `year=${year}`, hash, '');
    else pending.push({ year, hash, slices });
  }
  if (pending.length === 0) return;

  // Concatenate the changed partitions into typed columns; symbols travel as ids (joined back in SQL).
  const symbolIds = new Map<string, number>();
  const rows = pending.reduce((n, p) => n + p.slices.reduce((m, x) => m + x.e - x.s, 0), 0);
  const col = { sid: new Int32Array(rows), day: new Int32Array(rows), year: new Int32Array(rows), open: new Float64Array(rows), high: new Float64Array(rows), low: new Float64Array(rows), close: new Float64Array(rows), adj: new Float64Array(rows), volume: new Float64Array(rows), factor: new Float64Array(rows) };
  let at = 0;
  for (const { year, slices } of pending) {
    for (const { b, s, e } of slices) {
      let sid = symbolIds.get(b.symbol);
      if (sid === undefined) symbolIds.set(b.symbol, (sid = symbolIds.size));
      col.sid.fill(sid, at, at + e - s);
      col.year.fill(year, at, at + e - s);
      col.day.set(b.day.subarray(s, e), at);
      col.open.set(b.open.subarray(s, e), at);
      col.high.set(b.high.subarray(s, e), at);
      col.low.set(b.low.subarray(s, e), at);
      col.close.set(b.close.subarray(s, e), at);
      col.volume.set(b.volume.subarray(s, e), at);
      if (b.adjClose) col.adj.set(b.adjClose.subarray(s, e), at);
      else col.adj.fill(NaN, at, at + e - s);
      const f = columns.factor?.get(b.symbol);
      if (f) col.factor.set(f.subarray(s, e), at);
      else col.factor.fill(1, at, at + e - s);
      at += e - s;
    }
  }
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${tmp} (sid INTEGER, day INTEGER, year INTEGER, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, adj_close DOUBLE, volume DOUBLE, factor DOUBLE)`);
  await duck.appendTyped(tmp, [col.sid, col.day, col.year, col.open, col.high, col.low, col.close, col.adj, col.volume, col.factor], rows);
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${tmp}_sym (sid INTEGER, symbol VARCHAR)`);
  await duck.appendColumns(`${tmp}_sym`, [INTEGER, VARCHAR], [[...symbolIds.values()], [...symbolIds.keys()]], symbolIds.size);
  const out = [
    'open, high, low, close',
    ...(columns.adjClose ? ["CASE WHEN isnan(adj_close) THEN NULL ELSE adj_close END AS adj_close"] : []),
    'volume',
    ...(columns.factor ? ['factor'] : []),
  ].join(', ');
  // Sorted inside each file so row-group statistics prune symbol and date filters.
  await writer.writePartitioned(
    table,
    'year',
    pending.map((p) => ({ value: p.year, hash: p.hash })),
    `SELECT ${EPOCH} + day AS date, symbol, ${out}, year FROM ${tmp} JOIN ${tmp}_sym USING (sid) ORDER BY symbol, day`,
  );
  await duck.run(`DROP TABLE ${tmp}; DROP TABLE ${tmp}_sym`);
}

export async function writeQuarantine(duck: Duck, writer: SnapshotWriter, rows: QuarantineRow[]): Promise<void> {
  const sorted = [...rows].sort((a, b) => cmp(a.symbol, b.symbol) || cmp(a.date, b.date) || cmp(a.file, b.file) || a.line - b.line || cmp(a.rule, b.rule));
  const h = new PartitionHash().add('quarantine/v1').add(JSON.stringify(sorted));
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE stage_q (date VARCHAR, symbol VARCHAR, rule VARCHAR, detail VARCHAR, file VARCHAR, line INTEGER,
       open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, adj_close DOUBLE, volume DOUBLE)`,
  );
  const keys = ['date', 'symbol', 'rule', 'detail', 'file', 'line', 'open', 'high', 'low', 'close', 'adj_close', 'volume'] as const;
  const cols = keys.map((k) => sorted.map((r) => r[k] ?? null));
  const types = [VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, INTEGER, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE, DOUBLE];
  await duck.appendColumns('stage_q', types, cols, sorted.length);
  await writer.write('quarantine', null, h.digest(), `SELECT date::DATE AS date, * EXCLUDE (date) FROM stage_q`);
  await duck.run('DROP TABLE stage_q');
}

export async function writeActions(duck: Duck, writer: SnapshotWriter, actions: CorporateAction[]): Promise<void> {
  const sorted = [...actions].sort((a, b) => cmp(a.symbol, b.symbol) || cmp(a.exDate, b.exDate) || cmp(a.type, b.type));
  const h = new PartitionHash().add('corporate_actions/v1').add(JSON.stringify(sorted));
  await duck.run('CREATE OR REPLACE TEMP TABLE stage_a (ex_date INTEGER, symbol VARCHAR, type VARCHAR, value DOUBLE, source VARCHAR)');
  await duck.appendColumns(
    'stage_a',
    [INTEGER, VARCHAR, VARCHAR, DOUBLE, VARCHAR],
    [sorted.map((a) => dayNumber(a.exDate)), sorted.map((a) => a.symbol), sorted.map((a) => a.type), sorted.map((a) => a.value), sorted.map((a) => a.source)],
    sorted.length,
  );
  await writer.write('corporate_actions', null, h.digest(), `SELECT ${EPOCH} + ex_date AS ex_date, symbol, type, value, source FROM stage_a`);
  await duck.run('DROP TABLE stage_a');
}

function cmp(a: string | null, b: string | null): number {
  return a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1;
}

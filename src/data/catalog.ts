import { InputError } from '../core/errors.js';
import { openDuck, sqlString, type Duck } from './duck.js';
import { readManifest, tableFiles, type Manifest } from './store.js';

/**
 * The SQL catalog: an in-memory DuckDB whose views read the current Parquet snapshot.
 * Components register their views here (`registerView`), so `kestrel sql` and the library
 * API see the same names. Opening costs a few milliseconds: views are just file lists.
 */
export interface ViewDef {
  name: string;
  /** Manifest table whose files the view reads. */
  table: string;
  /** Column list (SQL) selected from the files. */
  select: string;
  description: string;
}

const VIEWS: ViewDef[] = [
  {
    name: 'bars',
    table: 'bars_adjusted',
    select: 'date, symbol, open, high, low, close, volume',
    description: 'daily bars adjusted for splits and dividends (backward, CRSP factors)',
  },
  {
    name: 'bars_raw',
    table: 'bars_raw',
    select: 'date, symbol, open, high, low, close, adj_close, volume',
    description: 'published daily bars as ingested (adj_close is the vendor value, NULL if absent)',
  },
  { name: 'quarantine', table: 'quarantine', select: '*', description: 'rows held back by a quality gate: date, symbol, rule, detail, file, line and the raw values' },
  { name: 'corporate_actions', table: 'corporate_actions', select: 'ex_date, symbol, type, value, source', description: 'splits (value = ratio) and cash dividends (value = amount); source file or derived' },
  {
    name: 'features',
    table: 'features',
    select: '*',
    description: 'Alpha158 features (Qlib names, `kestrel features`) and LABEL0 = Ref(close,-2)/Ref(close,-1) - 1, per date and symbol',
  },
];

/** Lets later components (features, …) add views the same way. */
export function registerView(def: ViewDef): void {
  const i = VIEWS.findIndex((v) => v.name === def.name);
  if (i >= 0) VIEWS[i] = def;
  else VIEWS.push(def);
}

export function listViews(): readonly ViewDef[] {
  return VIEWS;
}

export interface Catalog {
  duck: Duck;
  manifest: Manifest;
  views: string[];
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): void;
}

export async function openCatalog(dataDir: string): Promise<Catalog> {
  const manifest = readManifest(dataDir);
  if (!manifest) throw new InputError(`no data in ${dataDir}: run \`kestrel etl --input <file>\` first (or pass --data-dir)`, 'no_data');
  const duck = await openDuck();
  const views: string[] = [];
  for (const v of VIEWS) {
    const files = tableFiles(dataDir, v.table, manifest);
    if (files.length === 0) continue;
    const list = `[${files.map(sqlString).join(', ')}]`;
    await duck.run(`CREATE VIEW ${v.name} AS SELECT ${v.select} FROM read_parquet(${list}, hive_partitioning = false)`);
    views.push(v.name);
  }
  return { duck, manifest, views, query: (sql) => duck.rows(sql), close: () => duck.close() };
}

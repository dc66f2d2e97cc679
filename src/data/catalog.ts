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
  /** The command that creates the view's files (named when a query needs the view before they exist). */
  createdBy: string;
}

const VIEWS: ViewDef[] = [
  {
    name: 'bars',
    table: 'bars_adjusted',
    select: 'date, symbol, open, high, low, close, volume',
    description: 'daily bars adjusted for splits and dividends (backward, CRSP factors)',
    createdBy: 'kestrel etl --input <file>',
  },
  {
    name: 'bars_raw',
    table: 'bars_raw',
    select: 'date, symbol, open, high, low, close, adj_close, volume',
    description: 'published daily bars as ingested (adj_close is the vendor value, NULL if absent)',
    createdBy: 'kestrel etl --input <file>',
  },
  { name: 'quarantine', table: 'quarantine', select: '*', description: 'rows held back by a quality gate: date, symbol, rule, detail, file, line and the raw values', createdBy: 'kestrel etl --input <file>' },
  { name: 'corporate_actions', table: 'corporate_actions', select: 'ex_date, symbol, type, value, source', description: 'splits (value = ratio) and cash dividends (value = amount); source file or derived', createdBy: 'kestrel etl --input <file>' },
  {
    name: 'features',
    table: 'features',
    select: '*',
    description: 'Alpha158 features (Qlib names, `kestrel features`) and LABEL0 = Ref(close,-2)/Ref(close,-1) - 1, per date and symbol',
    createdBy: 'kestrel features',
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
  dataDir: string;
  manifest: Manifest;
  views: string[];
  /** Views whose files do not exist yet in this data directory (e.g. features before `kestrel features`). */
  missing: ViewDef[];
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): void;
}

export async function openCatalog(dataDir: string): Promise<Catalog> {
  const manifest = readManifest(dataDir);
  if (!manifest) throw new InputError(`no data in ${dataDir}: run \`kestrel etl --input <file>\` first (or pass --data-dir)`, 'no_data');
  const duck = await openDuck();
  const views: string[] = [];
  const missing: ViewDef[] = [];
  for (const v of VIEWS) {
    const files = tableFiles(dataDir, v.table, manifest);
    if (files.length === 0) {
      missing.push(v);
      continue;
    }
    const list = `[${files.map(sqlString).join(', ')}]`;
    await duck.run(`CREATE VIEW ${v.name} AS SELECT ${v.select} FROM read_parquet(${list}, hive_partitioning = false)`);
    views.push(v.name);
  }
  const cat: Catalog = {
    duck,
    dataDir,
    manifest,
    views,
    missing,
    query: async (sql) => {
      try {
        return await duck.rows(sql);
      } catch (e) {
        throw explainCatalogError(e, cat) ?? e;
      }
    },
    close: () => duck.close(),
  };
  return cat;
}

/**
 * DuckDB's answer to a view that does not exist yet is "Table with name features does not
 * exist! Did you mean pg_attrdef?". Returns the error to show instead: which view, and the
 * command that creates it; for other unknown names, the list of views. Null when the error is
 * about something else.
 */
export function explainCatalogError(err: unknown, cat: Pick<Catalog, 'dataDir' | 'views' | 'missing'>): InputError | null {
  const msg = (err as Error)?.message ?? '';
  const m = /Table with name ([^\s!]+) does not exist/i.exec(msg);
  if (!m) return null;
  const name = m[1]!.replace(/^"|"$/g, '');
  const v = cat.missing.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (v) return new InputError(`view ${v.name} does not exist yet in ${cat.dataDir}: run \`${v.createdBy}\` to create it`, 'view_missing');
  const suggestion = /Did you mean "([^"]+)"/.exec(msg)?.[1];
  const known = [...cat.views, ...cat.missing.map((x) => `${x.name} (after \`${x.createdBy}\`)`)].join(', ');
  const hint = suggestion && cat.views.includes(suggestion) ? `did you mean ${suggestion}? ` : '';
  return new InputError(`no view or table named ${name}: ${hint}the views are ${known} (kestrel sql --views)`, 'bad_sql');
}

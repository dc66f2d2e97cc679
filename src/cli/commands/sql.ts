import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../../core/errors.js';
import { HELPERS } from '../../data/analytics.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { formatCsv, formatTable } from '../table.js';

export interface SqlArgs {
  dataDir?: string;
  file?: string;
  helper?: string;
  arg?: string[];
  json?: boolean;
  csv?: boolean;
  views?: boolean;
}

/** Picks the SQL to run from a query argument, --file or --helper (exactly one). */
export function resolveSql(query: string | undefined, args: SqlArgs): string {
  const given = [query !== undefined, Boolean(args.file), Boolean(args.helper)].filter(Boolean).length;
  if (given !== 1) throw new InputError('give exactly one of: a query, --file <q.sql>, --helper <name> (see kestrel sql --help)', 'bad_usage');
  if (args.file) {
    try {
      return readFileSync(resolve(args.file), 'utf8');
    } catch {
      throw new InputError(`cannot read ${args.file}`, 'bad_usage');
    }
  }
  if (args.helper) {
    const h = HELPERS[args.helper];
    if (!h) throw new InputError(`unknown helper ${JSON.stringify(args.helper)}; known: ${Object.keys(HELPERS).join(', ')}`, 'bad_usage');
    const kv: Record<string, string> = {};
    for (const a of args.arg ?? []) {
      const i = a.indexOf('=');
      if (i <= 0) throw new InputError(`--arg ${JSON.stringify(a)}: want key=value`, 'bad_usage');
      kv[a.slice(0, i)] = a.slice(i + 1);
    }
    return h.build(kv);
  }
  return query!;
}

export function registerSql(program: Command, io: IO): void {
  program
    .command('sql')
    .description('query the data with DuckDB SQL (views: bars, bars_raw, quarantine, corporate_actions, features)')
    .argument('[query]', 'SQL to run')
    .option('-f, --file <q.sql>', 'run the statements of a file (the last one is printed)')
    .option('--helper <name>', `run a helper query: ${Object.keys(HELPERS).join(', ')}`)
    .option('--arg <key=value...>', 'helper arguments, e.g. --arg symbols=AAPL,MSFT --arg from=2019-01-01')
    .option('--views', 'list the views and helpers, then exit')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--json', 'print rows as a JSON array')
    .option('--csv', 'print rows as CSV')
    .addHelpText(
      'after',
      `
Examples:
  kestrel sql "SELECT * FROM bars WHERE symbol = 'AAPL' AND year(date) = 2019"
  kestrel sql --csv "SELECT symbol, count(*) n, avg(close) FROM bars GROUP BY ALL ORDER BY n"
  kestrel sql --file examples/sql/01_symbol_year.sql --json
  kestrel sql --helper rolling_volatility --arg symbols=AAPL,MSFT --arg window=20

Bad SQL prints DuckDB's message and exits 2.`,
    )
    .action(async (query: string | undefined, opts: SqlArgs) => {
      const ctx = createContext('sql', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: true });
      // DuckDB loads only when a query runs (it is most of the start-up time).
      const { openCatalog, listViews } = await import('../../data/catalog.js');
      if (opts.views) {
        for (const v of listViews()) ctx.out(`${v.name.padEnd(18)} ${v.description}`);
        for (const [name, h] of Object.entries(HELPERS)) ctx.out(`--helper ${name.padEnd(20)} ${h.description} (${h.params})`);
        return;
      }
      if (opts.json && opts.csv) throw new InputError('choose one of --json and --csv', 'bad_usage');
      const sql = resolveSql(query, opts);
      const cat = await openCatalog(ctx.config.dataDir);
      try {
        const rows = await runStatements(cat.duck.con, sql);
        if (opts.json) ctx.json(rows);
        else if (opts.csv) ctx.out(formatCsv(rows));
        else ctx.out(formatTable(rows, ctx.tty));
      } finally {
        cat.close();
      }
    });
}

type Con = import('../../data/duck.js').Duck['con'];

/** Runs every statement; returns the last one's rows. DuckDB errors become bad input (exit 2). */
async function runStatements(con: Con, sql: string): Promise<Record<string, unknown>[]> {
  try {
    const stmts = await con.extractStatements(sql);
    if (stmts.count === 0) throw new InputError('no SQL statement given', 'bad_sql');
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < stmts.count; i++) {
      const prepared = await stmts.prepare(i);
      const reader = await prepared.runAndReadAll();
      rows = reader.getRowObjectsJson() as Record<string, unknown>[];
    }
    return rows;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError((e as Error).message.replace(/^Failed to extract statements: /, '').replace(/\s+/g, ' ').trim(), 'bad_sql');
  }
}

import type { Command } from 'commander';
import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { InputError } from '../../core/errors.js';
import { HELPERS } from '../../data/analytics.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { paint } from '../style.js';
import { formatTable } from '../table.js';

export interface SqlArgs {
  dataDir?: string;
  file?: string;
  helper?: string;
  arg?: string[];
  json?: boolean;
  csv?: boolean;
  out?: string;
  views?: boolean;
}

/** Picks the SQL to run from a query argument, --file or --helper (exactly one). */
export function resolveSql(query: string | undefined, args: SqlArgs): string {
  const given = [query !== undefined, args.file !== undefined, args.helper !== undefined].filter(Boolean).length;
  if (given !== 1) throw new InputError('give exactly one of: a query, --file <q.sql>, --helper <name> (see kestrel sql --help)', 'bad_usage');
  if (args.file !== undefined) {
    try {
      return readFileSync(resolve(args.file), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, want a .sql file' : code === 'EACCES' ? 'permission denied' : 'cannot be read';
      throw new InputError(`--file ${JSON.stringify(args.file)}: ${why}`, 'bad_usage');
    }
  }
  if (args.helper !== undefined) {
    const h = HELPERS[args.helper];
    if (!h) throw new InputError(`--helper ${JSON.stringify(args.helper)}: unknown helper; known: ${Object.keys(HELPERS).join(', ')}`, 'bad_usage');
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

/** Formats `--out` can write, by file name ending, as DuckDB COPY options. */
const OUT_FORMATS: Array<[string, string]> = [
  ['.csv.gz', "FORMAT csv, HEADER true, COMPRESSION gzip"],
  ['.csv', 'FORMAT csv, HEADER true'],
  ['.parquet', 'FORMAT parquet, COMPRESSION zstd'],
  ['.jsonl', 'FORMAT json'],
  ['.ndjson', 'FORMAT json'],
  ['.json', 'FORMAT json, ARRAY true'],
];

/** The COPY options for an --out path; exit 2 naming the flag for anything we cannot write. */
export function outFormat(path: string, dataDir: string): string {
  const lower = path.toLowerCase();
  const f = OUT_FORMATS.find(([ext]) => lower.endsWith(ext) && lower.length > ext.length);
  if (!f) throw new InputError(`--out ${JSON.stringify(path)}: want a file name ending in ${OUT_FORMATS.map(([e]) => e).join(', ')}`, 'bad_usage');
  const abs = resolve(path);
  const rel = relative(resolve(dataDir), abs);
  if (!rel.startsWith('..') && !rel.startsWith('/') && rel !== '') throw new InputError(`--out ${JSON.stringify(path)}: inside the data directory ${dataDir}; write exports elsewhere`, 'bad_usage');
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new InputError(`--out ${JSON.stringify(path)}: is a directory, want a file name`, 'bad_usage');
  const dir = dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--out ${JSON.stringify(path)}: directory ${dir} does not exist`, 'bad_usage');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError(`--out ${JSON.stringify(path)}: directory ${dir} is not writable`, 'bad_usage');
  }
  return f[1];
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
    .option('--json', 'print rows as a JSON array (streamed)')
    .option('--csv', 'print rows as CSV (streamed)')
    .option('-o, --out <file>', 'write the result with DuckDB to a .csv, .csv.gz, .parquet, .json or .jsonl file')
    .addHelpText(
      'after',
      `
Examples:
  kestrel sql "SELECT * FROM bars WHERE symbol = 'AAPL' AND year(date) = 2019"
  kestrel sql --csv "SELECT symbol, count(*) n, avg(close) FROM bars GROUP BY ALL ORDER BY n"
  kestrel sql --file examples/sql/01_symbol_year.sql --json
  kestrel sql --helper rolling_volatility --arg symbols=AAPL,MSFT --arg window=20
  kestrel sql --out bars-2019.parquet "SELECT * FROM bars WHERE date >= DATE '2019-01-01'"

--csv and --json stream any result in bounded memory; --out writes it with DuckDB itself (no
rows pass through JavaScript). The table shows the first 200 rows. Queries run read-only:
statements that write files (COPY, EXPORT, ATTACH, INSTALL, LOAD) and settings are refused.
Bad SQL prints DuckDB's message and exits 2.`,
    )
    .action(async (query: string | undefined, opts: SqlArgs) => {
      const ctx = createContext('sql', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: true });
      if (opts.views) {
        const { listViews } = await import('../../data/catalog.js');
        for (const v of listViews()) ctx.out(`${v.name.padEnd(18)} ${v.description}`);
        for (const [name, h] of Object.entries(HELPERS)) ctx.out(`--helper ${name.padEnd(20)} ${h.description} (${h.params})`);
        return;
      }
      const formats = [opts.json && '--json', opts.csv && '--csv', opts.out !== undefined && '--out'].filter(Boolean);
      if (formats.length > 1) throw new InputError(`choose one of ${formats.join(', ')}`, 'bad_usage');
      const sql = resolveSql(query, opts);
      const copyOptions = opts.out !== undefined ? outFormat(opts.out, ctx.config.dataDir) : null;
      // DuckDB loads only when a query runs (it is most of the start-up time).
      const [{ openCatalog, explainCatalogError }, { JsonDuckDBValueConverter }] = await Promise.all([import('../../data/catalog.js'), import('../../data/duck.js')]);
      const cat = await openCatalog(ctx.config.dataDir);
      try {
        await lockDown(cat.duck.con);
        const last = await runAllButLast(cat.duck.con, sql);
        if (copyOptions !== null) {
          const n = await copyOut(cat.duck.con, last, sql, opts.out!, copyOptions);
          ctx.out(`wrote ${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'} to ${opts.out}`);
        } else {
          const result = await last.stream();
          const sink = new Sink(io.stdout);
          if (opts.json) await streamJson(result, sink);
          else if (opts.csv) await streamCsv(result, sink);
          else await streamTable(result, sink, ctx.tty, JsonDuckDBValueConverter);
        }
      } catch (e) {
        if (e instanceof InputError) throw e;
        throw explainCatalogError(e, cat) ?? sqlError(e);
      } finally {
        cat.close();
      }
    });
}

type Con = import('../../data/duck.js').Duck['con'];
type Prepared = Awaited<ReturnType<Awaited<ReturnType<Con['extractStatements']>>['prepare']>>;
type Result = Awaited<ReturnType<Prepared['stream']>>;

/** DuckDB errors become bad input (exit 2): one line, without DuckDB's line-number decoration. */
function sqlError(e: unknown): InputError {
  return new InputError((e as Error).message.replace(/^Failed to extract statements: /, '').replace(/\s+/g, ' ').trim(), 'bad_sql');
}

/**
 * After the views exist, nothing the query says may change settings or fetch code: no
 * extension installs, no persistent secrets, and the configuration locked (so no temp
 * directory or profiling output elsewhere on disk either).
 */
async function lockDown(con: Con): Promise<void> {
  await con.run('SET autoinstall_known_extensions = false');
  await con.run('SET allow_persistent_secrets = false');
  await con.run('SET lock_configuration = true');
}

/** Statement types that write files or load code; the rest touch only the in-memory database. */
const WRITES: Record<number, string> = { 11: 'COPY', 16: 'EXPORT', 25: 'ATTACH', 26: 'DETACH', 28: 'COPY DATABASE', 21: 'LOAD', 23: 'INSTALL', 29: 'UPDATE EXTENSIONS' };

/**
 * Prepares and runs the statements in order (a later one may use a table an earlier one
 * created), refusing any that writes files before it runs; returns the last one, prepared.
 */
async function runAllButLast(con: Con, sql: string): Promise<Prepared> {
  // Some statements act while being prepared (EXPORT creates its directory, IMPORT runs the
  // files it names), so they are refused by their first words before DuckDB sees them.
  const pieces = splitStatements(sql);
  if (pieces.length === 0) throw new InputError('no SQL statement given (the query is empty or only comments)', 'bad_sql');
  pieces.forEach((p, i) => {
    const head = /^(FORCE\s+INSTALL|UPDATE\s+EXTENSIONS|PRAGMA\s+import_database|COPY|EXPORT|IMPORT|ATTACH|DETACH|INSTALL|LOAD)\b/i.exec(stripLeadingComments(p));
    if (head) refuse(head[1]!.toUpperCase().replace(/\s+/g, ' '), i, pieces.length);
  });
  const stmts = await con.extractStatements(sql);
  if (stmts.count === 0) throw new InputError('no SQL statement given', 'bad_sql');
  for (let i = 0; ; i++) {
    const prepared = await stmts.prepare(i);
    refuseWrites(prepared, i, stmts.count);
    if (i === stmts.count - 1) return prepared;
    await prepared.run();
  }
}

function refuseWrites(p: Prepared, i: number, count: number): void {
  const what = WRITES[p.statementType as number];
  if (what !== undefined) refuse(what, i, count);
}

function refuse(what: string, i: number, count: number): never {
  const which = count > 1 ? ` (statement ${i + 1} of ${count})` : '';
  throw new InputError(`${what} is not allowed${which}: kestrel sql is read-only${what === 'COPY' ? '; to export a result, use --out FILE.csv|.parquet|.json' : ''}`, 'read_only');
}

/**
 * `--out`: DuckDB writes the last statement's result itself (COPY (query) TO file), to a
 * temporary name in the target directory renamed into place, so a failed query leaves no
 * partial file. Returns the row count.
 */
async function copyOut(con: Con, last: Prepared, sql: string, out: string, options: string): Promise<number> {
  if ((last.statementType as number) !== 1) throw new InputError('--out needs the last statement to be a query that returns rows (SELECT, FROM, WITH …)', 'bad_usage');
  const pieces = splitStatements(sql);
  const count = (await con.extractStatements(sql)).count;
  if (pieces.length !== count) throw new InputError(`--out: cannot isolate the last of ${count} statements; put the query alone in the file`, 'bad_usage');
  const target = resolve(out);
  const tmp = `${dirname(target)}/.${basename(target)}.${process.pid}.tmp`;
  try {
    const r = await con.runAndReadAll(`COPY (\n${pieces[pieces.length - 1]}\n) TO '${tmp.replace(/'/g, "''")}' (${options})`);
    renameSync(tmp, target);
    const row = r.getRows()[0];
    return row ? Number(row[0]) : r.rowsChanged;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function stripLeadingComments(s: string): string {
  let t = s.trimStart();
  for (;;) {
    if (t.startsWith('--')) t = t.slice(t.indexOf('\n') < 0 ? t.length : t.indexOf('\n') + 1).trimStart();
    else if (t.startsWith('/*')) t = t.slice(t.indexOf('*/') < 0 ? t.length : t.indexOf('*/') + 2).trimStart();
    else return t;
  }
}

/**
 * Splits SQL text into statements at top-level semicolons (not inside quotes, dollar quotes or
 * comments), dropping pieces that hold only whitespace and comments.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let code = false; // the current piece has something besides comments and whitespace
  const n = sql.length;
  const push = (end: number) => {
    if (code) out.push(sql.slice(start, end).trim());
    start = end + 1;
    code = false;
  };
  while (i < n) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const e = sql.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') depth++;
        else if (sql[i] === '*' && sql[i + 1] === '/') depth--;
        else {
          i++;
          continue;
        }
        i += 2;
      }
    } else if (c === "'" || c === '"') {
      code = true;
      const backslash = c === "'" && i > 0 && (sql[i - 1] === 'e' || sql[i - 1] === 'E') && !/[\w$]/.test(sql[i - 2] ?? ' ');
      i++;
      while (i < n) {
        if (backslash && sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(sql.slice(i));
      if (m) {
        code = true;
        const e = sql.indexOf(m[0], i + m[0].length);
        i = e < 0 ? n : e + m[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      i++;
    } else {
      if (!/\s/.test(c)) code = true;
      i++;
    }
  }
  push(n);
  return out;
}

/** stdout with back-pressure; a closed pipe (`| head`) ends the output quietly. */
class Sink {
  closed = false;
  private wake: (() => void) | null = null;
  constructor(private readonly s: IO['stdout']) {
    const stop = () => {
      this.closed = true;
      this.wake?.();
    };
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') this.error = e;
      stop();
    });
    s.once('close', stop);
  }
  private error: Error | null = null;
  async write(text: string): Promise<void> {
    if (this.error) throw this.error;
    if (this.closed) return;
    if (this.s.write(text)) return;
    await new Promise<void>((r) => {
      this.wake = r;
      this.s.once('drain', r);
    });
    this.wake = null;
  }
}

async function streamCsv(result: Result, sink: Sink): Promise<void> {
  const esc = (v: unknown) => {
    if (typeof v === 'number') return String(v); // most cells: no quoting to consider
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  await sink.write(result.columnNames().map(esc).join(',') + '\n');
  for await (const rows of result.yieldRowsJson()) {
    if (sink.closed) return;
    let text = '';
    for (const r of rows) text += r.map(esc).join(',') + '\n';
    await sink.write(text);
  }
}

/** The same text as JSON.stringify(rows, null, 2), a chunk at a time. */
async function streamJson(result: Result, sink: Sink): Promise<void> {
  let n = 0;
  for await (const rows of result.yieldRowObjectJson()) {
    if (sink.closed) return;
    let text = '';
    for (const r of rows) text += (n++ === 0 ? '[\n' : ',\n') + JSON.stringify(r, null, 2).replace(/^/gm, '  ');
    await sink.write(text);
  }
  await sink.write(n === 0 ? '[]\n' : '\n]\n');
}

const TABLE_ROWS = 200;

/** The first TABLE_ROWS rows as a table; the rest are counted, not converted or kept. */
async function streamTable(result: Result, sink: Sink, tty: boolean, json: typeof import('../../data/duck.js').JsonDuckDBValueConverter): Promise<void> {
  const shown: Record<string, unknown>[] = [];
  let total = 0;
  const names = result.deduplicatedColumnNames();
  for await (const chunk of result) {
    if (shown.length < TABLE_ROWS) {
      for (const row of chunk.convertRows(json).slice(0, TABLE_ROWS - shown.length)) shown.push(Object.fromEntries(names.map((k, j) => [k, row[j]])));
    }
    total += chunk.rowCount;
  }
  if (total === 0) return sink.write('(0 rows)\n');
  const lines = formatTable(shown, tty, TABLE_ROWS).split('\n');
  lines.pop(); // formatTable's count line speaks of the rows it was given; ours counts them all
  const c = paint(tty);
  lines.push(c.dim(`(${total.toLocaleString('en-US')} row${total === 1 ? '' : 's'}${total > TABLE_ROWS ? `, first ${TABLE_ROWS} shown; use --csv, --json or --out for all` : ''})`));
  await sink.write(lines.join('\n') + '\n');
}

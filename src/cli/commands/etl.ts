import type { Command } from 'commander';
import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isTradingDateString } from '../../core/clock.js';
import { InputError } from '../../core/errors.js';
import type { QualityReport } from '../../data/etl.js';
import { renderQualityReport } from '../render-quality.js';
import type { CliContext, IO } from '../context.js';
import { createContext } from '../context.js';

export interface EtlArgs {
  input: string;
  actions?: string;
  asOf?: string;
  dataDir?: string;
  gates?: string;
  report?: string;
  json?: boolean;
}

/** Runs the ETL and prints the quality report; a failed gate prints it too, then exits 1 (2 when the input is malformed). */
export async function etlCommand(ctx: CliContext, args: EtlArgs): Promise<QualityReport> {
  // Heavy modules (DuckDB, zod) load only when the command runs, not for --help.
  const [{ loadGates }, { EtlFailure, runEtl }] = await Promise.all([import('../../data/quality/rules.js'), import('../../data/etl.js')]);
  // Every flag is checked before any work, so a bad one never leaves a half-done run behind
  // (a --report path that cannot be written used to fail only after publishing).
  if (args.input.trim() === '') throw new InputError('--input "": want a CSV or CSV.gz file, or a directory of them', 'bad_usage');
  if (!existsSync(args.input)) throw new InputError(`--input ${JSON.stringify(args.input)}: no such file or directory (want a CSV or CSV.gz file, or a directory of them)`, 'bad_usage');
  checkAsOf(args.asOf);
  if (args.report !== undefined) checkWritableFile(args.report, '--report');
  if (args.actions !== undefined) checkReadableFile(args.actions, '--actions', 'a CSV of symbol,ex_date,type,value');
  checkDataDir(ctx.config.dataDir, args.dataDir !== undefined ? '--data-dir' : 'KESTREL_DATA_DIR');
  const gates = args.gates !== undefined ? loadGates(args.gates, '--gates') : loadGates(ctx.config.gatesFile, 'KESTREL_GATES_FILE');
  const bar = ctx.progress('etl');
  const show = (r: QualityReport) => {
    if (args.report) writeFileSync(args.report, JSON.stringify(r, null, 2) + '\n');
    if (args.json) ctx.json(r);
    else ctx.out(renderQualityReport(r, ctx.tty));
  };
  try {
    const report = await runEtl({
      input: resolve(args.input),
      actionsFile: args.actions ? resolve(args.actions) : undefined,
      asOf: args.asOf,
      dataDir: ctx.config.dataDir,
      gates,
      clock: ctx.clock,
      logger: ctx.logger,
      progress: bar.update,
    });
    bar.stop();
    show(report);
    return report;
  } catch (e) {
    bar.stop();
    if (e instanceof EtlFailure) show(e.report);
    throw e;
  }
}

function checkAsOf(asOf: string | undefined): void {
  if (asOf !== undefined && !isTradingDateString(asOf)) throw new InputError(`--as-of ${JSON.stringify(asOf)} must be a YYYY-MM-DD calendar date, e.g. 2020-01-10`, 'bad_usage');
}

function checkReadableFile(path: string, flag: string, want: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InputError(`${flag} ${JSON.stringify(path)}: no such file (want ${want})`, 'bad_usage');
  }
  if (!st.isFile()) throw new InputError(`${flag} ${JSON.stringify(path)}: not a file (want ${want})`, 'bad_usage');
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new InputError(`${flag} ${JSON.stringify(path)}: permission denied`, 'bad_usage');
  }
}

function checkWritableFile(path: string, flag: string): void {
  if (path === '') throw new InputError(`${flag} "": want a file path`, 'bad_usage');
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError(`${flag} ${JSON.stringify(path)}: is a directory, want a file path`, 'bad_usage');
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`${flag} ${JSON.stringify(path)}: directory ${dir} does not exist`, 'bad_usage');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError(`${flag} ${JSON.stringify(path)}: directory ${dir} is not writable`, 'bad_usage');
  }
}

function checkDataDir(dir: string, source: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new InputError(`${source} ${JSON.stringify(dir)}: not a directory`, 'bad_usage');
}

export function registerEtl(program: Command, io: IO): void {
  program
    .command('etl')
    .description('ingest daily bars: quality gates, corporate actions, Parquet snapshot')
    .requiredOption('-i, --input <file|dir>', 'CSV or CSV.gz file, or a directory of them')
    .option('-a, --actions <csv>', 'corporate actions CSV: symbol,ex_date,type(split|dividend),value')
    .option('--as-of <YYYY-MM-DD>', 'check freshness: the data must reach this trading date')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--gates <json>', 'quality-gate settings (default $KESTREL_GATES_FILE or built-in)')
    .option('--report <file>', 'also write the JSON quality report to this file')
    .option('--json', 'print the quality report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  kestrel etl --input data/sample/bars.csv.gz
  kestrel etl --input data/sample/bars.csv.gz --as-of 2020-01-10 --json --report quality.json
  kestrel etl --input <new-day.csv> --actions <actions.csv> --gates <gates.json>
(paths relative to the repository; <...> stands for your own files)

Formats: bars date,symbol,open,high,low,close[,adj_close],volume with ISO dates (YYYY-MM-DD);
actions symbol,ex_date,type(split|dividend),value; gates: docs/data-quality.md.
Exit codes: 0 published; 1 a quality tolerance was exceeded; 2 bad input (a flag, or malformed
lines beyond tolerance: the report lists them with line and reason). 1 and 2 publish nothing.`,
    )
    .action(async (opts: EtlArgs) => {
      const ctx = createContext('etl', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: opts.json });
      await etlCommand(ctx, opts);
    });
}

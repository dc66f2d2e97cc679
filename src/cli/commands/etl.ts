import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { QualityReport } from '../../data/etl.js';
import { writeFileSync } from 'node:fs';
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

/** Runs the ETL and prints the quality report; a failed gate prints it too, then exits 1. */
export async function etlCommand(ctx: CliContext, args: EtlArgs): Promise<QualityReport> {
  // Heavy modules (DuckDB, zod) load only when the command runs, not for --help.
  const [{ loadGates }, { EtlFailure, runEtl }] = await Promise.all([import('../../data/quality/rules.js'), import('../../data/etl.js')]);
  const gates = loadGates(args.gates ? resolve(args.gates) : ctx.config.gatesFile);
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
  kestrel etl --input ../shared/data/sp500_daily_2015_2020.csv.gz --as-of 2020-01-10 --json
  kestrel etl --input new-day.csv --actions actions.csv --gates gates.json

Exit codes: 0 published, 1 a quality tolerance was exceeded (nothing published), 2 bad input.`,
    )
    .action(async (opts: EtlArgs) => {
      const ctx = createContext('etl', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: opts.json });
      await etlCommand(ctx, opts);
    });
}

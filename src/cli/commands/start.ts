import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../core/errors.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { etlCommand } from './etl.js';
import { paperRunCommand } from './paper-run.js';

/** The bundled sample: 40 symbols of the shared data set, all dates (see data/sample/README.md). */
export const SAMPLE_BARS = fileURLToPath(new URL('../../../data/sample/bars.csv.gz', import.meta.url));

/**
 * `npm start`: the main job on embedded defaults, from a fresh clone: ETL of the bundled
 * sample (quality report), a model trained when the registry has none, then a 20-day paper
 * run through every service in this process, and its P&L report.
 */
export function registerStart(program: Command, io: IO): void {
  program
    .command('start')
    .description('the main job on embedded defaults: ETL the bundled sample, train if needed, 20-day paper run, P&L report')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--days <n>', 'trading days of the paper run (default 20)')
    .option('--json', 'print the paper-run report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  npm start                      # the same as: npx kestrel start
  npx kestrel start --days 60    # a longer paper run
  npx kestrel start --json > report.json

Writes ./data (Parquet) and ./var (embedded Postgres, model artifacts, var/paper/last-report.json).`,
    )
    .action(async (opts: { dataDir?: string; days?: string; json?: boolean }) => {
      if (!existsSync(SAMPLE_BARS)) throw new InputError(`bundled sample missing: ${SAMPLE_BARS}`);
      const ctx = createContext('start', io, { dataDir: opts.dataDir }, { quiet: true });
      const step = (s: string) => !opts.json && ctx.out(`\n── ${s} ${'─'.repeat(Math.max(0, 72 - s.length))}`);
      step('1/2 data: ETL of the bundled sample');
      const quiet = { ...ctx, out: opts.json ? () => {} : ctx.out };
      await etlCommand(quiet, { input: SAMPLE_BARS });
      step('2/2 paper run: model → signals → risk-checked orders → fills → P&L');
      await paperRunCommand(ctx, { days: opts.days ?? '20', json: opts.json });
      if (!opts.json) ctx.out(`\nNext: kestrel status · kestrel sql "SELECT * FROM quarantine LIMIT 5" · kestrel models list · docs/ for the concepts`);
    });
}

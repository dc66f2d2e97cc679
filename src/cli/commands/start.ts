import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../core/errors.js';
import type { ModelVersion } from '../../registry/models.js';
import type { TrainReport } from '../../ml/training-job.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { etlCommand } from './etl.js';
import { ensureModel, paperFlags, paperRunCommand, PAPER_DEFAULTS } from './paper-run.js';

/** The bundled sample: 40 symbols of the shared data set, all dates (see data/sample/README.md). */
export const SAMPLE_BARS = fileURLToPath(new URL('../../../data/sample/bars.csv.gz', import.meta.url));

/**
 * `npm start`: the main job on embedded defaults, from a fresh clone, in the three steps the
 * README lists: (1) data — ETL of the bundled sample and its quality report; (2) model — the
 * Alpha158 GBDT trained when the registry has no production model, with its metrics; (3) paper
 * run — 20 trading days through every service in this process, and its P&L report.
 */
export function registerStart(program: Command, io: IO): void {
  program
    .command('start')
    .description('the main job on embedded defaults: ETL the bundled sample, train if needed, 20-day paper run, P&L report')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--days <n>', `trading days of the paper run, 1-2520 (default ${PAPER_DEFAULTS.days})`, paperFlags.days)
    .option('--json', 'print the paper-run report as JSON')
    .addHelpText(
      'after',
      `
Steps: 1/3 data (ETL of the bundled sample, quality report) · 2/3 model (train when the registry
has no production model; prints best iteration, validation MSE against always predicting 0, IC
and Rank IC) · 3/3 paper run (P&L report).

Examples:
  npm start                      # the same as: npx kestrel start
  npx kestrel start --days 60    # a longer paper run
  npx kestrel start --json > report.json

Writes ./data (Parquet) and ./var (embedded Postgres, model artifacts, var/paper/last-report.json).`,
    )
    .action(async (opts: { dataDir?: string; days?: number; json?: boolean }) => {
      if (!existsSync(SAMPLE_BARS)) throw new InputError(`bundled sample missing: ${SAMPLE_BARS}`);
      const ctx = createContext('start', io, { dataDir: opts.dataDir }, { quiet: true });
      const step = (s: string) => !opts.json && ctx.out(`\n── ${s} ${'─'.repeat(Math.max(0, 72 - s.length))}`);
      const quiet = { ...ctx, out: opts.json ? () => {} : ctx.out };
      step('1/3 data: ETL of the bundled sample');
      await etlCommand(quiet, { input: SAMPLE_BARS });

      step('2/3 model: Alpha158 features → gradient-boosted trees');
      const { openDb } = await import('../../db/open.js');
      const registryDb = await openDb(ctx.config);
      const bar = ctx.progress('model');
      try {
        const { model, trained } = await ensureModel(ctx, registryDb, bar);
        bar.stop();
        quiet.out(renderModel(model, trained));
      } finally {
        bar.stop();
        await registryDb.close();
      }

      step('3/3 paper run: signals → risk-checked orders → fills → P&L');
      await paperRunCommand(ctx, { days: opts.days ?? PAPER_DEFAULTS.days, json: opts.json });
      if (!opts.json) ctx.out(`\nNext: kestrel status · kestrel sql "SELECT * FROM quarantine LIMIT 5" · kestrel models list · docs/ for the concepts`);
    });
}

/** The model step's summary: what was trained (or reused) and how well it predicts out of sample. */
export function renderModel(model: ModelVersion, trained: TrainReport | null): string {
  const m = trained ?? model.metrics;
  const num = (v: unknown, dp: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(dp) : '-');
  const sci = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toExponential(4) : '-');
  const mse = m.valid_mse as number | undefined;
  const zero = m.valid_mse_zero as number | undefined;
  const gain = typeof mse === 'number' && typeof zero === 'number' && zero > 0 ? ` (${((1 - mse / zero) * 100).toFixed(2)}% ${mse <= zero ? 'lower' : 'HIGHER'})` : '';
  const head = trained
    ? `  trained  ${model.name} v${model.version} (${model.status}) on ${trained.rows.train.toLocaleString('en-US')} rows, best iteration ${trained.best_iteration}, ${num(trained.train_seconds, 1)} s`
    : `  model    ${model.name} v${model.version} (${model.status}, registered ${model.created_at}) — already trained, not retrained (kestrel train retrains)`;
  return [
    head,
    `  valid    MSE ${sci(mse)} vs ${sci(zero)} always predicting 0${gain}; IC ${num(m.valid_ic, 4)}, Rank IC ${num(m.valid_rank_ic, 4)} (ICIR ${num(m.valid_icir, 3)}, Rank ICIR ${num(m.valid_rank_icir, 3)})`,
    `  test     IC ${num(m.test_ic, 4)}, Rank IC ${num(m.test_rank_ic, 4)}${m.test_mse !== undefined && m.test_mse !== null ? `, MSE ${sci(m.test_mse)}` : ''}`,
  ].join('\n');
}

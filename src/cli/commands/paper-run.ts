import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PaperReport } from '../../backtest/paper-run.js';
import { FailureError, InputError } from '../../core/errors.js';
import type { CliContext, IO } from '../context.js';
import { createContext } from '../context.js';
import { renderPaperReport } from '../render-paper.js';

export interface PaperArgs {
  asOf?: string;
  days?: string;
  capital?: string;
  topN?: string;
  bottomN?: string;
  maxPositionPct?: string;
  slippageBps?: string;
  json?: boolean;
  out?: string;
  dataDir?: string;
}

/**
 * Runs a paper run: a production model (trained first when the registry has none), the whole
 * stack in this process, N trading days. Books live in a fresh database per run (embedded:
 * var/paper/pg; with DATABASE_URL: schema kestrel_paper), the registry in the configured one.
 */
export async function paperRunCommand(ctx: CliContext, args: PaperArgs): Promise<PaperReport> {
  const [{ runPaper, freshPaperDir }, { openDb }, { openPglite }, { openPostgres }, { migrate }, { openBus }, { ModelRegistry }, training] = await Promise.all([
    import('../../backtest/paper-run.js'),
    import('../../db/open.js'),
    import('../../db/pglite.js'),
    import('../../db/postgres.js'),
    import('../../db/migrate.js'),
    import('../../bus/index.js'),
    import('../../registry/models.js'),
    import('../../ml/training-job.js'),
  ]);
  const { config, logger } = ctx;
  const days = int(args.days ?? '20', '--days', 1, 2520);
  const registryDb = await openDb(config);
  const paperDir = freshPaperDir(config.varDir);
  let booksDb;
  if (config.databaseUrl) {
    await registryDb.exec('DROP SCHEMA IF EXISTS kestrel_paper CASCADE; CREATE SCHEMA kestrel_paper');
    const u = new URL(config.databaseUrl);
    u.searchParams.set('options', '-c search_path=kestrel_paper');
    booksDb = openPostgres({ url: u.toString() });
  } else booksDb = await openPglite(join(paperDir, 'pg'));
  await migrate(booksDb);
  const bus = await openBus({ redisUrl: config.redisUrl, logger, keyPrefix: 'paper:' });
  const bar = ctx.progress('paper-run');
  try {
    const registry = new ModelRegistry(registryDb, ctx.clock);
    let production = await registry.production('alpha158-gbdt');
    if (!production) {
      ctx.logger.info('no production model yet: training one on the stored data');
      bar.update('training', 0, 1);
      const trained = await training.runTraining({ db: registryDb, clock: ctx.clock, logger, dataDir: config.dataDir, varDir: config.varDir, config: training.loadTrainConfig(undefined, { promote: 'if_none' }) });
      production = await registry.production('alpha158-gbdt');
      if (!args.json) ctx.out(`trained alpha158-gbdt v${trained.model_version}: ${trained.promotion.reason}`);
      // The gate kept it staged: trading it would trade noise, so there is nothing to paper-trade.
      if (!production) throw new FailureError(`no production model for alpha158-gbdt: the model just trained (v${trained.model_version}) was ${trained.promotion.reason}; ${trained.promotion.next ?? ''}`.trim(), 'no_model');
    }
    const { labelProblem } = await import('../../orchestrator/model-label.js');
    const problem = labelProblem({ name: production.name, version: production.version, label: production.label_kind });
    if (problem) throw new InputError(problem, 'model_label_unusable');
    const report = await runPaper(
      {
        config,
        logger,
        asOf: args.asOf,
        days,
        capital: args.capital ?? '1000000',
        maxPositionPct: args.maxPositionPct ?? '0.1',
        topN: int(args.topN ?? '5', '--top-n', 0, 500),
        bottomN: int(args.bottomN ?? '5', '--bottom-n', 0, 500),
        slippageBps: Number(args.slippageBps ?? '5'),
        progress: bar.update,
      },
      { db: booksDb, registryDb, bus },
    );
    bar.stop();
    const json = JSON.stringify(report, null, 2) + '\n';
    mkdirSync(paperDir, { recursive: true });
    writeFileSync(join(paperDir, 'last-report.json'), json);
    if (args.out) writeFileSync(resolve(args.out), json);
    if (args.json) ctx.out(json);
    else ctx.out(renderPaperReport(report, ctx.tty));
    return report;
  } finally {
    bar.stop();
    await bus.close();
    await booksDb.close();
    await registryDb.close();
  }
}

function int(s: string, name: string, min: number, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(s)}`, 'bad_usage');
  return n;
}

export function registerPaperRun(program: Command, io: IO): void {
  program
    .command('paper-run')
    .description('trade N consecutive trading days of stored data through the whole stack and report exact P&L')
    .option('--as-of <YYYY-MM-DD>', 'last trading day of the run (default: the last date in the data)')
    .option('--days <n>', 'trading days to run (default 20)')
    .option('--capital <usd>', 'starting cash (default 1000000)')
    .option('--top-n <n>', 'long the N best-ranked names (default 5)')
    .option('--bottom-n <n>', 'short the N worst-ranked names (default 5)')
    .option('--max-position-pct <x>', 'cap per position as a fraction of capital (default 0.1)')
    .option('--slippage-bps <n>', 'simulated slippage (default 5)')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--out <file>', 'also write the JSON report here')
    .option('--json', 'print the JSON report')
    .addHelpText(
      'after',
      `
Day D trades the signals of the previous trading day's close and fills at D's close (± slippage)
in the simulated broker; positions are marked at D's close. The report's total P&L equals the
change in equity to the cent, and says so. Books start empty every run (var/paper/pg); the
model comes from the registry (trained first if there is none). The report is also written to
var/paper/last-report.json for kestrel status.

Examples:
  kestrel paper-run
  kestrel paper-run --as-of 2019-12-31 --days 60 --top-n 10 --bottom-n 10 --json --out paper.json`,
    )
    .action(async (opts: PaperArgs) => {
      const ctx = createContext('paper-run', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: true });
      await paperRunCommand(ctx, opts);
    });
}

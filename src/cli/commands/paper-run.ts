import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { PaperReport } from '../../backtest/paper-run.js';
import { FailureError, InputError } from '../../core/errors.js';
import type { Db } from '../../db/db.js';
import type { ModelVersion } from '../../registry/models.js';
import type { TrainReport } from '../../ml/training-job.js';
import type { CliContext, IO, Progress } from '../context.js';
import { labelProblem } from '../../orchestrator/model-label.js';
import { createContext } from '../context.js';
import { dateFlag, fractionFlag, intFlag, moneyFlag, numberFlag } from '../flags.js';
import { renderPaperReport } from '../render-paper.js';

/** Parsed and checked flag values (src/cli/flags.ts); absent = the default below. */
export interface PaperArgs {
  asOf?: string;
  days?: number;
  /** Canonical decimal text, cents at most. */
  capital?: string;
  topN?: number;
  bottomN?: number;
  /** A fraction of capital, canonical decimal text. */
  maxPositionPct?: string;
  slippageBps?: number;
  json?: boolean;
  out?: string;
  dataDir?: string;
}

export const PAPER_DEFAULTS = { days: 20, capital: '1000000', topN: 5, bottomN: 5, maxPositionPct: '0.1', slippageBps: 5 } as const;

/** The flag parsers, shared with `kestrel start --days`. */
export const paperFlags = {
  asOf: dateFlag('--as-of'),
  days: intFlag('--days', 1, 2520, 'a whole number of trading days'),
  capital: moneyFlag('--capital', { max: '1000000000000', example: '100000' }),
  topN: intFlag('--top-n', 0, 500, 'a whole number of names'),
  bottomN: intFlag('--bottom-n', 0, 500, 'a whole number of names'),
  maxPositionPct: fractionFlag('--max-position-pct', 'capital'),
  slippageBps: numberFlag('--slippage-bps', 0, 1000, 'basis points'),
};

/**
 * The production model, trained first when the registry has none. Returns the model and, when
 * it trained one, the training report (its metrics are printed by `kestrel start`).
 */
export async function ensureModel(ctx: CliContext, registryDb: Db, bar: Progress): Promise<{ model: ModelVersion; trained: TrainReport | null }> {
  const [{ ModelRegistry }, training] = await Promise.all([import('../../registry/models.js'), import('../../ml/training-job.js')]);
  const registry = new ModelRegistry(registryDb, ctx.clock);
  const existing = await registry.production('alpha158-gbdt');
  if (existing) return { model: checkLabel(existing), trained: null };
  ctx.logger.info('no production model yet: training one on the stored data');
  const { config, logger } = ctx;
  const trained = await training.runTraining({
    db: registryDb,
    clock: ctx.clock,
    logger,
    dataDir: config.dataDir,
    varDir: config.varDir,
    config: training.loadTrainConfig(undefined, { promote: 'if_none' }),
    progress: (stage, done, total) => bar.update(`training: ${stage}`, done, total),
  });
  const model = await registry.production('alpha158-gbdt');
  // The gate kept it staged: trading it would trade noise, so there is nothing to paper-trade.
  if (!model) throw new FailureError(`no production model for alpha158-gbdt: the model just trained (v${trained.model_version}) was ${trained.promotion.reason}; ${trained.promotion.next ?? ''}`.trim(), 'no_model');
  return { model: checkLabel(model), trained };
}

/** A model whose label is not a return (e.g. abs_return, volatility) cannot be traded as one. */
function checkLabel(m: ModelVersion): ModelVersion {
  const problem = labelProblem({ name: m.name, version: m.version, label: m.label_kind });
  if (problem) throw new InputError(problem, 'model_label_unusable');
  return m;
}

/**
 * Runs a paper run: a production model (trained first when the registry has none), the whole
 * stack in this process, N trading days. Books live in a fresh database per run (embedded:
 * var/paper/pg; with DATABASE_URL: schema kestrel_paper), the registry in the configured one.
 *
 * Everything that can be refused is checked before anything is written: the flags (parsed by
 * commander), the risk config, the days against the stored data. Options that cannot fit the
 * risk limits are warned about here, up front, and listed in the report.
 */
export async function paperRunCommand(ctx: CliContext, args: PaperArgs): Promise<PaperReport> {
  const [{ runPaper, freshPaperDir, planPaperDays, checkRiskFit }, { loadRiskConfig }] = await Promise.all([import('../../backtest/paper-run.js'), import('../../risk/config.js')]);
  const { config, logger } = ctx;
  const o = {
    days: args.days ?? PAPER_DEFAULTS.days,
    capital: args.capital ?? config.simStartingCash,
    topN: args.topN ?? PAPER_DEFAULTS.topN,
    bottomN: args.bottomN ?? PAPER_DEFAULTS.bottomN,
    maxPositionPct: args.maxPositionPct ?? PAPER_DEFAULTS.maxPositionPct,
    slippageBps: args.slippageBps ?? PAPER_DEFAULTS.slippageBps,
  };
  if (o.topN === 0 && o.bottomN === 0) throw new InputError('--top-n and --bottom-n are both 0: the run would place no orders; give at least one of them a count, e.g. --top-n 5', 'bad_usage');
  const limits = config.riskEnabled ? loadRiskConfig({ env: config.riskEnv }).limits : null;
  await planPaperDays(config, args.asOf, o.days);
  for (const w of checkRiskFit(o, limits)) logger.warn(`paper-run options exceed the risk limits: ${w}`);
  if (args.out) mkdirSync(dirname(resolve(args.out)), { recursive: true });

  const [{ openDb }, { openPglite }, { openPostgres }, { migrate }, { openBus }] = await Promise.all([
    import('../../db/open.js'),
    import('../../db/pglite.js'),
    import('../../db/postgres.js'),
    import('../../db/migrate.js'),
    import('../../bus/index.js'),
  ]);
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
    await ensureModel(ctx, registryDb, bar);
    const report = await runPaper({ config, logger, asOf: args.asOf, ...o, progress: bar.update }, { db: booksDb, registryDb, bus });
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

export function registerPaperRun(program: Command, io: IO): void {
  const d = PAPER_DEFAULTS;
  program
    .command('paper-run')
    .description('trade N consecutive trading days of stored data through the whole stack and report exact P&L')
    .option('--as-of <YYYY-MM-DD>', 'last trading day of the run, at most the last stored day (default: the last stored day)', paperFlags.asOf)
    .option('--days <n>', `trading days to run, 1-2520 (default ${d.days})`, paperFlags.days)
    .option('--capital <usd>', 'starting cash and sizing capital, in USD (default $SIM_STARTING_CASH, 1000000)', paperFlags.capital)
    .option('--top-n <n>', `long the N best-ranked names, 0-500 (default ${d.topN})`, paperFlags.topN)
    .option('--bottom-n <n>', `short the N worst-ranked names, 0-500 (default ${d.bottomN})`, paperFlags.bottomN)
    .option('--max-position-pct <fraction>', `cap per position as a FRACTION of capital, 0-1: 0.1 = 10% (default ${d.maxPositionPct})`, paperFlags.maxPositionPct)
    .option('--slippage-bps <n>', `simulated slippage in basis points, 0-1000 (default ${d.slippageBps})`, paperFlags.slippageBps)
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--out <file>', 'also write the JSON report here')
    .option('--json', 'print the JSON report')
    .addHelpText(
      'after',
      `
Day D trades the signals of the previous trading day's close and fills at D's close (± slippage)
in the simulated broker; positions are marked at D's close. The report's total P&L equals the
change in equity to the cent, and says so; money is shown in cents, prices at their tick
(docs/concepts/pnl.md). Orders the risk checks refuse are counted by reason in the report, and
options that cannot fit the risk limits (KESTREL_RISK_FILE, RISK_*) are warned about before the
run starts. Books start empty every run (var/paper/pg); the model comes from the registry
(trained first if there is none). The report is also written to var/paper/last-report.json for
kestrel status.

Examples:
  kestrel paper-run
  kestrel paper-run --as-of 2019-12-31 --days 60 --json --out paper.json
  kestrel paper-run --capital 250000 --max-position-pct 0.05 --top-n 10 --bottom-n 10`,
    )
    .action(async (opts: PaperArgs) => {
      const ctx = createContext('paper-run', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: true });
      await paperRunCommand(ctx, opts);
    });
}

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { isTradingDateString } from '../../core/clock.js';
import { InputError } from '../../core/errors.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { formatTable } from '../table.js';
import { parseSymbol } from '../../model/symbol.js';

/** `kestrel features` and `kestrel train`: the research pipeline. */
export function registerResearch(program: Command, io: IO): void {
  program
    .command('features')
    .description('compute Alpha158 features from the adjusted bars and store them as Parquet (view: features)')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--symbols <list>', 'comma-separated symbols to update (default: all); the others are kept')
    .option('--from <YYYY-MM-DD>', 'first date to update (windows still use earlier history)')
    .option('--to <YYYY-MM-DD>', 'last date to update')
    .option('--threads <n>', `worker threads, 1..${MAX_THREADS} (default 2)`)
    .option('--json', 'machine output')
    .addHelpText(
      'after',
      `
With --symbols, --from or --to only those symbols' rows in that date range are recomputed and
replaced; every other row of the store is kept. Updated rows equal a full recompute's (windows
and the label see each symbol's whole history). Without them the whole store is recomputed.

Examples:
  kestrel features
  kestrel features --symbols AAPL,MSFT --from 2019-01-01
  kestrel sql "SELECT date, symbol, KMID, ROC5, LABEL0 FROM features WHERE symbol = 'AAPL' ORDER BY date DESC LIMIT 5"`,
    )
    .action(async (opts: { dataDir?: string; symbols?: string; from?: string; to?: string; threads?: string; json?: boolean }) => {
      const ctx = createContext('features', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: opts.json });
      // Flags are checked before DuckDB loads or anything is computed.
      const symbols = opts.symbols !== undefined ? symbolList(opts.symbols) : undefined;
      for (const [flag, v] of [['--from', opts.from], ['--to', opts.to]] as const) {
        if (v !== undefined && !isTradingDateString(v)) throw new InputError(`${flag} ${JSON.stringify(v)} must be a YYYY-MM-DD calendar date, e.g. 2019-01-02`, 'bad_usage');
      }
      const threads = opts.threads !== undefined ? positiveInt(opts.threads, '--threads', MAX_THREADS) : undefined;
      const { buildFeatures } = await import('../../features/feature-store.js');
      const bar = ctx.progress('features');
      const r = await buildFeatures({ dataDir: ctx.config.dataDir, clock: ctx.clock, symbols, from: opts.from, to: opts.to, threads, progress: bar.update }).finally(() => bar.stop());
      if (opts.json) ctx.json(r);
      else {
        const n = (x: number) => x.toLocaleString('en-US');
        const what = `${n(r.symbols)} symbol${r.symbols === 1 ? '' : 's'} × ${n(r.days)} day${r.days === 1 ? '' : 's'}`;
        const range = `${n(r.rows)} rows × ${r.columns} columns, ${r.first_date ?? '-'} → ${r.last_date ?? '-'}`;
        ctx.out(
          r.full
            ? `features: ${what} computed (${range}); the whole store was replaced`
            : `features: ${what} updated (${range}); ${n(r.kept.symbols)} symbol${r.kept.symbols === 1 ? '' : 's'} kept (${n(r.kept.rows)} rows kept in all); store now ${n(r.store.rows)} rows, ${n(r.store.symbols)} symbols`,
        );
        ctx.out(`  ${r.files_written} files written, ${r.files_reused} unchanged; load ${r.timings_ms.load} ms, compute ${r.timings_ms.compute} ms, write ${r.timings_ms.write} ms`);
      }
    });

  program
    .command('train')
    .description('train the GBDT on Alpha158, track the run and register the model version')
    .option('--config <json>', 'training config (model_name, label, label_horizon, split, params, threads, promote, force, gate)')
    .option('--label <kind>', 'return (LABEL0) or abs_return (|LABEL0|, next-day volatility)')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--promote <when>', 'never | if_none (default) | always — only a model that passes the promotion gate')
    .option('--force', 'with --promote if_none|always: promote even if the model fails the promotion gate')
    .option('--json', 'one JSON object with the metrics')
    .addHelpText(
      'after',
      `
Defaults (docs/research.md has the measurements): label = the 5-day return from the next close
(label_horizon 5), z-scored across symbols per date; small, heavily regularised trees (learning
rate 0.05, num_leaves 4, max_depth 2, min_data_in_leaf 5000, lambda_l2 1000, feature_fraction
0.5, bagging_fraction 0.7, early stopping 50, up to 1000 rounds); split train 2015-2017, valid
2018, test 2019 onward. ic/rank_ic are against the label; *_next_day against the next-day
return a daily-rebalanced book earns.

Promotion gate: a model becomes production (--promote if_none|always) only if on the valid split
its MSE beats predicting zero, IC and Rank IC are ≥ 0.01 and at most 90% of its scores are tied;
otherwise it stays staged (exit 0) and the last line says why and what to do.

Examples:
  kestrel train
  kestrel train --label abs_return --promote never --json
  kestrel train --promote always --force   # replace production even if the gate fails
  kestrel train --config train.json   # {"params": {"num_leaves": 8}, "label_horizon": 1, "gate": {"min_valid_ic": 0.02}}`,
    )
    .action(async (opts: { config?: string; label?: string; dataDir?: string; promote?: string; force?: boolean; json?: boolean }) => {
      const ctx = createContext('train', io, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined }, { quiet: opts.json });
      const [{ loadTrainConfig, runTraining }, { openDb }] = await Promise.all([import('../../ml/training-job.js'), import('../../db/open.js')]);
      const config = loadTrainConfig(opts.config ? resolve(opts.config) : undefined, {
        label: opts.label as 'return' | 'abs_return' | undefined,
        promote: opts.promote as 'never' | 'if_none' | 'always' | undefined,
        force: opts.force,
      });
      const db = await openDb(ctx.config);
      const bar = ctx.progress('train');
      try {
        const r = await runTraining({ db, clock: ctx.clock, logger: ctx.logger, dataDir: ctx.config.dataDir, varDir: ctx.config.varDir, config, progress: bar.update });
        bar.stop();
        if (opts.json) ctx.json(r);
        else {
          const f = (x: number | null, d = 4) => (x === null ? '-' : x.toFixed(d));
          ctx.out(`model ${r.model_name} v${r.model_version} (${r.model_status}), run ${r.run_id}, label ${r.label} over ${r.label_horizon} day${r.label_horizon === 1 ? '' : 's'}`);
          ctx.out(`rows: train ${r.rows.train}, valid ${r.rows.valid}, test ${r.rows.test}; best iteration ${r.best_iteration}; ${r.train_seconds.toFixed(1)} s`);
          ctx.out(
            formatTable(
              [
                { set: 'valid', mse: f(r.valid_mse), ic: f(r.valid_ic), rank_ic: f(r.valid_rank_ic), icir: f(r.valid_icir), rank_icir: f(r.valid_rank_icir), ic_next_day: f(r.valid_ic_next_day), rank_ic_next_day: f(r.valid_rank_ic_next_day) },
                { set: 'test', mse: f(r.test_mse), ic: f(r.test_ic), rank_ic: f(r.test_rank_ic), icir: f(r.test_icir), rank_icir: f(r.test_rank_icir), ic_next_day: f(r.test_ic_next_day), rank_ic_next_day: f(r.test_rank_ic_next_day) },
              ],
              ctx.tty,
            ),
          );
          ctx.out(`valid MSE of the zero predictor: ${f(r.valid_mse_zero)}; tied scores: ${(r.valid_tie_share * 100).toFixed(1)}% of valid rows`);
          ctx.out(`top features: ${r.feature_importance.slice(0, 8).map((x) => x.feature).join(', ')}`);
          ctx.out(r.promotion.next ? `${r.promotion.reason}; next: ${r.promotion.next}` : r.promotion.reason);
        }
      } finally {
        bar.stop();
        await db.close();
      }
    });
}

const MAX_THREADS = 64;

function positiveInt(s: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InputError(`${name} ${JSON.stringify(s)} must be a whole number from 1 to ${max}`, 'bad_usage');
  return n;
}

/** `--symbols AAPL,msft` → ['AAPL', 'MSFT']; one line naming the flag for anything else. */
function symbolList(s: string): string[] {
  const list = s.split(/[ \t]*,[ \t]*/);
  if (list.some((x) => x === '')) throw new InputError(`--symbols ${JSON.stringify(s)}: want comma-separated tickers, e.g. AAPL,MSFT`, 'bad_usage');
  // The one ticker grammar: ASCII upper-casing only (src/model/symbol.ts); a bad one exits 2 naming --symbols.
  return [...new Set(list.map((x) => parseSymbol(x, '--symbols')))];
}

import type { Command } from 'commander';
import { PORT_VARS } from '../../core/config.js';
import { InputError } from '../../core/errors.js';
import { checkAsOfFlag } from '../as-of.js';
import type { StrategyConfig } from '../../orchestrator/index.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';

/**
 * `kestrel up`: every service in one process on the configured ports (embedded defaults:
 * PGlite under var/pg, in-process bus, simulated broker), with the market-data service.
 * The orchestrator consumes `signals.generated` for the default strategy.
 *
 * On stored data older than the last session (the bundled sample ends 2020-01-10) it trades the
 * last stored day in as-of mode (src/cli/as-of.ts): that day's clock from its open, its intraday
 * path replayed into the price cache, the simulator filling at those marks. Otherwise (current
 * data, BROKER=alpaca) it runs on the real clock, with ALPACA_DATA_URL as the feed when set.
 */
/**
 * The strategy `up` and `serve orchestrator` run on signals.generated (capital: SIM_STARTING_CASH).
 * 10 names × 9 % = 90 % gross, inside risk's default 150 % gross and 10 % per position — with
 * room for the price to move between the plan and the order (a target at exactly risk's 10 %
 * is refused on the first uptick).
 */
export const DEFAULT_STRATEGY: Omit<StrategyConfig, 'capital'> = { strategy_id: 'alpha158-ls', max_position_pct: '0.09', top_n: 5, bottom_n: 5 };

export function registerUp(program: Command, io: IO): void {
  program
    .command('up')
    .description('run broker-sim, gateway (with risk), signals, orchestrator and market data in this process until Ctrl-C')
    .option('--capital <usd>', 'capital of the default strategy run on each signals.generated event (default $SIM_STARTING_CASH, 1000000)')
    .option('--as-of <date|last>', 'trade a stored day (YYYY-MM-DD or last) as if it were today (default: last when the stored data is older than the last session; $KESTREL_AS_OF)')
    .addHelpText(
      'after',
      `
Ports: GATEWAY_PORT 7301, BROKER_SIM_PORT 7302, SIGNALS_PORT 7303, ORCHESTRATOR_PORT 7304,
MARKETDATA_PORT 7305, REPLAY_PORT 7306 on HOST. The simulated account starts with
SIM_STARTING_CASH (1000000).

On the bundled sample (last day 2020-01-10) the services trade 2020-01-10 from its 09:30 open:
the orchestrator's "today" and the gateway's trade_date are that day, its intraday path is
replayed into the price cache (so risk and status have fresh marks), and the signals of
2020-01-09 trade on it. --as-of picks another stored day.

Examples:
  kestrel up
  curl -s -XPOST localhost:7303/api/v1/signals/generate -H 'content-type: application/json' \\
    -d '{"as_of_date":"2020-01-09","top_n":5,"bottom_n":5}'
  curl -s -XPOST localhost:7304/api/v1/orchestration/run -H 'content-type: application/json' \\
    -d '{"strategy_id":"alpha158-ls","as_of_date":"2020-01-09","capital":"1000000","max_position_pct":"0.09","top_n":5,"bottom_n":5}'
  curl -s localhost:7305/api/v1/pnl
  kestrel status

The signals.generated event of the first request runs the default strategy alpha158-ls (capital
$SIM_STARTING_CASH, top/bottom 5, 9% per name) for trade_date 2020-01-10; the second request
asks for that run and gets it (a strategy runs once per as_of_date): 200 with plan and orders.`,
    )
    .action(async (opts: { capital?: string; asOf?: string }) => {
      if (opts.capital !== undefined && (!/^\d{1,13}(\.\d{1,2})?$/.test(opts.capital) || !/[1-9]/.test(opts.capital))) {
        throw new InputError(`--capital ${JSON.stringify(opts.capital)} must be a positive amount of dollars such as 1000000 (at most 2 decimals)`, 'bad_usage');
      }
      checkAsOfFlag(opts.asOf);
      const ctx = createContext('up', io);
      const { config, logger } = ctx;
      const [{ openDb }, { openBus }, { startStack, noPriceHint }, { StaticPrices }, { assertSafeBinding }, { openCatalog }, { latestRawCloses }, { resolveAsOf, asOfBanner, closeInstant }, { assertPortsFree }, { createMetrics }, { catalogSource }, calendar, clockMod] =
        await Promise.all([
          import('../../db/open.js'),
          import('../../bus/index.js'),
          import('../stack.js'),
          import('../../broker-sim/index.js'),
          import('../../observability/auth.js'),
          import('../../data/catalog.js'),
          import('../../data/latest-closes.js'),
          import('../as-of.js'),
          import('../listen.js'),
          import('../../observability/metrics.js'),
          import('../../marketdata/replay/source.js'),
          import('../../data/calendar.js'),
          import('../../core/clock.js'),
        ]);
      assertSafeBinding('kestrel up', config.host, config.apiToken);
      // A busy port stops everything before anything has started.
      const busy = (names: ReadonlyArray<keyof typeof PORT_VARS>) => assertPortsFree(names.map((n) => ({ port: config.ports[n], host: config.host, setting: PORT_VARS[n] })));
      await busy(['brokerSim', 'gateway', 'signals', 'orchestrator', 'marketdata']);
      const asOf = await resolveAsOf({ flag: opts.asOf, config, now: ctx.clock.now(), auto: true });
      const clock = asOf?.clock ?? ctx.clock;
      const localReplay = Boolean(asOf) || !config.alpaca.dataUrl;
      if (localReplay) await busy(['replay']);

      // Prices at the start: the closes known at the open of the traded day (as-of: the session
      // before it), stamped with their dates; then the feed moves them.
      const today = clockMod.newYorkDate(clock.now());
      const before = asOf ? clockMod.dayString(calendar.previousTradingDay(clockMod.dayNumber(asOf.date))) : undefined;
      const cat = await openCatalog(config.dataDir);
      let latest: Array<{ symbol: string; close: string; d: string }>;
      let source;
      try {
        latest = [...(await latestRawCloses(cat, before ? { onOrBefore: before } : {}))].map(([symbol, x]) => ({ symbol, close: x.close, d: x.date }));
        source = localReplay ? await catalogSource(cat, { from: asOf?.date ?? today, to: asOf?.date ?? today }) : undefined;
      } finally {
        cat.close();
      }
      if (localReplay && !asOf && source?.symbols().length === 0) logger.warn({ day: today }, `replay: no stored bars for ${today}, so no prices will stream; set ALPACA_DATA_URL for a live feed or pass --as-of last`);

      const gatewayMetrics = createMetrics('gateway');
      const db = await openDb(config);
      const bus = await openBus({ redisUrl: config.redisUrl, logger, metrics: gatewayMetrics });
      let stack;
      try {
        await bus.mset(latest.map((r) => [`price:${r.symbol}`, JSON.stringify({ price: r.close, size: '0', ts: closeInstant(r.d).toISOString() })] as [string, string]));
        stack = await startStack({
          config,
          clock,
          logger,
          db,
          bus,
          ports: 'configured',
          prices: new StaticPrices(Object.fromEntries(latest.map((r) => [r.symbol, r.close]))),
          strategies: [{ ...DEFAULT_STRATEGY, capital: opts.capital ?? config.simStartingCash }],
          consumeSignals: true,
          gatewayMetrics,
          noPriceHint: noPriceHint({ inProcess: true, command: 'kestrel up' }),
          marketData: {
            feed: localReplay ? { key: 'kestrel-replay', secret: 'kestrel-replay' } : { url: config.alpaca.dataUrl, key: config.alpaca.keyId ?? '', secret: config.alpaca.secretKey ?? '' },
            // One trade per symbol per second: marks stay fresh, the tick store stays light.
            ...(source ? { replay: { source, date: asOf?.date ?? today, speed: 1 } } : {}),
            // On stored data the universe is small: follow all of it, so any symbol has a mark.
            ...(asOf && source ? { extraSymbols: source.symbols().slice(0, 1000) } : {}),
          },
        });
      } catch (e) {
        await bus.close().catch(() => undefined);
        await db.close().catch(() => undefined);
        throw e;
      }
      if (asOf) ctx.out(asOfBanner(asOf));
      for (const [name, url] of Object.entries(stack.urls)) ctx.out(`${name.padEnd(13)} ${url}${url.startsWith('ws') ? '  (Alpaca market-data stream)' : `  (docs ${url}/docs)`}`);
      ctx.out('kestrel up: ready — Ctrl-C stops every service');
      const running = stack;
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          logger.info('shutting down');
          void running
            .close()
            .then(() => bus.close())
            .then(() => db.close())
            .finally(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

import type { Command } from 'commander';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { decString } from '../../core/money.js';
import { parseMoney } from '../../model/decimal.js';

/**
 * `kestrel up`: every service in one process on the configured ports (embedded defaults:
 * PGlite under var/pg, in-process bus, simulated broker priced at the latest stored closes).
 * The orchestrator consumes `signals.generated` for the default strategy.
 */
export function registerUp(program: Command, io: IO): void {
  program
    .command('up')
    .description('run broker-sim, gateway (with risk), signals and orchestrator in this process until Ctrl-C')
    .option('--capital <usd>', 'capital of the default strategy run on each signals.generated event (default 1000000)')
    .addHelpText(
      'after',
      `
Ports: GATEWAY_PORT 7301, BROKER_SIM_PORT 7302, SIGNALS_PORT 7303, ORCHESTRATOR_PORT 7304 on HOST.

Examples:
  kestrel up
  curl -s -XPOST localhost:7303/api/v1/signals/generate -H 'content-type: application/json' \\
    -d '{"as_of_date":"2020-01-09","top_n":5,"bottom_n":5}'
  curl -s -XPOST localhost:7304/api/v1/orchestration/run -H 'content-type: application/json' \\
    -d '{"strategy_id":"demo","as_of_date":"2020-01-09","capital":"1000000","max_position_pct":"0.1"}'
  kestrel status`,
    )
    .action(async (opts: { capital?: string }) => {
      const ctx = createContext('up', io);
      const [{ openDb }, { openBus }, { startStack }, { StaticPrices }, { assertSafeBinding }, { openCatalog }, { latestRawCloses }] = await Promise.all([
        import('../../db/open.js'),
        import('../../bus/index.js'),
        import('../stack.js'),
        import('../../broker-sim/index.js'),
        import('../../observability/auth.js'),
        import('../../data/catalog.js'),
        import('../../data/latest-closes.js'),
      ]);
      const { config, logger } = ctx;
      assertSafeBinding('kestrel up', config.host, config.apiToken);
      // The one bounded parser, before anything starts (a FieldError exits 2 naming the flag).
      const capital = decString(parseMoney(opts.capital ?? '1000000', '--capital', { min: 0, minExclusive: true, max: '1e13' }));
      // The simulator's prices and the price cache start at the latest stored closes, stamped with their real date.
      const cat = await openCatalog(config.dataDir);
      const latest = [...(await latestRawCloses(cat).finally(() => cat.close()))].map(([symbol, x]) => ({ symbol, close: x.close, d: x.date }));
      const db = await openDb(config);
      const bus = await openBus({ redisUrl: config.redisUrl, logger });
      await bus.mset(latest.map((r) => [`price:${r.symbol}`, JSON.stringify({ price: r.close, size: '0', ts: `${r.d}T21:00:00.000Z` })] as [string, string]));
      const stack = await startStack({
        config,
        clock: ctx.clock,
        logger,
        db,
        bus,
        ports: 'configured',
        prices: new StaticPrices(Object.fromEntries(latest.map((r) => [r.symbol, r.close]))),
        strategies: [{ strategy_id: 'alpha158-ls', capital, max_position_pct: '0.1', top_n: 10, bottom_n: 10 }],
        consumeSignals: true,
        sim: { startingCash: capital },
      });
      for (const [name, url] of Object.entries(stack.urls)) ctx.out(`${name.padEnd(13)} ${url}  (docs ${url}/docs)`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          logger.info('shutting down');
          void stack
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

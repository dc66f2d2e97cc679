import { Option, type Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { PORT_VARS, type Config } from '../../core/config.js';
import { InputError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Db } from '../../db/db.js';
import { checkAsOfFlag, type AsOf } from '../as-of.js';
import type { CliContext, IO } from '../context.js';
import { createContext } from '../context.js';
import { assertPortsFree, listenOn, portError, type PortSpec } from '../listen.js';
import { DEFAULT_STRATEGY } from './up.js';

/**
 * `kestrel serve <service>`: one service in this process until SIGINT/SIGTERM (graceful:
 * stop accepting, finish in-flight requests, stop background work, close the database).
 * Heavy modules load only when the command runs, not for --help.
 */
export const SERVICES = ['gateway', 'broker-sim', 'signals', 'orchestrator', 'marketdata', 'replay'] as const;

interface ServeArgs {
  port?: string;
  host?: string;
  dataDir?: string;
  rate?: string;
  asOf?: string;
  testFault?: string;
}

/** What a service runs with: the command's context (its clock is the as-of clock in as-of mode), its port, as-of mode. */
interface Served {
  ctx: CliContext;
  port: PortSpec;
  asOf: AsOf | null;
}

/** Test-only faults (hidden flag): crash_after_write SIGKILLs the process between the write-ahead and the broker call. */
const TEST_FAULTS = ['crash_after_write'] as const;

export function registerServe(program: Command, io: IO): void {
  program
    .command('serve')
    .description('run one service until Ctrl-C: gateway (execution + risk), broker-sim (simulated Alpaca broker), signals, orchestrator, marketdata, replay')
    .argument('<service>', SERVICES.join(' | '))
    .option('--port <n>', 'TCP port (default $GATEWAY_PORT 7301 / $BROKER_SIM_PORT 7302; 0 = any free port)')
    .option('--host <addr>', 'interface to bind (default $HOST or 127.0.0.1)')
    .option('--data-dir <dir>', 'broker-sim: data directory whose latest closes are the prices (default $KESTREL_DATA_DIR)')
    .option('--rate <n>', 'replay: trades per second in total per connection (default: 10 per subscribed symbol)')
    .option('--as-of <date|last>', 'trade a stored day (YYYY-MM-DD or last) as if it were today: its clock from the 09:30 open, its closes as prices ($KESTREL_AS_OF)')
    .addOption(new Option('--test-fault <name>', 'test only').choices([...TEST_FAULTS]).hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  kestrel serve broker-sim --as-of last         # simulated Alpaca broker on 127.0.0.1:7302 at the last stored closes
  kestrel serve gateway --as-of last            # gateway on 127.0.0.1:7301, PGlite under var/pg, BROKER=sim
  curl -s localhost:7301/health
  curl -s -XPOST localhost:7301/api/v1/orders -H 'content-type: application/json' \\
    -d '{"strategy_id":"demo","symbol":"AAPL","side":"buy","qty":"10","order_type":"market"}'

  DRY_RUN=true kestrel serve gateway            # record orders as dry_run, never call the broker
  DATABASE_URL=postgres://kestrel@db:5432/kestrel API_TOKEN=$(openssl rand -hex 24) \\
    HOST=0.0.0.0 kestrel serve gateway --port 8080
  BROKER=alpaca ALPACA_API_KEY_ID=… ALPACA_API_SECRET_KEY=… kestrel serve gateway   # Alpaca paper

--as-of last (the bundled sample's last day is 2020-01-10): each process runs that day's clock
from its 09:30 open, so the gateway's trade_date is that day, and without a market-data service
its risk check prices at that day's stored close (price_source last_close in its decisions).
Without --as-of the gateway needs live marks: \`kestrel serve marketdata\` on a REDIS_URL
shared with it (or \`kestrel up\`, which runs everything).

Configuration (environment or .env): DATABASE_URL, BROKER (sim|alpaca), ALPACA_BASE_URL,
ALPACA_STREAM_URL, ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY, DRY_RUN, API_TOKEN, HOST,
GATEWAY_PORT, BROKER_SIM_PORT, SIGNALS_PORT, ORCHESTRATOR_PORT, MARKETDATA_PORT, REPLAY_PORT,
SIM_STARTING_CASH, KESTREL_AS_OF, READ_TOKEN. Off loopback every service needs its credential
(API_TOKEN; broker-sim and replay: ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY) and reads
need READ_TOKEN or API_TOKEN; on loopback reads are open unless READ_TOKEN is set.
API docs: http://127.0.0.1:7301/docs (see docs/execution.md). Exit: 0 after a clean
shutdown, 2 on bad configuration, 1 on failure (e.g. the port is in use).`,
    )
    .action(async (service: string, opts: ServeArgs) => {
      if (!(SERVICES as readonly string[]).includes(service)) throw new InputError(`unknown service ${JSON.stringify(service)}; choose one of: ${SERVICES.join(', ')}`, 'bad_usage');
      checkAsOfFlag(opts.asOf);
      const base = createContext(service, io, { host: opts.host, dataDir: opts.dataDir });
      const key: Record<(typeof SERVICES)[number], keyof Config['ports']> = { gateway: 'gateway', 'broker-sim': 'brokerSim', signals: 'signals', orchestrator: 'orchestrator', marketdata: 'marketdata', replay: 'replay' };
      const name = key[service as (typeof SERVICES)[number]];
      const port: PortSpec = { port: parsePort(opts.port, base.config.ports[name]), host: base.config.host, setting: opts.port !== undefined ? '--port' : PORT_VARS[name] };
      // A busy port stops the command before it opens anything.
      await assertPortsFree([port]);
      const { resolveAsOf, asOfBanner } = await import('../as-of.js');
      const asOf = await resolveAsOf({ flag: opts.asOf, config: base.config, now: base.clock.now(), auto: false });
      const ctx: CliContext = asOf ? { ...base, clock: asOf.clock } : base;
      if (asOf) ctx.out(asOfBanner(asOf));
      const s: Served = { ctx, port, asOf };
      if (service === 'gateway') await serveGateway(s, opts);
      else if (service === 'signals') await serveSignals(s);
      else if (service === 'orchestrator') await serveOrchestrator(s);
      else if (service === 'marketdata') await serveMarketData(s);
      else if (service === 'replay') await serveReplay(s, parseRate(opts.rate));
      else await serveBrokerSim(s);
    });
}

function parseRate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000) throw new InputError(`--rate ${JSON.stringify(v)} must be a number of trades per second from 1 to 1000000`, 'bad_usage');
  return n;
}

function parsePort(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InputError(`--port ${JSON.stringify(v)}: use a TCP port number 0-65535`, 'bad_usage');
  return n;
}

async function serveGateway({ ctx, port, asOf }: Served, opts: ServeArgs): Promise<void> {
  const [{ assertSafeBinding, accessFor }, { AlpacaBroker, ALPACA_PAPER_URL }, { openDb }, { migrate }, { openBus }, { buildRiskedGateway, noPriceHint }, { createMetrics }] = await Promise.all([
    import('../../observability/auth.js'),
    import('../../execution/brokers/alpaca.js'),
    import('../../db/open.js'),
    import('../../db/migrate.js'),
    import('../../bus/index.js'),
    import('../stack.js'),
    import('../../observability/metrics.js'),
  ]);
  const { config, logger } = ctx;
  assertSafeBinding('the gateway', config.host, config.apiToken);

  const broker =
    config.broker === 'alpaca'
      ? AlpacaBroker.fromConfig({ ...config, alpaca: { ...config.alpaca, baseUrl: config.alpaca.baseUrl ?? ALPACA_PAPER_URL } }, logger)
      : new AlpacaBroker({
          // The local simulator accepts any keys unless it was started with some.
          keyId: config.alpaca.keyId ?? 'kestrel-sim',
          secretKey: config.alpaca.secretKey ?? 'kestrel-sim',
          baseUrl: config.alpaca.baseUrl ?? `http://127.0.0.1:${config.ports.brokerSim}`,
          streamUrl: config.alpaca.streamUrl,
          logger,
        });
  // As-of mode without market data: risk prices at the stored closes of the day (labelled last_close).
  const fallback = asOf ? await storedCloses(ctx, asOf.date) : null;

  const db = await openDb({ databaseUrl: config.databaseUrl, varDir: config.varDir }, { migrate: false });
  try {
    await migrateRacingReplicas(db, migrate);
  } catch (e) {
    await db.close();
    throw e;
  }
  const faults = opts.testFault === 'crash_after_write' ? { afterWrite: () => crash(logger) } : undefined;
  const metrics = createMetrics('gateway');
  const bus = await openBus({ redisUrl: config.redisUrl, logger, requireConnection: false, metrics });
  // Risk is the gateway's pre-trade check: nothing reaches the broker without passing it.
  let built;
  try {
    built = await buildRiskedGateway({
      config,
      db,
      bus,
      broker,
      clock: ctx.clock,
      logger,
      faults,
      metrics,
      priceFallback: fallback ? new Map([...fallback].map(([symbol, c]) => [symbol, { price: c.close, ts: c.ts }])) : undefined,
      noPriceHint: noPriceHint({ inProcess: false, redisUrl: config.redisUrl, command: 'kestrel serve gateway' }),
      readTokens: accessFor(config, config.host).readTokens,
    });
  } catch (e) {
    await bus.close();
    await db.close();
    throw e;
  }
  const { gateway: app, risk } = built;
  const shutdown = async () => {
    await app.close();
    await risk?.close();
    await bus.close();
    await db.close();
  };
  const url = await listenOrShutdown(app, port, shutdown);
  logger.info({ url, db: db.kind, broker: config.broker, dry_run: config.dryRun, auth: Boolean(config.apiToken), read_auth: Boolean(accessFor(config, config.host).readTokens) }, 'gateway listening');
  const priced = fallback ? `; risk prices without live marks at the ${asOf!.date} closes` : '';
  ctx.out(`gateway listening on ${url} (db ${db.kind}, broker ${config.broker}${config.dryRun ? ', DRY RUN' : ''}${priced}); docs at ${url}/docs`);
  await untilSignal(logger, shutdown);
}

/**
 * Replicas starting together on an empty database can collide in PostgreSQL's catalog while
 * creating the migrations table (CREATE TABLE IF NOT EXISTS is not race-free: unique violation
 * 23505 or duplicate table 42P07). The loser tries again; the migrations themselves are
 * serialised by migrate's advisory lock.
 */
async function migrateRacingReplicas(db: Db, migrate: (db: Db) => Promise<number[]>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate(db);
      return;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (attempt >= 5 || (code !== '23505' && code !== '42P07')) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

function crash(logger: Logger): never {
  logger.fatal('test fault crash_after_write: killing this process after the write-ahead, before the broker call');
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

async function serveBrokerSim({ ctx, port, asOf }: Served): Promise<void> {
  const [{ buildBrokerSimApp, StaticPrices }, { assertSafeBinding }] = await Promise.all([import('../../broker-sim/index.js'), import('../../observability/auth.js')]);
  const { config, logger } = ctx;
  // Without keys the simulator accepts any credentials (and /admin): loopback only.
  assertSafeBinding('broker-sim', config.host, Boolean(config.alpaca.keyId && config.alpaca.secretKey), 'ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY');
  const stored = await storedCloses(ctx, asOf?.date);
  const closes = Object.fromEntries([...stored].map(([symbol, c]) => [symbol, c.tick]));
  const prices = new StaticPrices(closes);
  const keys = config.alpaca.keyId && config.alpaca.secretKey ? { apiKeyId: config.alpaca.keyId, apiSecretKey: config.alpaca.secretKey } : {};
  const sim = await buildBrokerSimApp({ clock: ctx.clock, logger, prices, config: { ...keys, startingCash: config.simStartingCash } });
  const url = await listenOrShutdown(sim.app, port, async () => void (await sim.app.close()));
  const n = stored.size;
  const day = [...stored.values()].reduce((d, c) => (c.date > d ? c.date : d), '');
  ctx.out(
    `broker-sim listening on ${url} (${n ? `${n} symbols priced at the stored closes up to ${day}` : 'no prices yet: POST /admin/prices {"prices":{"AAPL":"187.25"}}'}; cash ${config.simStartingCash}); docs at ${url}/docs`,
  );
  await untilSignal(logger, () => sim.app.close());
}

/**
 * Each symbol's latest traded close from the data store (on or before `onOrBefore`): `close` as
 * stored, `tick` rounded to the tick (cents at or above $1, 4 decimals below), `ts` the 16:00
 * New York close it was printed at. Empty when there is no data.
 */
async function storedCloses(ctx: CliContext, onOrBefore?: string): Promise<Map<string, { close: string; tick: string; date: string; ts: number }>> {
  const [{ openCatalog }, { dec, decString, Decimal }, { latestRawCloses }, { closeInstant }] = await Promise.all([
    import('../../data/catalog.js'),
    import('../../core/money.js'),
    import('../../data/latest-closes.js'),
    import('../as-of.js'),
  ]);
  let cat;
  try {
    cat = await openCatalog(ctx.config.dataDir);
  } catch (e) {
    if (e instanceof InputError) return new Map();
    throw e;
  }
  try {
    if (!cat.views.includes('bars_raw')) return new Map();
    const latest = await latestRawCloses(cat, onOrBefore ? { onOrBefore } : {});
    return new Map(
      [...latest].map(([symbol, x]) => [
        symbol,
        { close: x.close, tick: decString(dec(x.close).toDecimalPlaces(dec(x.close).gte(1) ? 2 : 4, Decimal.ROUND_HALF_UP)), date: x.date, ts: closeInstant(x.date).getTime() },
      ]),
    );
  } finally {
    cat.close();
  }
}

function listeningUrl(addr: AddressInfo | string | null, host: string): string {
  if (addr && typeof addr === 'object') return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return `http://${host}`;
}

/** Resolves after SIGINT/SIGTERM and a clean shutdown; a second signal exits at once. */
function untilSignal(logger: Logger, shutdown: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once(sig, () => process.exit(130));
      logger.info({ signal: sig }, 'shutting down');
      shutdown().then(resolve, reject);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function serveSignals({ ctx, port }: Served): Promise<void> {
  const [{ assertSafeBinding, accessFor }, { openDb }, { openBus }, { buildSignalsApp }, { createMetrics }] = await Promise.all([
    import('../../observability/auth.js'),
    import('../../db/open.js'),
    import('../../bus/index.js'),
    import('../../signals/index.js'),
    import('../../observability/metrics.js'),
  ]);
  const { config, logger } = ctx;
  assertSafeBinding('signals', config.host, config.apiToken);
  const db = await openDb(config);
  // One registry for the service and its bus: `kestrel_bus_*` shows on its /metrics.
  const metrics = createMetrics('signals');
  const bus = await openBus({ redisUrl: config.redisUrl, logger, requireConnection: false, metrics });
  const app = await buildSignalsApp({ db, bus, clock: ctx.clock, logger, dataDir: config.dataDir, apiToken: config.apiToken, metrics, readTokens: accessFor(config, config.host).readTokens });
  const shutdown = async () => {
    await app.close();
    await bus.close();
    await db.close();
  };
  const url = await listenOrShutdown(app, port, shutdown);
  ctx.out(`signals listening on ${url} (model registry: ${db.kind}, cache: ${config.redisUrl ? 'redis' : 'in-process'}); docs at ${url}/docs`);
  await untilSignal(logger, shutdown);
}

async function serveOrchestrator({ ctx, port }: Served): Promise<void> {
  const [{ assertSafeBinding, accessFor }, { openDb }, { openBus }, { HttpSignalsClient }, orch, { openCatalog }] = await Promise.all([
    import('../../observability/auth.js'),
    import('../../db/open.js'),
    import('../../bus/index.js'),
    import('../../signals/index.js'),
    import('../../orchestrator/index.js'),
    import('../../data/catalog.js'),
  ]);
  const { config, logger } = ctx;
  assertSafeBinding('the orchestrator', config.host, config.apiToken);
  // What this service sends to the others: API_TOKEN (good for reads too), else READ_TOKEN.
  const clientToken = config.apiToken ?? config.readToken;
  const local = (p: number) => `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${p}`;
  const db = await openDb(config);
  const bus = await openBus({ redisUrl: config.redisUrl, logger, requireConnection: false });
  const catalog = await openCatalog(config.dataDir);
  const app = await orch.buildOrchestratorApp({
    db,
    clock: ctx.clock,
    logger,
    signals: new HttpSignalsClient({ baseUrl: config.urls.signals ?? local(config.ports.signals), apiToken: clientToken }),
    gateway: new orch.HttpGatewayClient({ baseUrl: config.urls.gateway ?? local(config.ports.gateway), apiToken: clientToken }),
    prices: new orch.CatalogPriceSource(catalog),
    bus,
    strategies: [{ ...DEFAULT_STRATEGY, capital: config.simStartingCash }],
    apiToken: config.apiToken,
    readTokens: accessFor(config, config.host).readTokens,
  });
  const shutdown = async () => {
    await app.close();
    catalog.close();
    await bus.close();
    await db.close();
  };
  const url = await listenOrShutdown(app, port, shutdown);
  ctx.out(`orchestrator listening on ${url}; docs at ${url}/docs`);
  await untilSignal(logger, shutdown);
}

/** Listens, or undoes everything the service opened when the port cannot be bound (one line naming the port). */
async function listenOrShutdown(app: { listen(o: { port: number; host: string }): Promise<string>; server: { address(): AddressInfo | string | null } }, port: PortSpec, shutdown: () => Promise<void>): Promise<string> {
  try {
    await listenOn(app, port);
  } catch (e) {
    await shutdown();
    throw e;
  }
  return listeningUrl(app.server.address(), port.host);
}

async function serveReplay({ ctx, port, asOf }: Served, rate?: number): Promise<void> {
  const [{ openCatalog }, { buildReplayServer, catalogSource }, { assertSafeBinding }] = await Promise.all([import('../../data/catalog.js'), import('../../marketdata/replay/server.js'), import('../../observability/auth.js')]);
  const { config, logger } = ctx;
  // Without keys the feed accepts any credentials: loopback only.
  assertSafeBinding('replay', config.host, Boolean(config.alpaca.keyId && config.alpaca.secretKey), 'ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY');
  const cat = await openCatalog(config.dataDir);
  let day: string;
  let source;
  try {
    const last = (await cat.query<{ d: string }>("SELECT strftime(max(date), '%Y-%m-%d') AS d FROM bars_raw"))[0]?.d;
    if (!last) throw new InputError(`no bars in ${config.dataDir}: run kestrel etl first`, 'no_data');
    // The as-of day, else the last stored day (its path, at today's clock).
    day = asOf?.date ?? last;
    source = await catalogSource(cat, { from: day, to: day });
  } finally {
    cat.close();
  }
  const keys = config.alpaca.keyId && config.alpaca.secretKey ? { key: config.alpaca.keyId, secret: config.alpaca.secretKey } : null;
  const replay = buildReplayServer({ clock: ctx.clock, logger, source, speed: 10, ...(rate ? { rate } : {}), keys, date: day });
  let bound: number;
  try {
    bound = await replay.listen(port.port, port.host);
  } catch (e) {
    await replay.close().catch(() => undefined);
    throw portError(e, port);
  }
  ctx.out(`replay listening on ws://${config.host}:${bound}/v2/iex (day ${day}, ${source.symbols().length} symbols, Alpaca market-data v2 protocol)`);
  await untilSignal(logger, () => replay.close());
}

async function serveMarketData({ ctx, port, asOf }: Served): Promise<void> {
  const [{ openDb }, { openBus }, { buildMarketDataApp }, { todaysSignalSymbols }, { assertSafeBinding, accessFor }] = await Promise.all([
    import('../../db/open.js'),
    import('../../bus/index.js'),
    import('../../marketdata/service/app.js'),
    import('../../marketdata/service/subscriptions.js'),
    import('../../observability/auth.js'),
  ]);
  const { config, logger } = ctx;
  assertSafeBinding('marketdata', config.host, config.apiToken);
  // As-of mode follows the stored day's whole (small) universe, so every symbol gets marks.
  const universe = asOf ? [...(await storedCloses(ctx, asOf.date)).keys()].slice(0, 1000) : [];
  const db = await openDb(config);
  const bus = await openBus({ redisUrl: config.redisUrl, logger, requireConnection: false });
  const url = (asOf ? undefined : config.alpaca.dataUrl) ?? `ws://127.0.0.1:${config.ports.replay}/v2/iex`;
  const app = await buildMarketDataApp({
    db,
    bus,
    clock: ctx.clock,
    logger,
    feed: { url, key: config.alpaca.keyId ?? 'kestrel-replay', secret: config.alpaca.secretKey ?? 'kestrel-replay' },
    marksMaxAgeMs: config.marksMaxAgeMs,
    // Subscriptions = open positions ∪ today's signal picks (the orchestrator's stored plans).
    signalSymbols: async () => [...(await todaysSignalSymbols(db, ctx.clock.now())), ...universe],
    readTokens: accessFor(config, config.host).readTokens,
  });
  const shutdown = async () => {
    await app.close();
    await bus.close();
    await db.close();
  };
  const bound = await listenOrShutdown(app, port, shutdown);
  ctx.out(`marketdata listening on ${bound} (feed ${url}); live P&L at ${bound}/api/v1/pnl and ${bound}/api/v1/pnl/stream`);
  await untilSignal(logger, shutdown);
}

import type { AddressInfo } from 'node:net';
import type { BrokerSimApp } from '../broker-sim/index.js';
import { StaticPrices } from '../broker-sim/index.js';
import type { Bus } from '../bus/index.js';
import type { Clock } from '../core/clock.js';
import { PORT_VARS, type Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Catalog } from '../data/catalog.js';
import type { Db } from '../db/db.js';
import type { GatewayApp } from '../execution/app.js';
import type { MarketDataApp } from '../marketdata/service/app.js';
import type { ReplayServer, ReplaySource } from '../marketdata/replay/server.js';
import type { Metrics } from '../observability/metrics.js';
import type { OrchestratorApp, StrategyConfig } from '../orchestrator/index.js';
import type { RiskWiring } from '../risk/index.js';
import type { SignalsApp } from '../signals/index.js';
import { listenOn, portError } from './listen.js';

/**
 * Wires the services into one process: the simulated broker, the execution gateway (with
 * risk as its pre-trade check), the signal service and the orchestrator, each a real HTTP
 * server talking to the others over loopback — the same adapters as separate processes.
 * `kestrel up` adds the market-data service (and the replay feed of a stored day).
 * Used by `kestrel up` (configured ports) and `kestrel paper-run` (free ports, simulated clock).
 */
export type ServiceName = 'broker-sim' | 'gateway' | 'signals' | 'orchestrator';

/** The market-data service in the stack (`kestrel up`): its feed, and the replay server when the feed is the local replay. */
export interface StackMarketData {
  feed: { url?: string; key: string; secret: string };
  /** Start the replay server (Alpaca's stream protocol) of this day; the feed URL is then its address. */
  replay?: { source: ReplaySource; date: string; speed: number };
  /** Symbols to follow besides open positions and today's picks (as-of mode: the day's universe). */
  extraSymbols?: readonly string[];
}

export interface StackOptions {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Books: orders, fills, positions, runs, risk events. */
  db: Db;
  /** The model registry the signal service loads from (default: `db`). */
  registryDb?: Db;
  bus: Bus;
  /** Listen on the configured ports, or on free ones (paper runs, tests). */
  ports: 'configured' | 'ephemeral';
  /** Prices the simulated broker fills at (paper runs set them every day; with market data they follow the live marks). */
  prices?: StaticPrices;
  /** Starting cash: default SIM_STARTING_CASH. */
  sim?: { startingCash?: string; slippageBps?: number };
  strategies?: StrategyConfig[];
  /** Poll the registry for a new production model (ms); 0 = only on request. */
  modelPollMs?: number;
  /** Start the orchestrator's signals.generated consumer (kestrel up) or not (paper runs drive runs). */
  consumeSignals?: boolean;
  /** Run the market-data service in the stack (kestrel up); paper runs set marks themselves. */
  marketData?: StackMarketData;
  /**
   * A service's own log level, when it must differ from `logger`'s: a paper run reports every
   * run's outcome itself and sets the orchestrator to `error`, so its per-run warnings do not
   * bury the report (the refusals are summarised in it, with one warning for the whole run).
   */
  logLevels?: Partial<Record<ServiceName, string>>;
  /** The gateway's registry (share it with openBus so `kestrel_bus_*` shows on its /metrics). */
  gatewayMetrics?: Metrics;
  /** Risk prices symbols without a live mark at these stored closes (as-of mode), labelled last_close. */
  priceFallback?: ReadonlyMap<string, { price: string; ts: number }>;
  /** Appended to risk's `no_price` refusals. */
  noPriceHint?: string;
}

export interface Stack {
  urls: Record<ServiceName, string> & Partial<Record<'marketdata' | 'replay', string>>;
  sim: BrokerSimApp;
  gateway: GatewayApp;
  signals: SignalsApp;
  orchestrator: OrchestratorApp;
  marketdata: MarketDataApp | null;
  risk: RiskWiring | null;
  catalog: Catalog;
  prices: StaticPrices;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const [{ buildBrokerSimApp }, { AlpacaBroker }, signalsMod, orch, { openCatalog }, { accessFor, isLoopback }] = await Promise.all([
    import('../broker-sim/index.js'),
    import('../execution/brokers/alpaca.js'),
    import('../signals/index.js'),
    import('../orchestrator/index.js'),
    import('../data/catalog.js'),
    import('../observability/auth.js'),
  ]);
  const { config, clock, logger, db, bus } = o;
  const host = o.ports === 'configured' ? config.host : '127.0.0.1';
  const { readTokens } = accessFor(config, host);
  const spec = (name: keyof Config['ports'], on = host) => ({ host: on, port: o.ports === 'configured' ? config.ports[name] : 0, setting: PORT_VARS[name] });
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'stack: close failed'));
  };
  // Each app is closed on the way out even when it never got its port: listen() makes it ready
  // first, which starts its background work (streams, consumers), and that must stop too.
  const serve = async (app: { listen(o: { port: number; host: string }): Promise<unknown>; close(): Promise<unknown>; server: { address(): AddressInfo | string | null } }, name: keyof Config['ports'], on = host) => {
    closers.push(() => app.close());
    await listenOn(app, spec(name, on));
    return urlOf(app.server.address());
  };
  try {
    // Simulated broker (the embedded default; BROKER=alpaca points the gateway elsewhere).
    const prices = o.prices ?? new StaticPrices({});
    const ownKeys = Boolean(config.alpaca.keyId && config.alpaca.secretKey);
    const keys = { apiKeyId: config.alpaca.keyId ?? 'kestrel-sim', apiSecretKey: config.alpaca.secretKey ?? 'kestrel-sim' };
    const sim = await buildBrokerSimApp({ clock, logger: logger.child({ service: 'broker-sim' }), prices, config: { ...keys, startingCash: config.simStartingCash, ...o.sim } });
    // With the well-known default keys the simulator is this process's own: it stays on loopback.
    const simHost = ownKeys || isLoopback(host) ? host : '127.0.0.1';
    if (simHost !== host) logger.warn({ host: simHost }, 'broker-sim listens on loopback only: set ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY to serve it on HOST');
    const simUrl = await serve(sim.app, 'brokerSim', simHost);

    const broker =
      config.broker === 'alpaca'
        ? AlpacaBroker.fromConfig(config, logger)
        : new AlpacaBroker({ keyId: keys.apiKeyId, secretKey: keys.apiSecretKey, baseUrl: simUrl, logger: logger.child({ service: 'alpaca-client' }) });

    const { gateway, risk: wiring } = await buildRiskedGateway({
      config,
      db,
      bus,
      broker,
      clock,
      logger: logger.child({ service: 'gateway' }),
      metrics: o.gatewayMetrics,
      priceFallback: o.priceFallback,
      noPriceHint: o.noPriceHint,
      readTokens,
    });
    if (wiring) closers.push(() => wiring.close());
    const gatewayUrl = await serve(gateway, 'gateway');

    const catalog = await openCatalog(config.dataDir);
    closers.push(async () => catalog.close());
    const signals = await signalsMod.buildSignalsApp({ db: o.registryDb ?? db, bus, clock, logger: logger.child({ service: 'signals' }), dataDir: config.dataDir, pollMs: o.modelPollMs, apiToken: config.apiToken, readTokens });
    const signalsUrl = await serve(signals, 'signals');

    const orchestrator = await orch.buildOrchestratorApp({
      db,
      clock,
      logger: logger.child({ service: 'orchestrator' }, quieter(logger, o.logLevels?.orchestrator)),
      // API_TOKEN is good for reads too; with only READ_TOKEN set, writes are open and reads need it.
      signals: new signalsMod.HttpSignalsClient({ baseUrl: signalsUrl, apiToken: config.apiToken ?? config.readToken }),
      gateway: new orch.HttpGatewayClient({ baseUrl: gatewayUrl, apiToken: config.apiToken ?? config.readToken }),
      prices: new orch.CatalogPriceSource(catalog),
      sizingLimits: wiring?.engine,
      bus: o.consumeSignals ? bus : undefined,
      strategies: o.strategies,
      apiToken: config.apiToken,
      readTokens,
      background: { consumer: Boolean(o.consumeSignals), scheduler: false },
    });
    const orchestratorUrl = await serve(orchestrator, 'orchestrator');

    const md = o.marketData ? await startMarketData(o, o.marketData, prices, closers, spec, readTokens) : null;

    return {
      urls: { 'broker-sim': simUrl, gateway: gatewayUrl, signals: signalsUrl, orchestrator: orchestratorUrl, ...(md?.urls ?? {}) },
      sim,
      gateway,
      signals,
      orchestrator,
      marketdata: md?.app ?? null,
      risk: wiring,
      catalog,
      prices,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A child's level only ever raises the parent's (a silent test logger stays silent). */
function quieter(parent: Logger, level: string | undefined): { level: string } | undefined {
  const want = level === undefined ? undefined : parent.levels.values[level];
  return want !== undefined && want > parent.levelVal ? { level: level! } : undefined;
}

/**
 * The replay feed (when asked) and the market-data service: marks into `price:{symbol}` for risk
 * and status, the tick store, live P&L. The simulator fills at the same marks.
 */
async function startMarketData(
  o: StackOptions,
  m: StackMarketData,
  prices: StaticPrices,
  closers: Array<() => Promise<unknown>>,
  spec: (name: keyof Config['ports'], on?: string) => { host: string; port: number; setting: string },
  readTokens: readonly string[] | undefined,
): Promise<{ app: MarketDataApp; urls: { marketdata: string; replay?: string } }> {
  const [{ buildMarketDataApp }, { todaysSignalSymbols }, { buildReplayServer }] = await Promise.all([
    import('../marketdata/service/app.js'),
    import('../marketdata/service/subscriptions.js'),
    import('../marketdata/replay/server.js'),
  ]);
  const { clock, logger, db } = o;
  let feedUrl = m.feed.url;
  let replay: ReplayServer | null = null;
  if (m.replay) {
    const r = buildReplayServer({ clock, logger: logger.child({ service: 'replay' }), source: m.replay.source, speed: m.replay.speed, date: m.replay.date, keys: null });
    replay = r;
    closers.push(() => r.close());
    // The stack's own feed, without keys: it stays on loopback whatever HOST is (issue #14).
    const p = spec('replay', '127.0.0.1');
    let bound: number;
    try {
      bound = await r.listen(p.port, p.host);
    } catch (e) {
      throw portError(e, p);
    }
    feedUrl = `ws://127.0.0.1:${bound}/v2/iex`;
  }
  if (!feedUrl) throw new Error('market data: no feed URL and no replay');
  const extra = m.extraSymbols ?? [];
  const app = await buildMarketDataApp({
    db,
    bus: o.bus,
    clock,
    logger: logger.child({ service: 'marketdata' }),
    feed: { url: feedUrl, key: m.feed.key, secret: m.feed.secret },
    marksMaxAgeMs: o.config.marksMaxAgeMs,
    signalSymbols: async () => [...(await todaysSignalSymbols(db, clock.now())), ...extra],
    readTokens,
  });
  // The simulator fills at the market the services see.
  app.marketdata.cache.onPrice((symbol, tick) => prices.set(symbol, tick.price));
  closers.push(() => app.close());
  await listenOn(app, spec('marketdata'));
  const url = urlOf(app.server.address());
  return { app, urls: { marketdata: url, ...(replay ? { replay: feedUrl } : {}) } };
}

export function urlOf(addr: AddressInfo | string | null): string {
  if (addr && typeof addr === 'object') return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  throw new Error(`not listening on TCP: ${String(addr)}`);
}

/**
 * The execution gateway with risk as its pre-trade check (nothing reaches the broker without
 * passing risk), the risk API on the same app and automatic de-risking attached. Last prices
 * come from the bus (`price:{symbol}`), equity from the broker, correlations from the data store.
 * Risk's series (`kestrel_risk_*`) are on the gateway's /metrics.
 */
export async function buildRiskedGateway(o: {
  config: Config;
  db: Db;
  bus: Bus;
  broker: import('../execution/broker.js').Broker;
  clock: Clock;
  logger: Logger;
  faults?: import('../execution/context.js').GatewayDeps['faults'];
  /** The gateway's registry (default: a new one). */
  metrics?: Metrics;
  /** As-of mode: stored closes that price symbols without a live mark (labelled last_close). */
  priceFallback?: ReadonlyMap<string, { price: string; ts: number }>;
  /** Appended to `no_price` refusals: how to get prices in this deployment. */
  noPriceHint?: string;
  /** Tokens reads need (accessFor); none = reads open. */
  readTokens?: readonly string[];
}): Promise<{ gateway: GatewayApp; risk: RiskWiring | null }> {
  const [{ buildGatewayApp }, { bearerGuard }, risk, { openCatalog }, { createMetrics }] = await Promise.all([
    import('../execution/app.js'),
    import('../observability/auth.js'),
    import('../risk/index.js'),
    import('../data/catalog.js'),
    import('../observability/metrics.js'),
  ]);
  const { config } = o;
  const metrics = o.metrics ?? createMetrics('gateway');
  if (!config.riskEnabled) {
    o.logger.warn('RISK_ENABLED=false: pre-trade risk checks are OFF — orders go to the broker unchecked');
    const gateway = await buildGatewayApp({ db: o.db, broker: o.broker, clock: o.clock, logger: o.logger, dryRun: config.dryRun, apiToken: config.apiToken, readTokens: o.readTokens, faults: o.faults, metrics });
    return { gateway, risk: null };
  }
  const riskConfig = risk.loadRiskConfig({ env: config.riskEnv });
  const store = await risk.openBreakerStore({ redisUrl: config.redisUrl, bus: o.bus, logger: o.logger });
  const live = risk.busPriceSource(o.bus);
  const wiring = risk.createRisk({
    db: o.db,
    clock: o.clock,
    logger: o.logger,
    config: riskConfig,
    store,
    prices: o.priceFallback ? risk.withLastCloseFallback(live, o.priceFallback) : live,
    equity: risk.brokerEquitySource(o.broker, { clock: o.clock }),
    correlations: riskConfig.correlation.enabled
      ? new risk.CatalogCorrelationSource({ open: () => openCatalog(config.dataDir), lookbackDays: riskConfig.correlation.lookback_days, minObservations: riskConfig.correlation.min_observations })
      : undefined,
    metrics,
    noPriceHint: o.noPriceHint,
  });
  try {
    const gateway = await buildGatewayApp({
      db: o.db,
      broker: o.broker,
      clock: o.clock,
      logger: o.logger,
      dryRun: config.dryRun,
      apiToken: config.apiToken,
      readTokens: o.readTokens,
      preTradeCheck: wiring.engine.preTradeCheck,
      faults: o.faults,
      metrics,
      // Risk reads last prices from the bus and the breaker from its store: both are dependencies.
      checks: [...wiring.healthChecks(), o.bus.healthCheck('price_cache', false)],
    });
    await gateway.register(risk.riskRoutes, { service: wiring.service, auth: bearerGuard(config.apiToken) });
    wiring.service.attachDerisk(risk.gatewayDeriskOps(gateway.gateway.ctx), { metrics: wiring.metrics });
    return { gateway, risk: wiring };
  } catch (e) {
    await wiring.close();
    throw e;
  }
}

/**
 * What a `no_price` refusal adds: where this gateway's prices come from and how to get some.
 * `inProcess`: the market-data service runs in the same process (kestrel up).
 */
export function noPriceHint(o: { inProcess: boolean; redisUrl?: string; command: string }): string {
  if (o.inProcess) return `prices come from the market-data feed (ALPACA_DATA_URL, or the replay of a stored day): on stored data run \`${o.command} --as-of last\``;
  if (o.redisUrl) return `this gateway reads price:{symbol} from Redis: run \`kestrel serve marketdata\` (with its feed) on the same REDIS_URL, or on stored data run \`${o.command} --as-of last\``;
  return `REDIS_URL is unset, so this gateway sees no market-data service's prices: run \`kestrel serve marketdata\` with a REDIS_URL shared with this gateway, or on stored data run \`${o.command} --as-of last\``;
}

import type { AddressInfo } from 'node:net';
import type { BrokerSimApp } from '../broker-sim/index.js';
import { StaticPrices } from '../broker-sim/index.js';
import type { Bus } from '../bus/index.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Catalog } from '../data/catalog.js';
import type { Db } from '../db/db.js';
import type { GatewayApp } from '../execution/app.js';
import type { OrchestratorApp, StrategyConfig } from '../orchestrator/index.js';
import type { RiskWiring } from '../risk/index.js';
import type { SignalsApp } from '../signals/index.js';

/**
 * Wires the services into one process: the simulated broker, the execution gateway (with
 * risk as its pre-trade check), the signal service and the orchestrator, each a real HTTP
 * server talking to the others over loopback — the same adapters as separate processes.
 * Used by `kestrel up` (configured ports) and `kestrel paper-run` (free ports, simulated clock).
 */
export type ServiceName = 'broker-sim' | 'gateway' | 'signals' | 'orchestrator';

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
  /** Prices the simulated broker fills at (paper runs set them every day). */
  prices?: StaticPrices;
  sim?: { startingCash?: string; slippageBps?: number };
  strategies?: StrategyConfig[];
  /** Poll the registry for a new production model (ms); 0 = only on request. */
  modelPollMs?: number;
  /** Start the orchestrator's signals.generated consumer (kestrel up) or not (paper runs drive runs). */
  consumeSignals?: boolean;
  /**
   * A service's own log level, when it must differ from `logger`'s: a paper run reports every
   * run's outcome itself and sets the orchestrator to `error`, so its per-run warnings do not
   * bury the report (the refusals are summarised in it, with one warning for the whole run).
   */
  logLevels?: Partial<Record<ServiceName, string>>;
}

export interface Stack {
  urls: Record<ServiceName, string>;
  sim: BrokerSimApp;
  gateway: GatewayApp;
  signals: SignalsApp;
  orchestrator: OrchestratorApp;
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
  const port = (name: keyof Config['ports']) => (o.ports === 'configured' ? config.ports[name] : 0);
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'stack: close failed'));
  };
  try {
    // Simulated broker (the embedded default; BROKER=alpaca points the gateway elsewhere).
    const prices = o.prices ?? new StaticPrices({});
    const ownKeys = Boolean(config.alpaca.keyId && config.alpaca.secretKey);
    const keys = { apiKeyId: config.alpaca.keyId ?? 'kestrel-sim', apiSecretKey: config.alpaca.secretKey ?? 'kestrel-sim' };
    const sim = await buildBrokerSimApp({ clock, logger: logger.child({ service: 'broker-sim' }), prices, config: { ...keys, ...o.sim } });
    // With the well-known default keys the simulator is this process's own: it stays on loopback.
    const simHost = ownKeys || isLoopback(host) ? host : '127.0.0.1';
    if (simHost !== host) logger.warn({ host: simHost }, 'broker-sim listens on loopback only: set ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY to serve it on HOST');
    await sim.app.listen({ host: simHost, port: port('brokerSim') });
    closers.push(() => sim.app.close());
    const simUrl = urlOf(sim.app.server.address());

    const broker =
      config.broker === 'alpaca'
        ? AlpacaBroker.fromConfig(config, logger)
        : new AlpacaBroker({ keyId: keys.apiKeyId, secretKey: keys.apiSecretKey, baseUrl: simUrl, logger: logger.child({ service: 'alpaca-client' }) });

    const { gateway, risk: wiring } = await buildRiskedGateway({ config, db, bus, broker, clock, logger: logger.child({ service: 'gateway' }), readTokens });
    if (wiring) closers.push(() => wiring.close());
    await gateway.listen({ host, port: port('gateway') });
    closers.push(() => gateway.close());
    const gatewayUrl = urlOf(gateway.server.address());

    const catalog = await openCatalog(config.dataDir);
    closers.push(async () => catalog.close());
    const signals = await signalsMod.buildSignalsApp({ db: o.registryDb ?? db, bus, clock, logger: logger.child({ service: 'signals' }), dataDir: config.dataDir, pollMs: o.modelPollMs, apiToken: config.apiToken, readTokens });
    await signals.listen({ host, port: port('signals') });
    closers.push(() => signals.close());
    const signalsUrl = urlOf(signals.server.address());

    const orchestrator = await orch.buildOrchestratorApp({
      db,
      clock,
      logger: logger.child({ service: 'orchestrator' }, quieter(logger, o.logLevels?.orchestrator)),
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
    await orchestrator.listen({ host, port: port('orchestrator') });
    closers.push(() => orchestrator.close());
    const orchestratorUrl = urlOf(orchestrator.server.address());

    return {
      urls: { 'broker-sim': simUrl, gateway: gatewayUrl, signals: signalsUrl, orchestrator: orchestratorUrl },
      sim,
      gateway,
      signals,
      orchestrator,
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

export function urlOf(addr: AddressInfo | string | null): string {
  if (addr && typeof addr === 'object') return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  throw new Error(`not listening on TCP: ${String(addr)}`);
}

/**
 * The execution gateway with risk as its pre-trade check (nothing reaches the broker without
 * passing risk), the risk API on the same app and automatic de-risking attached. Last prices
 * come from the bus (`price:{symbol}`), equity from the broker, correlations from the data store.
 */
export async function buildRiskedGateway(o: {
  config: Config;
  db: Db;
  bus: Bus;
  broker: import('../execution/broker.js').Broker;
  clock: Clock;
  logger: Logger;
  faults?: import('../execution/context.js').GatewayDeps['faults'];
  /** Tokens reads need (accessFor); none = reads open. */
  readTokens?: readonly string[];
}): Promise<{ gateway: GatewayApp; risk: RiskWiring | null }> {
  const [{ buildGatewayApp }, { bearerGuard }, risk, { openCatalog }] = await Promise.all([
    import('../execution/app.js'),
    import('../observability/auth.js'),
    import('../risk/index.js'),
    import('../data/catalog.js'),
  ]);
  const { config } = o;
  if (!config.riskEnabled) {
    o.logger.warn('RISK_ENABLED=false: pre-trade risk checks are OFF — orders go to the broker unchecked');
    const gateway = await buildGatewayApp({ db: o.db, broker: o.broker, clock: o.clock, logger: o.logger, dryRun: config.dryRun, apiToken: config.apiToken, readTokens: o.readTokens, faults: o.faults });
    return { gateway, risk: null };
  }
  const riskConfig = risk.loadRiskConfig({ env: config.riskEnv });
  const store = await risk.openBreakerStore({ redisUrl: config.redisUrl, bus: o.bus, logger: o.logger });
  const wiring = risk.createRisk({
    db: o.db,
    clock: o.clock,
    logger: o.logger,
    config: riskConfig,
    store,
    prices: risk.busPriceSource(o.bus),
    equity: risk.brokerEquitySource(o.broker, { clock: o.clock }),
    correlations: riskConfig.correlation.enabled
      ? new risk.CatalogCorrelationSource({ open: () => openCatalog(config.dataDir), lookbackDays: riskConfig.correlation.lookback_days, minObservations: riskConfig.correlation.min_observations })
      : undefined,
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

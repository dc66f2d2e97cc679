import type { RunningBrokerSim } from '../broker-sim/index.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { buildGatewayApp, type GatewayApp } from '../execution/app.js';
import { AlpacaBroker } from '../execution/brokers/alpaca.js';
import { freshPglite, simBroker, startSim } from '../execution/test-helpers.js';
import { bearerGuard } from '../observability/auth.js';
import { createMetrics } from '../observability/metrics.js';
import { parseRiskConfig } from '../risk/config.js';
import { brokerEquitySource, MapPriceSource } from '../risk/provider.js';
import { riskRoutes } from '../risk/routes.js';
import { MemoryStateStore, type StateStore } from '../risk/state-store.js';
import { createRisk, type RiskWiring } from '../risk/wire.js';

/**
 * The gateway as `kestrel serve gateway` builds it — risk as the pre-trade check, the risk
 * routes on the same app — on embedded PGlite against the real simulator over HTTP. Every
 * ticker an attacker might be turned into (MSFT from "MſFT", IBM from "ıbm", FF from "ﬀ") has a
 * fresh price, so nothing but input validation stands between a bad symbol and the broker.
 */
export const HOSTILE_TOKEN = 'hostile-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${HOSTILE_TOKEN}` };
export const PRICED = ['AAPL', 'MSFT', 'IBM', 'FF', 'S', 'I', 'BRK.B', 'SPY'];

export interface HostileGateway {
  app: GatewayApp;
  db: Db;
  sim: RunningBrokerSim;
  risk: RiskWiring;
  prices: MapPriceSource;
  /** Rows and broker orders now: what a refused request must leave unchanged. */
  counts(): Promise<Counts>;
  /** Prices every PRICED ticker now (risk refuses stale prices). */
  mark(): void;
  close(): Promise<void>;
}

export interface Counts {
  orders: number;
  order_events: number;
  risk_events: number;
  broker_orders: number;
}

export async function hostileGateway(opts: { readTokens?: string[]; store?: StateStore; brokerKeys?: { keyId: string; secretKey: string }; tradeUpdates?: boolean } = {}): Promise<HostileGateway> {
  const sim = await startSim({ prices: Object.fromEntries(PRICED.map((s) => [s, '100'])) });
  // Wrong keys: the broker answers 401 to everything (the gateway must say so, not crash).
  const brokerFor = opts.brokerKeys ? new AlpacaBroker({ ...opts.brokerKeys, baseUrl: sim.baseUrl, streamUrl: sim.streamUrl, timeoutMs: 3_000 }) : simBroker(sim);
  const db = await freshPglite();
  const prices = new MapPriceSource();
  const config = parseRiskConfig({ limits: { max_order_notional: '1000000' }, correlation: { enabled: false }, breaker: { quiet_period_s: 0 } });
  const metrics = createMetrics('gateway', { defaultMetrics: false });
  const risk = createRisk({ db, clock: systemClock, logger: silentLogger(), config, store: opts.store ?? new MemoryStateStore(), prices, equity: brokerEquitySource(brokerFor, { clock: systemClock, ttlMs: 0 }), metrics });
  const app = await buildGatewayApp({
    db,
    broker: brokerFor,
    clock: systemClock,
    logger: silentLogger(),
    apiToken: HOSTILE_TOKEN,
    readTokens: opts.readTokens,
    metrics,
    preTradeCheck: risk.engine.preTradeCheck,
    checks: risk.healthChecks(),
    // Without the trade-update stream nothing writes behind a request's back (the fuzz run counts rows).
    background: { reconcileOnStart: false, retrier: false, tradeUpdates: opts.tradeUpdates ?? !opts.brokerKeys },
  });
  await app.register(riskRoutes, { service: risk.service, auth: bearerGuard(HOSTILE_TOKEN) });
  await app.ready();
  const mark = () => {
    for (const s of PRICED) prices.set(s, '100', Date.now());
  };
  mark();
  // One statement for every count: the fuzz run takes them around each request.
  const counts = async (): Promise<Counts> => {
    const r = await db.query<Omit<Counts, 'broker_orders'>>(
      'SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_events)::int AS order_events, (SELECT count(*) FROM risk_events)::int AS risk_events',
    );
    return { ...r.rows[0]!, broker_orders: sim.sim.listOrders({ status: 'all', limit: 500 }).length };
  };
  return {
    app,
    db,
    sim,
    risk,
    prices,
    mark,
    counts,
    close: async () => {
      await app.close();
      await risk.close();
      await sim.close();
      await db.close();
    },
  };
}

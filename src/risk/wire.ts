import { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Bus } from '../bus/types.js';
import type { Db } from '../db/db.js';
import { cancelOrder } from '../execution/cancel.js';
import type { GatewayContext } from '../execution/context.js';
import { submitOrder } from '../execution/submit.js';
import type { HealthCheck } from '../observability/http-app.js';
import type { Metrics } from '../observability/metrics.js';
import { CircuitBreaker } from './breaker.js';
import type { RiskConfig } from './config.js';
import type { CorrelationSource } from './correlation.js';
import type { DeriskOps } from './derisk.js';
import { RiskEngine } from './engine.js';
import { RiskEventLog } from './events.js';
import { riskMetrics, type RiskMetrics } from './metrics.js';
import { PgRiskStateProvider, RISK_OPEN_STATUSES, type EquitySource, type LastPriceSource } from './provider.js';
import { RiskService } from './service.js';
import { busStateStore, MemoryStateStore, RedisStateStore, type StateStore } from './state-store.js';

/**
 * One call that builds risk for a gateway process:
 *
 *   const riskConfig = loadRiskConfig({ env });   // env: the map core/config read (only it may touch process.env)
 *   const store = await openBreakerStore({ redisUrl: config.redisUrl, bus, logger, keyPrefix });
 *   const risk = createRisk({ db, clock, logger, config: riskConfig, store, prices, equity, correlations, metrics });
 *   const app = await buildGatewayApp({ …, preTradeCheck: risk.engine.preTradeCheck, metrics });
 *   await app.register(riskRoutes, { service: risk.service, auth: bearerGuard(apiToken) });
 *   risk.service.attachDerisk(gatewayDeriskOps(app.gateway.ctx), { metrics: risk.metrics });
 *   … on close: await risk.close()
 */
export interface CreateRiskOptions {
  /** The gateway's database (positions, orders; risk_events, risk_day_start). Migrated. */
  db: Db;
  clock: Clock;
  logger: Logger;
  config: RiskConfig;
  store: StateStore;
  prices: LastPriceSource;
  equity: EquitySource;
  correlations?: CorrelationSource;
  metrics?: Metrics;
  breakerId?: string;
  /** Appended to `no_price` refusals (how to get prices in this deployment). */
  noPriceHint?: string;
}

export interface RiskWiring {
  config: RiskConfig;
  events: RiskEventLog;
  breaker: CircuitBreaker;
  provider: PgRiskStateProvider;
  engine: RiskEngine;
  service: RiskService;
  metrics?: RiskMetrics;
  /**
   * /health entries: the breaker's state store. While it cannot be read the breaker fails
   * closed (only reducing orders pass), so the service is degraded, not ok.
   */
  healthChecks(): HealthCheck[];
  /** Closes what risk opened (the state store when it owns its client, the correlation catalog). */
  close(): Promise<void>;
}

export function createRisk(o: CreateRiskOptions): RiskWiring {
  const metrics = o.metrics ? riskMetrics(o.metrics) : undefined;
  const events = new RiskEventLog(o.db);
  const breaker = new CircuitBreaker({ store: o.store, events, clock: o.clock, logger: o.logger, config: o.config.breaker, id: o.breakerId, metrics });
  const provider = new PgRiskStateProvider({ db: o.db, clock: o.clock, prices: o.prices, equity: o.equity, correlations: o.correlations, correlation: o.config.correlation, logger: o.logger, noPriceHint: o.noPriceHint });
  const engine = new RiskEngine({ config: o.config, provider, breaker, events, logger: o.logger, metrics });
  const service = new RiskService({ config: o.config, breaker, events, provider, clock: o.clock, logger: o.logger, db: o.db });
  return {
    config: o.config,
    events,
    breaker,
    provider,
    engine,
    service,
    metrics,
    healthChecks: () => [
      {
        name: 'breaker_store',
        critical: false,
        check: async () => {
          try {
            return { status: 'up', detail: `breaker ${await breaker.current().then((s) => s.state)}` };
          } catch (e) {
            return { status: 'down', detail: `breaker state unavailable (${(e as Error).message}): failing closed, only reducing orders pass` };
          }
        },
      },
    ],
    close: async () => {
      await service.deriskIdle();
      await o.store.close?.();
      await o.correlations?.close?.();
    },
  };
}

/**
 * The breaker's state store: Redis when a URL is given (its own connection, commands fail fast
 * while Redis is down so the breaker reports UNAVAILABLE instead of hanging orders), else the
 * in-process bus, else plain memory.
 */
export async function openBreakerStore(o: { redisUrl?: string; bus?: Bus; logger: Logger; keyPrefix?: string }): Promise<StateStore> {
  if (o.redisUrl) {
    const redis = new Redis(o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 1000 });
    redis.on('error', () => {}); // reported by the failing command (breaker UNAVAILABLE), not as a crash
    try {
      await redis.connect();
    } catch (e) {
      o.logger.error({ err: (e as Error).message }, 'risk: Redis unreachable at start; breaker state UNAVAILABLE (only reducing orders pass) until it is back');
    }
    return new RedisStateStore(redis, { keyPrefix: o.keyPrefix, ownsClient: true });
  }
  if (o.bus && o.bus.kind === 'memory') return busStateStore(o.bus);
  return new MemoryStateStore();
}

/**
 * De-risking operations over the gateway itself: open orders and positions from its tables,
 * cancels and reducing orders through its own cancel/submit paths (write-ahead, audit,
 * pre-trade checks — reducing orders pass a tripped breaker).
 */
export function gatewayDeriskOps(ctx: GatewayContext): DeriskOps {
  return {
    listOpenOrders: async () =>
      (await ctx.db.query<{ client_order_id: string; symbol: string; side: 'buy' | 'sell' }>(`SELECT client_order_id, symbol, side FROM orders WHERE status IN (${RISK_OPEN_STATUSES.map((s) => `'${s}'`).join(', ')}) ORDER BY created_at`)).rows.map((r) => ({ id: r.client_order_id, symbol: r.symbol, side: r.side })),
    cancelOrder: async (id) => {
      await cancelOrder(ctx, id);
    },
    listPositions: async () => (await ctx.db.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM positions WHERE qty <> 0 ORDER BY symbol')).rows,
    submitOrder: async (order) => {
      try {
        const r = await submitOrder(ctx, { ...order });
        return { ok: true, detail: `${r.order.client_order_id} ${r.order.status}` };
      } catch (e) {
        return { ok: false, detail: (e as Error).message };
      }
    },
  };
}


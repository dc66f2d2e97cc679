import { batcher, type Batched } from '../core/batcher.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import type { Broker } from './broker.js';
import { gatewayMetrics, type GatewayMetrics } from './gateway-metrics.js';
import type { OrderRow } from './model.js';
import { allowAll, type PreTradeCheck } from './pre-trade.js';
import { recordBrokerOrders, type BrokerAnswer } from './store.js';
import { lookupBatch, RecentOrders, writeAheadBatch, type InsertOutcome, type WriteAheadItem } from './write-ahead.js';

/**
 * Test-only fault hooks. `afterWrite` runs after the write-ahead row is committed and before
 * the broker call: the CLI wires it to SIGKILL the process for crash tests (only behind the
 * hidden --test-fault flag with NODE_ENV=test).
 */
export interface FaultHooks {
  afterWrite?(order: OrderRow): void | Promise<void>;
}

export interface GatewayDeps {
  db: Db;
  broker: Broker;
  clock: Clock;
  logger: Logger;
  /** The service registry; the gateway adds its series. Default: a new one. */
  metrics?: Metrics;
  /** Record orders as dry_run; never call the broker for them. */
  dryRun?: boolean;
  preTradeCheck?: PreTradeCheck;
  faults?: FaultHooks;
  /** The retrier leaves a fresh pending order this long to the request that created it. Default 15 s. */
  submitGraceMs?: number;
  /** Retry backoff for orders the broker could not take: base × 2^attempts (jittered), capped. */
  retry?: { baseMs?: number; maxMs?: number };
}

/** Everything the gateway's work functions need; built once per app. */
export interface GatewayContext {
  db: Db;
  broker: Broker;
  clock: Clock;
  logger: Logger;
  registry: Metrics;
  metrics: GatewayMetrics;
  dryRun: boolean;
  preTradeCheck: PreTradeCheck;
  faults: FaultHooks;
  submitGraceMs: number;
  retry: { baseMs: number; maxMs: number };
  /**
   * client_order_ids whose submission this process is awaiting: a status-only trade update for
   * one of them is left to the submission's own answer, which the broker gives after it.
   */
  inFlight: Set<string>;
  /** Group-committed hot statements (see src/core/batcher.ts): write-ahead, duplicate lookup, broker answers. */
  writeAhead: Batched<WriteAheadItem, InsertOutcome>;
  lookup: Batched<string, OrderRow | null>;
  recordAnswer: Batched<BrokerAnswer, OrderRow | null>;
  /** Orders this process wrote or answered lately (with the state last seen): duplicates skip the pre-trade check, status-only trade updates behind that state are no-ops. */
  recent: RecentOrders;
}

/** Batches of one kind running at once: a few, well under the pool (20), so other work gets connections. */
const BATCH = { maxBatch: 256, maxInFlight: 3 };

export function createGatewayContext(deps: GatewayDeps): GatewayContext {
  const registry = deps.metrics ?? createMetrics('gateway');
  return {
    db: deps.db,
    broker: deps.broker,
    clock: deps.clock,
    logger: deps.logger,
    registry,
    metrics: gatewayMetrics(registry),
    dryRun: deps.dryRun ?? false,
    preTradeCheck: deps.preTradeCheck ?? allowAll,
    faults: deps.faults ?? {},
    submitGraceMs: deps.submitGraceMs ?? 15_000,
    retry: { baseMs: deps.retry?.baseMs ?? 500, maxMs: deps.retry?.maxMs ?? 30_000 },
    inFlight: new Set(),
    writeAhead: batcher((items) => writeAheadBatch(deps.db, items), BATCH),
    lookup: batcher((ids) => lookupBatch(deps.db, ids), BATCH),
    recordAnswer: batcher((answers) => recordBrokerOrders(deps.db, answers), BATCH),
    recent: new RecentOrders(),
  };
}

/** Delay before the next submission attempt: base × 2^attempts, capped, jittered to 50–100 %. */
export function backoffMs(attempts: number, retry: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const cap = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempts, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

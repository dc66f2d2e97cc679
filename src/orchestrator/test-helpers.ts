import { randomUUID } from 'node:crypto';
import { fixedClock, newYorkDate, type Clock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { dec, decString, ZERO, type Decimal } from '../core/money.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import { buildOrchestratorApp, type OrchestratorApp, type OrchestratorAppOptions } from './app.js';
import { GatewayError, type GatewayAccount, type GatewayClient, type GatewayOrder, type GatewayOrderFilter, type GatewayOrderRequest, type GatewayPosition } from './gateway-client.js';
import { StaticPriceSource } from './prices.js';
import { StaticSignalsClient } from './signals-clients.js';

/** Test plumbing for the orchestrator's unit tests (no HTTP, no broker). */

export async function freshDb(): Promise<Db> {
  const db = await openPglite(null);
  await migrate(db);
  return db;
}

/** Empties the orchestrator's tables (tests sharing one database). */
export async function resetDb(db: Db): Promise<void> {
  await db.exec('TRUNCATE orchestration_orders, orchestration_runs RESTART IDENTITY CASCADE');
}

export type GatewayFault = { kind: 'unavailable' } | { kind: 'refuse'; status: number; code: string } | { kind: 'reject'; reason: string };

/**
 * An in-memory gateway with the real one's idempotency (same client_order_id → the stored
 * order, 200), its stale trade-date rule, immediate fills (or none: `fill: 'manual'`) and
 * scripted faults per symbol.
 */
export class FakeGateway implements GatewayClient {
  readonly positionQty = new Map<string, Decimal>();
  readonly byClientId = new Map<string, GatewayOrder>();
  /** Every submitOrder call, in order. */
  readonly calls: GatewayOrderRequest[] = [];
  /** Faults consumed one per submission of that symbol ('*' = any symbol). */
  readonly faults = new Map<string, GatewayFault[]>();
  fill: 'immediate' | 'manual' = 'immediate';
  positionsDown = false;
  delayMs = 0;

  constructor(private readonly clock: Clock) {}

  setPositions(m: Record<string, string>): void {
    this.positionQty.clear();
    for (const [s, q] of Object.entries(m)) this.positionQty.set(s, dec(q));
  }

  fault(symbol: string, ...f: GatewayFault[]): void {
    this.faults.set(symbol, [...(this.faults.get(symbol) ?? []), ...f]);
  }

  /** New orders (created, not found). */
  created(): GatewayOrder[] {
    return [...this.byClientId.values()];
  }

  async submitOrder(body: GatewayOrderRequest): Promise<{ order: GatewayOrder; created: boolean }> {
    this.calls.push(body);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const queue = this.faults.get(body.symbol) ?? this.faults.get('*');
    const f = queue?.shift();
    if (f?.kind === 'unavailable') throw new GatewayError(0, 'gateway_unreachable', 'gateway POST /api/v1/orders: connect ECONNREFUSED', true);
    if (f?.kind === 'refuse') throw new GatewayError(f.status, f.code, `gateway POST /api/v1/orders: ${f.status} ${f.code}`, f.status >= 500);
    const coid = body.client_order_id!;
    const existing = this.byClientId.get(coid);
    if (existing) return { order: existing, created: false };
    const today = newYorkDate(this.clock.now());
    if (body.trade_date !== today) throw new GatewayError(422, 'stale_trade_date', `trade_date ${body.trade_date} is not today (${today})`, false);
    const now = this.clock.now().toISOString();
    const order: GatewayOrder = {
      id: randomUUID(),
      client_order_id: coid,
      strategy_id: body.strategy_id,
      symbol: body.symbol,
      side: body.side,
      qty: body.qty,
      order_type: body.order_type,
      limit_price: null,
      time_in_force: body.time_in_force ?? 'day',
      trade_date: body.trade_date,
      status: 'new',
      broker_order_id: randomUUID(),
      filled_qty: '0',
      filled_avg_price: null,
      error: null,
      submit_attempts: 0,
      next_attempt_at: null,
      created_at: now,
      updated_at: now,
    };
    this.byClientId.set(coid, order);
    if (f?.kind === 'reject') {
      order.status = 'rejected';
      order.error = f.reason;
    } else if (this.fill === 'immediate') this.fillOrder(coid);
    return { order: { ...order }, created: true };
  }

  fillOrder(coid: string): void {
    const o = this.byClientId.get(coid)!;
    o.status = 'filled';
    o.filled_qty = o.qty;
    const q = dec(o.qty).times(o.side === 'buy' ? 1 : -1);
    const next = (this.positionQty.get(o.symbol) ?? ZERO).plus(q);
    if (next.isZero()) this.positionQty.delete(o.symbol);
    else this.positionQty.set(o.symbol, next);
  }

  async getOrder(clientOrderId: string): Promise<GatewayOrder | null> {
    const o = this.byClientId.get(clientOrderId);
    return o ? { ...o } : null;
  }

  async positions(): Promise<GatewayPosition[]> {
    if (this.positionsDown) throw new GatewayError(503, 'database_unavailable', 'gateway GET /api/v1/positions: 503', true);
    const at = this.clock.now().toISOString();
    return [...this.positionQty.entries()].map(([symbol, q]) => ({ symbol, qty: decString(q), avg_entry_price: '0', cost_basis: '0', realized_pnl: '0', updated_at: at }));
  }

  async orders(_filter?: GatewayOrderFilter): Promise<{ orders: GatewayOrder[]; next_cursor: string | null }> {
    return { orders: this.created(), next_cursor: null };
  }

  async account(): Promise<GatewayAccount> {
    return { broker: 'fake', account: {}, realized_pnl: '0', open_positions: this.positionQty.size, open_orders: 0, pending_orders: 0 };
  }

  async ping(): Promise<void> {}
}

export interface TestOrchestrator {
  app: OrchestratorApp;
  db: Db;
  clock: ReturnType<typeof fixedClock>;
  gateway: FakeGateway;
  signals: StaticSignalsClient;
  prices: StaticPriceSource;
  close(): Promise<void>;
}

/** The app on PGlite with a fake gateway, fixed signals and prices; the clock at 14:00 New York on `today`. */
export async function testOrchestrator(today: string, over: Partial<OrchestratorAppOptions> = {}): Promise<TestOrchestrator> {
  const db = over.db ?? (await freshDb());
  const clock = fixedClock(`${today}T19:00:00Z`);
  const gateway = new FakeGateway(clock);
  const signals = new StaticSignalsClient({});
  const prices = new StaticPriceSource({});
  const app = await buildOrchestratorApp({
    db,
    clock,
    logger: silentLogger(),
    signals,
    gateway,
    prices,
    tuning: { retryBaseMs: 1, flipWaitMs: 200, waitForRunningMs: 5_000 },
    background: { scheduler: false },
    ...over,
  });
  await app.ready();
  return {
    app,
    db,
    clock,
    gateway,
    signals,
    prices,
    close: async () => {
      await app.close();
      if (!over.db) await db.close();
    },
  };
}

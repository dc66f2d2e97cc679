import { Decimal, dec, decString, ZERO } from '../core/money.js';
import { DatabaseUnavailableError, type Db, type Queryable } from '../db/db.js';
import type { TradeUpdate, TradeUpdateSubscription } from './broker.js';
import type { GatewayContext } from './context.js';
import { recordFill } from './fills.js';
import { ORDER_COLUMNS, type OrderRow } from './model.js';
import { decide, fromTradeEvent, type Decision } from './order-state.js';
import { runStatement, statement } from './sql.js';
import { appendEvent } from './store.js';

/**
 * Applies broker trade updates. Each update is ONE transaction: lock the order, record the
 * fill (deduplicated by execution_id — an execution seen before changes nothing), fold it into
 * the position, move the status through the state machine, keep filled_qty monotonic, append
 * the audit event. Late and duplicate events are therefore harmless, and several replicas may
 * consume the same stream on one database. Under load the consumer applies what is queued in
 * batches, one transaction (and one commit) per batch, each event still all-or-nothing.
 *
 * Results: applied; duplicate (nothing new); ignored (refused by the state machine);
 * unknown_order (not placed through Kestrel: recorded, skipped); deferred (a status-only update
 * for an order whose submission answer is awaited in this process, see deferredToAnswer).
 */
export type ApplyResult = 'applied' | 'duplicate' | 'ignored' | 'unknown_order' | 'deferred';

/** The order, locked, with what its fills add up to so far. */
type LockedOrder = OrderRow & { fills_qty: string; has_synthetic: boolean };
const LOCK = (where: string) =>
  `SELECT ${ORDER_COLUMNS},
     (SELECT coalesce(sum(f.qty), 0) FROM fills f WHERE f.order_id = orders.id) AS fills_qty,
     EXISTS (SELECT 1 FROM fills f WHERE f.order_id = orders.id AND f.synthetic) AS has_synthetic,
     set_config('synchronous_commit', 'off', true) AS async_commit
   FROM orders WHERE ${where} FOR UPDATE`;
const LOCK_BY_CLIENT_ID = statement('lock_order_by_client_id', LOCK('client_order_id = $1'));
const LOCK_BY_BROKER_ID = statement('lock_order_by_broker_id', LOCK('broker_order_id = $1'));

async function lockOrder(tx: Queryable, u: TradeUpdate, kind: Db['kind']): Promise<LockedOrder | null> {
  const r = await runStatement<LockedOrder>(tx, LOCK_BY_CLIENT_ID, [u.order.client_order_id], kind);
  if (r.rows[0]) return r.rows[0];
  const b = await runStatement<LockedOrder>(tx, LOCK_BY_BROKER_ID, [u.order.id], kind);
  return b.rows[0] ?? null;
}

export async function applyTradeUpdate(ctx: GatewayContext, u: TradeUpdate): Promise<ApplyResult> {
  return (await applyTradeUpdates(ctx, [u]))[0]!;
}

/**
 * Several updates (the consumer batches what is queued under load) in one transaction: each
 * event is still all-or-nothing, and the batch commits once. The transaction commits
 * asynchronously (set in the lock query): the broker's stream can be re-derived — reconciliation
 * books missing fills from the broker's filled quantity — so a crash may lose the last few
 * batches but never corrupts them; the order write-ahead stays synchronous.
 */
export async function applyTradeUpdates(ctx: GatewayContext, updates: readonly TradeUpdate[]): Promise<ApplyResult[]> {
  const at = ctx.clock.now();
  const out: Array<ApplyResult | null> = [];
  const todo: number[] = [];
  for (let i = 0; i < updates.length; i++) {
    const noop = deferredToAnswer(ctx, updates[i]!) ?? (await noopWithoutLock(ctx.db, updates[i]!));
    out.push(noop);
    if (noop === null) todo.push(i);
  }
  if (todo.length) {
    await ctx.db.transaction(async (tx) => {
      for (const i of todo) out[i] = await applyInTx(tx, updates[i]!, at, ctx.db.kind);
    });
  }
  return out as ApplyResult[];
}

/**
 * The broker emits a status update (new, accepted, …) before it answers the submission that
 * caused it, and that answer carries the same or a later status: while this process awaits the
 * answer, the update is left to it (no transaction, no lock for the answer to wait on). If the
 * answer is lost, the order stays pending_new and the retrier's resubmission adopts it.
 * Fills are never deferred.
 */
function deferredToAnswer(ctx: GatewayContext, u: TradeUpdate): ApplyResult | null {
  if (u.event === 'fill' || u.event === 'partial_fill') return null;
  return ctx.inFlight.has(u.order.client_order_id) ? 'deferred' : null;
}

const PEEK = statement('peek_order', 'SELECT status, filled_qty, broker_order_id FROM orders WHERE client_order_id = $1');

/**
 * Status-only events are mostly no-ops (the submit answer already moved the order): they are
 * checked without a transaction or a row lock. Safe because statuses only move forward through
 * the table and filled_qty only grows, so "nothing to do" against an older state stays true.
 * null = it needs the locked path.
 */
async function noopWithoutLock(db: Db, u: TradeUpdate): Promise<ApplyResult | null> {
  if (u.event === 'fill' || u.event === 'partial_fill') return null;
  const seen = (await runStatement<Pick<OrderRow, 'status' | 'filled_qty' | 'broker_order_id'>>(db, PEEK, [u.order.client_order_id])).rows[0];
  if (!seen || seen.broker_order_id === null) return null;
  const to = fromTradeEvent(u.event);
  const d = to ? decide(seen.status, to) : 'same';
  if (d === 'apply' || dec(u.order.filled_qty).gt(seen.filled_qty)) return null;
  return d === 'refused' ? 'ignored' : 'duplicate';
}

async function applyInTx(tx: Queryable, u: TradeUpdate, at: Date, kind: Db['kind']): Promise<ApplyResult> {
  const isFill = u.event === 'fill' || u.event === 'partial_fill';
  const order = await lockOrder(tx, u, kind);
  if (!order) {
    await appendEvent(tx, { orderId: null, clientOrderId: u.order.client_order_id, kind: 'unknown_order_update', source: 'broker', at, detail: { event: u.event, broker_order_id: u.order.id, symbol: u.order.symbol } });
    return 'unknown_order';
  }

  let fillDetail: Record<string, unknown> | null = null;
  if (isFill) {
    const f = fillOf(order, u);
    if (f === 'covered') {
      fillDetail = { covered_by_reconciliation: true, execution_id: u.execution_id };
    } else {
      const r = await recordFill(tx, { ...f, orderId: order.id, symbol: order.symbol, side: order.side, synthetic: false }, at, kind);
      // The execution was applied before (a replay, or another replica): nothing else to do.
      if (!r.inserted) return 'duplicate';
      fillDetail = { execution_id: f.executionId, qty: decString(f.qty), price: decString(f.price), position_qty: r.position ? decString(r.position.qty) : undefined };
    }
  }

  const to = fromTradeEvent(u.event);
  const decision: Decision = to ? decide(order.status, to) : 'same';
  const status = decision === 'apply' ? to! : order.status;
  const brokerFilled = dec(u.order.filled_qty);
  const filledUp = brokerFilled.gt(order.filled_qty);
  const brokerId = order.broker_order_id ?? u.order.id;
  const changed = decision === 'apply' || filledUp || brokerId !== order.broker_order_id || fillDetail !== null;
  if (!changed) return decision === 'refused' ? 'ignored' : 'duplicate';

  // The order and its audit event in one statement.
  await runStatement(
    tx,
    UPDATE_ORDER,
    [
      order.id,
      status,
      filledUp ? decString(brokerFilled) : order.filled_qty,
      filledUp && u.order.filled_avg_price !== null ? decString(u.order.filled_avg_price) : order.filled_avg_price,
      brokerId,
      at.toISOString(),
      `trade_update:${u.event}`,
      order.status,
      JSON.stringify({ decision, broker_status: u.order.status, broker_filled_qty: u.order.filled_qty, timestamp: u.timestamp, ...(fillDetail ?? {}) }),
    ],
    kind,
  );
  return 'applied';
}

const UPDATE_ORDER = statement(
  'apply_trade_update',
  `WITH u AS (
     UPDATE orders SET status = $2::text, filled_qty = $3::numeric, filled_avg_price = $4::numeric, broker_order_id = $5::text,
       error = CASE WHEN $2::text = 'rejected' AND status <> 'rejected' THEN 'rejected by the broker' ELSE error END,
       next_attempt_at = CASE WHEN $2::text = 'pending_new' THEN next_attempt_at ELSE NULL END, updated_at = $6::timestamptz
     WHERE id = $1 RETURNING id, client_order_id)
   INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
   SELECT id, client_order_id, $7::text, $8::text, $2::text, 'broker', $9::jsonb, $6::timestamptz FROM u`,
);

/**
 * The execution a fill update stands for. Normally its own execution_id, qty and price. When
 * reconciliation already booked a synthetic fill for executions we missed, a late real one is
 * counted only for what the broker's cumulative filled_qty says is still missing ('covered' when
 * nothing is), so the position is never counted twice.
 */
function fillOf(order: LockedOrder, u: TradeUpdate): { executionId: string; qty: Decimal; price: Decimal; executedAt: string } | 'covered' {
  const cumulative = dec(u.order.filled_qty);
  const missing = Decimal.max(ZERO, cumulative.minus(order.fills_qty));
  const executionId = u.execution_id ?? `${u.order.id}:${decString(cumulative)}`;
  // Alpaca sends qty and price with every fill; without them, what the cumulative figures imply.
  let qty = u.qty !== undefined ? dec(u.qty) : missing;
  const price = u.price !== undefined ? dec(u.price) : u.order.filled_avg_price !== null ? dec(u.order.filled_avg_price) : null;
  if (order.has_synthetic) {
    if (missing.isZero()) return 'covered';
    qty = Decimal.min(qty, missing);
  }
  if (qty.lte(0) || price === null || price.lte(0)) return 'covered';
  return { executionId, qty, price, executedAt: u.timestamp };
}

/**
 * Consumes the broker's trade_updates stream: events go into per-symbol lanes (order within a
 * symbol is kept; symbols proceed in parallel) and are applied one transaction each. When the
 * database is down an event waits and is retried; nothing is dropped while the process lives
 * (events lost with the process, or while the stream was down, are recovered by reconciliation,
 * which runs again after every reconnect).
 */
export class TradeUpdateConsumer {
  private sub: TradeUpdateSubscription | null = null;
  private readonly lanes: Array<{ queue: TradeUpdate[]; running: boolean }>;
  private waiters: Array<() => void> = [];
  private stopped = false;
  private everConnected = false;
  state: 'starting' | 'connected' | 'disconnected' | 'stopped' = 'starting';

  constructor(
    private readonly ctx: GatewayContext,
    private readonly opts: { lanes?: number; onReconnect?: () => void } = {},
  ) {
    this.lanes = Array.from({ length: opts.lanes ?? 8 }, () => ({ queue: [], running: false }));
  }

  async start(): Promise<void> {
    this.sub = await this.ctx.broker.streamTradeUpdates(
      (u) => this.enqueue(u),
      (s) => {
        if (this.stopped) return;
        this.state = s;
        if (s === 'connected') {
          if (this.everConnected) {
            this.ctx.logger.info('trade update stream reconnected; reconciling what may have been missed');
            this.opts.onReconnect?.();
          }
          this.everConnected = true;
        } else {
          this.ctx.logger.warn('trade update stream disconnected');
        }
      },
    );
  }

  enqueue(u: TradeUpdate): void {
    if (this.stopped) return;
    const lane = this.lanes[laneOf(u.order.symbol, this.lanes.length)]!;
    lane.queue.push(u);
    if (!lane.running) void this.run(lane);
  }

  get backlog(): number {
    return this.lanes.reduce((n, l) => n + l.queue.length, 0);
  }

  /** Resolves when every queued event has been applied. */
  idle(): Promise<void> {
    if (this.lanes.every((l) => !l.running && l.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    await this.sub?.close();
    this.sub = null;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private async run(lane: { queue: TradeUpdate[]; running: boolean }): Promise<void> {
    lane.running = true;
    let delay = 200;
    let batchLimit = MAX_BATCH;
    while (lane.queue.length > 0) {
      const batch = lane.queue.slice(0, batchLimit);
      try {
        const results = await applyTradeUpdates(this.ctx, batch);
        batch.forEach((u, i) => this.ctx.metrics.tradeUpdates.inc({ event: u.event, result: results[i]! }));
        lane.queue.splice(0, batch.length);
        delay = 200;
        batchLimit = MAX_BATCH;
      } catch (e) {
        if (e instanceof DatabaseUnavailableError && !this.stopped) {
          this.ctx.logger.warn({ events: batch.length, retry_ms: delay }, 'database unavailable; trade updates will be retried');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5_000);
          continue;
        }
        if (batch.length > 1) {
          // A deadlock with another replica's batch, or one bad event: go one at a time.
          batchLimit = 1;
          continue;
        }
        // A poison event (or shutting down): log it and move on; reconciliation repairs the order.
        const u = batch[0]!;
        this.ctx.metrics.tradeUpdates.inc({ event: u.event, result: 'error' });
        this.ctx.logger.error({ err: e, event: u.event, client_order_id: u.order.client_order_id }, 'trade update could not be applied');
        lane.queue.shift();
        batchLimit = MAX_BATCH;
      }
    }
    lane.running = false;
    if (this.lanes.every((l) => !l.running && l.queue.length === 0)) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }
}

/** Updates applied per transaction at most (they queue up only under load). */
const MAX_BATCH = 8;

function laneOf(symbol: string, n: number): number {
  let h = 0;
  for (let i = 0; i < symbol.length; i++) h = (h * 31 + symbol.charCodeAt(i)) | 0;
  return Math.abs(h) % n;
}

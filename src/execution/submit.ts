import { tradeDateOf } from './trade-date.js';
import { DatabaseUnavailableError } from '../db/db.js';
import { HttpError } from '../observability/http-app.js';
import { BrokerDuplicateOrderError, BrokerRejectedError, BrokerUnavailableError, type BrokerOrder, type BrokerOrderRequest } from './broker.js';
import { backoffMs, type GatewayContext } from './context.js';
import type { EventSource, OrderRow } from './model.js';
import { parseOrderRequest, sameIntent, type NewOrder, type OrderRequest } from './order-input.js';
import type { PreTradeResult } from './pre-trade.js';
import { appendEvent, findOrderByClientId, scheduleRetry, transitionOrder } from './store.js';
import type { InsertOutcome } from './write-ahead.js';

/**
 * POST /api/v1/orders as a plain function.
 *
 *  1. Validate and canonicalise; derive the client_order_id (or check the caller's).
 *  2. Pre-trade check (a refusal writes no order, see pre-trade.ts).
 *  3. Write-ahead: ONE statement (shared with concurrent requests, write-ahead.ts) inserts the
 *     order (pending_new, or dry_run) unless the kill switch is engaged, appends its `created`
 *     event, and — when the id already exists — returns the existing row instead.
 *  4. Only the creator of the row calls the broker, with the same client_order_id every time.
 *  5. One statement records the broker's answer (state machine + audit; committed
 *     asynchronously — the broker can always be asked again, see store.ts), batched likewise.
 * A duplicate answers the stored order and sends nothing.
 */
export interface SubmitResult {
  order: OrderRow;
  /** true: this call created the order (201); false: it already existed (200). */
  created: boolean;
}

/** The write-ahead of one order, group-committed with concurrent ones (write-ahead.ts). */
function insertOrder(ctx: GatewayContext, o: NewOrder, now: Date): Promise<InsertOutcome> {
  return ctx.writeAhead({
    order: o,
    status: ctx.dryRun ? 'dry_run' : 'pending_new',
    nextAttemptAt: ctx.dryRun ? null : new Date(now.getTime() + ctx.submitGraceMs).toISOString(),
    at: now.toISOString(),
  });
}

export async function submitOrder(ctx: GatewayContext, req: OrderRequest): Promise<SubmitResult> {
  const started = performance.now();
  const now = ctx.clock.now();
  const today = tradeDateOf(now);
  const o = parseOrderRequest(req, today);

  // Duplicate fast path: an id this process knows is answered from the database as it stands,
  // without a pre-trade check (nothing will be sent for it). Unknown ids take the full path,
  // whose write-ahead finds duplicates too.
  if (ctx.recent.has(o.client_order_id)) {
    const known = await ctx.lookup(o.client_order_id);
    if (known) return duplicate(ctx, o, known);
  }

  if (o.trade_date !== today) {
    return existingOr(ctx, o, async () => {
      ctx.metrics.rejected.inc({ reason: 'stale_trade_date' });
      throw new HttpError(422, 'stale_trade_date', `trade_date ${o.trade_date} is not today (${today}, America/New_York): a new order can only be placed for today; resubmitting an existing order returns it`, [
        { field: 'trade_date', reason: `must be ${today} for a new order` },
      ]);
    });
  }

  const check = await runPreTradeCheck(ctx, o);
  if (!check.ok) {
    const refusal = check;
    return existingOr(ctx, o, async () => {
      ctx.metrics.rejected.inc({ reason: `pretrade:${refusal.code}` });
      await appendEvent(ctx.db, { orderId: null, clientOrderId: o.client_order_id, kind: 'pretrade_rejected', source: 'api', at: now, detail: { code: refusal.code, reason: refusal.reason, order: intentOf(o) } });
      throw new HttpError(422, refusal.code, refusal.reason);
    });
  }

  let ins: InsertOutcome;
  try {
    ins = await insertOrder(ctx, o, now);
  } finally {
    check.settle?.();
  }
  if (ins.kind === 'killed') {
    ctx.metrics.rejected.inc({ reason: 'kill_switch' });
    await appendEvent(ctx.db, { orderId: null, clientOrderId: o.client_order_id, kind: 'kill_switch_refused', source: 'api', at: now, detail: { order: intentOf(o) } });
    throw new HttpError(403, 'kill_switch_engaged', 'the kill switch is engaged: new orders are refused (GET /api/v1/kill-switch)');
  }
  ctx.recent.add(o.client_order_id);
  if (ins.kind === 'existing') return duplicate(ctx, o, ins.order);

  const order = ins.order;
  if (order.status === 'dry_run') {
    ctx.metrics.submitted.inc({ outcome: 'dry_run' });
    return { order, created: true };
  }
  if (ctx.faults.afterWrite) await ctx.faults.afterWrite(order);

  let sent: OrderRow;
  try {
    sent = await sendToBroker(ctx, order, 'api');
  } catch (e) {
    if (e instanceof DatabaseUnavailableError) {
      throw new HttpError(503, 'database_unavailable', 'the order was written ahead but its broker answer could not be recorded (database unavailable); resubmit the same order to get its state — it is never sent twice');
    }
    throw e;
  }
  ctx.recent.add(order.client_order_id, sent);
  const outcome = sent.status === 'pending_new' ? 'pending' : sent.status === 'rejected' ? 'rejected' : 'sent';
  ctx.metrics.submitted.inc({ outcome });
  ctx.metrics.submitLatency.observe({ outcome }, (performance.now() - started) / 1000);
  return { order: sent, created: true };
}

async function existingOr(ctx: GatewayContext, o: NewOrder, refuse: () => Promise<never>): Promise<SubmitResult> {
  const existing = await ctx.lookup(o.client_order_id);
  if (existing) return duplicate(ctx, o, existing);
  return refuse();
}

function duplicate(ctx: GatewayContext, o: NewOrder, existing: OrderRow): SubmitResult {
  if (!sameIntent(existing, o, { ignoreTradeDate: !o.derived_id && !o.trade_date_given })) {
    throw new HttpError(409, 'client_order_id_conflict', `client_order_id ${o.client_order_id} already names a different order (${existing.side} ${existing.qty} ${existing.symbol} ${existing.order_type}, ${existing.trade_date})`, [
      { field: 'client_order_id', reason: 'already used for a different order' },
    ]);
  }
  ctx.metrics.duplicates.inc();
  return { order: existing, created: false };
}

async function runPreTradeCheck(ctx: GatewayContext, o: NewOrder): Promise<PreTradeResult> {
  try {
    return await ctx.preTradeCheck(intentOf(o), { db: ctx.db, clock: ctx.clock, logger: ctx.logger, dryRun: ctx.dryRun });
  } catch (e) {
    if (e instanceof DatabaseUnavailableError) throw e;
    ctx.logger.error({ err: e, client_order_id: o.client_order_id }, 'pre-trade check failed');
    throw new HttpError(503, 'pre_trade_check_failed', 'the pre-trade check could not run; nothing was written or sent, retry later');
  }
}

function intentOf(o: NewOrder) {
  return {
    client_order_id: o.client_order_id,
    strategy_id: o.strategy_id,
    symbol: o.symbol,
    side: o.side,
    qty: o.qty,
    order_type: o.order_type,
    limit_price: o.limit_price,
    time_in_force: o.time_in_force,
    trade_date: o.trade_date,
  };
}

export function brokerRequest(order: OrderRow): BrokerOrderRequest {
  const req: BrokerOrderRequest = {
    client_order_id: order.client_order_id,
    symbol: order.symbol,
    side: order.side,
    qty: order.qty,
    type: order.order_type,
    time_in_force: order.time_in_force,
  };
  if (order.limit_price !== null) req.limit_price = order.limit_price;
  return req;
}

export function brokerErrorKind(e: unknown): 'unavailable' | 'rejected' | 'duplicate' | 'other' {
  if (e instanceof BrokerUnavailableError) return 'unavailable';
  if (e instanceof BrokerRejectedError) return 'rejected';
  if (e instanceof BrokerDuplicateOrderError) return 'duplicate';
  return 'other';
}

const OPEN_AT_BROKER = new Set(['new', 'accepted', 'pending_new', 'partially_filled', 'accepted_for_bidding', 'done_for_day']);

/**
 * Sends a written-ahead order (pending_new) and records the outcome. Used by the API, the
 * retrier and reconciliation alike, always with the order's own client_order_id:
 *  - acknowledged → status from the broker (via the state machine), broker_order_id stored;
 *  - "client_order_id must be unique" → it is already there: fetch it and adopt it;
 *  - refused for good (4xx) → rejected, with the broker's message;
 *  - unreachable / 5xx / anything unexpected → stays pending_new, retried later with backoff.
 * Returns the order as stored afterwards.
 */
export async function sendToBroker(ctx: GatewayContext, order: OrderRow, source: EventSource): Promise<OrderRow> {
  ctx.inFlight.add(order.client_order_id);
  try {
    return await send(ctx, order, source);
  } finally {
    ctx.inFlight.delete(order.client_order_id);
  }
}

async function send(ctx: GatewayContext, order: OrderRow, source: EventSource): Promise<OrderRow> {
  let bo: BrokerOrder;
  let adopted = false;
  try {
    bo = await ctx.broker.submitOrder(brokerRequest(order));
  } catch (e) {
    ctx.metrics.brokerErrors.inc({ op: 'submit', kind: brokerErrorKind(e) });
    if (e instanceof BrokerDuplicateOrderError) {
      let found: BrokerOrder | null;
      try {
        found = await ctx.broker.getOrderByClientId(order.client_order_id);
      } catch (e2) {
        ctx.metrics.brokerErrors.inc({ op: 'get', kind: brokerErrorKind(e2) });
        return retryLater(ctx, order, e2, source);
      }
      if (!found) return retryLater(ctx, order, new Error('the broker reported a duplicate client_order_id but cannot find it'), source);
      bo = found;
      adopted = true;
    } else if (e instanceof BrokerRejectedError) {
      ctx.metrics.rejected.inc({ reason: 'broker' });
      const at = ctx.clock.now();
      const rejected = await transitionOrder(ctx.db, order.id, 'rejected', { kind: 'broker_rejected', source, at, error: e.message.slice(0, 500), detail: { status: e.status, message: e.message.slice(0, 500) } });
      return rejected ?? (await reread(ctx, order));
    } else {
      return retryLater(ctx, order, e, source);
    }
  }
  const at = ctx.clock.now();
  const stored = (await ctx.recordAnswer({ orderId: order.id, bo, kind: adopted ? 'adopted' : 'submitted', source, at })) ?? (await reread(ctx, order));
  if (stored.status === 'canceled' && OPEN_AT_BROKER.has(bo.status)) await cancelStray(ctx, stored, bo, source);
  return stored;
}

/**
 * The order was canceled here (kill switch, DELETE) while its submission was in flight, and the
 * broker took it: cancel it there too, so "canceled" stays true.
 */
async function cancelStray(ctx: GatewayContext, order: OrderRow, bo: BrokerOrder, source: EventSource): Promise<void> {
  const at = ctx.clock.now();
  try {
    await ctx.broker.cancelOrder(bo.id);
    await appendEvent(ctx.db, { orderId: order.id, clientOrderId: order.client_order_id, kind: 'cancel_requested', source, at, detail: { broker_order_id: bo.id, reason: 'canceled locally while the submission was in flight' } });
  } catch (e) {
    ctx.metrics.brokerErrors.inc({ op: 'cancel', kind: brokerErrorKind(e) });
    ctx.logger.error({ err: e, client_order_id: order.client_order_id, broker_order_id: bo.id }, 'could not cancel an order canceled locally while in flight; reconciliation will report it');
    await appendEvent(ctx.db, { orderId: order.id, clientOrderId: order.client_order_id, kind: 'cancel_failed', source, at, detail: { broker_order_id: bo.id, error: e instanceof Error ? e.message : String(e) } });
  }
}

async function retryLater(ctx: GatewayContext, order: OrderRow, e: unknown, source: EventSource): Promise<OrderRow> {
  const at = ctx.clock.now();
  const next = new Date(at.getTime() + backoffMs(order.submit_attempts, ctx.retry));
  const msg = e instanceof Error ? e.message : String(e);
  if (!(e instanceof BrokerUnavailableError)) ctx.logger.error({ err: e, client_order_id: order.client_order_id }, 'unexpected broker error; the order stays pending and will be retried');
  else ctx.logger.warn({ client_order_id: order.client_order_id, err: msg, next_attempt_at: next.toISOString() }, 'broker unavailable; order stays pending');
  return (await scheduleRetry(ctx.db, order.id, { error: msg.slice(0, 500), next, source, at })) ?? (await reread(ctx, order));
}

async function reread(ctx: GatewayContext, order: OrderRow): Promise<OrderRow> {
  return (await findOrderByClientId(ctx.db, order.client_order_id)) ?? order;
}

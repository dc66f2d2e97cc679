import { tradeDateOf } from './trade-date.js';
import { Decimal, dec, decString, ZERO } from '../core/money.js';
import { BrokerUnavailableError, type BrokerOrder } from './broker.js';
import type { GatewayContext } from './context.js';
import { fillsTotal, recordFill, writePosition } from './fills.js';
import { ORDER_COLUMNS, type OrderRow, type PositionRow } from './model.js';
import { fromBrokerStatus, OPEN_STATUSES } from './order-state.js';
import { positionState } from './positions.js';
import { appendEvent, killSwitchEngaged, recordBrokerOrder, transitionOrder } from './store.js';
import { brokerErrorKind, sendToBroker } from './submit.js';

/**
 * Reconciliation: make our books agree with the broker's, on start, after a stream reconnect
 * and on demand (POST /api/v1/reconcile). Every difference found and every fix made is in the
 * returned report, in order_events (source `reconcile`) and in reconciliation_runs.
 *
 *  1. pending_new orders: looked up at the broker by client_order_id. There → adopted. Absent
 *     and still valid (today's trade date, kill switch off) → submitted (same id; a duplicate
 *     answer → adopted). Absent and stale → expired, never sent.
 *  2. Open orders, orders with fills missing, and the broker's orders of the last day are
 *     compared: status (state machine), filled_qty, and fills — quantity the broker reports
 *     filled beyond our fills is booked as one synthetic fill at the price that makes our
 *     average equal the broker's (execution id `recon:<broker id>:<filled qty>`).
 *  3. Positions are compared after the trade-update backlog is drained; a symbol that still
 *     differs with no open order is set to the broker's quantity and average price (realized
 *     P&L kept); with an open order it is only reported (fills may be in flight).
 * Broker orders we never placed are reported, not adopted.
 */
export interface ReconcileAction {
  kind: string;
  client_order_id?: string;
  symbol?: string;
  detail?: Record<string, unknown>;
}

export interface ReconcileDifference {
  kind: 'missing_at_broker' | 'status' | 'filled_qty' | 'missing_fills' | 'excess_fills' | 'unknown_broker_order' | 'position';
  client_order_id?: string;
  symbol?: string;
  ours?: unknown;
  broker?: unknown;
  fixed: boolean;
}

export interface ReconcileReport {
  id: number | null;
  trigger: string;
  started_at: string;
  finished_at: string;
  /** false when the broker could not be reached for part of the work (see errors). */
  complete: boolean;
  checked: { pending: number; orders: number; broker_orders: number; positions: number };
  actions: ReconcileAction[];
  differences: ReconcileDifference[];
  errors: string[];
}

export interface ReconcileOptions {
  trigger: string;
  /** Waits for queued trade updates to be applied (the consumer's idle()). */
  drain?: () => Promise<void>;
  /** How far back broker orders are listed. Default 24 h. */
  lookbackMs?: number;
}

const AVG_TOLERANCE = new Decimal('0.000001');

/**
 * Runs one reconciliation. Replicas may run it at the same time: every step is idempotent
 * (adoption goes through the state machine, a re-submission is answered "duplicate" and
 * adopted, synthetic fills have deterministic execution ids, a position is set to a value),
 * so no lock is held across the broker calls.
 */
export async function reconcile(ctx: GatewayContext, opts: ReconcileOptions): Promise<ReconcileReport> {
  const started = ctx.clock.now();
  const report: ReconcileReport = {
    id: null,
    trigger: opts.trigger,
    started_at: started.toISOString(),
    finished_at: started.toISOString(),
    complete: true,
    checked: { pending: 0, orders: 0, broker_orders: 0, positions: 0 },
    actions: [],
    differences: [],
    errors: [],
  };
  const act = (a: ReconcileAction) => {
    report.actions.push(a);
    ctx.logger.info({ reconcile: a }, `reconcile: ${a.kind}`);
  };
  const diff = (d: ReconcileDifference) => {
    report.differences.push(d);
    ctx.logger.warn({ reconcile: d }, `reconcile: difference ${d.kind}`);
  };
  const brokerDown = (e: unknown, what: string) => {
    if (!(e instanceof BrokerUnavailableError)) throw e;
    ctx.metrics.brokerErrors.inc({ op: 'reconcile', kind: brokerErrorKind(e) });
    report.complete = false;
    report.errors.push(`${what}: ${e.message}`);
  };

  try {
    await resolvePending(ctx, report, act, brokerDown);
    if (report.complete) await compareOrders(ctx, opts, report, act, diff, brokerDown);
    if (report.complete) {
      await opts.drain?.();
      await comparePositions(ctx, report, act, diff);
    }
  } catch (e) {
    brokerDown(e, 'reconcile');
  }

  report.finished_at = ctx.clock.now().toISOString();
  const saved = await ctx.db.query<{ id: number }>('INSERT INTO reconciliation_runs (trigger, started_at, finished_at, report) VALUES ($1, $2, $3, $4::jsonb) RETURNING id', [
    report.trigger,
    report.started_at,
    report.finished_at,
    JSON.stringify(report),
  ]);
  report.id = saved.rows[0]?.id ?? null;
  ctx.metrics.reconciliations.inc({ trigger: opts.trigger, outcome: report.complete ? 'complete' : 'incomplete' });
  return report;
}

type Act = (a: ReconcileAction) => void;
type Diff = (d: ReconcileDifference) => void;
type BrokerDown = (e: unknown, what: string) => void;

async function resolvePending(ctx: GatewayContext, report: ReconcileReport, act: Act, brokerDown: BrokerDown): Promise<void> {
  const pending = (await ctx.db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE status = 'pending_new' ORDER BY created_at`)).rows;
  report.checked.pending = pending.length;
  const now = ctx.clock.now();
  const today = tradeDateOf(now);
  const engaged = pending.length > 0 && (await killSwitchEngaged(ctx.db));
  for (const order of pending) {
    let bo: BrokerOrder | null;
    try {
      bo = await ctx.broker.getOrderByClientId(order.client_order_id);
    } catch (e) {
      // Unreachable: stop asking (each call could wait for its timeout); the run is incomplete.
      brokerDown(e, `look up ${order.client_order_id}`);
      return;
    }
    if (bo) {
      const stored = await recordBrokerOrder(ctx.db, order.id, bo, { kind: 'adopted', source: 'reconcile', at: ctx.clock.now() });
      act({ kind: 'adopted', client_order_id: order.client_order_id, symbol: order.symbol, detail: { broker_order_id: bo.id, broker_status: bo.status, status: stored?.status } });
      await syncFills(ctx, order, bo, act, () => {});
      continue;
    }
    // Written within the grace period: a request (here or in another replica) may be about to
    // send it. At start-up nothing of ours is in flight, so it is sent now; otherwise the
    // retrier gets it after the grace period. Either way a second send is answered "duplicate".
    const young = now.getTime() - Date.parse(order.updated_at) < ctx.submitGraceMs;
    if (order.trade_date !== today) {
      if (young) continue;
      const expired = await transitionOrder(ctx.db, order.id, 'expired', { kind: 'expired_unsent', source: 'reconcile', at: ctx.clock.now(), error: `never reached the broker on its trade date ${order.trade_date}` });
      if (expired) act({ kind: 'expired_unsent', client_order_id: order.client_order_id, symbol: order.symbol, detail: { trade_date: order.trade_date } });
      continue;
    }
    if (engaged) {
      const canceled = await transitionOrder(ctx.db, order.id, 'canceled', { kind: 'canceled_unsent', source: 'reconcile', at: ctx.clock.now(), error: 'kill switch engaged before the order reached the broker' });
      if (canceled) act({ kind: 'canceled_unsent', client_order_id: order.client_order_id, symbol: order.symbol });
      continue;
    }
    if (young && order.submit_attempts === 0 && report.trigger !== 'startup') continue;
    const sent = await sendToBroker(ctx, order, 'reconcile');
    if (sent.status === 'pending_new') {
      // The broker did not take it (the retrier will): stop here, the run is incomplete.
      report.complete = false;
      report.errors.push(`submit ${order.client_order_id}: still pending (${sent.error ?? 'broker unavailable'})`);
      return;
    }
    act({ kind: 'submitted', client_order_id: order.client_order_id, symbol: order.symbol, detail: { status: sent.status, broker_order_id: sent.broker_order_id } });
  }
}

async function compareOrders(ctx: GatewayContext, opts: ReconcileOptions, report: ReconcileReport, act: Act, diff: Diff, brokerDown: BrokerDown): Promise<void> {
  const now = ctx.clock.now();
  const since = new Date(now.getTime() - (opts.lookbackMs ?? 24 * 3600_000));
  let brokerOrders: BrokerOrder[];
  try {
    brokerOrders = await listBrokerOrders(ctx, since);
  } catch (e) {
    brokerDown(e, 'list broker orders');
    return;
  }
  report.checked.broker_orders = brokerOrders.length;
  const byClientId = new Map(brokerOrders.map((b) => [b.client_order_id, b]));

  // Ours worth checking: open, fills short of filled_qty, or seen in the broker's recent list.
  const ours = (
    await ctx.db.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders o
       WHERE status = ANY($1::text[])
          OR client_order_id = ANY($2::text[])
          OR (filled_qty > 0 AND filled_qty <> (SELECT coalesce(sum(qty), 0) FROM fills f WHERE f.order_id = o.id))
       ORDER BY created_at`,
      [OPEN_STATUSES, [...byClientId.keys()]],
    )
  ).rows;
  report.checked.orders = ours.length;
  const known = new Set(ours.map((o) => o.client_order_id));

  for (const order of ours) {
    let bo = byClientId.get(order.client_order_id) ?? null;
    if (!bo) {
      try {
        bo = await ctx.broker.getOrderByClientId(order.client_order_id);
      } catch (e) {
        brokerDown(e, `look up ${order.client_order_id}`);
        return;
      }
    }
    if (!bo) {
      if (order.status !== 'pending_new') diff({ kind: 'missing_at_broker', client_order_id: order.client_order_id, symbol: order.symbol, ours: order.status, fixed: false });
      continue;
    }
    const to = fromBrokerStatus(bo.status);
    const statusDiffers = to !== null && to !== order.status;
    const filledDiffers = !dec(bo.filled_qty).eq(order.filled_qty);
    if (statusDiffers || filledDiffers || order.broker_order_id === null) {
      const stored = await recordBrokerOrder(ctx.db, order.id, bo, { kind: 'reconciled', source: 'reconcile', at: ctx.clock.now() });
      const fixed = stored !== null && (to === null || stored.status === to);
      if (statusDiffers) diff({ kind: 'status', client_order_id: order.client_order_id, symbol: order.symbol, ours: order.status, broker: bo.status, fixed });
      if (filledDiffers) diff({ kind: 'filled_qty', client_order_id: order.client_order_id, symbol: order.symbol, ours: order.filled_qty, broker: bo.filled_qty, fixed: stored !== null && dec(stored.filled_qty).gte(bo.filled_qty) });
    }
    await syncFills(ctx, order, bo, act, diff);
  }

  for (const bo of brokerOrders) {
    if (known.has(bo.client_order_id)) continue;
    const ourRow = await ctx.db.query('SELECT 1 FROM orders WHERE client_order_id = $1', [bo.client_order_id]);
    if (ourRow.rows.length) continue;
    diff({ kind: 'unknown_broker_order', client_order_id: bo.client_order_id, symbol: bo.symbol, broker: { id: bo.id, status: bo.status, side: bo.side, qty: bo.qty, filled_qty: bo.filled_qty }, fixed: false });
  }
}

/**
 * All broker orders created after `since`, oldest first, 500 a page (at most 20 pages). Alpaca's
 * `after` is strict, so each next page starts 1 ms before the last order seen (its created_at
 * truncated to ms, minus 1) and repeats are dropped by id: orders sharing a timestamp across a
 * page boundary are not skipped. A page with nothing new ends the listing.
 */
export async function listBrokerOrders(ctx: GatewayContext, since: Date): Promise<BrokerOrder[]> {
  const out = new Map<string, BrokerOrder>();
  let after = since.toISOString();
  for (let page = 0; page < 20; page++) {
    const batch = await ctx.broker.listOrders({ status: 'all', after, limit: 500 });
    const before = out.size;
    for (const bo of batch) out.set(bo.id, bo);
    if (batch.length < 500 || out.size === before) break;
    after = new Date(Date.parse(batch[batch.length - 1]!.created_at) - 1).toISOString();
  }
  return [...out.values()];
}

/** Books what the broker reports filled beyond our fills as one synthetic fill (see the header). */
async function syncFills(ctx: GatewayContext, order: OrderRow, bo: BrokerOrder, act: Act, diff: Diff): Promise<void> {
  const brokerFilled = dec(bo.filled_qty);
  if (brokerFilled.isZero() && dec(order.filled_qty).isZero()) return;
  const at = ctx.clock.now();
  await ctx.db.transaction(async (tx) => {
    await tx.query('SELECT id FROM orders WHERE id = $1 FOR UPDATE', [order.id]);
    const have = await fillsTotal(tx, order.id);
    const missing = brokerFilled.minus(have.qty);
    if (missing.isNegative()) {
      diff({ kind: 'excess_fills', client_order_id: order.client_order_id, symbol: order.symbol, ours: decString(have.qty), broker: bo.filled_qty, fixed: false });
      return;
    }
    if (missing.isZero() || bo.filled_avg_price === null) return;
    const total = dec(bo.filled_avg_price).times(brokerFilled);
    let price = total.minus(have.notional).div(missing).toDecimalPlaces(10, Decimal.ROUND_HALF_EVEN);
    if (price.lte(0)) price = dec(bo.filled_avg_price);
    const executionId = `recon:${bo.id}:${decString(brokerFilled)}`;
    const r = await recordFill(tx, { executionId, orderId: order.id, symbol: order.symbol, side: order.side, qty: missing, price, executedAt: bo.filled_at ?? bo.updated_at, synthetic: true }, at, ctx.db.kind);
    if (!r.inserted) return;
    await appendEvent(tx, {
      orderId: order.id,
      clientOrderId: order.client_order_id,
      kind: 'synthetic_fill',
      source: 'reconcile',
      at,
      detail: { execution_id: executionId, qty: decString(missing), price: decString(price), broker_filled_qty: bo.filled_qty, broker_filled_avg_price: bo.filled_avg_price },
    });
    diff({ kind: 'missing_fills', client_order_id: order.client_order_id, symbol: order.symbol, ours: decString(have.qty), broker: bo.filled_qty, fixed: true });
    act({ kind: 'synthetic_fill', client_order_id: order.client_order_id, symbol: order.symbol, detail: { execution_id: executionId, qty: decString(missing), price: decString(price) } });
  });
}

async function comparePositions(ctx: GatewayContext, report: ReconcileReport, act: Act, diff: Diff): Promise<void> {
  const brokerPositions = await ctx.broker.listPositions();
  const ours = (await ctx.db.query<PositionRow>('SELECT symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at FROM positions')).rows;
  const open = (await ctx.db.query<{ symbol: string }>("SELECT DISTINCT symbol FROM orders WHERE status IN ('pending_new', 'accepted', 'new', 'partially_filled')")).rows.map((r) => r.symbol);
  let brokerOpen: BrokerOrder[];
  try {
    brokerOpen = await ctx.broker.listOrders({ status: 'open', limit: 500 });
  } catch (e) {
    if (!(e instanceof BrokerUnavailableError)) throw e;
    report.complete = false;
    report.errors.push(`list open broker orders: ${e.message}`);
    return;
  }
  const busy = new Set([...open, ...brokerOpen.map((b) => b.symbol)]);
  const mine = new Map(ours.map((p) => [p.symbol, p]));
  const theirs = new Map(brokerPositions.map((p) => [p.symbol, p]));
  const symbols = [...new Set([...mine.keys(), ...theirs.keys()])].sort();
  report.checked.positions = symbols.length;
  for (const symbol of symbols) {
    const m = mine.get(symbol);
    const t = theirs.get(symbol);
    const ourQty = m ? dec(m.qty) : ZERO;
    const ourAvg = m ? dec(m.avg_entry_price) : ZERO;
    const theirQty = t ? dec(t.qty) : ZERO;
    const theirAvg = t ? dec(t.avg_entry_price) : ZERO;
    const same = ourQty.eq(theirQty) && (theirQty.isZero() || ourAvg.minus(theirAvg).abs().lte(AVG_TOLERANCE));
    if (same) continue;
    const ourView = { qty: decString(ourQty), avg_entry_price: decString(ourAvg) };
    const theirView = { qty: decString(theirQty), avg_entry_price: decString(theirAvg) };
    if (busy.has(symbol)) {
      diff({ kind: 'position', symbol, ours: ourView, broker: theirView, fixed: false });
      continue;
    }
    const at = ctx.clock.now();
    await ctx.db.transaction(async (tx) => {
      const cur = await tx.query<PositionRow>('SELECT realized_pnl FROM positions WHERE symbol = $1 FOR UPDATE', [symbol]);
      const realized = cur.rows[0]?.realized_pnl ?? '0';
      await writePosition(tx, symbol, positionState(theirQty, theirQty.times(theirAvg), realized), at);
      await appendEvent(tx, { orderId: null, clientOrderId: null, kind: 'position_adjusted', source: 'reconcile', at, detail: { symbol, before: ourView, after: theirView } });
    });
    diff({ kind: 'position', symbol, ours: ourView, broker: theirView, fixed: true });
    act({ kind: 'position_adjusted', symbol, detail: { before: ourView, after: theirView } });
  }
}

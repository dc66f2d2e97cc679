import { Decimal, dec, decString, ZERO } from '../core/money.js';
import type { Db, Queryable } from '../db/db.js';
import type { TradeUpdate } from './broker.js';
import type { GatewayContext } from './context.js';
import { avgEntryPrice, applyFill, positionState, type PositionState } from './positions.js';
import { orderColumnsOf, type OrderRow } from './model.js';
import { decide, fromTradeEvent, type Decision } from './order-state.js';
import { runStatement, statement } from './sql.js';
import type { KnownState } from './write-ahead.js';

/**
 * Applies broker trade updates, set-based: a batch of updates (the consumer takes what is
 * queued) costs a fixed handful of round trips whatever its size —
 *   1. lock the orders (id order), with what their fills add up to and which of the batch's
 *      execution ids they already have;
 *   2. lock the positions of the symbols that fill (symbol order; flat rows created first);
 *   3. fold the updates in memory, one after the other, exactly as one transaction each would
 *      (fill dedup by execution_id, average-cost positions, the state machine, monotonic
 *      filled_qty);
 *   4. ONE statement writes the new fills, the positions, the orders and their audit events;
 * all in one transaction that commits asynchronously: the broker's stream can be re-derived —
 * reconciliation books missing fills from the broker's filled quantity — so a crash may lose
 * the last few batches but never corrupts them; the order write-ahead stays synchronous.
 * Late and duplicate events are harmless, and several replicas may consume the same stream on
 * one database (the locks serialise them; an execution seen before changes nothing).
 *
 * Results: applied; duplicate (nothing new); ignored (refused by the state machine);
 * unknown_order (not placed through Kestrel: recorded, skipped); deferred (a status-only update
 * for an order whose submission answer is awaited in this process, see deferredToAnswer).
 */
export type ApplyResult = 'applied' | 'duplicate' | 'ignored' | 'unknown_order' | 'deferred';

export async function applyTradeUpdate(ctx: GatewayContext, u: TradeUpdate): Promise<ApplyResult> {
  return (await applyTradeUpdates(ctx, [u]))[0]!;
}

export async function applyTradeUpdates(ctx: GatewayContext, updates: readonly TradeUpdate[]): Promise<ApplyResult[]> {
  const at = ctx.clock.now();
  const out: Array<ApplyResult | null> = updates.map((u) => deferredToAnswer(ctx, u));
  // Results go by position: the same update object may well appear twice (a replay).
  const open = () => updates.flatMap((_, i) => (out[i] === null ? [i] : []));
  // A status-only event that follows another update of its order in this batch is judged in
  // order on the locked path (the unlocked read would not see the earlier one).
  const earlier = new Set<string>();
  const follows = updates.map((u) => {
    const seen = earlier.has(u.order.client_order_id);
    earlier.add(u.order.client_order_id);
    return seen;
  });
  const peekAt = open().filter((i) => !follows[i]);
  const peeked = await noopsWithoutLock(ctx, peekAt.map((i) => updates[i]!));
  peekAt.forEach((i, k) => (out[i] = peeked[k]!));
  const todo = open();
  if (todo.length) {
    const applied = await ctx.db.transaction((tx) => applyInTx(tx, todo.map((i) => updates[i]!), at, ctx.db.kind));
    todo.forEach((i, k) => (out[i] = applied[k]!));
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
  if (isFill(u)) return null;
  return ctx.inFlight.has(u.order.client_order_id) ? 'deferred' : null;
}

const isFill = (u: TradeUpdate) => u.event === 'fill' || u.event === 'partial_fill';

const PEEK = statement('peek_orders', 'SELECT client_order_id, status, filled_qty, broker_order_id FROM orders WHERE client_order_id = ANY($1::text[])');

/**
 * Status-only events are mostly no-ops (the submit answer already moved the order): they are
 * judged against the state this process last saw of the order (the submission's answer), else
 * against one unlocked read for the whole batch. Safe because statuses only move forward
 * through the table and filled_qty only grows, so "nothing to do" against an older state stays
 * true. Events that are not no-ops take the locked path.
 */
async function noopsWithoutLock(ctx: GatewayContext, updates: readonly TradeUpdate[]): Promise<Array<ApplyResult | null>> {
  const out: Array<ApplyResult | null> = updates.map(() => null);
  const unseen = new Set<string>();
  updates.forEach((u, i) => {
    if (isFill(u)) return;
    const known = ctx.recent.state(u.order.client_order_id);
    if (known) out[i] = noopAgainst(known, u);
    else unseen.add(u.order.client_order_id);
  });
  if (!unseen.size) return out;
  const r = await runStatement<KnownState & Pick<OrderRow, 'client_order_id'>>(ctx.db, PEEK, [[...unseen]]);
  const seen = new Map(r.rows.map((row) => [row.client_order_id, row]));
  updates.forEach((u, i) => {
    const s = unseen.has(u.order.client_order_id) ? seen.get(u.order.client_order_id) : undefined;
    if (s) out[i] = noopAgainst(s, u);
  });
  return out;
}

/** 'duplicate' / 'ignored' when a status-only update changes nothing against this state; null when it may. */
function noopAgainst(s: KnownState, u: TradeUpdate): ApplyResult | null {
  if (s.broker_order_id === null) return null;
  const to = fromTradeEvent(u.event);
  const d = to ? decide(s.status, to) : 'same';
  if (d === 'apply' || dec(u.order.filled_qty).gt(s.filled_qty)) return null;
  return d === 'refused' ? 'ignored' : 'duplicate';
}

/** A locked order as it evolves through the batch. */
interface Working {
  row: OrderRow;
  fillsQty: Decimal;
  hasSynthetic: boolean;
  dirty: boolean;
}

// Planned per execution (once per batch; see sql.ts: its generic plan, made while the tables
// were small, kept sequential scans of orders and fills as they grew). The ids come from two
// index lookups and the rows by primary key; what an order's fills add up to is ONE probe of
// fills_order per order (two correlated sub-selects let the planner hash the EXISTS …
// synthetic one: a sequential scan of every fill ever booked, per batch).
export const LOCK_ORDERS = statement('lock_orders_for_updates', `
SELECT ${orderColumnsOf('orders')}, fs.fills_qty, fs.has_synthetic,
  ARRAY(SELECT f.execution_id FROM fills f WHERE f.execution_id = ANY($3::text[])) AS executions,
  set_config('synchronous_commit', 'off', true) AS async_commit
FROM orders
CROSS JOIN LATERAL (
  SELECT coalesce(sum(f.qty), 0) AS fills_qty, coalesce(bool_or(f.synthetic), false) AS has_synthetic FROM fills f WHERE f.order_id = orders.id
) fs
WHERE orders.id = ANY (ARRAY(
  SELECT id FROM orders WHERE client_order_id = ANY($1::text[])
  UNION
  SELECT id FROM orders WHERE broker_order_id = ANY($2::text[])
))
ORDER BY orders.id FOR UPDATE OF orders`, { planEachTime: true });

const LOCK_POSITIONS = statement('lock_positions', 'SELECT symbol, qty, cost_basis, realized_pnl FROM positions WHERE symbol = ANY($1::text[]) ORDER BY symbol FOR UPDATE');
const CREATE_POSITIONS = statement('create_positions', 'INSERT INTO positions (symbol, updated_at) SELECT s, $2::timestamptz FROM unnest($1::text[]) AS s ORDER BY s ON CONFLICT (symbol) DO NOTHING');

const WRITE = statement('write_trade_updates', `
WITH f AS (
  INSERT INTO fills (execution_id, order_id, symbol, side, qty, price, executed_at, synthetic, created_at)
  SELECT e, o, s, sd, q, p, x, false, $25::timestamptz
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::numeric[], $7::timestamptz[]) AS t(e, o, s, sd, q, p, x)
),
p AS (
  UPDATE positions SET qty = t.q, avg_entry_price = t.a, cost_basis = t.c, realized_pnl = t.r, updated_at = $25::timestamptz
  FROM unnest($8::text[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[]) AS t(s, q, a, c, r)
  WHERE positions.symbol = t.s
),
o AS (
  UPDATE orders SET status = t.st, filled_qty = t.fq, filled_avg_price = t.fp, broker_order_id = t.b,
    error = CASE WHEN t.st = 'rejected' AND orders.status <> 'rejected' THEN 'rejected by the broker' ELSE orders.error END,
    next_attempt_at = CASE WHEN t.st = 'pending_new' THEN orders.next_attempt_at ELSE NULL END, updated_at = $25::timestamptz
  FROM unnest($13::uuid[], $14::text[], $15::numeric[], $16::numeric[], $17::text[]) AS t(id, st, fq, fp, b)
  WHERE orders.id = t.id
)
INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
SELECT oid, cid, k, fs, ts, 'broker', d, $25::timestamptz
FROM unnest($18::uuid[], $19::text[], $20::text[], $21::text[], $22::text[], $23::jsonb[], $24::int[]) AS t(oid, cid, k, fs, ts, d, n)
ORDER BY n`);

async function applyInTx(tx: Queryable, updates: readonly TradeUpdate[], at: Date, kind: Db['kind']): Promise<ApplyResult[]> {
  const executionIds = updates.filter(isFill).map(executionIdOf);
  const locked = await runStatement<OrderRow & { fills_qty: string; has_synthetic: boolean; executions: string[] }>(
    tx,
    LOCK_ORDERS,
    [[...new Set(updates.map((u) => u.order.client_order_id))], [...new Set(updates.map((u) => u.order.id))], executionIds],
    kind,
  );
  const byClientId = new Map<string, Working>();
  const byBrokerId = new Map<string, Working>();
  // The batch's execution ids already stored (read under the order locks: every fill of an
  // order is written holding its lock), then those this batch adds.
  const executions = new Set<string>();
  for (const { fills_qty, has_synthetic, executions: stored, ...row } of locked.rows) {
    for (const e of stored) executions.add(e);
    const w: Working = { row: { ...row }, fillsQty: dec(fills_qty), hasSynthetic: has_synthetic, dirty: false };
    byClientId.set(row.client_order_id, w);
    if (row.broker_order_id) byBrokerId.set(row.broker_order_id, w);
  }
  const orderOf = (u: TradeUpdate) => byClientId.get(u.order.client_order_id) ?? byBrokerId.get(u.order.id) ?? null;

  const positions = await lockPositions(tx, [...new Set(updates.filter(isFill).flatMap((u) => orderOf(u)?.row.symbol ?? []))], at, kind);
  const touched = new Set<string>();
  const fills: Array<{ executionId: string; orderId: string; symbol: string; side: string; qty: Decimal; price: Decimal; executedAt: string }> = [];
  const events: Array<{ orderId: string | null; clientOrderId: string; kind: string; from: string | null; to: string | null; detail: Record<string, unknown> }> = [];
  const results: ApplyResult[] = [];

  for (const u of updates) {
    const w = orderOf(u);
    if (!w) {
      events.push({ orderId: null, clientOrderId: u.order.client_order_id, kind: 'unknown_order_update', from: null, to: null, detail: { event: u.event, broker_order_id: u.order.id, symbol: u.order.symbol } });
      results.push('unknown_order');
      continue;
    }
    const order = w.row;
    let fillDetail: Record<string, unknown> | null = null;
    if (isFill(u)) {
      const f = fillOf(w, u);
      if (f === 'covered') fillDetail = { covered_by_reconciliation: true, execution_id: u.execution_id };
      else if (executions.has(f.executionId)) {
        // The execution was applied before (a replay, or another replica): nothing else to do.
        results.push('duplicate');
        continue;
      } else {
        executions.add(f.executionId);
        w.fillsQty = w.fillsQty.plus(f.qty);
        fills.push({ ...f, orderId: order.id, symbol: order.symbol, side: order.side });
        const next = applyFill(positions.get(order.symbol)!, { side: order.side, qty: f.qty, price: f.price });
        positions.set(order.symbol, next);
        touched.add(order.symbol);
        fillDetail = { execution_id: f.executionId, qty: decString(f.qty), price: decString(f.price), position_qty: decString(next.qty) };
      }
    }

    const to = fromTradeEvent(u.event);
    const decision: Decision = to ? decide(order.status, to) : 'same';
    const status = decision === 'apply' ? to! : order.status;
    const brokerFilled = dec(u.order.filled_qty);
    const filledUp = brokerFilled.gt(order.filled_qty);
    const brokerId = order.broker_order_id ?? u.order.id;
    const changed = decision === 'apply' || filledUp || brokerId !== order.broker_order_id || fillDetail !== null;
    if (!changed) {
      results.push(decision === 'refused' ? 'ignored' : 'duplicate');
      continue;
    }
    events.push({
      orderId: order.id,
      clientOrderId: order.client_order_id,
      kind: `trade_update:${u.event}`,
      from: order.status,
      to: status,
      detail: { decision, broker_status: u.order.status, broker_filled_qty: u.order.filled_qty, timestamp: u.timestamp, ...(fillDetail ?? {}) },
    });
    const next: OrderRow = {
      ...order,
      status,
      filled_qty: filledUp ? decString(brokerFilled) : order.filled_qty,
      filled_avg_price: filledUp && u.order.filled_avg_price !== null ? decString(u.order.filled_avg_price) : order.filled_avg_price,
      broker_order_id: brokerId,
    };
    // A fill the submission's answer already reported (status and filled_qty) books the fill
    // and the position but leaves the order row as it is: no new row version, no index entries.
    if (next.status !== order.status || next.filled_qty !== order.filled_qty || next.filled_avg_price !== order.filled_avg_price || next.broker_order_id !== order.broker_order_id) {
      w.row = next;
      w.dirty = true;
    }
    results.push('applied');
  }

  if (events.length) {
    const orders = [...new Set(byClientId.values())].filter((w) => w.dirty).map((w) => w.row);
    const pos = [...touched].map((s) => [s, positions.get(s)!] as const);
    await runStatement(
      tx,
      WRITE,
      [
        fills.map((f) => f.executionId),
        fills.map((f) => f.orderId),
        fills.map((f) => f.symbol),
        fills.map((f) => f.side),
        fills.map((f) => decString(f.qty)),
        fills.map((f) => decString(f.price)),
        fills.map((f) => f.executedAt),
        pos.map(([s]) => s),
        pos.map(([, p]) => decString(p.qty)),
        pos.map(([, p]) => decString(avgEntryPrice(p))),
        pos.map(([, p]) => decString(p.cost)),
        pos.map(([, p]) => decString(p.realized)),
        orders.map((o) => o.id),
        orders.map((o) => o.status),
        orders.map((o) => o.filled_qty),
        orders.map((o) => o.filled_avg_price),
        orders.map((o) => o.broker_order_id),
        events.map((e) => e.orderId),
        events.map((e) => e.clientOrderId),
        events.map((e) => e.kind),
        events.map((e) => e.from),
        events.map((e) => e.to),
        events.map((e) => JSON.stringify(e.detail)),
        events.map((_, n) => n),
        at.toISOString(),
      ],
      kind,
    );
  }
  return results;
}

/** The positions of these symbols, locked in symbol order; created flat first where missing. */
async function lockPositions(tx: Queryable, symbols: string[], at: Date, kind: Db['kind']): Promise<Map<string, PositionState>> {
  const out = new Map<string, PositionState>();
  if (!symbols.length) return out;
  for (let attempt = 0; ; attempt++) {
    const r = await runStatement<{ symbol: string; qty: string; cost_basis: string; realized_pnl: string }>(tx, LOCK_POSITIONS, [symbols], kind);
    for (const p of r.rows) out.set(p.symbol, positionState(p.qty, p.cost_basis, p.realized_pnl));
    const missing = symbols.filter((s) => !out.has(s));
    if (!missing.length) return out;
    if (attempt > 0) throw new Error(`positions ${missing.join(', ')} could neither be created nor locked`);
    await runStatement(tx, CREATE_POSITIONS, [missing, at.toISOString()], kind);
  }
}

const executionIdOf = (u: TradeUpdate) => u.execution_id ?? `${u.order.id}:${decString(dec(u.order.filled_qty))}`;

/**
 * The execution a fill update stands for. Normally its own execution_id, qty and price. When
 * reconciliation already booked a synthetic fill for executions we missed, a late real one is
 * counted only for what the broker's cumulative filled_qty says is still missing ('covered' when
 * nothing is), so the position is never counted twice.
 */
function fillOf(w: Working, u: TradeUpdate): { executionId: string; qty: Decimal; price: Decimal; executedAt: string } | 'covered' {
  const cumulative = dec(u.order.filled_qty);
  const missing = Decimal.max(ZERO, cumulative.minus(w.fillsQty));
  const executionId = executionIdOf(u);
  // Alpaca sends qty and price with every fill; without them, what the cumulative figures imply.
  let qty = u.qty !== undefined ? dec(u.qty) : missing;
  const price = u.price !== undefined ? dec(u.price) : u.order.filled_avg_price !== null ? dec(u.order.filled_avg_price) : null;
  if (w.hasSynthetic) {
    if (missing.isZero()) return 'covered';
    qty = Decimal.min(qty, missing);
  }
  if (qty.lte(0) || price === null || price.lte(0)) return 'covered';
  return { executionId, qty, price, executedAt: u.timestamp };
}

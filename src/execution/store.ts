import { dec, decString } from '../core/money.js';
import type { Queryable } from '../db/db.js';
import type { BrokerOrder } from './broker.js';
import { ORDER_COLUMNS, orderOf, type EventSource, type OrderRow } from './model.js';
import { allowedFrom, fromBrokerStatus, type OrderStatus } from './order-state.js';
import { runStatement, statement } from './sql.js';

/**
 * The SQL every part of the gateway shares. Status changes are applied atomically in SQL with
 * the state machine's table (`status = ANY(allowedFrom(to))`), and each change appends its
 * order_events row in the same statement, so no caller can change an order without the audit.
 */

const ORDER_BY_CLIENT_ID = statement('order_by_client_id', `SELECT ${ORDER_COLUMNS} FROM orders WHERE client_order_id = $1`);

export async function findOrderByClientId(q: Queryable, clientOrderId: string): Promise<OrderRow | null> {
  const r = await runStatement<OrderRow>(q, ORDER_BY_CLIENT_ID, [clientOrderId]);
  return r.rows[0] ?? null;
}

export async function findOrderById(q: Queryable, id: string): Promise<OrderRow | null> {
  const r = await q.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

export interface EventInput {
  orderId: string | null;
  clientOrderId: string | null;
  kind: string;
  from?: OrderStatus | null;
  to?: OrderStatus | null;
  source: EventSource;
  detail?: Record<string, unknown>;
  at: Date;
}

export async function appendEvent(q: Queryable, e: EventInput): Promise<void> {
  await q.query(
    `INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
    [e.orderId, e.clientOrderId, e.kind, e.from ?? null, e.to ?? null, e.source, JSON.stringify(e.detail ?? {}), e.at.toISOString()],
  );
}

/**
 * Commits asynchronously (synchronous_commit off for this statement's transaction): what the
 * broker said can always be asked again, so losing the last few such commits in a crash only
 * leaves the order pending_new (or its fills missing) until reconciliation adopts it again.
 * The write-ahead INSERT, which is what makes a second submission impossible, stays synchronous.
 */
const ACK = statement('record_broker_order', `
WITH old AS (SELECT id, status FROM orders WHERE id = $1 AND set_config('synchronous_commit', 'off', true) IS NOT NULL FOR UPDATE),
u AS (
  UPDATE orders o SET
    status = CASE WHEN o.status = ANY($2::text[]) THEN $3::text ELSE o.status END,
    broker_order_id = COALESCE(o.broker_order_id, $4::text),
    filled_qty = GREATEST(o.filled_qty, $5::numeric),
    filled_avg_price = CASE WHEN $5::numeric > o.filled_qty THEN $6::numeric ELSE o.filled_avg_price END,
    error = CASE WHEN o.status IN ('canceled', 'rejected', 'expired') THEN o.error
                 WHEN o.status = ANY($2::text[]) AND $3::text = 'rejected' THEN 'rejected by the broker'
                 ELSE NULL END,
    next_attempt_at = NULL,
    updated_at = $7::timestamptz
  FROM old WHERE o.id = old.id
  RETURNING ${ORDER_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}, old.status AS old_status
),
ev AS (
  INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
  SELECT id, client_order_id, $8::text, old_status, status, $9::text, $10::jsonb, $7::timestamptz FROM u
)
SELECT * FROM u`);

/**
 * Records what the broker says about one of our orders (a submit answer, an adopted duplicate,
 * a reconciliation lookup): broker id, status through the state machine, filled_qty that never
 * goes down. Fills and positions are not touched here (trade updates and reconciliation do that).
 */
export async function recordBrokerOrder(q: Queryable, orderId: string, bo: BrokerOrder, e: { kind: string; source: EventSource; at: Date; detail?: Record<string, unknown> }): Promise<OrderRow | null> {
  const to = fromBrokerStatus(bo.status);
  const from = to ? allowedFrom(to) : [];
  const r = await runStatement<OrderRow & { old_status: OrderStatus }>(q, ACK, [
    orderId,
    from,
    to,
    bo.id,
    decString(bo.filled_qty),
    bo.filled_avg_price !== null && dec(bo.filled_qty).gt(0) ? decString(bo.filled_avg_price) : null,
    e.at.toISOString(),
    e.kind,
    e.source,
    JSON.stringify({ broker_order_id: bo.id, broker_status: bo.status, broker_filled_qty: bo.filled_qty, ...e.detail }),
  ]);
  return r.rows[0] ? orderOf(r.rows[0]) : null;
}

const TRANSITION_SQL = `
WITH old AS (SELECT id, status FROM orders WHERE id = $1 FOR UPDATE),
u AS (
  UPDATE orders o SET status = $3::text, error = COALESCE($4::text, o.error), next_attempt_at = NULL, updated_at = $5::timestamptz
  FROM old WHERE o.id = old.id AND o.status = ANY($2::text[])
  RETURNING ${ORDER_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}, old.status AS old_status
),
ev AS (
  INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
  SELECT id, client_order_id, $6::text, old_status, status, $7::text, $8::jsonb, $5::timestamptz FROM u
)
SELECT * FROM u`;

/** Moves an order to `to` if the state machine allows it from its current status; null when refused. */
export async function transitionOrder(
  q: Queryable,
  orderId: string,
  to: OrderStatus,
  e: { kind: string; source: EventSource; at: Date; error?: string; detail?: Record<string, unknown> },
): Promise<OrderRow | null> {
  const r = await q.query<OrderRow & { old_status: OrderStatus }>(TRANSITION_SQL, [orderId, allowedFrom(to), to, e.error ?? null, e.at.toISOString(), e.kind, e.source, JSON.stringify(e.detail ?? {})]);
  return r.rows[0] ? orderOf(r.rows[0]) : null;
}

const RETRY_SQL = `
WITH u AS (
  UPDATE orders SET submit_attempts = submit_attempts + 1, next_attempt_at = $2::timestamptz, error = $3::text, updated_at = $4::timestamptz
  WHERE id = $1 AND status = 'pending_new'
  RETURNING ${ORDER_COLUMNS}
),
ev AS (
  INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
  SELECT id, client_order_id, 'submit_failed', status, status, $5::text, $6::jsonb, $4::timestamptz FROM u
)
SELECT * FROM u`;

/** A submission failed for a retryable reason: count it and set when the retrier tries again. */
export async function scheduleRetry(q: Queryable, orderId: string, e: { error: string; next: Date; source: EventSource; at: Date }): Promise<OrderRow | null> {
  const r = await q.query<OrderRow>(RETRY_SQL, [orderId, e.next.toISOString(), e.error, e.at.toISOString(), e.source, JSON.stringify({ error: e.error, next_attempt_at: e.next.toISOString() })]);
  return r.rows[0] ?? null;
}

export async function killSwitchEngaged(q: Queryable): Promise<boolean> {
  const r = await q.query<{ engaged: boolean }>('SELECT engaged FROM kill_switch WHERE id');
  return r.rows[0]?.engaged ?? false;
}

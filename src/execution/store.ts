import { dec, decString } from '../core/money.js';
import type { Db, Queryable } from '../db/db.js';
import type { BrokerOrder } from './broker.js';
import { ORDER_COLUMNS, orderColumnsOf, orderOf, type EventSource, type OrderRow } from './model.js';
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
 * Set-based: several answers (concurrent submissions, batched by the gateway) in one statement;
 * the state machine's allowed "from" statuses travel as a comma-separated list per row.
 */
const ACK = statement('record_broker_orders', `
WITH i AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[], $7::timestamptz[], $8::text[], $9::text[], $10::jsonb[])
    AS i(id, allowed, to_status, broker_order_id, filled_qty, filled_avg_price, at, kind, source, detail)
),
old AS (
  SELECT o.id, o.status FROM orders o JOIN i ON o.id = i.id
  WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL ORDER BY o.id FOR UPDATE OF o
),
u AS (
  UPDATE orders o SET
    status = CASE WHEN o.status = ANY(string_to_array(i.allowed, ',')) THEN i.to_status ELSE o.status END,
    broker_order_id = COALESCE(o.broker_order_id, i.broker_order_id),
    filled_qty = GREATEST(o.filled_qty, i.filled_qty),
    filled_avg_price = CASE WHEN i.filled_qty > o.filled_qty THEN i.filled_avg_price ELSE o.filled_avg_price END,
    error = CASE WHEN o.status IN ('canceled', 'rejected', 'expired') THEN o.error
                 WHEN o.status = ANY(string_to_array(i.allowed, ',')) AND i.to_status = 'rejected' THEN 'rejected by the broker'
                 ELSE NULL END,
    next_attempt_at = NULL,
    updated_at = i.at
  FROM old JOIN i ON i.id = old.id WHERE o.id = old.id
  RETURNING ${orderColumnsOf('o')}, old.status AS old_status, i.at AS event_at, i.kind AS event_kind, i.source AS event_source, i.detail AS event_detail
),
ev AS (
  INSERT INTO order_events (order_id, client_order_id, kind, from_status, to_status, source, detail, created_at)
  SELECT id, client_order_id, event_kind, old_status, status, event_source, event_detail, event_at FROM u
)
SELECT ${ORDER_COLUMNS} FROM u`);

export interface BrokerAnswer {
  orderId: string;
  bo: BrokerOrder;
  kind: string;
  source: EventSource;
  at: Date;
  detail?: Record<string, unknown>;
}

/**
 * Records what the broker says about our orders (submit answers, adopted duplicates,
 * reconciliation lookups): broker id, status through the state machine, filled_qty that never
 * goes down. Fills and positions are not touched here (trade updates and reconciliation do that).
 * One answer per order per statement (an UPDATE … FROM changes a row once): repeats of an order
 * go in a following statement, in order. null where the order does not exist.
 */
export async function recordBrokerOrders(q: Queryable, answers: readonly BrokerAnswer[], kind?: Db['kind']): Promise<Array<OrderRow | null>> {
  const out: Array<OrderRow | null> = answers.map(() => null);
  let todo = answers.map((a, n) => ({ a, n, to: fromBrokerStatus(a.bo.status) }));
  while (todo.length) {
    const seen = new Set<string>();
    const now: typeof todo = [];
    const later: typeof todo = [];
    for (const t of todo) {
      if (seen.has(t.a.orderId)) later.push(t);
      else {
        seen.add(t.a.orderId);
        now.push(t);
      }
    }
    todo = later;
    const col = <T>(f: (a: BrokerAnswer, to: OrderStatus | null) => T) => now.map(({ a, to }) => f(a, to));
    const r = await runStatement<OrderRow>(
      q,
      ACK,
      [
        col((a) => a.orderId),
        col((_, to) => (to ? allowedFrom(to) : []).join(',')),
        col((_, to) => to),
        col((a) => a.bo.id),
        col((a) => decString(a.bo.filled_qty)),
        col((a) => (a.bo.filled_avg_price !== null && dec(a.bo.filled_qty).gt(0) ? decString(a.bo.filled_avg_price) : null)),
        col((a) => a.at.toISOString()),
        col((a) => a.kind),
        col((a) => a.source),
        col((a) => JSON.stringify({ broker_order_id: a.bo.id, broker_status: a.bo.status, broker_filled_qty: a.bo.filled_qty, ...a.detail })),
      ],
      kind,
    );
    const byId = new Map(r.rows.map((row) => [row.id, row]));
    for (const { a, n } of now) out[n] = byId.get(a.orderId) ?? null;
  }
  return out;
}

/** One answer (see recordBrokerOrders). */
export async function recordBrokerOrder(q: Queryable, orderId: string, bo: BrokerOrder, e: { kind: string; source: EventSource; at: Date; detail?: Record<string, unknown> }): Promise<OrderRow | null> {
  return (await recordBrokerOrders(q, [{ orderId, bo, ...e }]))[0]!;
}

const TRANSITION_SQL = `
WITH old AS (SELECT id, status FROM orders WHERE id = $1 FOR UPDATE),
u AS (
  UPDATE orders o SET status = $3::text, error = COALESCE($4::text, o.error), next_attempt_at = NULL, updated_at = $5::timestamptz
  FROM old WHERE o.id = old.id AND o.status = ANY($2::text[])
  RETURNING ${orderColumnsOf('o')}, old.status AS old_status
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

import type { Db } from '../db/db.js';
import { ORDER_COLUMNS, type OrderRow } from './model.js';
import type { NewOrder } from './order-input.js';
import { runStatement, statement } from './sql.js';
import { findOrderByClientId, killSwitchEngaged } from './store.js';

/**
 * The write-ahead of new orders, group-committed: the orders of concurrent requests are
 * inserted by ONE statement (one round trip, one synchronous commit) that also appends their
 * `created` events, refuses them all while the kill switch is engaged, and returns the rows that
 * already existed (duplicates) from the statement's snapshot. Each order is still all-or-nothing
 * and committed before anything is sent to the broker.
 */
export type InsertOutcome = { kind: 'created' | 'existing'; order: OrderRow } | { kind: 'killed' };

export interface WriteAheadItem {
  order: NewOrder;
  status: 'pending_new' | 'dry_run';
  /** The retrier leaves the order to its request until then (null for dry_run). */
  nextAttemptAt: string | null;
  at: string;
}

const INSERT_ORDERS = statement('insert_orders', `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::numeric[], $8::text[], $9::date[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::boolean[])
    WITH ORDINALITY AS i(client_order_id, strategy_id, symbol, side, qty, order_type, limit_price, time_in_force, trade_date, status, next_attempt_at, created_at, derived_id, n)
),
ins AS (
  INSERT INTO orders (client_order_id, strategy_id, symbol, side, qty, order_type, limit_price, time_in_force, trade_date, status, next_attempt_at, created_at, updated_at)
  SELECT client_order_id, strategy_id, symbol, side, qty, order_type, limit_price, time_in_force, trade_date, status, next_attempt_at, created_at, created_at
  FROM input WHERE NOT EXISTS (SELECT 1 FROM kill_switch WHERE engaged) ORDER BY n
  ON CONFLICT (client_order_id) DO NOTHING
  RETURNING ${ORDER_COLUMNS}
),
ev AS (
  INSERT INTO order_events (order_id, client_order_id, kind, to_status, source, detail, created_at)
  SELECT ins.id, ins.client_order_id, 'created', ins.status, 'api', jsonb_build_object('derived_id', input.derived_id), ins.created_at
  FROM ins JOIN input USING (client_order_id)
)
SELECT true AS created, * FROM ins
UNION ALL
SELECT false AS created, ${ORDER_COLUMNS} FROM orders WHERE client_order_id = ANY($1::text[])`);

type Row = OrderRow & { created: boolean };

/**
 * One statement for a batch of distinct client_order_ids. The final SELECT reads the snapshot
 * taken before the insert, so it returns exactly the rows that existed already. An id with no
 * row at all: the kill switch is engaged, or a concurrent transaction inserted it after our
 * snapshot (it is visible now) — resolved one by one in `settle`.
 */
async function insertBatch(db: Db, items: readonly WriteAheadItem[]): Promise<Map<string, InsertOutcome>> {
  const col = <T>(f: (i: WriteAheadItem) => T) => items.map(f);
  const r = await runStatement<Row>(db, INSERT_ORDERS, [
    col((i) => i.order.client_order_id),
    col((i) => i.order.strategy_id),
    col((i) => i.order.symbol),
    col((i) => i.order.side),
    col((i) => i.order.qty),
    col((i) => i.order.order_type),
    col((i) => i.order.limit_price),
    col((i) => i.order.time_in_force),
    col((i) => i.order.trade_date),
    col((i) => i.status),
    col((i) => i.nextAttemptAt),
    col((i) => i.at),
    col((i) => i.order.derived_id),
  ]);
  const out = new Map<string, InsertOutcome>();
  for (const { created, ...order } of r.rows) out.set(order.client_order_id, { kind: created ? 'created' : 'existing', order });
  return out;
}

async function settle(db: Db, item: WriteAheadItem): Promise<InsertOutcome> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await findOrderByClientId(db, item.order.client_order_id);
    if (existing) return { kind: 'existing', order: existing };
    if (await killSwitchEngaged(db)) return { kind: 'killed' };
    const again = (await insertBatch(db, [item])).get(item.order.client_order_id);
    if (again) return again;
  }
  throw new Error(`order ${item.order.client_order_id}: neither inserted nor found after 3 attempts`);
}

/**
 * The batch function: requests for the same client_order_id in one batch share the one row
 * (the first creates it, the others get it as existing), so 64 identical concurrent requests
 * still make one order.
 */
export async function writeAheadBatch(db: Db, items: readonly WriteAheadItem[]): Promise<InsertOutcome[]> {
  const first = new Map<string, WriteAheadItem>();
  for (const i of items) if (!first.has(i.order.client_order_id)) first.set(i.order.client_order_id, i);
  const found = await insertBatch(db, [...first.values()]);
  await Promise.all(
    [...first.values()].filter((i) => !found.has(i.order.client_order_id)).map(async (i) => found.set(i.order.client_order_id, await settle(db, i))),
  );
  const handedOut = new Set<string>();
  return items.map((i) => {
    const id = i.order.client_order_id;
    const o = found.get(id)!;
    if (o.kind === 'created' && handedOut.has(id)) return { kind: 'existing', order: o.order };
    handedOut.add(id);
    return o;
  });
}

const ORDERS_BY_CLIENT_IDS = statement('orders_by_client_ids', `SELECT ${ORDER_COLUMNS} FROM orders WHERE client_order_id = ANY($1::text[])`);

/** Batch function of the duplicate fast path: the stored orders of these ids (null = none). */
export async function lookupBatch(db: Db, ids: readonly string[]): Promise<Array<OrderRow | null>> {
  const r = await runStatement<OrderRow>(db, ORDERS_BY_CLIENT_IDS, [[...new Set(ids)]]);
  const by = new Map(r.rows.map((o) => [o.client_order_id, o]));
  return ids.map((id) => by.get(id) ?? null);
}

/** What this process last saw of an order: enough to tell that a status-only update is a no-op. */
export type KnownState = Pick<OrderRow, 'status' | 'filled_qty' | 'broker_order_id'>;

/**
 * client_order_ids this process has written or answered recently (a bounded, insertion-ordered
 * map), with the state last seen where there is one. Only a hint: a known id is answered by a
 * lookup without the pre-trade check; an unknown one takes the normal path, which finds
 * duplicates anyway (e.g. those written by another gateway process). A known state may be
 * older than the table's, which is enough to call a status-only trade update a no-op: statuses
 * only move forward and filled_qty only grows (see apply-trade-updates.ts).
 */
export class RecentOrders {
  private readonly ids = new Map<string, KnownState | null>();
  constructor(private readonly capacity = 200_000) {}

  add(id: string, seen?: KnownState): void {
    const state = seen ? { status: seen.status, filled_qty: seen.filled_qty, broker_order_id: seen.broker_order_id } : null;
    if (this.ids.has(id)) {
      if (state) this.ids.set(id, state);
      return;
    }
    this.ids.set(id, state);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.keys().next().value!);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  state(id: string): KnownState | null {
    return this.ids.get(id) ?? null;
  }
}

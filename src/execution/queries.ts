import { dec, decString, sum } from '../core/money.js';
import { asciiUpper } from '../model/symbol.js';
import { HttpError } from '../observability/http-app.js';
import { parseInstantParam } from '../observability/params.js';
import { BrokerRejectedError, BrokerUnavailableError, type BrokerAccount } from './broker.js';
import type { GatewayContext } from './context.js';
import { ORDER_COLUMNS, type OrderRow, type PositionRow } from './model.js';
import { isOrderStatus, type OrderStatus } from './order-state.js';
import { findOrderByClientId } from './store.js';
import { brokerErrorKind } from './submit.js';

/** Read side of the API: plain functions over the database (and the broker for the account). */

export async function getOrder(ctx: GatewayContext, clientOrderId: string): Promise<OrderRow> {
  const o = await findOrderByClientId(ctx.db, clientOrderId);
  if (!o) throw new HttpError(404, 'order_not_found', `no order with client_order_id ${clientOrderId}`);
  return o;
}

export interface OrderListQuery {
  status?: string;
  symbol?: string;
  strategy_id?: string;
  since?: string;
  limit?: number;
  cursor?: string;
}

/** Newest first, keyset-paged on (created_at, id): `next_cursor` is null on the last page. */
export async function listOrders(ctx: GatewayContext, q: OrderListQuery): Promise<{ orders: OrderRow[]; next_cursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (q.status) {
    const statuses = q.status.split(',').map((s) => s.trim());
    const bad = statuses.filter((s) => !isOrderStatus(s));
    if (bad.length) throw new HttpError(400, 'validation_failed', `unknown status ${bad.join(', ')}`, [{ field: 'status', reason: 'must be a comma-separated list of order statuses' }]);
    add('status = ANY(?::text[])', statuses as OrderStatus[]);
  }
  // The route's schema checked every parameter's format; symbols are upper-cased ASCII only.
  if (q.symbol) add('symbol = ?', asciiUpper(q.symbol));
  if (q.strategy_id) add('strategy_id = ?', q.strategy_id);
  if (q.since) add('created_at >= ?::timestamptz', parseInstantParam(q.since, 'since'));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    params.push(c.created_at, c.id);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  const limit = q.limit ?? 100;
  params.push(limit + 1);
  const r = await ctx.db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`, params);
  const orders = r.rows.slice(0, limit);
  const last = orders[orders.length - 1];
  return { orders, next_cursor: r.rows.length > limit && last ? encodeCursor(last) : null };
}

function encodeCursor(o: OrderRow): string {
  return Buffer.from(JSON.stringify([o.created_at, o.id])).toString('base64url');
}

function decodeCursor(s: string): { created_at: string; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$/.test(v[0]) && Number.isFinite(Date.parse(v[0])) && typeof v[1] === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v[1])) {
      return { created_at: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new HttpError(400, 'validation_failed', 'cursor is not one this API returned', [{ field: 'cursor', reason: 'pass next_cursor from the previous page unchanged' }]);
}

export async function listPositions(ctx: GatewayContext, includeFlat: boolean): Promise<PositionRow[]> {
  const r = await ctx.db.query<PositionRow>(`SELECT symbol, qty, avg_entry_price, cost_basis, realized_pnl, updated_at FROM positions ${includeFlat ? '' : 'WHERE qty <> 0'} ORDER BY symbol`);
  return r.rows;
}

export interface AccountView {
  broker: string;
  account: BrokerAccount;
  realized_pnl: string;
  open_positions: number;
  open_orders: number;
  pending_orders: number;
}

export async function getAccount(ctx: GatewayContext): Promise<AccountView> {
  let account: BrokerAccount;
  try {
    account = await ctx.broker.getAccount();
  } catch (e) {
    if (e instanceof BrokerUnavailableError) {
      ctx.metrics.brokerErrors.inc({ op: 'account', kind: brokerErrorKind(e) });
      throw new HttpError(503, 'broker_unavailable', 'the broker is unavailable; account figures cannot be read now');
    }
    // Refused by the broker: not the caller's request (it had nothing to refuse) but our keys.
    if (e instanceof BrokerRejectedError) {
      ctx.metrics.brokerErrors.inc({ op: 'account', kind: brokerErrorKind(e) });
      const keys = e.status === 401 || e.status === 403;
      ctx.logger.error({ status: e.status }, keys ? 'the broker refused our credentials' : 'the broker refused the account request');
      throw new HttpError(
        503,
        'broker_unavailable',
        keys ? `the broker refused the gateway's credentials (HTTP ${e.status}): check ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY` : `the broker refused the account request (HTTP ${e.status}); account figures cannot be read now`,
      );
    }
    throw e;
  }
  const p = await ctx.db.query<{ realized_pnl: string; qty: string }>('SELECT realized_pnl, qty FROM positions');
  const o = await ctx.db.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM orders WHERE status IN ('pending_new', 'accepted', 'new', 'partially_filled') GROUP BY status");
  const count = (pred: (s: string) => boolean) => o.rows.filter((r) => pred(r.status)).reduce((n, r) => n + r.n, 0);
  return {
    broker: ctx.broker.name,
    account,
    realized_pnl: decString(sum(p.rows.map((r) => r.realized_pnl))),
    open_positions: p.rows.filter((r) => !dec(r.qty).isZero()).length,
    open_orders: count((s) => s !== 'pending_new'),
    pending_orders: count((s) => s === 'pending_new'),
  };
}

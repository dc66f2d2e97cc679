import type { OrderSide, OrderType, TimeInForce } from './broker.js';
import type { OrderStatus } from './order-state.js';

/**
 * Rows as the database returns them (src/db normalises: NUMERIC → exact string, timestamptz →
 * ISO UTC string, date → YYYY-MM-DD). Decimal strings are canonical (written via decString).
 * The API returns these shapes as they are.
 */
export interface OrderRow {
  id: string;
  client_order_id: string;
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  order_type: OrderType;
  limit_price: string | null;
  time_in_force: TimeInForce;
  trade_date: string;
  status: OrderStatus;
  broker_order_id: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  error: string | null;
  submit_attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface PositionRow {
  symbol: string;
  qty: string;
  avg_entry_price: string;
  cost_basis: string;
  realized_pnl: string;
  updated_at: string;
}

export interface FillRow {
  execution_id: string;
  order_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  price: string;
  executed_at: string;
  synthetic: boolean;
}

export type EventSource = 'api' | 'broker' | 'reconcile' | 'retrier' | 'kill_switch';

/** The columns of `orders`, in table order (for `RETURNING` and `SELECT`). */
export const ORDER_COLUMNS =
  'id, client_order_id, strategy_id, symbol, side, qty, order_type, limit_price, time_in_force, trade_date, status, broker_order_id, filled_qty, filled_avg_price, error, submit_attempts, next_attempt_at, created_at, updated_at';

/** ORDER_COLUMNS qualified with a table alias (`o.id, o.client_order_id, …`), for joins. */
export function orderColumnsOf(alias: string): string {
  return ORDER_COLUMNS.split(', ').map((c) => `${alias}.${c}`).join(', ');
}

/** Strips anything a SELECT added beyond the order's own columns. */
export function orderOf(r: OrderRow): OrderRow {
  return {
    id: r.id,
    client_order_id: r.client_order_id,
    strategy_id: r.strategy_id,
    symbol: r.symbol,
    side: r.side,
    qty: r.qty,
    order_type: r.order_type,
    limit_price: r.limit_price,
    time_in_force: r.time_in_force,
    trade_date: r.trade_date,
    status: r.status,
    broker_order_id: r.broker_order_id,
    filled_qty: r.filled_qty,
    filled_avg_price: r.filled_avg_price,
    error: r.error,
    submit_attempts: r.submit_attempts,
    next_attempt_at: r.next_attempt_at,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

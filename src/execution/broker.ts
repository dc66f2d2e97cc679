/**
 * What the execution gateway needs from a broker. The shapes follow Alpaca's Trading API v2
 * (snake_case fields, decimal values as strings) because both implementations speak it:
 * AlpacaBroker talks to Alpaca's paper/live endpoints or to our simulated broker, which is
 * the same adapter pointed at another base URL.
 */
export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit';
export type TimeInForce = 'day' | 'gtc' | 'ioc' | 'fok' | 'opg' | 'cls';

/** Alpaca order statuses (https://docs.alpaca.markets/docs/orders-at-alpaca). */
export type BrokerOrderStatus =
  | 'new'
  | 'partially_filled'
  | 'filled'
  | 'done_for_day'
  | 'canceled'
  | 'expired'
  | 'replaced'
  | 'pending_cancel'
  | 'pending_replace'
  | 'accepted'
  | 'pending_new'
  | 'accepted_for_bidding'
  | 'stopped'
  | 'rejected'
  | 'suspended'
  | 'calculated';

export interface BrokerOrderRequest {
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  /** Decimal string, whole shares for equities here. */
  qty: string;
  type: OrderType;
  time_in_force: TimeInForce;
  limit_price?: string;
}

export interface BrokerOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  type: OrderType;
  time_in_force: TimeInForce;
  limit_price: string | null;
  status: BrokerOrderStatus;
  filled_qty: string;
  filled_avg_price: string | null;
  created_at: string;
  updated_at: string;
  submitted_at: string | null;
  filled_at: string | null;
  canceled_at: string | null;
}

export interface BrokerPosition {
  symbol: string;
  /** Signed: negative for a short. */
  qty: string;
  avg_entry_price: string;
  side: 'long' | 'short';
  market_value: string | null;
  current_price: string | null;
  unrealized_pl: string | null;
}

export interface BrokerAccount {
  id: string;
  status: string;
  currency: string;
  cash: string;
  equity: string;
  buying_power: string;
  portfolio_value: string;
  long_market_value: string;
  short_market_value: string;
}

/** Alpaca's trade_updates events; consumers ignore the ones that do not change our books. */
export type TradeUpdateEvent =
  | 'new'
  | 'fill'
  | 'partial_fill'
  | 'canceled'
  | 'rejected'
  | 'expired'
  | 'pending_new'
  | 'pending_cancel'
  | 'pending_replace'
  | 'replaced'
  | 'done_for_day'
  | 'accepted'
  | 'stopped'
  | 'calculated'
  | 'suspended'
  | 'held'
  | 'restated'
  | 'order_cancel_rejected'
  | 'order_replace_rejected';

/** One message of Alpaca's `trade_updates` stream (`data` of `{stream, data}`). */
export interface TradeUpdate {
  event: TradeUpdateEvent;
  order: BrokerOrder;
  timestamp: string;
  /** Present on fill / partial_fill. */
  execution_id?: string;
  price?: string;
  qty?: string;
  position_qty?: string;
}

/** The broker could not be reached, timed out, throttled (429/408) or answered 5xx: retry later with the same client_order_id. */
export class BrokerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** The broker already has an order with this client_order_id (Alpaca answers 422). */
export class BrokerDuplicateOrderError extends Error {
  constructor(readonly clientOrderId: string) {
    super(`client_order_id ${clientOrderId} already exists at the broker`);
    this.name = 'BrokerDuplicateOrderError';
  }
}

/** The broker refused the order for good (4xx other than the duplicate case): do not retry. */
export class BrokerRejectedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BrokerRejectedError';
  }
}

export interface TradeUpdateSubscription {
  close(): Promise<void>;
}

export interface Broker {
  readonly name: string;
  submitOrder(req: BrokerOrderRequest): Promise<BrokerOrder>;
  /** Cancels by broker order id; resolves when the broker accepted the request. */
  cancelOrder(brokerOrderId: string): Promise<void>;
  /** null when the broker has no order with this client_order_id (its own 404, never a proxy's). */
  getOrderByClientId(clientOrderId: string): Promise<BrokerOrder | null>;
  /** Oldest first, so `after` (an ISO timestamp) works as a cursor. */
  listOrders(q: { status: 'open' | 'closed' | 'all'; after?: string; limit?: number }): Promise<BrokerOrder[]>;
  listPositions(): Promise<BrokerPosition[]>;
  getAccount(): Promise<BrokerAccount>;
  /** Subscribes to trade updates; reconnects by itself until closed. */
  streamTradeUpdates(onUpdate: (u: TradeUpdate) => void, onState?: (s: 'connected' | 'disconnected') => void): Promise<TradeUpdateSubscription>;
}

import { isTradingDateString } from '../core/clock.js';
import { FieldError } from '../core/errors.js';
import { dec, decString, type Decimal } from '../core/money.js';
import { parsePrice, parseQty } from '../model/decimal.js';
import { parseSymbol } from '../model/symbol.js';
import { HttpError } from '../observability/http-app.js';
import type { OrderSide, OrderType, TimeInForce } from './broker.js';
import { clientOrderIdProblem, deriveClientOrderId, type OrderIntent } from './client-order-id.js';
import type { PreTradeOrder } from './pre-trade.js';

/**
 * Meaning checks of an order request, after the JSON schema has checked its shape (types,
 * required and unknown fields → 400). Every problem is reported with its field (→ 422
 * `invalid_order`); nothing is written or sent for an invalid order.
 */
export interface OrderRequest {
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  qty: string;
  order_type: OrderType;
  limit_price?: string | null;
  time_in_force?: TimeInForce;
  client_order_id?: string;
  trade_date?: string;
}

export interface NewOrder extends PreTradeOrder {
  /** True when client_order_id was derived from the intent (not given by the caller). */
  derived_id: boolean;
  /** True when the request carried trade_date (otherwise it is today's). */
  trade_date_given: boolean;
}

export const STRATEGY_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
const STRATEGY_ID_RE = new RegExp(STRATEGY_ID_PATTERN);
export const MAX_QTY = 10_000_000;

export function parseOrderRequest(body: OrderRequest, today: string): NewOrder {
  const problems: Array<{ field: string; reason: string }> = [];
  const bad = (field: string, reason: string) => problems.push({ field, reason });

  if (!STRATEGY_ID_RE.test(body.strategy_id)) bad('strategy_id', 'must be 1-64 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit');

  // Each value is parsed from its text by the one bounded parser (src/model) before any
  // arithmetic: a refused value is reported with its field, and nothing else happens.
  const field = <T>(parse: () => T): T | null => {
    try {
      return parse();
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      bad(e.field, e.reason);
      return null;
    }
  };

  const symbol = field(() => parseSymbol(body.symbol, 'symbol')) ?? '';

  let qty = '';
  const q: Decimal | null = field(() => parseQty(body.qty, 'qty'));
  if (q) {
    if (q.lte(0)) bad('qty', 'must be greater than 0');
    else if (!q.isInteger()) bad('qty', 'must be a whole number of shares (fractional orders are not supported)');
    else if (q.gt(MAX_QTY)) bad('qty', `must be at most ${MAX_QTY}`);
    else qty = decString(q);
  }

  let limitPrice: string | null = null;
  const givenLimit = body.limit_price !== undefined && body.limit_price !== null;
  if (body.order_type === 'limit') {
    if (!givenLimit) bad('limit_price', 'is required for limit orders');
    else {
      const p = field(() => parsePrice(body.limit_price, 'limit_price'));
      if (p && p.decimalPlaces() > (p.gte(1) ? 2 : 4)) bad('limit_price', 'sub-penny increments are not allowed (2 decimals at or above $1, 4 below)');
      else if (p) limitPrice = decString(p);
    }
  } else if (givenLimit) {
    bad('limit_price', 'must not be set for market orders');
  }

  const tradeDate = body.trade_date ?? today;
  if (!isTradingDateString(tradeDate)) bad('trade_date', 'must be a calendar date YYYY-MM-DD');

  const tif: TimeInForce = body.time_in_force ?? 'day';
  if (problems.length) throw invalidOrder(problems);

  const intent: OrderIntent = { strategy_id: body.strategy_id, symbol, side: body.side, qty, order_type: body.order_type, limit_price: limitPrice, trade_date: tradeDate };
  let clientOrderId: string;
  if (body.client_order_id !== undefined) {
    const problem = clientOrderIdProblem(body.client_order_id, intent);
    if (problem) throw invalidOrder([{ field: 'client_order_id', reason: problem }]);
    clientOrderId = body.client_order_id;
  } else {
    clientOrderId = deriveClientOrderId(intent);
  }
  return {
    client_order_id: clientOrderId,
    strategy_id: body.strategy_id,
    symbol,
    side: body.side,
    qty,
    order_type: body.order_type,
    limit_price: limitPrice,
    time_in_force: tif,
    trade_date: tradeDate,
    derived_id: body.client_order_id === undefined,
    trade_date_given: body.trade_date !== undefined,
  };
}

function invalidOrder(details: Array<{ field: string; reason: string }>): HttpError {
  return new HttpError(422, 'invalid_order', `invalid order: ${details.map((d) => `${d.field} ${d.reason}`).join('; ')}`, details);
}

/**
 * Whether a stored order is the same intent as a request (the fields the id stands for). A
 * caller's own id resubmitted on a later day without trade_date still names its order, so the
 * date is then not compared.
 */
export function sameIntent(a: PreTradeOrder, b: PreTradeOrder, opts: { ignoreTradeDate?: boolean } = {}): boolean {
  return (
    a.strategy_id === b.strategy_id &&
    a.symbol === b.symbol &&
    a.side === b.side &&
    dec(a.qty).eq(b.qty) &&
    a.order_type === b.order_type &&
    (a.limit_price === null ? b.limit_price === null : b.limit_price !== null && dec(a.limit_price).eq(b.limit_price)) &&
    (opts.ignoreTradeDate === true || a.trade_date === b.trade_date)
  );
}

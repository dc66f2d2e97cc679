import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Queryable } from '../db/db.js';
import type { OrderSide, OrderType, TimeInForce } from './broker.js';

/**
 * The pre-trade check hook: every new order passes it before anything is written or sent.
 * Risk limits plug in here (a later issue). A refusal answers 422 with `code` and `reason`;
 * no order row is written (so the same intent may be submitted again once the limit allows
 * it) and the refusal is recorded in order_events (kind `pretrade_rejected`, order_id NULL).
 * A check that throws fails closed: 503, nothing written, nothing sent.
 */
export interface PreTradeOrder {
  client_order_id: string;
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  /** Canonical decimal strings. */
  qty: string;
  order_type: OrderType;
  limit_price: string | null;
  time_in_force: TimeInForce;
  trade_date: string;
}

export interface PreTradeContext {
  /** Read-only use expected (positions, open orders, …). */
  db: Queryable;
  clock: Clock;
  logger: Logger;
  dryRun: boolean;
}

/**
 * `settle`, when given, is called once the approved order's write-ahead is over (written, found
 * to exist, or failed): a check that counts approvals not yet visible in the database (so that
 * concurrent orders cannot jointly pass a limit each passes alone) stops counting it then.
 */
export type PreTradeResult = { ok: true; settle?: () => void } | { ok: false; code: string; reason: string };

export type PreTradeCheck = (order: PreTradeOrder, ctx: PreTradeContext) => Promise<PreTradeResult>;

export const allowAll: PreTradeCheck = async () => ({ ok: true });

/** Runs several checks in order; the first refusal wins. */
export function allOf(...checks: PreTradeCheck[]): PreTradeCheck {
  return async (order, ctx) => {
    const settles: Array<() => void> = [];
    for (const c of checks) {
      const r = await c(order, ctx);
      if (!r.ok) return r;
      if (r.settle) settles.push(r.settle);
    }
    return { ok: true, settle: () => settles.forEach((s) => s()) };
  };
}

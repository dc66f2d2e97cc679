import type { BrokerOrderStatus, TradeUpdateEvent } from './broker.js';

/**
 * The order lifecycle as an explicit state machine. Every status change anywhere in the
 * gateway (API, trade updates, reconciliation, retrier, kill switch) asks this table; a change
 * it does not list is refused, which is what makes late and duplicate broker events harmless.
 *
 *   pending_new ─▶ accepted ─▶ new ─▶ partially_filled ─▶ filled
 *        │            │         │            │
 *        └────────────┴─────────┴────────────┴─▶ canceled | expired   (rejected: before any fill)
 *   dry_run: recorded, never sent (terminal from birth)
 */
export const ORDER_STATUSES = ['pending_new', 'accepted', 'new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired', 'dry_run'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_new: ['accepted', 'new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired'],
  accepted: ['new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired'],
  new: ['partially_filled', 'filled', 'canceled', 'rejected', 'expired'],
  // A further partial fill keeps the status (filled_qty grows).
  partially_filled: ['partially_filled', 'filled', 'canceled', 'expired'],
  filled: [],
  canceled: [],
  rejected: [],
  expired: [],
  dry_run: [],
};

export const TERMINAL_STATUSES: readonly OrderStatus[] = ORDER_STATUSES.filter((s) => TRANSITIONS[s].length === 0);
/** At the broker and still able to fill. */
export const OPEN_STATUSES: readonly OrderStatus[] = ['accepted', 'new', 'partially_filled'];

export function isOrderStatus(s: string): s is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(s);
}

export function isTerminal(s: OrderStatus): boolean {
  return TRANSITIONS[s].length === 0;
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** apply: change the status; same: nothing to do (duplicate); refused: the table forbids it. */
export type Decision = 'apply' | 'same' | 'refused';

export function decide(from: OrderStatus, to: OrderStatus): Decision {
  if (canTransition(from, to)) return from === to ? 'same' : 'apply';
  return from === to ? 'same' : 'refused';
}

const FROM: Record<OrderStatus, OrderStatus[]> = Object.fromEntries(
  ORDER_STATUSES.map((to) => [to, ORDER_STATUSES.filter((from) => from !== to && canTransition(from, to))]),
) as Record<OrderStatus, OrderStatus[]>;

/**
 * The statuses from which `to` may be reached (excluding `to` itself): lets SQL apply a
 * transition atomically, `SET status = CASE WHEN status = ANY($from) THEN $to ELSE status END`.
 */
export function allowedFrom(to: OrderStatus): readonly OrderStatus[] {
  return FROM[to];
}

/**
 * Our status for a broker (Alpaca) order status; null for statuses that say nothing about the
 * lifecycle we track (pending_cancel, done_for_day, …): those leave the status alone.
 */
export function fromBrokerStatus(s: BrokerOrderStatus): OrderStatus | null {
  switch (s) {
    case 'pending_new':
      return null;
    case 'accepted':
    case 'accepted_for_bidding':
      return 'accepted';
    case 'new':
      return 'new';
    case 'partially_filled':
      return 'partially_filled';
    case 'filled':
      return 'filled';
    case 'canceled':
    case 'replaced':
      return 'canceled';
    case 'expired':
      return 'expired';
    case 'rejected':
      return 'rejected';
    default:
      // done_for_day, pending_cancel, pending_replace, stopped, suspended, calculated
      return null;
  }
}

/** Our status for a trade-update event; null for events that do not move the lifecycle. */
export function fromTradeEvent(e: TradeUpdateEvent): OrderStatus | null {
  switch (e) {
    case 'new':
      return 'new';
    case 'accepted':
      return 'accepted';
    case 'partial_fill':
      return 'partially_filled';
    case 'fill':
      return 'filled';
    case 'canceled':
    case 'replaced':
      return 'canceled';
    case 'expired':
      return 'expired';
    case 'rejected':
      return 'rejected';
    default:
      // pending_new, pending_cancel, done_for_day
      return null;
  }
}

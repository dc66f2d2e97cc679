import { createHash } from 'node:crypto';
import { dec, decString, ZERO, type Decimal } from '../core/money.js';
import type { OrderSide } from '../execution/broker.js';
import { base32, deriveClientOrderId } from '../execution/client-order-id.js';
import type { Signal } from '../signals/types.js';
import type { Leg, PlanOrderStatus, RunOrderView } from './types.js';
import { asciiUpper } from '../model/symbol.js';

/**
 * Sizing and the order plan: pure functions over exact decimals (no I/O), the same for HTTP
 * runs, event runs, paper runs and backtests.
 *
 *   target_qty = trunc(capital × weight / price)               (whole shares, toward zero)
 *   |target_qty| ≤ trunc(max_position_pct × capital / price)   (the position cap, toward zero)
 *   held symbols without a non-zero weight → target 0 (closed)
 *   order = target − current position: one market day order per symbol with a non-zero diff;
 *   a position that changes sign is two legs (close, then open) because a broker refuses a
 *   single order that flips a position.
 * A symbol with a weight but without a usable price fails alone (recorded, no order).
 */

export interface TargetResult {
  qty: Decimal;
  /** The position cap cut the target. */
  capped: boolean;
}

/** Whole-share target of one weight: rounded toward zero, then capped (toward zero too). */
export function targetQty(capital: Decimal, weight: Decimal, price: Decimal, maxPositionPct: Decimal): TargetResult {
  if (!price.gt(0)) throw new RangeError(`price must be > 0, got ${price.toString()}`);
  const raw = capital.times(weight).div(price).trunc();
  const cap = maxPositionPct.times(capital).div(price).trunc();
  if (raw.abs().gt(cap)) return { qty: raw.isNegative() ? cap.neg() : cap, capped: true };
  return { qty: raw.isZero() ? ZERO : raw, capped: false };
}

export interface PlanInput {
  strategy_id: string;
  trade_date: string;
  capital: Decimal;
  max_position_pct: Decimal;
  signals: readonly Signal[];
  /** Current signed position quantity per symbol (non-zero entries). */
  positions: ReadonlyMap<string, Decimal>;
  /** as_of_date price per symbol; a missing or non-positive price fails that symbol. */
  prices: ReadonlyMap<string, Decimal>;
}

/** A planned row: the view's planning columns, before anything was submitted. */
export type PlanRow = Pick<
  RunOrderView,
  'seq' | 'symbol' | 'leg' | 'predicted_return' | 'rank' | 'target_weight' | 'price' | 'current_qty' | 'target_qty' | 'capped' | 'side' | 'qty' | 'client_order_id' | 'error'
> & { order_status: Extract<PlanOrderStatus, 'planned' | 'deferred' | 'unchanged' | 'symbol_failed'> };

/**
 * The plan: a row for every symbol with a non-zero weight or a position (best rank first, then
 * held symbols outside the signals by symbol). Zero-weight symbols without a position get no row.
 */
export function planOrders(input: PlanInput): PlanRow[] {
  const rows: PlanRow[] = [];
  const seen = new Set<string>();
  const add = (r: Omit<PlanRow, 'seq'>) => rows.push({ seq: rows.length + 1, ...r });

  const signals = [...input.signals].sort((a, b) => a.rank - b.rank || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  for (const s of signals) {
    if (seen.has(s.symbol)) continue;
    seen.add(s.symbol);
    const current = input.positions.get(s.symbol) ?? ZERO;
    const price = input.prices.get(s.symbol);
    const priceOk = price !== undefined && price.gt(0);
    const base = {
      symbol: s.symbol,
      predicted_return: Number.isFinite(s.predicted_return) ? s.predicted_return : null,
      rank: Number.isInteger(s.rank) ? s.rank : null,
      price: priceOk ? decString(price) : null,
      current_qty: decString(current),
    };
    if (!Number.isFinite(s.target_weight)) {
      add({ ...base, leg: 'rebalance', target_weight: null, target_qty: null, capped: false, side: null, qty: null, client_order_id: null, order_status: 'symbol_failed', error: `invalid target_weight ${String(s.target_weight)}` });
      continue;
    }
    const weight = dec(s.target_weight);
    if (weight.isZero()) {
      if (current.isZero()) continue;
      addLegs(add, input, { ...base, target_weight: '0', capped: false }, current, ZERO);
      continue;
    }
    if (!priceOk) {
      add({ ...base, leg: 'rebalance', target_weight: decString(weight), target_qty: null, capped: false, side: null, qty: null, client_order_id: null, order_status: 'symbol_failed', error: 'no price on the signal date' });
      continue;
    }
    const t = targetQty(input.capital, weight, price, input.max_position_pct);
    addLegs(add, input, { ...base, target_weight: decString(weight), capped: t.capped }, current, t.qty);
  }

  const held = [...input.positions.keys()].filter((s) => !seen.has(s)).sort();
  for (const symbol of held) {
    const current = input.positions.get(symbol)!;
    if (current.isZero()) continue;
    const price = input.prices.get(symbol);
    addLegs(add, input, { symbol, predicted_return: null, rank: null, target_weight: null, price: price && price.gt(0) ? decString(price) : null, current_qty: decString(current), capped: false }, current, ZERO);
  }
  return rows;
}

type RowBase = Pick<PlanRow, 'symbol' | 'predicted_return' | 'rank' | 'target_weight' | 'price' | 'current_qty' | 'capped'>;

function addLegs(add: (r: Omit<PlanRow, 'seq'>) => void, input: PlanInput, base: RowBase, current: Decimal, target: Decimal): void {
  const target_qty = decString(target);
  // Whole shares only: a fractional position (bought elsewhere) is traded down to whole shares.
  const diff = target.minus(current).trunc();
  if (diff.isZero()) {
    add({ ...base, leg: 'rebalance', target_qty, side: null, qty: null, client_order_id: null, order_status: 'unchanged', error: null });
    return;
  }
  const side: OrderSide = diff.isPositive() ? 'buy' : 'sell';
  const flips = !current.isZero() && !target.isZero() && current.isPositive() !== target.isPositive();
  if (!flips) {
    const qty = decString(diff.abs());
    add({ ...base, leg: 'rebalance', target_qty, side, qty, client_order_id: clientOrderIdFor(input, base.symbol, 'rebalance', side, qty), order_status: 'planned', error: null });
    return;
  }
  const closeQty = decString(current.abs().trunc());
  const openQty = decString(target.abs());
  if (closeQty !== '0') add({ ...base, leg: 'close', target_qty, side, qty: closeQty, client_order_id: clientOrderIdFor(input, base.symbol, 'close', side, closeQty), order_status: 'planned', error: null });
  add({ ...base, leg: 'open', target_qty, side, qty: openQty, client_order_id: clientOrderIdFor(input, base.symbol, 'open', side, openQty), order_status: closeQty === '0' ? 'planned' : 'deferred', error: null });
}

/**
 * The client_order_id of a leg. Rebalance and close legs use the gateway's derived id (what it
 * would derive itself from strategy, symbol, side, qty, type and trade date). The open leg of a
 * flip has the same side as its close leg, and the same qty when a position flips to its mirror
 * image (+5 → −5), so it gets its own deterministic id, `kf-…`, hashed with the leg's name.
 */
export function clientOrderIdFor(o: { strategy_id: string; trade_date: string }, symbol: string, leg: Leg, side: OrderSide, qty: string): string {
  const intent = { strategy_id: o.strategy_id, symbol, side, qty, order_type: 'market' as const, limit_price: null, trade_date: o.trade_date };
  if (leg !== 'open') return deriveClientOrderId(intent);
  const digest = createHash('sha256')
    .update(JSON.stringify(['kestrel/orchestrator/flip-open/v1', o.strategy_id, asciiUpper(symbol), side, decString(qty), 'market', o.trade_date]))
    .digest();
  const strategy = o.strategy_id.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16) || 'x';
  return `kf-${strategy}-${o.trade_date.replace(/-/g, '')}-${base32(digest).slice(0, 26)}`;
}

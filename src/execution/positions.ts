import { dec, Decimal, ZERO, type DecimalLike } from '../core/money.js';
import type { OrderSide } from './broker.js';

/**
 * Average-cost position accounting as a pure fold of fills (docs/concepts/pnl.md).
 *
 * State: signed quantity (negative = short), signed cost basis (qty × average entry price,
 * kept exactly instead of the average so nothing drifts), realized P&L.
 *  - A fill on the side of the position (or from flat) adds to it: cost += q × price.
 *  - A fill against it closes min(|q|, |qty|) at the average: the closed part's cost leaves the
 *    basis and realized += closed × price × sign − closed cost.
 *  - What is left of the fill after closing everything opens a new position at the fill price
 *    (a flip long ↔ short).
 * Identity (property-tested): realized + unrealized(mark) = −Σ signed q × price + qty × mark,
 * i.e. P&L equals cash flow plus market value, exactly, at any mark.
 */
export interface PositionState {
  qty: Decimal;
  cost: Decimal;
  realized: Decimal;
}

export interface FillLike {
  side: OrderSide;
  qty: DecimalLike;
  price: DecimalLike;
}

/** Decimal places of the cost taken out by a partial close (the only rounding in the fold). */
export const COST_DP = 12;

export const FLAT: PositionState = Object.freeze({ qty: ZERO, cost: ZERO, realized: ZERO });

export function positionState(qty: DecimalLike, cost: DecimalLike, realized: DecimalLike = ZERO): PositionState {
  return { qty: dec(qty), cost: dec(cost), realized: dec(realized) };
}

export function applyFill(p: PositionState, f: FillLike): PositionState {
  const size = dec(f.qty);
  const price = dec(f.price);
  if (size.lte(0)) throw new RangeError(`fill qty must be positive, got ${size.toString()}`);
  if (price.lte(0)) throw new RangeError(`fill price must be positive, got ${price.toString()}`);
  const q = f.side === 'buy' ? size : size.neg();

  if (p.qty.isZero() || p.qty.isPositive() === q.isPositive()) {
    return { qty: p.qty.plus(q), cost: p.cost.plus(q.times(price)), realized: p.realized };
  }

  const held = p.qty.abs();
  const closed = Decimal.min(size, held);
  // Closing everything takes the whole basis (no division, no rounding). A partial close's
  // share is rounded to COST_DP places once, so every later sum and difference stays exact.
  const closedCost = closed.eq(held) ? p.cost : p.cost.times(closed).div(held).toDecimalPlaces(COST_DP, Decimal.ROUND_HALF_EVEN);
  const sign = p.qty.isPositive() ? 1 : -1;
  const realized = p.realized.plus(closed.times(price).times(sign)).minus(closedCost);
  const rest = size.minus(closed);
  if (rest.isZero()) return { qty: p.qty.plus(q), cost: p.cost.minus(closedCost), realized };
  // Flip: the remainder opens a new position on the fill's side at the fill price.
  const opened = f.side === 'buy' ? rest : rest.neg();
  return { qty: opened, cost: opened.times(price), realized };
}

export function foldFills(fills: Iterable<FillLike>, start: PositionState = FLAT): PositionState {
  let p = start;
  for (const f of fills) p = applyFill(p, f);
  return p;
}

/** cost / qty; 0 when flat. */
export function avgEntryPrice(p: PositionState): Decimal {
  return p.qty.isZero() ? ZERO : p.cost.div(p.qty);
}

/** qty × mark − cost. */
export function unrealizedPnl(p: PositionState, mark: DecimalLike): Decimal {
  return p.qty.times(dec(mark)).minus(p.cost);
}

import { dec, Decimal, ZERO, type DecimalLike } from '../core/money.js';
import type { OrderSide, OrderType } from '../execution/broker.js';
import type { BreakerGate } from './breaker-state.js';
import type { RiskConfig } from './config.js';
import { FAST_TOLERANCE, fastExposure, freshMark, freshPrice, isReducing, pendingOf, portfolioExposure, positionQty, symbolExposure, type RiskContext } from './context.js';

/**
 * The pre-trade checks: one pure function of (order, context, config, breaker gate), run on
 * every order in the gateway and used by the orchestrator to size orders (sizeOrder). No I/O,
 * no clock (the context carries `now`), microseconds per call.
 *
 * Order of evaluation (the first refusal wins):
 *   restricted_symbol → breaker (risk-increasing orders only) → no_price → price_band →
 *   max_order_notional → [reducing orders stop here: ok] → no_equity → max_position_shares →
 *   max_position_pct → max_gross_exposure → max_net_exposure → buying_power → correlated_cluster
 *
 * Fail closed: a check that needs a value it does not have (no fresh price for a symbol
 * involved, no equity, no buying power, no correlations) refuses the order.
 * Limits that measure the portfolio (position, gross, net, cluster) refuse an order only when
 * after it the value is beyond the limit AND the order makes it worse: a limit breached by
 * price moves never blocks the trade that brings the portfolio back.
 */

export const RISK_CODES = [
  'restricted_symbol',
  'breaker_tripped',
  'breaker_quiet_period',
  'breaker_unavailable',
  'no_price',
  'price_band',
  'max_order_notional',
  'no_equity',
  'max_position_shares',
  'max_position_pct',
  'max_gross_exposure',
  'max_net_exposure',
  'no_buying_power',
  'buying_power',
  'no_correlations',
  'correlated_cluster',
] as const;
export type RiskCode = (typeof RISK_CODES)[number];

/** Codes whose outcome depends on the order's quantity (a smaller order may pass). */
export const SIZE_DEPENDENT_CODES: ReadonlySet<RiskCode> = new Set<RiskCode>(['max_order_notional', 'max_position_shares', 'max_position_pct', 'max_gross_exposure', 'max_net_exposure', 'buying_power', 'correlated_cluster']);

export interface RiskOrder {
  symbol: string;
  side: OrderSide;
  /** Whole shares, > 0. */
  qty: DecimalLike;
  order_type: OrderType;
  limit_price: DecimalLike | null;
}

export type RiskDecision =
  | { ok: true; reducing: boolean; price_source?: 'last_close' }
  | {
      ok: false;
      code: RiskCode;
      reason: string;
      reducing: boolean;
      /** `last_close` when the order was priced at a stored close, not a live mark (as-of mode). */
      price_source?: 'last_close';
      /** The limit and the value that broke it (decimal strings), when there is one. */
      limit?: string;
      value?: string;
      /** correlated_cluster: the names in the cluster with their correlation to the order's symbol. */
      cluster?: Array<{ symbol: string; corr: number | null }>;
    };

const HUNDRED = new Decimal(100);
/** A fraction limit (0.25) as the percent people read (25); exact, via the number's decimal text. */
const asPercent = (fraction: number) => new Decimal(String(fraction)).times(HUNDRED).toFixed();
const fmt = (d: Decimal, dp = 2): string => d.toFixed(dp, Decimal.ROUND_HALF_EVEN);

type Refusal = Extract<RiskDecision, { ok: false }>;

export function checkOrder(order: RiskOrder, ctx: RiskContext, cfg: RiskConfig, gate: BreakerGate): RiskDecision {
  const L = cfg.limits;
  const symbol = order.symbol;
  const qty = dec(order.qty);
  const side = order.side;
  const reducing = isReducing(ctx, symbol, side, qty);
  const no = (code: RiskCode, reason: string, extra: Partial<Refusal> = {}): RiskDecision => ({ ok: false, code, reason, reducing, ...extra });

  if (L.restricted_symbols.includes(symbol)) return no('restricted_symbol', `${symbol} is on the restricted list: no orders in it`);

  if (!reducing) {
    if (gate.state === 'TRIPPED') return no('breaker_tripped', `the circuit breaker is TRIPPED${gate.detail ? ` (${gate.detail})` : ''}: only orders that reduce a position pass`);
    if (gate.state === 'QUIET_PERIOD' && gate.quietMode === 'reduce_only') return no('breaker_quiet_period', `the circuit breaker is in its quiet period${gate.detail ? ` (${gate.detail})` : ''}: only orders that reduce a position pass`);
    if (gate.state === 'UNAVAILABLE') return no('breaker_unavailable', `the circuit breaker state cannot be read${gate.detail ? ` (${gate.detail})` : ''}: only orders that reduce a position pass`);
  }

  const maxAgeMs = L.max_price_age_s === null ? null : L.max_price_age_s * 1000;
  const mark = freshMark(ctx, symbol, maxAgeMs);
  if (!mark) return no('no_price', noPriceReason(ctx, [symbol], maxAgeMs));
  const price = mark.price;
  if (mark.source) {
    // Every decision from here on says what it was priced at.
    const decided = checkPriced(order, ctx, cfg, reducing, price, maxAgeMs);
    return { ...decided, price_source: mark.source };
  }
  return checkPriced(order, ctx, cfg, reducing, price, maxAgeMs);
}

/** The checks after the price is known (checkOrder's second half). */
function checkPriced(order: RiskOrder, ctx: RiskContext, cfg: RiskConfig, reducing: boolean, price: Decimal, maxAgeMs: number | null): RiskDecision {
  const L = cfg.limits;
  const symbol = order.symbol;
  const qty = dec(order.qty);
  const side = order.side;
  const no = (code: RiskCode, reason: string, extra: Partial<Refusal> = {}): RiskDecision => ({ ok: false, code, reason, reducing, ...extra });
  const limitPrice = order.limit_price === null ? null : dec(order.limit_price);

  if (limitPrice !== null && L.price_band_pct !== null) {
    const off = limitPrice.minus(price).abs();
    if (off.times(HUNDRED).gt(price.times(L.price_band_pct))) {
      return no('price_band', `limit ${limitPrice.toFixed()} is ${fmt(off.times(HUNDRED).div(price))}% from the last price ${price.toFixed()} (band ${L.price_band_pct}%)`, {
        limit: String(L.price_band_pct),
        value: fmt(off.times(HUNDRED).div(price), 4),
      });
    }
  }

  // The price an order can cost: a limit buy pays at most its limit, but a sell (or a limit far
  // below the market) trades near the last price, so the larger of the two.
  const ref = limitPrice !== null && limitPrice.gt(price) ? limitPrice : price;
  const notional = qty.times(ref);
  if (L.max_order_notional !== null && notional.gt(L.max_order_notional)) {
    return no('max_order_notional', `order notional ${fmt(notional)} (${qty.toFixed()} × ${ref.toFixed()}) exceeds the limit ${fmt(L.max_order_notional)}`, { limit: L.max_order_notional.toFixed(), value: notional.toFixed() });
  }

  if (reducing) return { ok: true, reducing };

  const equity = ctx.equity;
  if (!equity || !equity.gt(0)) return no('no_equity', 'account equity is unknown: risk-increasing orders are refused until it is available');
  if (!ctx.startOfDayEquity || !ctx.startOfDayEquity.gt(0)) return no('no_equity', 'start-of-day equity is unknown, so the daily loss cannot be measured: risk-increasing orders are refused');

  // The symbol's position before and after, open orders on the same side counted as filled.
  const q = positionQty(ctx, symbol);
  const pend = pendingOf(ctx, symbol);
  const before = side === 'buy' ? q.plus(pend.buy) : q.minus(pend.sell);
  const after = side === 'buy' ? before.plus(qty) : before.minus(qty);
  const worse = after.abs().gt(before.abs());

  if (L.max_position_shares !== null && worse && after.abs().gt(L.max_position_shares)) {
    return no('max_position_shares', `${symbol} position would reach ${after.toFixed()} shares (with open orders), over the limit of ${L.max_position_shares}`, { limit: String(L.max_position_shares), value: after.abs().toFixed() });
  }
  if (L.max_position_pct !== null && worse) {
    const value = after.abs().times(price);
    const cap = equity.times(L.max_position_pct);
    if (value.gt(cap)) {
      return no('max_position_pct', `${symbol} position would be worth ${fmt(value)} = ${fmt(value.times(HUNDRED).div(equity))}% of equity ${fmt(equity)}, over the limit of ${asPercent(L.max_position_pct)}%`, {
        limit: cap.toFixed(),
        value: value.toFixed(),
      });
    }
  }

  const needExposure = L.max_gross_exposure_pct !== null || L.max_net_exposure_pct !== null || cfg.correlation.enabled;
  if (needExposure) {
    // Decided in doubles with an exact fallback near the limit (see fastExposure); the order's
    // own symbol is computed exactly, so "does the order make it worse" is always exact.
    const fx = fastExposure(ctx, maxAgeMs);
    if (fx.missing.length) return no('no_price', noPriceReason(ctx, fx.missing, maxAgeMs) + ': portfolio exposure cannot be measured');
    const was = symbolExposure(q, pend, price);
    const pendAfter = side === 'buy' ? { ...pend, buy: pend.buy.plus(qty) } : { ...pend, sell: pend.sell.plus(qty) };
    const now = symbolExposure(q, pendAfter, price);
    const equityF = equity.toNumber();
    const exact = () => portfolioExposure(ctx, maxAgeMs);

    if (L.max_gross_exposure_pct !== null) {
      const dG = now.gross.minus(was.gross);
      if (dG.gt(0)) {
        const capF = equityF * L.max_gross_exposure_pct;
        const cap = equity.times(L.max_gross_exposure_pct);
        const afterF = fx.gross + dG.toNumber();
        const tol = FAST_TOLERANCE * (fx.scale + Math.abs(afterF) + capF);
        if (gtFast(afterF, capF, tol, () => exact().gross.plus(dG).gt(cap))) {
          const grossAfter = exact().gross.plus(dG);
          return no('max_gross_exposure', `gross exposure would be ${fmt(grossAfter)} = ${fmt(grossAfter.times(HUNDRED).div(equity))}% of equity, over the limit of ${asPercent(L.max_gross_exposure_pct)}%`, { limit: cap.toFixed(), value: grossAfter.toFixed() });
        }
      }
    }
    if (L.max_net_exposure_pct !== null) {
      const dH = now.high.minus(was.high);
      const dL = now.low.minus(was.low);
      const capF = equityF * L.max_net_exposure_pct;
      const cap = equity.times(L.max_net_exposure_pct);
      const hf = fx.netHigh;
      const lf = fx.netLow;
      const beforeF = Math.max(Math.abs(hf), Math.abs(lf));
      const afterF = Math.max(Math.abs(hf + dH.toNumber()), Math.abs(lf + dL.toNumber()));
      const tol = FAST_TOLERANCE * (fx.scale + Math.abs(afterF) + capF);
      const exactNet = () => {
        const e = exact();
        return { before: Decimal.max(e.netHigh.abs(), e.netLow.abs()), after: Decimal.max(e.netHigh.plus(dH).abs(), e.netLow.plus(dL).abs()) };
      };
      if (gtFast(afterF, capF, tol, () => exactNet().after.gt(cap)) && gtFast(afterF, beforeF, tol, () => exactNet().after.gt(exactNet().before))) {
        const netAfter = exactNet().after;
        return no('max_net_exposure', `net exposure would be ${fmt(netAfter)} = ${fmt(netAfter.times(HUNDRED).div(equity))}% of equity, over the limit of ${asPercent(L.max_net_exposure_pct)}%`, { limit: cap.toFixed(), value: netAfter.toFixed() });
      }
    }
  }

  if (L.check_buying_power) {
    const bp = ctx.buyingPower;
    if (bp === null) return no('no_buying_power', 'buying power is unknown: risk-increasing orders are refused until it is available');
    // Only the part of the order that opens or extends a position consumes buying power.
    const closable = side === 'buy' ? Decimal.max(ZERO, before.neg()) : Decimal.max(ZERO, before);
    const opening = Decimal.max(ZERO, qty.minus(closable));
    const cost = opening.times(ref);
    if (cost.gt(bp)) return no('buying_power', `order needs ${fmt(cost)} of buying power (${opening.toFixed()} × ${ref.toFixed()}), the account has ${fmt(bp)}`, { limit: bp.toFixed(), value: cost.toFixed() });
  }

  if (cfg.correlation.enabled) {
    const c = clusterCheck(symbol, side, qty, price, ctx, cfg, maxAgeMs);
    if (c) return { ...c, reducing };
  }
  return { ok: true, reducing };
}

/**
 * The cluster of the order's symbol: itself plus every held name (or name with open orders)
 * whose return correlation with it is ≥ threshold (a star around the order's symbol, not
 * connected components: A~B and B~C do not put A with C). Its exposure is the signed value
 * of the members (longs and shorts of co-moving names offset), open orders on the order's side
 * counted as filled. Refused when |after| > max_cluster_pct of equity and the order raises it.
 */
function clusterCheck(symbol: string, side: OrderSide, qty: Decimal, price: Decimal, ctx: RiskContext, cfg: RiskConfig, maxAgeMs: number | null): Omit<Refusal, 'reducing'> | null {
  const C = cfg.correlation;
  const corr = ctx.correlations;
  if (!corr) return { ok: false, code: 'no_correlations', reason: 'return correlations are unavailable: risk-increasing orders are refused (set correlation.enabled=false to trade without the cluster limit)' };
  const members: Array<{ symbol: string; corr: number | null }> = [{ symbol, corr: 1 }];
  const signedOf = (s: string, p: Decimal) => {
    const q = positionQty(ctx, s);
    const pend = pendingOf(ctx, s);
    return (side === 'buy' ? q.plus(pend.buy) : q.minus(pend.sell)).times(p);
  };
  let before = signedOf(symbol, price);
  const consider = (s: string) => {
    if (s === symbol || members.some((m) => m.symbol === s)) return;
    const r = corr.corr(symbol, s);
    if (r === null || r < C.threshold) return;
    const p = freshPrice(ctx, s, maxAgeMs);
    if (!p) return; // cannot happen after the exposure check: every held name has a price
    members.push({ symbol: s, corr: r });
    before = before.plus(signedOf(s, p));
  };
  for (const s of ctx.positions.keys()) consider(s);
  for (const s of ctx.pending.keys()) consider(s);
  const delta = qty.times(price);
  const after = side === 'buy' ? before.plus(delta) : before.minus(delta);
  const equity = ctx.equity!;
  const cap = equity.times(C.max_cluster_pct);
  if (after.abs().gt(cap) && after.abs().gt(before.abs())) {
    const names = members.map((m) => (m.symbol === symbol ? m.symbol : `${m.symbol} (${m.corr!.toFixed(2)})`)).join(', ');
    return {
      ok: false,
      code: 'correlated_cluster',
      reason: `exposure to the cluster ${names} (${C.lookback_days}-day return correlation ≥ ${C.threshold} as of ${corr.asOf}) would be ${fmt(after.abs())} = ${fmt(after.abs().times(HUNDRED).div(equity))}% of equity, over the limit of ${asPercent(C.max_cluster_pct)}%`,
      limit: cap.toFixed(),
      value: after.abs().toFixed(),
      cluster: members,
    };
  }
  return null;
}

/** a > b, decided in doubles when they are more than tol apart, otherwise by the exact comparison. */
function gtFast(a: number, b: number, tol: number, exact: () => boolean): boolean {
  if (a > b + tol) return true;
  if (a < b - tol) return false;
  return exact();
}

function noPriceReason(ctx: RiskContext, symbols: string[], maxAgeMs: number | null): string {
  const parts = symbols.map((s) => {
    const m = ctx.prices.get(s);
    if (!m) return `${s} (none)`;
    if (!m.price.gt(0)) return `${s} (not positive)`;
    return `${s} (${Math.round((ctx.now - m.ts) / 1000)} s old, limit ${maxAgeMs === null ? '∞' : Math.round(maxAgeMs / 1000)} s)`;
  });
  return `no usable last price for ${parts.join(', ')}${ctx.noPriceHint ? ` — ${ctx.noPriceHint}` : ''}`;
}

export interface SizeResult {
  /** The largest whole number of shares ≤ the requested qty that passes every check (0: none). */
  qty: Decimal;
  /** True when qty is smaller than requested. */
  resized: boolean;
  /** The refusal of the requested qty, when it was refused. */
  limitedBy: Refusal | null;
}

/**
 * Orchestrator sizing: the largest whole-share quantity ≤ order.qty that checkOrder accepts.
 * Refusals that do not depend on size (restricted, breaker, missing data, price band) give 0;
 * so does correlated_cluster when correlation.mode is `reject`. Binary search is exact here
 * because every limit accepts a set of quantities of the form [0, q_max].
 */
export function sizeOrder(order: RiskOrder, ctx: RiskContext, cfg: RiskConfig, gate: BreakerGate): SizeResult {
  const want = dec(order.qty).floor();
  const first = checkOrder({ ...order, qty: want }, ctx, cfg, gate);
  if (first.ok) return { qty: want, resized: false, limitedBy: null };
  const zero = { qty: ZERO, resized: want.gt(0), limitedBy: first };
  if (!SIZE_DEPENDENT_CODES.has(first.code)) return zero;
  // In reject mode the cluster limit never shrinks an order: search on the other limits, then
  // drop the order entirely if what is left still breaches the cluster.
  const rejectCluster = cfg.correlation.mode === 'reject';
  const passes = (r: RiskDecision) => r.ok || (rejectCluster && r.code === 'correlated_cluster');
  let lo = ZERO; // passes (an empty order trivially does)
  let hi = want; // refused
  if (passes(first)) lo = want;
  while (hi.minus(lo).gt(1)) {
    const mid = lo.plus(hi).div(2).floor();
    if (passes(checkOrder({ ...order, qty: mid }, ctx, cfg, gate))) lo = mid;
    else hi = mid;
  }
  if (lo.isZero()) return zero;
  if (rejectCluster && !checkOrder({ ...order, qty: lo }, ctx, cfg, gate).ok) return zero;
  return { qty: lo, resized: true, limitedBy: first };
}

import { parseRiskConfig, type RiskConfig, type RiskConfigInput } from './config.js';
import { makeRiskContext, type RiskContext, type RiskContextInput } from './context.js';
import type { RiskOrder } from './checks.js';

/** Test plumbing for src/risk: contexts and configs with every limit off unless set. */

export const T0 = Date.parse('2025-03-04T15:00:00Z');

/** Every limit disabled (so one limit can be tested alone), correlation off. */
export function onlyLimits(input: RiskConfigInput = {}): RiskConfig {
  return parseRiskConfig({
    limits: {
      max_order_notional: null,
      max_position_shares: null,
      max_position_pct: null,
      max_gross_exposure_pct: null,
      max_net_exposure_pct: null,
      price_band_pct: null,
      max_price_age_s: null,
      check_buying_power: false,
      ...input.limits,
    },
    correlation: { enabled: false, ...input.correlation },
    breaker: { ...input.breaker },
  });
}

/** Equity 100 000, start of day 100 000, buying power 1 000 000, prices fresh at T0. */
export function ctxOf(input: Partial<RiskContextInput> & { px?: Record<string, string | number> } = {}): RiskContext {
  const { px, ...rest } = input;
  return makeRiskContext({
    now: T0,
    tradeDate: '2025-03-04',
    equity: '100000',
    startOfDayEquity: '100000',
    buyingPower: '1000000',
    prices: Object.fromEntries(Object.entries(px ?? { AAA: '100' }).map(([s, p]) => [s, { price: String(p), ts: T0 - 1000 }])),
    ...rest,
  });
}

export const buy = (symbol: string, qty: number | string, limit: string | null = null): RiskOrder => ({ symbol, side: 'buy', qty: String(qty), order_type: limit === null ? 'market' : 'limit', limit_price: limit });
export const sell = (symbol: string, qty: number | string, limit: string | null = null): RiskOrder => ({ symbol, side: 'sell', qty: String(qty), order_type: limit === null ? 'market' : 'limit', limit_price: limit });

/** Rules that quarantine rows, in verdict order (missing_dates and freshness report, they have no rows). */
export const ROW_RULES = ['malformed', 'duplicate', 'non_trading_day', 'non_positive_price', 'ohlc_invariant', 'non_positive_volume', 'price_level', 'stale_price', 'large_move'] as const;
export type RowRule = (typeof ROW_RULES)[number];

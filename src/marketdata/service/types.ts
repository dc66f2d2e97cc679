/**
 * Minimal input types of the market-data service. The streaming client (src/marketdata/client,
 * written separately) produces these and implements SubscriptionTarget; nothing here depends on it.
 */

/** One trade print. price and size are exact decimal strings; ts is UTC ISO-8601. */
export interface Trade {
  symbol: string;
  id: number;
  price: string;
  size: string;
  ts: string;
}

/** One 1-minute bar; t is the bar's start (UTC ISO-8601). */
export interface Bar {
  symbol: string;
  t: string;
  o: string;
  h: string;
  l: string;
  c: string;
  v: string;
}

/** What the subscription manager drives: the live stream's per-symbol subscriptions. */
export interface SubscriptionTarget {
  subscribe(symbols: string[]): void;
  unsubscribe(symbols: string[]): void;
}

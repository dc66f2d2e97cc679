/**
 * The signal service's contract (POST /api/v1/signals/generate), shared by its clients
 * (orchestrator, paper runs). Weights: long top-N and short bottom-N, equal weight, the
 * long side summing to +1 and the short side to −1 (configurable gross per side).
 */
export interface SignalsRequest {
  /** Trading date whose closing data the features use (YYYY-MM-DD). */
  as_of_date: string;
  /** Default: every symbol with a bar on as_of_date. */
  symbols?: string[];
  top_n: number;
  bottom_n: number;
}

export interface Signal {
  symbol: string;
  /** The model's score: the z-scored next-day return it predicts (higher = better). */
  predicted_return: number;
  /** 1 = best. */
  rank: number;
  /** +1/top_n for longs, −1/bottom_n for shorts, 0 otherwise. */
  target_weight: number;
}

export interface SignalsResponse {
  as_of_date: string;
  /** `label`: what the model was trained to predict (`return`, `abs_return`, …); absent from older services. */
  model: { name: string; version: number; label?: string };
  generated_at: string;
  timezone: 'UTC';
  /** Every scored symbol, best first. */
  signals: Signal[];
  /** Requested symbols without a bar on as_of_date (skipped). */
  missing: string[];
  cache: { hits: number; misses: number };
  /**
   * Scored symbols whose score equals another's, and their share of all scored. Ties are
   * ranked by 20-day average dollar volume, then symbol; a high share means a weak model
   * (absent from older services).
   */
  ties?: { symbols: number; share: number };
}

/** What the orchestrator needs from the signal service: HTTP in production, direct in-process. */
export interface SignalsClient {
  generate(req: SignalsRequest): Promise<SignalsResponse>;
}

import type { Signal, SignalsClient, SignalsRequest, SignalsResponse } from '../signals/types.js';

/**
 * A SignalsClient with fixed scores, for tests, benches and backtests: `StaticSignalsClient`
 * applies the service's weighting rule (+1/top_n for the best top_n, −1/bottom_n for the worst
 * bottom_n, 0 otherwise). The real clients are the signal service's own (src/signals/client.ts:
 * `HttpSignalsClient`, `InProcessSignalsClient`); both have the `ping()` the health check uses.
 */

/** A SignalsClient the health check can probe. */
export interface ProbeableSignalsClient extends SignalsClient {
  ping?(): Promise<void>;
}

export class StaticSignalsClient implements ProbeableSignalsClient {
  /** Every request received, in order (tests assert on them). */
  readonly requests: SignalsRequest[] = [];
  /** When set, generate() rejects with it (outage tests). */
  failWith: Error | null = null;

  constructor(
    /** Predicted returns per as_of_date and symbol. */
    private readonly scores: Record<string, Record<string, number>>,
    /** The model the answers name (tests swap it, e.g. for one whose label is not a return). */
    public model: SignalsResponse['model'] = { name: 'static', version: 1 },
  ) {}

  setScores(date: string, scores: Record<string, number>): void {
    this.scores[date] = scores;
  }

  async generate(req: SignalsRequest): Promise<SignalsResponse> {
    this.requests.push(req);
    if (this.failWith) throw this.failWith;
    const day = this.scores[req.as_of_date];
    if (!day) throw new Error(`no signals for ${req.as_of_date}`);
    const wanted = req.symbols ?? Object.keys(day);
    const missing = wanted.filter((s) => day[s] === undefined);
    const scored = wanted.filter((s) => day[s] !== undefined).map((symbol) => ({ symbol, predicted_return: day[symbol]! }));
    return {
      as_of_date: req.as_of_date,
      model: this.model,
      generated_at: new Date().toISOString(),
      timezone: 'UTC',
      signals: rankAndWeigh(scored, req.top_n, req.bottom_n),
      missing,
      cache: { hits: 0, misses: scored.length },
    };
  }

  async ping(): Promise<void> {}
}

/** Best first; equal weights per side; the long side wins where the sides would overlap. */
export function rankAndWeigh(scored: Array<{ symbol: string; predicted_return: number }>, topN: number, bottomN: number): Signal[] {
  const sorted = [...scored].sort((a, b) => b.predicted_return - a.predicted_return || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  const n = sorted.length;
  const longs = Math.min(topN, n);
  const shorts = Math.min(bottomN, n - longs);
  return sorted.map((s, i) => ({
    symbol: s.symbol,
    predicted_return: s.predicted_return,
    rank: i + 1,
    target_weight: i < longs ? 1 / topN : i >= n - shorts ? -1 / bottomN : 0,
  }));
}

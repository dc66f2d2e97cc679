import type { Queryable } from '../../db/db.js';
import type { SubscriptionTarget } from './types.js';

/**
 * Keeps the live stream subscribed to what matters: symbols with open positions ∪ today's
 * signal symbols. refresh() computes that set, diffs it against what is subscribed and calls
 * subscribe/unsubscribe on the target with only the difference (sorted). Positions that were
 * closed (qty 0) drop out. Refreshes are serialised.
 */
export interface SubscriptionManagerOptions {
  target: SubscriptionTarget;
  /** Symbols with open positions (see openPositionSymbols). */
  positionSymbols: () => Promise<readonly string[]> | readonly string[];
  /** Today's signal symbols (e.g. from the latest `signals.generated` event). */
  signalSymbols: () => Promise<readonly string[]> | readonly string[];
}

export interface SubscriptionDiff {
  added: string[];
  removed: string[];
}

export class SubscriptionManager {
  private current = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: SubscriptionManagerOptions) {}

  /** What is subscribed now (sorted). */
  subscribed(): string[] {
    return [...this.current].sort();
  }

  refresh(): Promise<SubscriptionDiff> {
    const run = this.chain.then(() => this.doRefresh());
    this.chain = run.catch(() => {});
    return run;
  }

  private async doRefresh(): Promise<SubscriptionDiff> {
    const [pos, sig] = await Promise.all([this.opts.positionSymbols(), this.opts.signalSymbols()]);
    const desired = new Set<string>([...pos, ...sig].map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0));
    const added = [...desired].filter((s) => !this.current.has(s)).sort();
    const removed = [...this.current].filter((s) => !desired.has(s)).sort();
    if (removed.length) this.opts.target.unsubscribe(removed);
    if (added.length) this.opts.target.subscribe(added);
    this.current = desired;
    return { added, removed };
  }
}

/** Symbols with a non-zero position in the `positions` table. */
export async function openPositionSymbols(db: Queryable): Promise<string[]> {
  const r = await db.query<{ symbol: string }>('SELECT symbol FROM positions WHERE qty <> 0 ORDER BY symbol');
  return r.rows.map((x) => x.symbol);
}

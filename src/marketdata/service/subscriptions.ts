import { newYorkDate } from '../../core/clock.js';
import type { Queryable } from '../../db/db.js';
import { trySymbol } from '../../model/symbol.js';
import type { SubscriptionTarget } from './types.js';

/**
 * Keeps the live stream subscribed to what matters: symbols with open positions ∪ today's
 * signal picks (openPositionSymbols, todaysSignalSymbols). refresh() computes that set, diffs
 * it against what is subscribed and calls subscribe/unsubscribe on the target with only the
 * difference (sorted). Positions that were closed (qty 0) and picks of another day drop out.
 * Nothing announces position changes on the bus, so the service calls refresh() on a timer
 * (every 5 s): two small queries, and a fill shows up within one period. Refreshes are
 * serialised.
 */
export interface SubscriptionManagerOptions {
  target: SubscriptionTarget;
  /** Symbols with open positions (see openPositionSymbols). */
  positionSymbols: () => Promise<readonly string[]> | readonly string[];
  /** Today's signal symbols (see todaysSignalSymbols). */
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
    // The one ticker grammar (src/model/symbol.ts): a row that is not a ticker is not subscribed.
    const desired = new Set<string>([...pos, ...sig].map((s) => trySymbol(s)).filter((s): s is string => s !== null));
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

/**
 * Today's signal picks: symbols with a non-zero target weight in the plans of real (not dry-run)
 * orchestrator runs whose trade date is today in New York. A day later they are no longer
 * today's and drop out. Scheduled runs are planned when their trade date begins, so picks
 * appear before the open.
 *
 * Why the stored plan and not the `signals.generated` stream: an event lists every symbol the
 * model scored (the whole universe, not the picks), the bus has no "read the latest entry"
 * (only consumer groups, which are for work, not lookups), and the plan is in the Postgres this
 * service already reads for positions — durable across restarts and shared by replicas.
 */
export async function todaysSignalSymbols(db: Queryable, now: Date): Promise<string[]> {
  const r = await db.query<{ symbol: string }>(
    `SELECT DISTINCT o.symbol FROM orchestration_orders o JOIN orchestration_runs r ON r.id = o.run_id
      WHERE NOT r.dry_run AND r.trade_date = $1::date AND o.target_weight <> 0
      ORDER BY o.symbol`,
    [newYorkDate(now)],
  );
  return r.rows.map((x) => x.symbol);
}

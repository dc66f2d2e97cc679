import type { Clock } from '../core/clock.js';
import { newYorkDate } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Decimal } from '../core/money.js';
import type { Queryable } from '../db/db.js';
import { HttpError } from '../observability/http-app.js';
import { dailyLossCheck, type BreakerGate, type BreakerState, type LossCheck } from './breaker-state.js';
import { gateOf, type CircuitBreaker, type TransitionResult } from './breaker.js';
import { riskConfigJson, type RiskConfig } from './config.js';
import { deRisk, type DeriskOps, type DeriskReport } from './derisk.js';
import type { RiskAudit, RiskEventQuery, RiskEventRow } from './events.js';
import type { RiskMetrics } from './metrics.js';
import type { RiskStateProvider } from './provider.js';

/**
 * The operator-facing work behind the risk API and CLI: status, manual trip and reset, the
 * audit trail. Plain methods, testable without HTTP (src/risk/routes.ts maps them to HTTP).
 */
export interface RiskServiceDeps {
  config: RiskConfig;
  breaker: CircuitBreaker;
  events: RiskAudit;
  provider: RiskStateProvider;
  clock: Clock;
  logger: Logger;
  /** Read-only: the kill switch row owned by the gateway (shown in status). */
  db?: Queryable;
}

export interface KillSwitchView {
  engaged: boolean;
  reason: string | null;
  actor: string | null;
  changed_at: string | null;
}

export interface RiskStatus {
  as_of: string;
  trade_date: string;
  breaker: BreakerState & { gate: BreakerGate['state'] };
  /** null when equity could not be read. */
  daily_loss: LossCheck | null;
  equity: { equity: string | null; start_of_day: string | null; buying_power: string | null };
  kill_switch: KillSwitchView | null;
  limits: unknown;
}

export type ChangeOutcome = { status: 200; body: { changed: boolean; breaker: BreakerState; message?: string } } | { status: 409 | 503; code: string; message: string };

export class RiskService {
  private readonly running = new Set<Promise<void>>();

  constructor(readonly deps: RiskServiceDeps) {}

  async status(): Promise<RiskStatus> {
    const now = this.deps.clock.now();
    const [s, snap, ks] = await Promise.all([this.breakerCall(() => this.deps.breaker.current()), this.snapshotOrNull(), this.killSwitch()]);
    const tradeDate = snap?.tradeDate ?? newYorkDate(now);
    const loss = snap ? dailyLossCheck(s, { equity: snap.equity, startOfDayEquity: snap.startOfDayEquity, tradeDate }, this.deps.config.breaker) : null;
    return {
      as_of: now.toISOString(),
      trade_date: tradeDate,
      breaker: { ...s, gate: gateOf(s, this.deps.config.breaker).state },
      daily_loss: loss,
      equity: { equity: snap?.equity?.toFixed() ?? null, start_of_day: snap?.startOfDayEquity?.toFixed() ?? null, buying_power: snap?.buyingPower?.toFixed() ?? null },
      kill_switch: ks,
      limits: riskConfigJson(this.deps.config),
    };
  }

  async trip(reason: string, actor: string, detail: Record<string, unknown> = {}): Promise<ChangeOutcome> {
    const r = await this.breakerCall(() => this.deps.breaker.trip('manual', reason, actor, detail));
    return ok(r);
  }

  async reset(reason: string, actor: string, detail: Record<string, unknown> = {}): Promise<ChangeOutcome> {
    const snap = await this.snapshotOrNull();
    const tradeDate = snap?.tradeDate ?? newYorkDate(this.deps.clock.now());
    const r = await this.breakerCall(() => this.deps.breaker.reset(reason, actor, snap?.equity?.toFixed() ?? null, tradeDate, { ...detail, start_of_day_equity: snap?.startOfDayEquity?.toFixed() ?? null }));
    if (r.refused?.code === 'no_equity') return { status: 503, code: 'equity_unavailable', message: r.refused.message };
    if (r.refused) return { status: 409, code: r.refused.code, message: r.refused.message };
    return ok(r);
  }

  events(q: RiskEventQuery): Promise<RiskEventRow[]> {
    return this.deps.events.list(q);
  }

  /**
   * Runs the configured de-risking policy whenever this replica trips the breaker (only the
   * replica whose compare-and-set won runs it). It runs in the background: the request or
   * order that tripped the breaker is answered without waiting for it. `deriskIdle()` settles
   * when the runs started so far are done (tests, graceful shutdown).
   */
  attachDerisk(ops: DeriskOps, opts: { metrics?: RiskMetrics; onReport?: (r: DeriskReport) => void } = {}): void {
    const policy = this.deps.config.breaker.derisk;
    if (policy.policy === 'none') return;
    const maxNotional = this.deps.config.limits.max_order_notional;
    const run = async (to: BreakerState) => {
      let prices: Map<string, Decimal> | null = null;
      if (maxNotional !== null) {
        const snap = await this.snapshotOrNull();
        prices = snap ? new Map([...snap.prices].map(([s, m]) => [s, m.price])) : null;
      }
      const report = await deRisk(ops, {
        policy: policy.policy,
        reducePct: policy.reduce_pct,
        actor: 'system',
        reason: `breaker tripped (${to.trigger}): ${to.reason}`,
        breakerVersion: to.version,
        breakerId: this.deps.breaker.id,
        clock: this.deps.clock,
        logger: this.deps.logger,
        events: this.deps.events,
        metrics: opts.metrics,
        maxQty: (symbol) => {
          const p = prices?.get(symbol);
          return maxNotional !== null && p && p.gt(0) ? maxNotional.div(p).floor() : null;
        },
      });
      opts.onReport?.(report);
    };
    this.deps.breaker.onTransition(({ to }) => {
      if (to.state !== 'TRIPPED') return;
      const p = run(to).catch((e: unknown) => this.deps.logger.error({ err: (e as Error).message }, 'risk: de-risking failed'));
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
    });
  }

  /** Settles when every de-risking run started so far has finished. */
  async deriskIdle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  /** The breaker's store (Redis) unreachable or its value unreadable: 503, nothing changed. */
  private async breakerCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.deps.logger.error({ err: (e as Error).message }, 'risk: circuit breaker state unavailable');
      throw new HttpError(503, 'breaker_unavailable', `the circuit breaker state cannot be read or changed (${(e as Error).message}); risk-increasing orders are refused until it is back`);
    }
  }

  private async snapshotOrNull() {
    try {
      return await this.deps.provider.snapshot();
    } catch (e) {
      this.deps.logger.warn({ err: (e as Error).message }, 'risk status: account snapshot unavailable');
      return null;
    }
  }

  private async killSwitch(): Promise<KillSwitchView | null> {
    if (!this.deps.db) return null;
    try {
      const r = await this.deps.db.query<KillSwitchView>('SELECT engaged, reason, actor, changed_at FROM kill_switch WHERE id');
      return r.rows[0] ?? null;
    } catch {
      return null;
    }
  }
}

function ok(r: TransitionResult): ChangeOutcome {
  return { status: 200, body: { changed: r.changed, breaker: r.state, ...(r.refused ? { message: r.refused.message } : {}) } };
}

import type { Logger } from '../core/logger.js';
import type { PreTradeCheck, PreTradeOrder } from '../execution/pre-trade.js';
import type { BreakerGate } from './breaker-state.js';
import type { CircuitBreaker } from './breaker.js';
import { checkOrder, sizeOrder, type RiskDecision, type RiskOrder, type SizeResult } from './checks.js';
import type { RiskConfig } from './config.js';
import type { RiskContext } from './context.js';
import type { RiskAudit } from './events.js';
import type { RiskMetrics } from './metrics.js';
import type { RiskStateProvider } from './provider.js';

/**
 * Risk as the gateway and the orchestrator call it: take a snapshot, let the breaker's
 * automatic triggers look at it (a daily loss trips it right here, before the order is
 * decided), read the breaker gate, run the pure checks, audit refusals.
 *
 *  - gateway: `buildGatewayApp({ …, preTradeCheck: engine.preTradeCheck })`
 *  - orchestrator: `await engine.size(order)` → the largest quantity that passes
 *
 * Errors (database down, …) propagate: the gateway answers 503 and sends nothing (fail closed).
 */
export interface RiskEngineDeps {
  config: RiskConfig;
  provider: RiskStateProvider;
  breaker: CircuitBreaker;
  events: RiskAudit;
  logger: Logger;
  metrics?: RiskMetrics;
}

export interface RiskEvaluation {
  decision: RiskDecision;
  ctx: RiskContext;
  gate: BreakerGate;
}

export type RiskOrderInput = RiskOrder & Partial<Pick<PreTradeOrder, 'client_order_id' | 'strategy_id' | 'trade_date'>>;

export class RiskEngine {
  constructor(readonly deps: RiskEngineDeps) {}

  /** Snapshot, breaker triggers and gate for an order in `symbol`. */
  async prepare(symbol: string, tradeDate?: string): Promise<{ ctx: RiskContext; gate: BreakerGate }> {
    const ctx = await this.deps.provider.snapshot({ symbol, ...(tradeDate ? { tradeDate } : {}) });
    try {
      await this.deps.breaker.evaluate(ctx);
    } catch (e) {
      this.deps.logger.error({ err: (e as Error).message }, 'risk: breaker triggers could not be evaluated');
    }
    const gate = await this.deps.breaker.gate();
    return { ctx, gate };
  }

  /** Decides one order; a refusal is recorded in risk_events. */
  async evaluate(order: RiskOrderInput, opts: { dryRun?: boolean } = {}): Promise<RiskEvaluation> {
    const t0 = performance.now();
    const { ctx, gate } = await this.prepare(order.symbol, order.trade_date);
    const decision = checkOrder(order, ctx, this.deps.config, gate);
    if (decision.ok) this.deps.metrics?.approvals.inc({ reducing: String(decision.reducing) });
    else {
      this.deps.metrics?.rejections.inc({ code: decision.code });
      await this.audit(order, decision, gate, opts.dryRun ?? false, ctx);
    }
    this.deps.metrics?.checkSeconds.observe((performance.now() - t0) / 1000);
    return { decision, ctx, gate };
  }

  /** Orchestrator sizing: the largest whole-share quantity ≤ order.qty that passes (no audit: nothing was submitted). */
  async size(order: RiskOrderInput): Promise<SizeResult & { ctx: RiskContext; gate: BreakerGate }> {
    const { ctx, gate } = await this.prepare(order.symbol, order.trade_date);
    return { ...sizeOrder(order, ctx, this.deps.config, gate), ctx, gate };
  }

  /** The gateway hook (src/execution/pre-trade.ts): 422 with code and reason on refusal. */
  readonly preTradeCheck: PreTradeCheck = async (order, ctx) => {
    const { decision } = await this.evaluate(order, { dryRun: ctx.dryRun });
    return decision.ok ? { ok: true } : { ok: false, code: decision.code, reason: decision.reason };
  };

  private async audit(order: RiskOrderInput, d: Extract<RiskDecision, { ok: false }>, gate: BreakerGate, dryRun: boolean, ctx: RiskContext): Promise<void> {
    try {
      await this.deps.events.record({
        kind: 'pretrade_rejected',
        code: d.code,
        actor: 'system',
        reason: d.reason,
        at: new Date(ctx.now),
        symbol: order.symbol,
        client_order_id: order.client_order_id ?? null,
        strategy_id: order.strategy_id ?? null,
        detail: {
          side: order.side,
          qty: String(order.qty),
          order_type: order.order_type,
          limit_price: order.limit_price === null ? null : String(order.limit_price),
          reducing: d.reducing,
          breaker: gate.state,
          dry_run: dryRun,
          ...(d.limit !== undefined ? { limit: d.limit } : {}),
          ...(d.value !== undefined ? { value: d.value } : {}),
          ...(d.cluster ? { cluster: d.cluster } : {}),
        },
      });
    } catch (e) {
      // The refusal stands either way; the gateway's order_events row still records it.
      this.deps.logger.error({ err: (e as Error).message, code: d.code, symbol: order.symbol }, 'risk: could not record the refusal in risk_events');
    }
  }
}

import { batcher } from '../core/batcher.js';
import { dec } from '../core/money.js';
import type { Logger } from '../core/logger.js';
import type { PreTradeCheck, PreTradeOrder } from '../execution/pre-trade.js';
import type { BreakerGate } from './breaker-state.js';
import type { CircuitBreaker } from './breaker.js';
import { checkOrder, sizeOrder, type RiskDecision, type RiskOrder, type SizeResult } from './checks.js';
import type { RiskConfig } from './config.js';
import { withOpenOrders, type RiskContext, type RiskOpenOrder } from './context.js';
import type { RiskAudit } from './events.js';
import type { RiskMetrics } from './metrics.js';
import type { RiskStateProvider } from './provider.js';

/**
 * Risk as the gateway and the orchestrator call it: take a snapshot, let the breaker's
 * automatic triggers look at it (a daily loss trips it right here, before the order is
 * decided), read the breaker gate, run the pure checks, audit refusals.
 *
 *  - gateway: `buildGatewayApp({ …, preTradeCheck: engine.preTradeCheck })` — batched: the
 *    checks of concurrent orders share one snapshot and are decided one after the other, each
 *    approved order counted as open for those after it and for later snapshots until its
 *    write-ahead is over (then the database has it). So concurrent orders cannot jointly pass a
 *    limit that each passes alone — within one gateway process; replicas on one database can
 *    still race each other by one in-flight batch.
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

interface HookItem {
  order: PreTradeOrder;
  dryRun: boolean;
}

export class RiskEngine {
  constructor(readonly deps: RiskEngineDeps) {}

  /** Snapshot, breaker triggers and gate for orders in `symbol` (or these symbols). */
  async prepare(symbol: string | readonly string[], tradeDate?: string): Promise<{ ctx: RiskContext; gate: BreakerGate }> {
    const which = typeof symbol === 'string' ? { symbol } : { symbols: symbol };
    // The breaker state is read while the snapshot is taken; a failure surfaces in evaluate.
    const current = this.deps.breaker.current();
    current.catch(() => undefined);
    const ctx = await this.deps.provider.snapshot({ ...which, ...(tradeDate ? { tradeDate } : {}) });
    try {
      // evaluate checks the triggers against that state (and trips it if needed): its result is the gate's input.
      const { state } = await this.deps.breaker.evaluate(ctx, current);
      return { ctx, gate: this.deps.breaker.gateFor(state) };
    } catch (e) {
      this.deps.logger.error({ err: (e as Error).message }, 'risk: breaker triggers could not be evaluated');
    }
    // Fails closed (UNAVAILABLE) when the state cannot be read either.
    return { ctx, gate: await this.deps.breaker.gate() };
  }

  /** Decides one order; a refusal is recorded in risk_events. */
  async evaluate(order: RiskOrderInput, opts: { dryRun?: boolean } = {}): Promise<RiskEvaluation> {
    const t0 = performance.now();
    const { ctx, gate } = await this.prepare(order.symbol, order.trade_date);
    const decision = checkOrder(order, ctx, this.deps.config, gate);
    await this.record(order, decision, gate, opts.dryRun ?? false, ctx);
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
    const decision = await this.checkBatch({ order, dryRun: ctx.dryRun });
    if (!decision.ok) return { ok: false, code: decision.code, reason: decision.reason };
    return { ok: true, settle: () => this.unwritten.delete(order.client_order_id) };
  };

  /** Approved by the hook, write-ahead not over yet (by client_order_id; dropped after a minute should a caller never settle). */
  private readonly unwritten = new Map<string, RiskOpenOrder & { approvedAt: number }>();
  private readonly checkBatch = batcher((items: readonly HookItem[]) => this.decideBatch(items), { maxBatch: 256, maxInFlight: 1 });

  private async decideBatch(items: readonly HookItem[]): Promise<RiskDecision[]> {
    // One snapshot per trade date (the gateway only checks today's orders: normally one group).
    const byDate = new Map<string, number[]>();
    items.forEach((i, n) => {
      const group = byDate.get(i.order.trade_date);
      if (group) group.push(n);
      else byDate.set(i.order.trade_date, [n]);
    });
    const out: RiskDecision[] = new Array(items.length);
    for (const [tradeDate, group] of byDate) {
      const decisions = await this.decideGroup(group.map((n) => items[n]!), tradeDate);
      group.forEach((n, k) => (out[n] = decisions[k]!));
    }
    return out;
  }

  /** Decisions for one trade date's orders, in order. */
  private async decideGroup(items: readonly HookItem[], tradeDate: string): Promise<RiskDecision[]> {
    const t0 = performance.now();
    // Captured before the snapshot is read: an approval written meanwhile is then in both, and
    // dropped from this list by its id; one written later is only here.
    const stale = Date.now() - 60_000;
    for (const [id, o] of this.unwritten) if (o.approvedAt < stale) this.unwritten.delete(id);
    const unwritten = [...this.unwritten.values()];
    // Prices for the batch's symbols and for the approvals not yet written (they join the
    // snapshot's open orders below, and the portfolio checks value them).
    const { ctx: snap, gate } = await this.prepare([...new Set([...items.map((i) => i.order.symbol), ...unwritten.map((o) => o.symbol)])], tradeDate);
    const inSnapshot = new Set(snap.openOrders.flatMap((o) => o.clientOrderId ?? []));
    let ctx = withOpenOrders(snap, unwritten.filter((o) => !inSnapshot.has(o.clientOrderId!)));
    const out: RiskDecision[] = [];
    const byId = new Map<string, RiskDecision>();
    for (const { order: o, dryRun } of items) {
      // Identical concurrent requests are one order: one decision, counted once.
      const seen = byId.get(o.client_order_id);
      if (seen) {
        out.push(seen);
        continue;
      }
      const decision = checkOrder(o, ctx, this.deps.config, gate);
      byId.set(o.client_order_id, decision);
      out.push(decision);
      await this.record(o, decision, gate, dryRun, ctx);
      if (decision.ok) {
        const open: RiskOpenOrder = { symbol: o.symbol, side: o.side, remaining: dec(o.qty), limitPrice: o.limit_price === null ? null : dec(o.limit_price), clientOrderId: o.client_order_id };
        this.unwritten.set(o.client_order_id, { ...open, approvedAt: Date.now() });
        ctx = withOpenOrders(ctx, [open]);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    for (let i = 0; i < items.length; i++) this.deps.metrics?.checkSeconds.observe(seconds);
    return out;
  }

  /** Counts a decision; a refusal is also recorded in risk_events. */
  private async record(order: RiskOrderInput, d: RiskDecision, gate: BreakerGate, dryRun: boolean, ctx: RiskContext): Promise<void> {
    if (d.ok) {
      this.deps.metrics?.approvals.inc({ reducing: String(d.reducing) });
      if (d.price_source) this.deps.logger.info({ symbol: order.symbol, client_order_id: order.client_order_id ?? null, price_source: d.price_source }, 'risk: order priced at the stored close (no live mark)');
      return;
    }
    this.deps.metrics?.rejections.inc({ code: d.code });
    await this.audit(order, d, gate, dryRun, ctx);
  }

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
          ...(d.price_source ? { price_source: d.price_source } : {}),
        },
      });
    } catch (e) {
      // The refusal stands either way; the gateway's order_events row still records it.
      this.deps.logger.error({ err: (e as Error).message, code: d.code, symbol: order.symbol }, 'risk: could not record the refusal in risk_events');
    }
  }
}

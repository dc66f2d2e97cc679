import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { dec, Decimal, type DecimalLike } from '../core/money.js';
import type { OrderSide } from '../execution/broker.js';
import type { DeriskPolicy } from './config.js';
import type { RiskAudit } from './events.js';
import type { RiskMetrics } from './metrics.js';

/**
 * Automatic de-risking when the breaker trips, by policy:
 *   none         nothing
 *   cancel_open  cancel every open order
 *   flatten      cancel every open order, then a market order closing each position
 *   reduce_pct   cancel every open order, then a market order cutting each position by
 *                reduce_pct (rounded down to whole shares; positions under one share of cut are left)
 * The gateway wires the operations to itself, so de-risking orders go through the same
 * write-ahead path and pre-trade checks (they are reducing, so a tripped breaker lets them
 * through). Their strategy_id is `risk-derisk-v<breaker version>`: replicas racing on the same
 * trip derive the same client_order_id, so each order exists once. Every action is recorded
 * in risk_events (kind `derisk`). Failures are recorded and the rest goes on.
 */
export interface DeriskOpenOrder {
  /** Whatever cancelOrder takes (the gateway's client_order_id). */
  id: string;
  symbol: string;
  side: OrderSide;
}

export interface DeriskOrder {
  strategy_id: string;
  symbol: string;
  side: OrderSide;
  /** Whole shares, canonical decimal string. */
  qty: string;
  order_type: 'market';
  time_in_force: 'day';
}

export interface DeriskOps {
  listOpenOrders(): Promise<DeriskOpenOrder[]>;
  cancelOrder(id: string): Promise<void>;
  /** Signed quantities (negative = short). */
  listPositions(): Promise<Array<{ symbol: string; qty: DecimalLike }>>;
  submitOrder(order: DeriskOrder): Promise<{ ok: boolean; detail?: string }>;
}

export interface DeriskOptions {
  policy: DeriskPolicy;
  reducePct: number;
  actor: string;
  reason: string;
  /** The breaker version that caused it (makes the orders' ids unique per trip). */
  breakerVersion: number;
  breakerId?: string;
  clock: Clock;
  logger: Logger;
  events?: RiskAudit;
  metrics?: RiskMetrics;
  /** Largest quantity one order may have for a symbol (e.g. from max_order_notional); null: no cap. */
  maxQty?: (symbol: string) => Decimal | null;
}

export interface DeriskReport {
  policy: DeriskPolicy;
  cancelled: string[];
  cancel_failed: Array<{ id: string; error: string }>;
  orders: Array<DeriskOrder & { ok: boolean; detail?: string }>;
  /** Positions left as they were, and why. */
  skipped: Array<{ symbol: string; why: string }>;
}

export function deriskOrders(positions: ReadonlyArray<{ symbol: string; qty: DecimalLike }>, policy: DeriskPolicy, reducePct: number, strategyId: string, maxQty?: (symbol: string) => Decimal | null): { orders: DeriskOrder[]; skipped: DeriskReport['skipped'] } {
  const orders: DeriskOrder[] = [];
  const skipped: DeriskReport['skipped'] = [];
  if (policy !== 'flatten' && policy !== 'reduce_pct') return { orders, skipped };
  for (const p of positions) {
    const q = dec(p.qty);
    if (q.isZero()) continue;
    let cut = policy === 'flatten' ? q.abs() : q.abs().times(reducePct).div(100).floor();
    if (cut.isZero()) {
      skipped.push({ symbol: p.symbol, why: `${reducePct}% of ${q.abs().toFixed()} shares is under one share` });
      continue;
    }
    const cap = maxQty?.(p.symbol) ?? null;
    if (cap !== null && cut.gt(cap)) {
      skipped.push({ symbol: p.symbol, why: `capped at ${cap.toFixed()} of ${cut.toFixed()} shares by max_order_notional; the rest stays for the next run` });
      cut = cap;
    }
    if (cut.lte(0)) continue;
    orders.push({ strategy_id: strategyId, symbol: p.symbol, side: q.gt(0) ? 'sell' : 'buy', qty: cut.toFixed(), order_type: 'market', time_in_force: 'day' });
  }
  return { orders, skipped };
}

export async function deRisk(ops: DeriskOps, o: DeriskOptions): Promise<DeriskReport> {
  const report: DeriskReport = { policy: o.policy, cancelled: [], cancel_failed: [], orders: [], skipped: [] };
  if (o.policy === 'none') return report;
  const strategyId = `risk-derisk-v${o.breakerVersion}`;
  const record = async (code: string, reason: string, extra: { symbol?: string; detail?: Record<string, unknown> }) => {
    try {
      await o.events?.record({ kind: 'derisk', code, actor: o.actor, reason, at: o.clock.now(), symbol: extra.symbol ?? null, strategy_id: strategyId, breaker_id: o.breakerId ?? 'default', breaker_version: o.breakerVersion, detail: { policy: o.policy, trigger_reason: o.reason, ...extra.detail } });
    } catch (e) {
      o.logger.error({ err: (e as Error).message }, 'risk: could not record a de-risking action');
    }
  };

  for (const order of await ops.listOpenOrders()) {
    try {
      await ops.cancelOrder(order.id);
      report.cancelled.push(order.id);
      o.metrics?.deriskActions.inc({ action: 'cancel', outcome: 'ok' });
      await record('cancel_open', `cancelled open ${order.side} order ${order.id} in ${order.symbol}`, { symbol: order.symbol, detail: { order_id: order.id } });
    } catch (e) {
      const error = (e as Error).message;
      report.cancel_failed.push({ id: order.id, error });
      o.metrics?.deriskActions.inc({ action: 'cancel', outcome: 'failed' });
      await record('cancel_failed', `could not cancel ${order.id} in ${order.symbol}: ${error}`, { symbol: order.symbol, detail: { order_id: order.id, error } });
    }
  }
  if (o.policy === 'cancel_open') return report;

  const { orders, skipped } = deriskOrders(await ops.listPositions(), o.policy, o.reducePct, strategyId, o.maxQty);
  report.skipped = skipped;
  for (const order of orders) {
    let r: { ok: boolean; detail?: string };
    try {
      r = await ops.submitOrder(order);
    } catch (e) {
      r = { ok: false, detail: (e as Error).message };
    }
    report.orders.push({ ...order, ...r });
    o.metrics?.deriskActions.inc({ action: o.policy, outcome: r.ok ? 'ok' : 'failed' });
    await record(r.ok ? o.policy : 'order_failed', `${r.ok ? 'submitted' : 'could not submit'} ${order.side} ${order.qty} ${order.symbol} (${o.policy})${r.detail ? `: ${r.detail}` : ''}`, { symbol: order.symbol, detail: { ...order, ok: r.ok } });
  }
  o.logger.warn({ policy: o.policy, cancelled: report.cancelled.length, orders: report.orders.length, failed: report.orders.filter((x) => !x.ok).length + report.cancel_failed.length }, 'risk: de-risking done');
  return report;
}

import { BrokerRejectedError, type BrokerOrder } from './broker.js';
import type { GatewayContext } from './context.js';
import { ORDER_COLUMNS, type OrderRow } from './model.js';
import { appendEvent, recordBrokerOrder, transitionOrder } from './store.js';
import { brokerErrorKind } from './submit.js';

/**
 * The kill switch: one row shared by every replica on the database. Engaged, the write-ahead
 * INSERT refuses new orders atomically (403), the retrier and reconciliation send nothing, and
 * engaging cancels every open order — ours at the broker (pending ones not yet there are
 * canceled locally) and any other open order the broker holds for the account.
 * Every engage/disengage is in kill_switch_events (append-only).
 */
export interface KillSwitchState {
  engaged: boolean;
  reason: string | null;
  actor: string | null;
  changed_at: string | null;
}

export interface KillSwitchChange extends KillSwitchState {
  canceled: Array<{ client_order_id: string; symbol: string; where: 'broker' | 'local' }>;
  cancel_errors: Array<{ client_order_id: string; error: string }>;
}

export async function getKillSwitch(ctx: GatewayContext): Promise<KillSwitchState & { history: Array<{ action: string; reason: string; actor: string; created_at: string }> }> {
  const s = await ctx.db.query<KillSwitchState>('SELECT engaged, reason, actor, changed_at FROM kill_switch WHERE id');
  const h = await ctx.db.query<{ action: string; reason: string; actor: string; created_at: string }>('SELECT action, reason, actor, created_at FROM kill_switch_events ORDER BY id DESC LIMIT 20');
  return { ...(s.rows[0] ?? { engaged: false, reason: null, actor: null, changed_at: null }), history: h.rows };
}

async function setKillSwitch(ctx: GatewayContext, engaged: boolean, reason: string, actor: string, detail: Record<string, unknown> = {}): Promise<KillSwitchState> {
  const at = ctx.clock.now().toISOString();
  return ctx.db.transaction(async (tx) => {
    const r = await tx.query<KillSwitchState>('UPDATE kill_switch SET engaged = $1, reason = $2, actor = $3, changed_at = $4 WHERE id RETURNING engaged, reason, actor, changed_at', [engaged, reason, actor, at]);
    await tx.query('INSERT INTO kill_switch_events (action, reason, actor, detail, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)', [engaged ? 'engage' : 'disengage', reason, actor, JSON.stringify(detail), at]);
    return r.rows[0]!;
  });
}

export async function engageKillSwitch(ctx: GatewayContext, input: { reason: string; actor: string }): Promise<KillSwitchChange> {
  const state = await setKillSwitch(ctx, true, input.reason, input.actor);
  ctx.logger.warn({ reason: input.reason, actor: input.actor }, 'kill switch engaged: refusing new orders, canceling open orders');
  const result = await cancelEverything(ctx);
  return { ...state, ...result };
}

export async function disengageKillSwitch(ctx: GatewayContext, input: { reason: string; actor: string }): Promise<KillSwitchState> {
  const state = await setKillSwitch(ctx, false, input.reason, input.actor);
  ctx.logger.warn({ reason: input.reason, actor: input.actor }, 'kill switch disengaged: accepting orders');
  return state;
}

async function cancelEverything(ctx: GatewayContext): Promise<Pick<KillSwitchChange, 'canceled' | 'cancel_errors'>> {
  const canceled: KillSwitchChange['canceled'] = [];
  const errors: KillSwitchChange['cancel_errors'] = [];
  const open = (await ctx.db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE status IN ('pending_new', 'accepted', 'new', 'partially_filled') ORDER BY created_at`)).rows;
  const done = new Set<string>();
  for (const order of open) {
    done.add(order.client_order_id);
    try {
      let brokerId = order.broker_order_id;
      if (!brokerId) {
        const bo = await ctx.broker.getOrderByClientId(order.client_order_id);
        if (!bo) {
          const c = await transitionOrder(ctx.db, order.id, 'canceled', { kind: 'canceled_unsent', source: 'kill_switch', at: ctx.clock.now(), error: 'kill switch engaged before the order reached the broker' });
          if (c) canceled.push({ client_order_id: order.client_order_id, symbol: order.symbol, where: 'local' });
          continue;
        }
        brokerId = bo.id;
      }
      const after = await cancelAtBroker(ctx, brokerId, order.client_order_id);
      if (after) await recordBrokerOrder(ctx.db, order.id, after, { kind: 'canceled_by_kill_switch', source: 'kill_switch', at: ctx.clock.now() });
      else await appendEvent(ctx.db, { orderId: order.id, clientOrderId: order.client_order_id, kind: 'cancel_requested', source: 'kill_switch', at: ctx.clock.now(), detail: { broker_order_id: brokerId } });
      canceled.push({ client_order_id: order.client_order_id, symbol: order.symbol, where: 'broker' });
    } catch (e) {
      ctx.metrics.brokerErrors.inc({ op: 'cancel', kind: brokerErrorKind(e) });
      errors.push({ client_order_id: order.client_order_id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  // Open orders at the broker that are not ours (or not yet known here): the switch stops them too.
  try {
    const theirs = await ctx.broker.listOrders({ status: 'open', limit: 500 });
    for (const bo of theirs) {
      if (done.has(bo.client_order_id)) continue;
      try {
        await cancelAtBroker(ctx, bo.id, bo.client_order_id);
        canceled.push({ client_order_id: bo.client_order_id, symbol: bo.symbol, where: 'broker' });
        await appendEvent(ctx.db, { orderId: null, clientOrderId: bo.client_order_id, kind: 'cancel_requested', source: 'kill_switch', at: ctx.clock.now(), detail: { broker_order_id: bo.id, not_ours: true } });
      } catch (e) {
        errors.push({ client_order_id: bo.client_order_id, error: e instanceof Error ? e.message : String(e) });
      }
    }
  } catch (e) {
    ctx.metrics.brokerErrors.inc({ op: 'list', kind: brokerErrorKind(e) });
    errors.push({ client_order_id: '*', error: `could not list the broker's open orders: ${e instanceof Error ? e.message : String(e)}` });
  }
  return { canceled, cancel_errors: errors };
}

/** Cancels at the broker and returns the order's state there afterwards (null if it cannot be read). A "not cancelable" answer is not an error: it already finished. */
export async function cancelAtBroker(ctx: GatewayContext, brokerOrderId: string, clientOrderId: string): Promise<BrokerOrder | null> {
  try {
    await ctx.broker.cancelOrder(brokerOrderId);
  } catch (e) {
    if (!(e instanceof BrokerRejectedError && (e.status === 422 || e.status === 404))) throw e;
  }
  try {
    return await ctx.broker.getOrderByClientId(clientOrderId);
  } catch {
    return null;
  }
}

import { BrokerUnavailableError } from './broker.js';
import type { GatewayContext } from './context.js';
import type { OrderRow } from './model.js';
import { isTerminal } from './order-state.js';
import { HttpError } from '../observability/http-app.js';
import { cancelAtBroker } from './kill-switch.js';
import { appendEvent, findOrderByClientId, recordBrokerOrder, transitionOrder } from './store.js';
import { brokerErrorKind } from './submit.js';

/**
 * DELETE /api/v1/orders/:client_order_id. At the broker → cancel there and record its answer
 * (final: 200; still open, e.g. pending_cancel: 202 — the stream brings the rest). Pending and
 * not at the broker → canceled here (a submission still in flight cancels itself at the broker
 * when it lands, see sendToBroker). Already final → 409 with the status.
 */
export async function cancelOrder(ctx: GatewayContext, clientOrderId: string): Promise<{ order: OrderRow; final: boolean }> {
  const order = await findOrderByClientId(ctx.db, clientOrderId);
  if (!order) throw new HttpError(404, 'order_not_found', `no order with client_order_id ${clientOrderId}`);
  if (isTerminal(order.status)) throw new HttpError(409, 'not_cancelable', `order ${clientOrderId} is already ${order.status}`);
  try {
    let brokerId = order.broker_order_id;
    if (!brokerId) {
      const bo = await ctx.broker.getOrderByClientId(clientOrderId);
      if (!bo) {
        const c = await transitionOrder(ctx.db, order.id, 'canceled', { kind: 'canceled_unsent', source: 'api', at: ctx.clock.now(), error: 'canceled before it reached the broker' });
        const now = c ?? (await findOrderByClientId(ctx.db, clientOrderId))!;
        return { order: now, final: isTerminal(now.status) };
      }
      brokerId = bo.id;
    }
    const after = await cancelAtBroker(ctx, brokerId, clientOrderId);
    await appendEvent(ctx.db, { orderId: order.id, clientOrderId, kind: 'cancel_requested', source: 'api', at: ctx.clock.now(), detail: { broker_order_id: brokerId } });
    const stored = after ? await recordBrokerOrder(ctx.db, order.id, after, { kind: 'cancel_answer', source: 'api', at: ctx.clock.now() }) : null;
    const now = stored ?? (await findOrderByClientId(ctx.db, clientOrderId))!;
    return { order: now, final: isTerminal(now.status) };
  } catch (e) {
    if (e instanceof BrokerUnavailableError) {
      ctx.metrics.brokerErrors.inc({ op: 'cancel', kind: brokerErrorKind(e) });
      throw new HttpError(503, 'broker_unavailable', 'the broker is unavailable; the order was not canceled, retry later');
    }
    throw e;
  }
}

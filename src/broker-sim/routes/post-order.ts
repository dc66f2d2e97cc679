import type { FastifyInstance, FastifyReply } from 'fastify';
import { AlpacaApiError, CODES } from '../errors.js';
import type { OrderInput } from '../engine.js';
import type { Faults } from '../faults.js';
import { AlpacaErrorSchema, AnyObject, type SimContext } from './context.js';

/** Alpaca accepts decimals as strings or JSON numbers; both are checked as text (no coercion). */
const dec = { type: ['string', 'number'], description: 'decimal string (or a JSON number, read through its shortest text)' } as const;

export const postOrderSchema = {
  tags: ['orders'],
  summary: 'submit an order (market or limit, whole shares)',
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['symbol', 'side', 'type'],
    properties: {
      symbol: { type: 'string', minLength: 1 },
      qty: dec,
      notional: dec,
      side: { type: 'string' },
      type: { type: 'string' },
      time_in_force: { type: 'string' },
      limit_price: dec,
      stop_price: dec,
      trail_price: dec,
      trail_percent: dec,
      extended_hours: { type: 'boolean' },
      client_order_id: { type: 'string' },
      order_class: { type: 'string' },
      take_profit: { type: 'object' },
      stop_loss: { type: 'object' },
      legs: { type: 'array' },
      position_intent: { type: 'string' },
      advanced_instructions: { type: 'object' },
    },
  },
  response: { 200: AnyObject, 403: AlpacaErrorSchema, 422: AlpacaErrorSchema },
} as const;

export function registerPostOrder(r: FastifyInstance, ctx: SimContext): void {
  const orders = ctx.metrics.counter('broker_sim_orders_total', 'order submissions by outcome', ['outcome']);
  r.post('/orders', { schema: postOrderSchema }, async (req, reply) => {
    const fault = ctx.faults.takeSubmitFault();
    if (fault && !fault.afterCreate) return injectFault(fault, reply, ctx);
    let order;
    try {
      order = ctx.sim.submitOrder(req.body as OrderInput);
    } catch (err) {
      orders.inc({ outcome: err instanceof AlpacaApiError ? `refused_${err.statusCode}` : 'error' });
      throw err;
    }
    orders.inc({ outcome: 'accepted' });
    if (fault) return injectFault(fault, reply, ctx);
    return order;
  });
}

function injectFault(fault: NonNullable<ReturnType<Faults['takeSubmitFault']>>, reply: FastifyReply, ctx: SimContext) {
  if (fault.mode === 'hang') {
    reply.hijack();
    ctx.faults.hold(reply.raw, fault.hangMs);
    return reply;
  }
  if (fault.mode === 'error_503') throw new AlpacaApiError(503, 50310000, 'service unavailable (injected fault)');
  throw new AlpacaApiError(500, CODES.internal, 'internal server error (injected fault)');
}

import type { FastifyInstance } from 'fastify';
import { AlpacaErrorSchema, type SimContext } from './context.js';

export const cancelOrderSchema = {
  tags: ['orders'],
  summary: 'cancel an open order: 204, 404 if unknown, 422 if no longer cancelable',
  params: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  response: { 204: { type: 'null' }, 404: AlpacaErrorSchema, 422: AlpacaErrorSchema },
} as const;

export function registerCancelOrder(r: FastifyInstance, ctx: SimContext): void {
  r.delete('/orders/:order_id', { schema: cancelOrderSchema }, async (req, reply) => {
    ctx.sim.cancelOrder((req.params as { order_id: string }).order_id);
    return reply.status(204).send();
  });
}

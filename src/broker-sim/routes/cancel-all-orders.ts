import type { FastifyInstance } from 'fastify';
import type { SimContext } from './context.js';

export const cancelAllOrdersSchema = {
  tags: ['orders'],
  summary: 'cancel every open order: 207 with one {id, status, body} per order',
} as const;

export function registerCancelAllOrders(r: FastifyInstance, ctx: SimContext): void {
  r.delete('/orders', { schema: cancelAllOrdersSchema }, async (_req, reply) => {
    const canceled = ctx.sim.cancelAllOrders();
    return reply.status(207).send(canceled.map((o) => ({ id: o.id, status: 200, body: o })));
  });
}

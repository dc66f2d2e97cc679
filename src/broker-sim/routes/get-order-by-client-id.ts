import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import { AlpacaErrorSchema, type SimContext } from './context.js';

export const getOrderByClientIdSchema = {
  tags: ['orders'],
  summary: 'one order by its client_order_id (GET /v2/orders:by_client_order_id)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    required: ['client_order_id'],
    properties: { client_order_id: { type: 'string', minLength: 1 }, nested: { type: 'boolean' } },
  },
  response: { 404: AlpacaErrorSchema, 422: AlpacaErrorSchema },
} as const;

export function registerGetOrderByClientId(r: FastifyInstance, ctx: SimContext): void {
  // `::` is find-my-way's escape for a literal colon: the path is /v2/orders:by_client_order_id.
  r.get('/orders::by_client_order_id', { schema: getOrderByClientIdSchema }, async (req) => {
    const order = ctx.sim.getOrderByClientId((req.query as { client_order_id: string }).client_order_id);
    if (!order) throw notFound('order not found');
    return order;
  });
}

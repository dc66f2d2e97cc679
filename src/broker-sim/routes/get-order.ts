import type { FastifyInstance } from 'fastify';
import { AlpacaErrorSchema, type SimContext } from './context.js';

export const getOrderSchema = {
  tags: ['orders'],
  summary: 'one order by its id',
  params: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  querystring: { type: 'object', properties: { nested: { type: 'boolean' } } },
  response: { 404: AlpacaErrorSchema, 422: AlpacaErrorSchema },
} as const;

export function registerGetOrder(r: FastifyInstance, ctx: SimContext): void {
  r.get('/orders/:order_id', { schema: getOrderSchema }, async (req) => ctx.sim.getOrder((req.params as { order_id: string }).order_id));
}

import type { FastifyInstance } from 'fastify';
import { cancelOrder } from '../cancel.js';
import { BEARER, ClientOrderIdParams, errors, OrderSchema } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const cancelOrderSchema = {
  tags: ['orders'],
  summary: 'cancel an order',
  description: '200 when the order is final (canceled, or filled meanwhile); 202 when the broker took the request and the order is still open; 409 when it was already final.',
  security: BEARER,
  params: ClientOrderIdParams,
  response: { 200: OrderSchema, 202: OrderSchema, ...errors(400, 401, 404, 409, 503) },
} as const;

export function registerCancelOrder(app: FastifyInstance, d: RouteDeps): void {
  app.delete('/api/v1/orders/:client_order_id', { schema: cancelOrderSchema, onRequest: d.guard }, async (req, reply) => {
    const { order, final } = await cancelOrder(d.ctx, (req.params as { client_order_id: string }).client_order_id);
    return reply.status(final ? 200 : 202).send(order);
  });
}

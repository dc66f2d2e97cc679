import type { FastifyInstance } from 'fastify';
import { getOrder } from '../queries.js';
import { ClientOrderIdParams, errors, OrderSchema } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const getOrderSchema = {
  tags: ['orders'],
  summary: 'one order by client_order_id',
  params: ClientOrderIdParams,
  response: { 200: OrderSchema, ...errors(400, 404, 503) },
} as const;

export function registerGetOrder(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/orders/:client_order_id', { schema: getOrderSchema }, async (req) => getOrder(d.ctx, (req.params as { client_order_id: string }).client_order_id));
}

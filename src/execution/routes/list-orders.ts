import type { FastifyInstance } from 'fastify';
import { listOrders, type OrderListQuery } from '../queries.js';
import { errors, OrderSchema } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const listOrdersSchema = {
  tags: ['orders'],
  summary: 'orders, newest first, filtered and paged (pass next_cursor as cursor for the next page)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', maxLength: 200, description: 'one status or a comma-separated list', examples: ['pending_new,new'] },
      symbol: { type: 'string', maxLength: 16, examples: ['AAPL'] },
      strategy_id: { type: 'string', maxLength: 64, examples: ['momentum-v2'] },
      since: { type: 'string', maxLength: 40, description: 'created at or after this instant', examples: ['2025-01-17T00:00:00Z'] },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
      cursor: { type: 'string', maxLength: 200, description: 'next_cursor of the previous page' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { orders: { type: 'array', items: OrderSchema }, next_cursor: { type: ['string', 'null'] } },
      required: ['orders', 'next_cursor'],
    },
    ...errors(400, 503),
  },
} as const;

export function registerListOrders(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/orders', { schema: listOrdersSchema }, async (req) => listOrders(d.ctx, req.query as OrderListQuery));
}

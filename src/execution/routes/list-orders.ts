import type { FastifyInstance } from 'fastify';
import { SYMBOL_INPUT_PATTERN } from '../../model/symbol.js';
import { instantParam, limitParam } from '../../observability/params.js';
import { STRATEGY_ID_PATTERN } from '../order-input.js';
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
      status: { type: 'string', maxLength: 200, pattern: '^[a-z_]+(,[a-z_]+)*$', description: 'one status or a comma-separated list', examples: ['pending_new,new'] },
      symbol: { type: 'string', maxLength: 14, pattern: SYMBOL_INPUT_PATTERN, examples: ['AAPL'] },
      strategy_id: { type: 'string', maxLength: 64, pattern: STRATEGY_ID_PATTERN, examples: ['momentum-v2'] },
      since: instantParam('created at or after this instant (a date is its UTC midnight); 1970-2199'),
      limit: limitParam(500, 100),
      cursor: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page' },
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

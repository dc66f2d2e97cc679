import type { FastifyInstance } from 'fastify';
import type { OrderRequest } from '../order-input.js';
import { BEARER, errors, ORDER_EXAMPLE, OrderSchema } from '../schemas.js';
import { submitOrder } from '../submit.js';
import type { RouteDeps } from './deps.js';

export const postOrderSchema = {
  tags: ['orders'],
  summary: 'submit an order (idempotent: the same order again returns the existing one)',
  description:
    'Writes the order ahead (pending_new), then sends it to the broker with a deterministic client_order_id. ' +
    '201 when this call created it, 200 with the existing order when it was already known (nothing is sent twice). ' +
    '400: malformed body / unknown or missing fields; 422: invalid values, stale trade_date or a pre-trade refusal (code = the check\'s code); ' +
    '403: kill switch engaged; 409: a client_order_id reused for a different order; 503: database unavailable (nothing sent).',
  security: BEARER,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['strategy_id', 'symbol', 'side', 'qty', 'order_type'],
    properties: {
      strategy_id: { type: 'string', minLength: 1, maxLength: 64, description: 'who wants the order; part of the derived client_order_id', examples: ['momentum-v2'] },
      symbol: { type: 'string', minLength: 1, maxLength: 16, description: 'US equity ticker: A-Z 0-9, optional .CLASS (BRK.B); ASCII lower case is upper-cased, anything else is refused (422)', examples: ['AAPL'] },
      side: { type: 'string', enum: ['buy', 'sell'] },
      qty: { type: 'string', minLength: 1, maxLength: 32, description: 'whole shares, > 0, at most 10000000 (a decimal string; a JSON number is 400)', examples: ['10'] },
      order_type: { type: 'string', enum: ['market', 'limit'] },
      limit_price: { type: ['string', 'null'], maxLength: 32, description: 'required for limit orders, absent for market orders; a decimal string 0 < p < 1000000000, cents at or above $1, 4 places below', examples: ['187.25'] },
      time_in_force: { type: 'string', enum: ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'], default: 'day' },
      client_order_id: { type: 'string', minLength: 1, maxLength: 128, description: 'your own idempotency key (default: derived from the order and trade date)', examples: ['my-rebalance-2025-01-17-aapl'] },
      trade_date: { type: 'string', minLength: 10, maxLength: 10, description: 'America/New_York date the order is for (default: today)', examples: ['2025-01-17'] },
    },
    examples: [
      { strategy_id: 'momentum-v2', symbol: 'AAPL', side: 'buy', qty: '10', order_type: 'limit', limit_price: '187.25' },
      { strategy_id: 'momentum-v2', symbol: 'MSFT', side: 'sell', qty: '5', order_type: 'market', time_in_force: 'day' },
    ],
  },
  response: {
    200: { ...OrderSchema, description: 'the order already existed (nothing was sent)' },
    201: { ...OrderSchema, description: 'created (status pending_new if the broker is unreachable: the retrier sends it)', example: ORDER_EXAMPLE },
    ...errors(400, 401, 403, 409, 413, 422, 503),
  },
} as const;

export function registerPostOrder(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/orders', { schema: postOrderSchema, onRequest: d.guard }, async (req, reply) => {
    const { order, created } = await submitOrder(d.ctx, req.body as OrderRequest);
    reply.header('location', `/api/v1/orders/${encodeURIComponent(order.client_order_id)}`);
    return reply.status(created ? 201 : 200).send(order);
  });
}

import type { FastifyInstance } from 'fastify';
import { getAccount } from '../queries.js';
import { errors } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const getAccountSchema = {
  tags: ['account'],
  summary: "the broker's account figures with the gateway's own totals",
  response: {
    200: {
      type: 'object',
      properties: {
        broker: { type: 'string', example: 'alpaca' },
        account: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            status: { type: 'string' },
            currency: { type: 'string' },
            cash: { type: 'string' },
            equity: { type: 'string' },
            buying_power: { type: 'string' },
            portfolio_value: { type: 'string' },
            long_market_value: { type: 'string' },
            short_market_value: { type: 'string' },
          },
        },
        realized_pnl: { type: 'string', description: 'sum over positions' },
        open_positions: { type: 'integer' },
        open_orders: { type: 'integer' },
        pending_orders: { type: 'integer', description: 'written ahead, not yet acknowledged by the broker' },
      },
      required: ['broker', 'account', 'realized_pnl', 'open_positions', 'open_orders', 'pending_orders'],
    },
    ...errors(503),
  },
} as const;

export function registerGetAccount(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/account', { schema: getAccountSchema }, async () => getAccount(d.ctx));
}

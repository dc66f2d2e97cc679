import type { FastifyInstance } from 'fastify';
import { listPositions } from '../queries.js';
import { errors } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const PositionSchema = {
  type: 'object',
  properties: {
    symbol: { type: 'string' },
    qty: { type: 'string', description: 'signed: negative for a short' },
    avg_entry_price: { type: 'string', description: 'average cost of the open quantity' },
    cost_basis: { type: 'string', description: 'qty × avg_entry_price, exact' },
    realized_pnl: { type: 'string', description: 'realized P&L of this symbol so far (average-cost)' },
    updated_at: { type: 'string' },
  },
  required: ['symbol', 'qty', 'avg_entry_price', 'cost_basis', 'realized_pnl', 'updated_at'],
  example: { symbol: 'AAPL', qty: '25', avg_entry_price: '103', cost_basis: '2575', realized_pnl: '105', updated_at: '2025-01-17T15:02:11.120Z' },
} as const;

export const getPositionsSchema = {
  tags: ['positions'],
  summary: 'positions from fills (average-cost accounting); flat ones only with include_flat=true',
  querystring: { type: 'object', additionalProperties: false, properties: { include_flat: { type: 'boolean', default: false } } },
  response: { 200: { type: 'object', properties: { positions: { type: 'array', items: PositionSchema } }, required: ['positions'] }, ...errors(400, 503) },
} as const;

export function registerGetPositions(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/positions', { schema: getPositionsSchema }, async (req) => ({ positions: await listPositions(d.ctx, (req.query as { include_flat?: boolean }).include_flat ?? false) }));
}

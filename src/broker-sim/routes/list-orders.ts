import type { FastifyInstance } from 'fastify';
import type { OrderSide } from '../../execution/broker.js';
import { AlpacaErrorSchema, type SimContext } from './context.js';

export const listOrdersSchema = {
  tags: ['orders'],
  summary: 'list orders (default: open, newest first, 50)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['open', 'closed', 'all'], default: 'open' },
      limit: { type: 'integer', minimum: 1, default: 50, description: 'capped at 500' },
      after: { type: 'string', maxLength: 40, description: 'only orders submitted after this instant' },
      until: { type: 'string', maxLength: 40, description: 'only orders submitted before this instant' },
      direction: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
      nested: { type: 'boolean' },
      symbols: { type: 'string', maxLength: 16_000, description: 'comma-separated' },
      side: { type: 'string', enum: ['buy', 'sell'] },
    },
  },
  response: { 422: AlpacaErrorSchema },
} as const;

interface Query {
  status: 'open' | 'closed' | 'all';
  limit: number;
  after?: string;
  until?: string;
  direction: 'asc' | 'desc';
  symbols?: string;
  side?: OrderSide;
}

export function registerListOrders(r: FastifyInstance, ctx: SimContext): void {
  r.get('/orders', { schema: listOrdersSchema }, async (req) => {
    const q = req.query as Query;
    const symbols = q.symbols ? q.symbols.split(/[ \t]*,[ \t]*/).filter(Boolean) : undefined;
    return ctx.sim.listOrders({ ...q, symbols });
  });
}

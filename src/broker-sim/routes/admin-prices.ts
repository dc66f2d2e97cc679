import type { FastifyInstance } from 'fastify';
import { asciiUpper } from '../../model/symbol.js';
import { ErrorSchema, HttpError } from '../../observability/http-app.js';
import { AlpacaApiError } from '../errors.js';
import type { SimContext } from './context.js';

export const adminPricesSchema = {
  tags: ['admin'],
  summary: 'set last prices (positive decimal strings); resting orders on those symbols are re-checked',
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['prices'],
    properties: { prices: { type: 'object', additionalProperties: { type: 'string' }, description: 'e.g. {"AAPL": "187.25"}' } },
  },
  response: { 422: ErrorSchema },
} as const;

export function registerAdminPrices(r: FastifyInstance, ctx: SimContext): void {
  r.post('/admin/prices', { schema: adminPricesSchema }, async (req) => {
    const { prices } = req.body as { prices: Record<string, string> };
    try {
      ctx.sim.setPrices(prices);
    } catch (err) {
      if (err instanceof AlpacaApiError) throw new HttpError(422, 'invalid_price', err.message);
      throw err;
    }
    return { prices: Object.fromEntries(Object.keys(prices).map((s) => [asciiUpper(s), ctx.sim.price(s)])) };
  });
}

import type { FastifyInstance } from 'fastify';
import { AlpacaErrorSchema, type SimContext } from './context.js';

export const getPositionSchema = {
  tags: ['positions'],
  summary: 'one open position; 404 when there is none',
  params: { type: 'object', properties: { symbol: { type: 'string' } }, required: ['symbol'] },
  response: { 404: AlpacaErrorSchema },
} as const;

export function registerGetPosition(r: FastifyInstance, ctx: SimContext): void {
  r.get('/positions/:symbol', { schema: getPositionSchema }, async (req) => ctx.sim.getPosition((req.params as { symbol: string }).symbol));
}

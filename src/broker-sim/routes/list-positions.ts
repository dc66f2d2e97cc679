import type { FastifyInstance } from 'fastify';
import type { SimContext } from './context.js';

export const listPositionsSchema = { tags: ['positions'], summary: 'open positions (qty negative for shorts)' } as const;

export function registerListPositions(r: FastifyInstance, ctx: SimContext): void {
  r.get('/positions', { schema: listPositionsSchema }, async () => ctx.sim.listPositions());
}

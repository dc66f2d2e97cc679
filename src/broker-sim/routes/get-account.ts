import type { FastifyInstance } from 'fastify';
import type { SimContext } from './context.js';

export const getAccountSchema = { tags: ['account'], summary: 'cash, equity, buying power, market values' } as const;

export function registerGetAccount(r: FastifyInstance, ctx: SimContext): void {
  r.get('/account', { schema: getAccountSchema }, async () => ctx.sim.getAccount());
}

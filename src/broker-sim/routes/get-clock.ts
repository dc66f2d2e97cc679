import type { FastifyInstance } from 'fastify';
import { marketClock } from '../market-clock.js';
import type { SimContext } from './context.js';

export const getClockSchema = { tags: ['clock'], summary: 'market open/closed and the next session times (NYSE calendar)' } as const;

export function registerGetClock(r: FastifyInstance, ctx: SimContext): void {
  r.get('/clock', { schema: getClockSchema }, async () => marketClock(ctx.clock.now()));
}

import type { FastifyInstance } from 'fastify';
import type { SimContext } from './context.js';

export const adminResetSchema = {
  tags: ['admin'],
  summary: 'fresh account (starting cash, no orders, no positions), no faults, stream enabled; prices are kept',
} as const;

export const adminExpireSchema = { tags: ['admin'], summary: 'end of session: open day orders expire' } as const;

export function registerAdminReset(r: FastifyInstance, ctx: SimContext): void {
  r.post('/admin/reset', { schema: adminResetSchema }, async () => {
    ctx.sim.reset();
    ctx.faults.clear();
    ctx.stream.setEnabled(true);
    return { reset: true };
  });
  r.post('/admin/expire-day-orders', { schema: adminExpireSchema }, async () => ({ expired: ctx.sim.expireDayOrders().length }));
}

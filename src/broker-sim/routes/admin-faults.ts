import type { FastifyInstance } from 'fastify';
import type { SubmitFaultMode } from '../faults.js';
import type { SimContext } from './context.js';

export const adminFaultsSchema = {
  tags: ['admin'],
  summary: 'inject broker outages: failing/hanging order submissions, stream drop/disable/enable',
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      submit: {
        type: 'object',
        additionalProperties: false,
        required: ['count', 'mode'],
        properties: {
          count: { type: 'integer', minimum: 0, description: 'the next N POST /v2/orders fail' },
          mode: { type: 'string', enum: ['error_500', 'error_503', 'hang'] },
          after_create: { type: 'boolean', description: 'record the order, then lose the answer' },
          hang_ms: { type: 'integer', minimum: 0, description: 'hang: cut the connection after this long' },
        },
      },
      stream: { type: 'string', enum: ['drop', 'disable', 'enable'], description: 'drop: cut current connections; disable: also refuse new ones' },
    },
  },
} as const;

interface Body {
  submit?: { count: number; mode: SubmitFaultMode; after_create?: boolean; hang_ms?: number };
  stream?: 'drop' | 'disable' | 'enable';
}

export function registerAdminFaults(r: FastifyInstance, ctx: SimContext): void {
  const state = () => ({ submit: ctx.faults.pending(), stream: { enabled: ctx.stream.isEnabled, clients: ctx.stream.clientCount } });
  r.get('/admin/faults', { schema: { tags: ['admin'], summary: 'pending faults' } }, async () => state());
  r.post('/admin/faults', { schema: adminFaultsSchema }, async (req) => {
    const b = req.body as Body;
    if (b.submit) ctx.faults.failNextSubmissions({ count: b.submit.count, mode: b.submit.mode, afterCreate: b.submit.after_create, hangMs: b.submit.hang_ms });
    if (b.stream === 'drop') ctx.stream.drop();
    if (b.stream === 'disable') ctx.stream.setEnabled(false);
    if (b.stream === 'enable') ctx.stream.setEnabled(true);
    return state();
  });
  r.delete('/admin/faults', { schema: { tags: ['admin'], summary: 'clear faults, cut held connections, enable the stream' } }, async () => {
    ctx.faults.clear();
    ctx.stream.setEnabled(true);
    return state();
  });
}

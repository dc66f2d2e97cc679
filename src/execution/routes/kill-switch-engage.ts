import type { FastifyInstance } from 'fastify';
import { engageKillSwitch } from '../kill-switch.js';
import { BEARER, errors, KillSwitchStateSchema, ReasonBody } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const engageKillSwitchSchema = {
  tags: ['kill switch'],
  summary: 'engage: refuse new orders (403) on every replica and cancel all open orders',
  security: BEARER,
  body: ReasonBody,
  response: {
    200: {
      type: 'object',
      properties: {
        ...KillSwitchStateSchema.properties,
        canceled: { type: 'array', items: { type: 'object', properties: { client_order_id: { type: 'string' }, symbol: { type: 'string' }, where: { type: 'string', enum: ['broker', 'local'] } } } },
        cancel_errors: { type: 'array', items: { type: 'object', properties: { client_order_id: { type: 'string' }, error: { type: 'string' } } } },
      },
    },
    ...errors(400, 401, 503),
  },
} as const;

export function registerEngageKillSwitch(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/kill-switch/engage', { schema: engageKillSwitchSchema, onRequest: d.guard }, async (req) => {
    const b = req.body as { reason: string; actor?: string };
    return engageKillSwitch(d.ctx, { reason: b.reason, actor: b.actor ?? 'api' });
  });
}

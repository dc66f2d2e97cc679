import type { FastifyInstance } from 'fastify';
import { getKillSwitch } from '../kill-switch.js';
import { errors, KillSwitchStateSchema } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const getKillSwitchSchema = {
  tags: ['kill switch'],
  summary: 'kill switch state (shared by all replicas) and its last 20 changes',
  response: {
    200: {
      type: 'object',
      properties: {
        ...KillSwitchStateSchema.properties,
        history: {
          type: 'array',
          items: { type: 'object', properties: { action: { type: 'string' }, reason: { type: 'string' }, actor: { type: 'string' }, created_at: { type: 'string' } } },
        },
      },
      example: { engaged: false, reason: 'resolved', actor: 'alice', changed_at: '2025-01-17T15:10:00.000Z', history: [] },
    },
    ...errors(503),
  },
} as const;

export function registerGetKillSwitch(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/kill-switch', { schema: getKillSwitchSchema }, async () => getKillSwitch(d.ctx));
}

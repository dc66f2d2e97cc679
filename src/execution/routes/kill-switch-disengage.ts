import type { FastifyInstance } from 'fastify';
import { disengageKillSwitch } from '../kill-switch.js';
import { BEARER, errors, KillSwitchStateSchema, ReasonBody } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const disengageKillSwitchSchema = {
  tags: ['kill switch'],
  summary: 'disengage: accept new orders again (canceled orders stay canceled)',
  security: BEARER,
  body: ReasonBody,
  response: { 200: KillSwitchStateSchema, ...errors(400, 401, 503) },
} as const;

export function registerDisengageKillSwitch(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/kill-switch/disengage', { schema: disengageKillSwitchSchema, onRequest: d.guard }, async (req) => {
    const b = req.body as { reason: string; actor?: string };
    return disengageKillSwitch(d.ctx, { reason: b.reason, actor: b.actor ?? 'api' });
  });
}

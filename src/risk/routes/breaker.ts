import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../../observability/http-app.js';
import type { ChangeOutcome } from '../service.js';
import type { RiskRouteOptions } from './context.js';
import { ChangeBodySchema, ChangeResponseSchema, ErrorSchema } from './schemas.js';

interface ChangeBody {
  reason: string;
  actor?: string;
}

function answer(out: ChangeOutcome, reply: FastifyReply) {
  if (out.status !== 200) throw new HttpError(out.status, out.code, out.message);
  return reply.status(200).send(out.body);
}

const audit = (req: FastifyRequest) => ({ via: 'api', trace_id: req.id, ip: req.ip });

/**
 * POST /api/v1/risk/breaker/trip and /reset: manual control of the shared circuit breaker,
 * bearer-protected, audited with who (`actor`, default `api`), why (`reason`) and when (UTC).
 */
export const breakerRoutes: FastifyPluginAsync<RiskRouteOptions> = async (app, { service, auth }) => {
  app.post<{ Body: ChangeBody }>(
    '/api/v1/risk/breaker/trip',
    {
      onRequest: auth,
      schema: {
        tags: ['risk'],
        summary: 'trip the circuit breaker: risk-increasing orders are refused on every replica',
        description: 'Idempotent: tripping a TRIPPED breaker answers 200 with changed=false. From QUIET_PERIOD it trips again.',
        security: [{ bearer: [] }],
        body: ChangeBodySchema,
        response: { 200: ChangeResponseSchema, 401: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (req, reply) => answer(await service.trip(req.body.reason, req.body.actor ?? 'api', audit(req)), reply),
  );

  app.post<{ Body: ChangeBody }>(
    '/api/v1/risk/breaker/reset',
    {
      onRequest: auth,
      schema: {
        tags: ['risk'],
        summary: 'reset a TRIPPED breaker: QUIET_PERIOD (cool-down), then OPEN',
        description:
          'The equity at the reset becomes the daily-loss reference for the rest of the trading day. 409 when the breaker is not TRIPPED; 503 when equity cannot be read (the daily-loss trigger could not be re-armed).',
        security: [{ bearer: [] }],
        body: ChangeBodySchema,
        response: { 200: ChangeResponseSchema, 401: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (req, reply) => answer(await service.reset(req.body.reason, req.body.actor ?? 'api', audit(req)), reply),
  );
};

import type { FastifyPluginAsync } from 'fastify';
import { RISK_EVENT_KINDS, type RiskEventKind } from '../events.js';
import type { RiskRouteOptions } from './context.js';
import { RiskEventSchema } from './schemas.js';

interface EventsQuery {
  kind?: RiskEventKind;
  symbol?: string;
  before?: number;
  limit?: number;
}

/** GET /api/v1/risk/events: the risk audit trail, newest first, paged with `before`. */
export const eventsRoute: FastifyPluginAsync<RiskRouteOptions> = async (app, { service }) => {
  app.get<{ Querystring: EventsQuery }>(
    '/api/v1/risk/events',
    {
      schema: {
        tags: ['risk'],
        summary: 'risk audit trail: refused orders, breaker transitions, de-risking actions',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: [...RISK_EVENT_KINDS], examples: ['breaker'] },
            symbol: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,9}(\\.[A-Z0-9]{1,3})?$', examples: ['AAPL'] },
            before: { type: 'integer', minimum: 1, description: 'only events with id < before (the previous page\'s next_before)' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              events: { type: 'array', items: RiskEventSchema },
              next_before: { type: 'integer', nullable: true, description: 'pass as `before` for the next page; null on the last page' },
            },
          },
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const events = await service.events({ ...req.query, limit });
      return { events, next_before: events.length === limit ? events[events.length - 1]!.id : null };
    },
  );
};

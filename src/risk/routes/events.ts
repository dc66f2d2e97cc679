import type { FastifyPluginAsync } from 'fastify';
import { asciiUpper, SYMBOL_INPUT_PATTERN } from '../../model/symbol.js';
import { idParam, limitParam } from '../../observability/params.js';
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
            symbol: { type: 'string', maxLength: 14, pattern: SYMBOL_INPUT_PATTERN, examples: ['AAPL'] },
            before: idParam("only events with id < before (the previous page's next_before)"),
            limit: limitParam(500, 50),
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
      const events = await service.events({ ...req.query, ...(req.query.symbol ? { symbol: asciiUpper(req.query.symbol) } : {}), limit });
      return { events, next_before: events.length === limit ? events[events.length - 1]!.id : null };
    },
  );
};

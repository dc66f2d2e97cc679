import type { FastifyPluginAsync } from 'fastify';
import { BreakerStateSchema } from './schemas.js';
import type { RiskRouteOptions } from './context.js';

/** GET /api/v1/risk/status: breaker state, today's loss against its threshold, equity, kill switch, limits. */
export const statusRoute: FastifyPluginAsync<RiskRouteOptions> = async (app, { service }) => {
  app.get(
    '/api/v1/risk/status',
    {
      schema: {
        tags: ['risk'],
        summary: 'circuit breaker, daily loss, kill switch and limits in one answer',
        response: {
          200: {
            type: 'object',
            properties: {
              as_of: { type: 'string', format: 'date-time', example: '2025-01-17T15:45:00.000Z' },
              trade_date: { type: 'string', example: '2025-01-17' },
              breaker: { ...BreakerStateSchema, properties: { ...BreakerStateSchema.properties, gate: { type: 'string', example: 'TRIPPED' } } },
              daily_loss: {
                type: 'object',
                nullable: true,
                properties: {
                  basis: { type: 'string', enum: ['start_of_day', 'reset'] },
                  reference: { type: 'string', nullable: true, example: '100000' },
                  equity: { type: 'string', nullable: true, example: '94800' },
                  loss_pct: { type: 'string', nullable: true, example: '5.2' },
                  threshold_pct: { type: 'number', example: 5 },
                  breached: { type: 'boolean', example: true },
                },
              },
              equity: {
                type: 'object',
                properties: { equity: { type: 'string', nullable: true }, start_of_day: { type: 'string', nullable: true }, buying_power: { type: 'string', nullable: true } },
              },
              kill_switch: {
                type: 'object',
                nullable: true,
                properties: { engaged: { type: 'boolean' }, reason: { type: 'string', nullable: true }, actor: { type: 'string', nullable: true }, changed_at: { type: 'string', nullable: true } },
              },
              limits: { type: 'object', additionalProperties: true },
            },
          },
        },
      },
    },
    async () => service.status(),
  );
};

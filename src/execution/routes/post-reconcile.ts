import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../observability/http-app.js';
import { BEARER, errors } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const postReconcileSchema = {
  tags: ['ops'],
  summary: 'reconcile orders, fills and positions with the broker now; returns the report',
  description: '503 broker_unavailable when the broker could not be reached (the partial report is in reconciliation_runs).',
  security: BEARER,
  response: {
    200: {
      type: 'object',
      properties: {
        id: { type: ['integer', 'null'] },
        trigger: { type: 'string' },
        started_at: { type: 'string' },
        finished_at: { type: 'string' },
        complete: { type: 'boolean' },
        checked: { type: 'object', additionalProperties: { type: 'integer' } },
        actions: { type: 'array', items: { type: 'object', additionalProperties: true } },
        differences: { type: 'array', items: { type: 'object', additionalProperties: true } },
        errors: { type: 'array', items: { type: 'string' } },
      },
      example: {
        id: 12,
        trigger: 'api',
        started_at: '2025-01-17T15:00:00.000Z',
        finished_at: '2025-01-17T15:00:00.210Z',
        complete: true,
        checked: { pending: 1, orders: 3, broker_orders: 3, positions: 2 },
        actions: [{ kind: 'submitted', client_order_id: 'ks-momentumv2-20250117-dla3hvy5ggrgk7b2o3zx7xdjdr', symbol: 'AAPL', detail: { status: 'filled' } }],
        differences: [],
        errors: [],
      },
    },
    ...errors(401, 503),
  },
} as const;

export function registerPostReconcile(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/reconcile', { schema: postReconcileSchema, onRequest: d.guard }, async () => {
    const report = await d.reconcile('api');
    if (!report.complete) throw new HttpError(503, 'broker_unavailable', `reconciliation incomplete (run ${report.id}): ${report.errors.slice(0, 3).join('; ')}`);
    return report;
  });
}

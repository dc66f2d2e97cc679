import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../observability/http-app.js';
import { getRunWithOrders } from '../run.js';
import { errors, RunWithOrdersSchema } from '../schemas.js';
import type { RouteDeps } from './deps.js';

export const getRunSchema = {
  tags: ['runs'],
  summary: 'one run with its plan (signal → target → order, and each order’s outcome)',
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'the run id', examples: ['42'] } } },
  response: { 200: RunWithOrdersSchema, ...errors(400, 404, 503) },
} as const;

export function registerGetRun(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/orchestration/runs/:id', { schema: getRunSchema }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    const r = await getRunWithOrders(d.ctx, id);
    if (!r) throw new HttpError(404, 'run_not_found', `no orchestration run ${id}`);
    return { ...r.run, orders: r.orders };
  });
}

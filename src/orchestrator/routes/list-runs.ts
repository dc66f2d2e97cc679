import type { FastifyInstance } from 'fastify';
import { STRATEGY_ID_PATTERN } from '../../execution/order-input.js';
import { limitParam } from '../../observability/params.js';
import { listRuns, runView, type RunListQuery } from '../store.js';
import { errors, RunSchema } from '../schemas.js';
import { RUN_STATUSES } from '../types.js';
import type { RouteDeps } from './deps.js';

export const listRunsSchema = {
  tags: ['runs'],
  summary: 'runs, newest first, filtered and paged (pass next_cursor as cursor for the next page)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      strategy_id: { type: 'string', minLength: 1, maxLength: 64, pattern: STRATEGY_ID_PATTERN, examples: ['momentum-v2'] },
      status: { type: 'string', enum: [...RUN_STATUSES] },
      limit: limitParam(200, 50),
      cursor: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'next_cursor of the previous page' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { runs: { type: 'array', items: RunSchema }, next_cursor: { type: ['string', 'null'] } },
      required: ['runs', 'next_cursor'],
    },
    ...errors(400, 503),
  },
} as const;

export function registerListRuns(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/orchestration/runs', { schema: listRunsSchema }, async (req) => {
    const page = await listRuns(d.ctx.db, req.query as RunListQuery);
    return { runs: page.runs.map(runView), next_cursor: page.next_cursor };
  });
}

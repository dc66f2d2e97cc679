import type { FastifyInstance } from 'fastify';
import { runOrchestration } from '../run.js';
import { BEARER, errors, RUN_EXAMPLE, ORDER_EXAMPLE, RunWithOrdersSchema } from '../schemas.js';
import type { RunRequestBody } from '../types.js';
import type { RouteDeps } from './deps.js';

export const postRunSchema = {
  tags: ['runs'],
  summary: 'run one orchestration: signals → targets → orders (once per strategy_id and as_of_date)',
  description:
    'Fetches the signals of as_of_date and the current positions, sizes whole-share targets (capital × weight / price, toward zero, capped at ' +
    'max_position_pct × capital), diffs them against the positions into market day orders for trade_date, records the plan, submits it through the gateway ' +
    'and records the outcome. 201: this request ran it. 200: the run already existed (returned as it is, after waiting up to 15 s while another request ' +
    'runs it; a run that crashed, failed, or has planned orders left is resumed from its stored plan — nothing new is planned). 202: trade_date is a later ' +
    'session; the run is scheduled and starts on that day. dry_run: plans and records, submits nothing, never claims the key. ' +
    '400: malformed body / unknown fields; 422: invalid values, or a trade_date in the past; 409: the run exists with other parameters; 503: database unavailable.',
  security: BEARER,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['strategy_id', 'as_of_date', 'capital', 'max_position_pct'],
    properties: {
      strategy_id: { type: 'string', minLength: 1, maxLength: 64, examples: ['momentum-v2'] },
      as_of_date: { type: 'string', minLength: 10, maxLength: 10, description: "the signals' date: an NYSE trading day whose close the features use", examples: ['2025-01-16'] },
      trade_date: { type: 'string', minLength: 10, maxLength: 10, description: 'the session to trade (default: the next NYSE trading day after as_of_date)', examples: ['2025-01-17'] },
      symbols: { type: 'array', minItems: 1, maxItems: 20000, items: { type: 'string', minLength: 1, maxLength: 16 }, description: 'universe (default: every symbol the signal service scores)' },
      capital: { anyOf: [{ type: 'string', maxLength: 40 }, { type: 'number' }], description: 'capital to allocate, > 0 (a decimal string, or a JSON number)', examples: ['100000'] },
      max_position_pct: { anyOf: [{ type: 'string', maxLength: 40 }, { type: 'number' }], description: 'largest position as a fraction of capital: 0 < x ≤ 1', examples: [0.1] },
      top_n: { type: 'integer', minimum: 0, maximum: 10000, default: 10, description: 'longs: the best top_n, +1/top_n each' },
      bottom_n: { type: 'integer', minimum: 0, maximum: 10000, default: 10, description: 'shorts: the worst bottom_n, −1/bottom_n each' },
      dry_run: { type: 'boolean', default: false, description: 'plan and record only; nothing is submitted' },
    },
    examples: [
      { strategy_id: 'momentum-v2', as_of_date: '2025-01-16', capital: '100000', max_position_pct: 0.1 },
      { strategy_id: 'momentum-v2', as_of_date: '2025-01-16', trade_date: '2025-01-17', capital: '250000', max_position_pct: '0.05', top_n: 20, bottom_n: 20, dry_run: true },
    ],
  },
  response: {
    200: { ...RunWithOrdersSchema, description: 'the run already existed (nothing new was planned)' },
    201: { ...RunWithOrdersSchema, description: 'this request ran it', example: { ...RUN_EXAMPLE, trigger: 'api', orders: [ORDER_EXAMPLE] } },
    202: { ...RunWithOrdersSchema, description: 'scheduled for its trade date' },
    ...errors(400, 401, 409, 413, 422, 503),
  },
} as const;

const STATUS = { created: 201, scheduled: 202, existing: 200, resumed: 200 } as const;

export function registerPostRun(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/orchestration/run', { schema: postRunSchema, onRequest: d.guard }, async (req, reply) => {
    const r = await runOrchestration(d.ctx, req.body as RunRequestBody, { trigger: 'api' });
    reply.header('location', `/api/v1/orchestration/runs/${r.run.id}`);
    return reply.status(STATUS[r.outcome]).send({ ...r.run, orders: r.orders });
  });
}

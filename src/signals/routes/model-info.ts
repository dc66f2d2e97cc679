import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../observability/http-app.js';
import type { RouteDeps } from './deps.js';
import { errors } from './schemas.js';

export const MODEL_INFO_EXAMPLE = {
  name: 'alpha158-gbdt',
  version: 3,
  loaded_at: '2020-01-10T21:00:04.120Z',
  artifact_path: '/srv/kestrel/var/mlruns/1/9f2c…/artifacts/model.json',
  trees: 100,
  features: 158,
  objective: 'l2',
  label: 'return',
  label_source: 'registry',
  registered_at: '2020-01-10T20:58:41.005Z',
  description: 'return label, best iteration 100',
  metrics: { valid_ic: 0.031, valid_rank_ic: 0.042 },
  registry: { production_version: 3, last_check: { at: '2020-01-10T21:05:00.000Z', trigger: 'poll', ok: true }, poll_ms: 5000 },
};

export const modelInfoSchema = {
  tags: ['model'],
  summary: 'the production model being served and what the registry said at the last check',
  description: '503 `no_model` when none is loaded (run `kestrel train`).',
  response: {
    200: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        version: { type: 'integer' },
        loaded_at: { type: 'string', description: 'when this replica loaded it (UTC)' },
        artifact_path: { type: 'string' },
        trees: { type: 'integer' },
        features: { type: 'integer' },
        objective: { type: 'string' },
        label: { type: 'string', description: 'what the model predicts: return (next-day return) or abs_return (its size: volatility, not a return forecast)' },
        label_source: { type: 'string', enum: ['registry', 'artifact', 'assumed'], description: 'assumed: an older version that recorded no label, served as a return model' },
        registered_at: { type: 'string' },
        description: { type: ['string', 'null'] },
        metrics: { type: 'object', additionalProperties: { type: ['number', 'null'] } },
        registry: {
          type: 'object',
          properties: {
            production_version: { type: ['integer', 'null'], description: 'at the last successful check' },
            last_check: {
              type: ['object', 'null'],
              properties: { at: { type: 'string' }, trigger: { type: 'string' }, ok: { type: 'boolean' }, error: { type: 'string' } },
            },
            poll_ms: { type: 'integer' },
          },
        },
      },
      required: ['name', 'version', 'loaded_at', 'artifact_path', 'trees', 'features', 'objective', 'label', 'label_source', 'registry'],
      example: MODEL_INFO_EXAMPLE,
    },
    ...errors(503),
  },
} as const;

export function registerModelInfo(app: FastifyInstance, d: RouteDeps): void {
  app.get('/api/v1/model/info', { schema: modelInfoSchema }, async () => {
    const info = d.runtime.modelInfo();
    if (!info) {
      const err = d.runtime.holder.lastCheck?.error;
      throw new HttpError(503, 'no_model', `no production model for ${d.runtime.modelName} is loaded${err ? ` (${err})` : ''}: run \`kestrel train\``);
    }
    return info;
  });
}

import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../observability/http-app.js';
import type { RouteDeps } from './deps.js';
import { BEARER, errors, NullableModelRefSchema } from './schemas.js';

export const modelReloadSchema = {
  tags: ['model'],
  summary: "reload now: ask the registry for the production version and swap to it if it changed",
  description:
    'The new version is loaded before the swap; requests in flight finish on the model they started with and none fails. ' +
    '200 with `changed` false when the production version is already served. ' +
    '500 `reload_failed` when the new version cannot be loaded (the previous model stays in service); 503 `registry_unavailable` when the database cannot be reached.',
  security: BEARER,
  response: {
    200: {
      type: 'object',
      properties: {
        changed: { type: 'boolean' },
        previous: NullableModelRefSchema,
        current: NullableModelRefSchema,
      },
      required: ['changed', 'previous', 'current'],
      example: { changed: true, previous: { name: 'alpha158-gbdt', version: 2 }, current: { name: 'alpha158-gbdt', version: 3 } },
    },
    ...errors(401, 500, 503),
  },
} as const;

export function registerModelReload(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/model/reload', { schema: modelReloadSchema, onRequest: d.guard }, async () => {
    const r = await d.runtime.reload('api');
    if (r.error) {
      const keeping = r.current ? `; ${r.current.name} v${r.current.version} stays in service` : '';
      if (r.errorKind === 'registry_unavailable') throw new HttpError(503, 'registry_unavailable', r.error + keeping);
      if (r.errorKind === 'closing') throw new HttpError(503, 'shutting_down', r.error);
      throw new HttpError(500, 'reload_failed', r.error + keeping);
    }
    return { changed: r.changed, previous: r.previous, current: r.current };
  });
}

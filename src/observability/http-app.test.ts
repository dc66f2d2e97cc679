import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { DatabaseUnavailableError } from '../db/db.js';
import { createServiceApp, HttpError, type ServiceApp } from './http-app.js';

describe('service app skeleton', () => {
  let s: ServiceApp;
  let dbUp = true;
  beforeAll(async () => {
    s = await createServiceApp({
      name: 'test',
      version: '0.0.0',
      logger: silentLogger(),
      bodyLimit: 1024,
      checks: [
        { name: 'db', critical: true, check: async () => ({ status: dbUp ? 'up' : 'down' }) },
        { name: 'cache', critical: false, check: async () => ({ status: 'down', detail: 'no redis' }) },
      ],
    });
    s.app.post(
      '/things',
      { schema: { body: { type: 'object', additionalProperties: false, required: ['qty'], properties: { qty: { type: 'integer', minimum: 1 }, name: { type: 'string' } } } } },
      async (req) => req.body,
    );
    s.app.get('/boom/:kind', async (req) => {
      const kind = (req.params as { kind: string }).kind;
      if (kind === 'db') throw new DatabaseUnavailableError(new Error('ECONNREFUSED'));
      if (kind === 'http') throw new HttpError(409, 'conflict', 'already there');
      throw new Error('secret internals');
    });
    await s.app.ready();
  });
  afterAll(() => s.app.close());

  it('rejects unknown and invalid fields with a reason per field', async () => {
    const r = await s.app.inject({ method: 'POST', url: '/things', payload: { qty: 0, extra: 1 } });
    expect(r.statusCode).toBe(400);
    const b = r.json();
    expect(b.error).toBe('validation_failed');
    expect(b.details).toEqual(expect.arrayContaining([{ field: 'extra', reason: 'unknown field' }, expect.objectContaining({ field: 'qty' })]));
    expect(r.headers['x-request-id']).toBe(b.trace_id);
  });

  it('answers malformed JSON with 400 and oversized bodies with 413', async () => {
    const bad = await s.app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json' }, payload: '{"qty": 1' });
    expect(bad.statusCode).toBe(400);
    const big = await s.app.inject({ method: 'POST', url: '/things', payload: { qty: 1, name: 'x'.repeat(2000) } });
    expect(big.statusCode).toBe(413);
  });

  it('maps errors to honest status codes without leaking internals', async () => {
    expect((await s.app.inject({ url: '/boom/db' })).statusCode).toBe(503);
    expect((await s.app.inject({ url: '/boom/http' })).json()).toMatchObject({ error: 'conflict', message: 'already there' });
    const e = await s.app.inject({ url: '/boom/other' });
    expect(e.statusCode).toBe(500);
    expect(e.body).not.toContain('secret internals');
    expect((await s.app.inject({ url: '/nope' })).statusCode).toBe(404);
  });

  it('health: degraded on a non-critical failure, 503 when a critical one is down', async () => {
    const ok = await s.app.inject({ url: '/health' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'degraded', checks: { db: { status: 'up' }, cache: { status: 'down', detail: 'no redis' } } });
    expect(ok.json().time).toMatch(/Z$/);
    dbUp = false;
    const down = await s.app.inject({ url: '/health' });
    expect(down.statusCode).toBe(503);
    expect(down.json().status).toBe('down');
    dbUp = true;
  });

  it('serves Prometheus metrics and the OpenAPI document', async () => {
    await s.app.inject({ method: 'POST', url: '/things', payload: { qty: 2 } });
    const m = await s.app.inject({ url: '/metrics' });
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    expect(m.body).toMatch(/kestrel_http_request_duration_seconds_count\{.*route="\/things".*\} \d+/);
    const doc = await s.app.inject({ url: '/docs/json' });
    expect(doc.json().paths['/things']).toBeDefined();
  });
});

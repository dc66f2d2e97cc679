import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FieldError } from '../core/errors.js';
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

describe('service app skeleton under hostile input (issue #14)', () => {
  let s: ServiceApp;
  let redisUp = false;
  const pgError = (code: string) => Object.assign(new Error(`invalid input syntax for type bigint: "1e20" (SQLSTATE ${code})`), { code, severity: 'ERROR' });
  beforeAll(async () => {
    s = await createServiceApp({
      name: 'test',
      version: '0.0.0',
      logger: silentLogger(),
      readTokens: ['read-token-0123456789'],
      checks: [
        { name: 'db', critical: true, check: async () => ({ status: 'up' }) },
        { name: 'breaker_store', critical: false, check: async () => (redisUp ? { status: 'up' } : { status: 'down', detail: 'ECONNREFUSED: failing closed' }) },
      ],
    });
    s.app.post('/things', { schema: { body: { type: 'object', additionalProperties: false, properties: { n: { type: 'integer' }, s: { type: 'string' }, b: { type: 'boolean' } } } } }, async (req) => req.body);
    s.app.get('/items', { schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 10 }, flag: { type: 'boolean' }, q: { type: 'string' } } } } }, async (req) => req.query);
    s.app.post('/bare', async () => ({ ok: true }));
    s.app.get('/bare', async () => ({ ok: true }));
    s.app.get('/pg/:code', async (req) => {
      throw pgError((req.params as { code: string }).code);
    });
    s.app.get('/field', async () => {
      throw new FieldError('limit_price', 'is out of range (at most 9 digits before the point)');
    });
    await s.app.ready();
  });
  afterAll(() => s.app.close());
  const auth = { authorization: 'Bearer read-token-0123456789' };

  it('bodies are never coerced: a number is not a string, an array is not a scalar', async () => {
    for (const payload of [{ s: 12345 }, { s: ['x'] }, { n: '1' }, { n: ['1'] }, { b: 'true' }, { b: 1 }]) {
      const r = await s.app.inject({ method: 'POST', url: '/things', payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect((await s.app.inject({ method: 'POST', url: '/things', payload: { s: 'x', n: 1, b: true } })).json()).toEqual({ s: 'x', n: 1, b: true });
  });

  it('query scalars are coerced from their plain spelling only; control characters and repeats are refused', async () => {
    expect((await s.app.inject({ url: '/items?limit=5&flag=true&q=abc', headers: auth })).json()).toEqual({ limit: 5, flag: true, q: 'abc' });
    for (const q of ['limit=Infinity', 'limit=1e1', 'limit=0x5', 'limit=%205', 'limit=5.0', 'limit=', 'flag=1', 'flag=yes', 'q=a%00b', 'q=a%0Ab', 'q=a&q=b', 'limit=99999999999999999999']) {
      const r = await s.app.inject({ url: `/items?${q}`, headers: auth });
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error).toBe('validation_failed');
    }
  });

  it('a route without a query or body schema takes none', async () => {
    expect((await s.app.inject({ url: '/bare?x=1', headers: auth })).statusCode).toBe(400);
    expect((await s.app.inject({ method: 'POST', url: '/bare', payload: { x: 1 } })).statusCode).toBe(400);
    expect((await s.app.inject({ method: 'POST', url: '/bare', payload: {} })).statusCode).toBe(200);
    expect((await s.app.inject({ method: 'POST', url: '/bare' })).statusCode).toBe(200);
  });

  it('reads need a read token; /health and /docs do not', async () => {
    expect((await s.app.inject({ url: '/bare' })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/bare', headers: { authorization: 'Bearer wrong-0123456789abc' } })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/bare', headers: { authorization: 'bearer read-token-0123456789' } })).statusCode).toBe(200);
    expect((await s.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await s.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
    // Writes are the routes' own business (their bearer guard), not the read guard's.
    expect((await s.app.inject({ method: 'POST', url: '/bare' })).statusCode).toBe(200);
  });

  it('PostgreSQL data exceptions are 400 without the database message; a FieldError is 422 with its field', async () => {
    const r = await s.app.inject({ url: '/pg/22P02', headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toBe('invalid_parameter');
    expect(r.body).not.toMatch(/bigint|SQLSTATE|syntax/);
    expect((await s.app.inject({ url: '/pg/22003', headers: auth })).statusCode).toBe(400);
    expect((await s.app.inject({ url: '/pg/53300', headers: auth })).statusCode).toBe(503);
    expect((await s.app.inject({ url: '/pg/42P01', headers: auth })).statusCode).toBe(500);
    const f = await s.app.inject({ url: '/field', headers: auth });
    expect(f.statusCode).toBe(422);
    expect(f.json()).toMatchObject({ error: 'invalid_value', details: [{ field: 'limit_price', reason: 'is out of range (at most 9 digits before the point)' }] });
  });

  it('x-request-id: kept when short and plain, ours otherwise', async () => {
    expect((await s.app.inject({ url: '/health', headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123');
    expect((await s.app.inject({ url: '/health', headers: { 'x-request-id': 'y'.repeat(16_384) } })).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('health reports each dependency: the breaker store down degrades the verdict', async () => {
    const down = (await s.app.inject({ url: '/health' })).json();
    expect(down).toMatchObject({ status: 'degraded', checks: { db: { status: 'up' }, breaker_store: { status: 'down', detail: expect.stringContaining('failing closed') } } });
    redisUp = true;
    expect((await s.app.inject({ url: '/health' })).json().status).toBe('ok');
  });
});

import AjvCompiler from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifySchemaValidationError, type RouteOptions } from 'fastify';
import { FieldError, KestrelError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { DatabaseUnavailableError } from '../db/db.js';
import { bearerGuard } from './auth.js';
import { HttpError } from './http-error.js';
import { createMetrics, type Metrics } from './metrics.js';

/**
 * The common shape of every Kestrel HTTP service: JSON only, strict schemas (unknown fields
 * are an error, not silently dropped; no type coercion of bodies), a trace id on every request
 * and log line, errors mapped to honest status codes, `/health`, `/metrics` and OpenAPI at
 * `/docs`. Hostile input is answered 4xx (docs/concepts/input.md).
 */

export { HttpError } from './http-error.js';

export type CheckStatus = 'up' | 'down' | 'degraded';
export interface HealthCheck {
  name: string;
  /** A critical check that is down makes the service down (503); others only degrade it. */
  critical: boolean;
  check(): Promise<{ status: CheckStatus; detail?: string }>;
}

export interface ServiceAppOptions {
  name: string;
  version: string;
  logger: Logger;
  description?: string;
  checks?: HealthCheck[];
  metrics?: Metrics;
  bodyLimit?: number;
  /** Per-check timeout in /health. */
  checkTimeoutMs?: number;
  /**
   * Bearer tokens a read (GET/HEAD) needs, except /health and /docs; none = reads are open.
   * See accessFor in ./auth.ts (READ_TOKEN, or API_TOKEN off loopback).
   */
  readTokens?: readonly string[];
}

export interface ServiceApp {
  app: FastifyInstance;
  metrics: Metrics;
  addCheck(check: HealthCheck): void;
}

export const ErrorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string', example: 'validation_failed' },
    message: { type: 'string' },
    trace_id: { type: 'string' },
    details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } } },
  },
  required: ['error', 'message'],
} as const;

/** A client's x-request-id is kept only when it is this short and plain; otherwise we make our own. */
export const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export async function createServiceApp(opts: ServiceAppOptions): Promise<ServiceApp> {
  const metrics = opts.metrics ?? createMetrics(opts.name);
  const checks = [...(opts.checks ?? [])];
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    // The client's id is logged on every line of its request: only a short, plain one is taken.
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    // Request lines are ours (onResponse below); every log line of a request carries trace_id.
    logController: new LogController({ requestIdLogLabel: 'trace_id', disableRequestLogging: true }),
    // Our validators are AJV's, wrapped (strictText): the same contract, a narrower type.
    schemaController: { compilersFactory: { buildValidator: buildKestrelValidator as unknown as AjvCompiler.ValidatorFactory } },
  });

  // Routes without a schema for a part still refuse what they do not take: any query parameter,
  // and (on routes that are not reads) any body other than none or {}.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url.startsWith('/docs')) return;
    const schema = { ...(route.schema ?? {}) } as Record<string, unknown>;
    if (schema.querystring === undefined) schema.querystring = NoQuery;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (schema.body === undefined && methods.some((m) => m !== 'GET' && m !== 'HEAD')) schema.body = NoBody;
    route.schema = schema;
  });

  if (opts.readTokens?.length) {
    const readGuard = bearerGuard(opts.readTokens, 'READ_TOKEN or API_TOKEN');
    app.addHook('onRequest', async (req) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return;
      const route = req.routeOptions.url;
      if (route === '/health' || route?.startsWith('/docs')) return;
      await readGuard(req);
    });
  }

  const httpDuration = metrics.histogram('http_request_duration_seconds', 'HTTP request latency', ['method', 'route', 'status']);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) req.log.warn({ status: reply.statusCode, url: req.url }, 'request failed');
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const body = (status: number, error: string, message: string, details?: Array<{ field: string; reason: string }>) =>
      reply.status(status).send({ error, message, trace_id: req.id, ...(details ? { details } : {}) });
    const fe = err as FastifyError;
    if (fe.validation) {
      const details = fe.validation.map((v) => {
        const path = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
        const extra = (v.params as { additionalProperty?: string; missingProperty?: string }) ?? {};
        const field = extra.additionalProperty ?? extra.missingProperty ?? path ?? '';
        const reason = extra.additionalProperty ? 'unknown field' : v.message ?? 'invalid';
        return { field: [path, extra.additionalProperty ?? extra.missingProperty].filter(Boolean).join('.') || field || '(body)', reason };
      });
      return body(400, 'validation_failed', `invalid ${fe.validationContext ?? 'request'}: ${details.map((d) => `${d.field} ${d.reason}`).join('; ')}`, details);
    }
    if (err instanceof HttpError) return body(err.statusCode, err.code, err.message, err.details);
    if (err instanceof DatabaseUnavailableError) return body(503, 'database_unavailable', 'the database is unavailable; nothing was done, retry later');
    if (err instanceof FieldError) return body(422, err.code, err.message, [{ field: err.field, reason: err.reason }]);
    if (err instanceof KestrelError) return body(err.exitCode === 2 ? 422 : 500, err.code, err.message);
    const pg = postgresErrorClass(err);
    if (pg === '22') {
      // A value the schemas let through and PostgreSQL refused (data exception): the caller's,
      // but PostgreSQL's own message (SQL, internals) is not passed on.
      req.log.warn({ err }, 'database refused a request value');
      return body(400, 'invalid_parameter', 'a request value is out of range or malformed; check the parameters against /docs');
    }
    if (pg === '53' || pg === '57') return body(503, 'database_unavailable', 'the database is overloaded or shutting down; nothing was done, retry later');
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return body(413, 'body_too_large', `request body over ${opts.bodyLimit ?? 65536} bytes`);
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return body(415, 'unsupported_media_type', 'send application/json');
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return body(400, 'empty_body', 'the JSON body is empty');
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return body(fe.statusCode, 'bad_request', fe.message);
    req.log.error({ err }, 'unhandled error');
    return body(500, 'internal_error', `internal error (trace ${req.id})`);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}`, trace_id: req.id }));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: `Kestrel ${opts.name}`, version: opts.version, description: opts.description ?? '' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { tags: ['ops'], summary: 'liveness and dependency status' } }, async (_req, reply) => {
    const results: Record<string, { status: CheckStatus; latency_ms: number; detail?: string }> = {};
    let status = 'ok' as 'ok' | 'degraded' | 'down';
    await Promise.all(
      checks.map(async (c) => {
        const t = performance.now();
        let r: { status: CheckStatus; detail?: string };
        try {
          r = await withTimeout(c.check(), opts.checkTimeoutMs ?? 1500);
        } catch (e) {
          r = { status: 'down', detail: e instanceof Error ? e.message : String(e) };
        }
        results[c.name] = { ...r, latency_ms: Math.round((performance.now() - t) * 10) / 10 };
        if (r.status !== 'up') {
          if (c.critical && r.status === 'down') status = 'down';
          else if (status === 'ok') status = 'degraded';
        }
      }),
    );
    reply.status(status === 'down' ? 503 : 200);
    return { status, service: opts.name, version: opts.version, time: new Date().toISOString(), uptime_s: Math.round(process.uptime()), checks: results };
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return { app, metrics, addCheck: (c) => checks.push(c) };
}

/** Query strings and path parameters: no parameter unless the route declares it. */
export const NoQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
/** Routes that take no body: none, or an empty JSON object. */
export const NoBody = { type: ['object', 'null'], additionalProperties: false, properties: {}, description: 'no body (or {})' } as const;

/**
 * Two AJV compilers (Fastify 5: `schemaController.compilersFactory.buildValidator` is handed
 * every route part with its `httpPart`, so each part can have its own):
 *  - bodies: no type coercion at all — `"reason": 12345`, `"qty": ["0"]` are 400, not "12345"/"0";
 *  - query strings and path parameters: only text arrives there, so a parameter the route's
 *    schema types as integer, number or boolean is coerced — and only from its plain spelling
 *    (`^-?\d{1,16}$` for integers: no `1e2`, `0x10`, `Infinity` or spaces; `true`/`false`).
 *    No value may hold control characters (NUL and friends never reach PostgreSQL), and a
 *    parameter may be given once.
 * Both: unknown fields are errors (removeAdditional off), every error reported (allErrors; the
 * body limit bounds the work), defaults applied.
 */
const ajvFactory = AjvCompiler();
const COMMON_AJV = { removeAdditional: false, allErrors: true, useDefaults: true, allowUnionTypes: true } as const;

function buildKestrelValidator(externalSchemas: Parameters<typeof ajvFactory>[0], serverOptions?: Parameters<typeof ajvFactory>[1]) {
  const plugins = serverOptions?.plugins ? { plugins: serverOptions.plugins } : {};
  const bodyCompiler = ajvFactory(externalSchemas, { ...plugins, customOptions: { ...COMMON_AJV, coerceTypes: false } });
  const textCompiler = ajvFactory(externalSchemas, { ...plugins, customOptions: { ...COMMON_AJV, coerceTypes: true } });
  return (route: Parameters<ReturnType<typeof ajvFactory>>[0]) => {
    if (route.httpPart === 'body' || route.httpPart === 'headers') return bodyCompiler(route);
    return strictText(route.schema, textCompiler(route));
  };
}

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };
const PLAIN: Record<string, RegExp> = { integer: /^-?[0-9]{1,16}$/, number: /^-?[0-9]{1,16}(\.[0-9]{1,16})?$/, boolean: /^(true|false)$/ };
const SPELLING: Record<string, string> = { integer: 'a whole number in plain digits', number: 'a number in plain digits', boolean: 'true or false' };
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function strictText(schema: unknown, validate: Validate): Validate {
  const props = (schema as { properties?: Record<string, { type?: string | string[] }> } | null)?.properties ?? {};
  const typed = new Map<string, string>();
  for (const [k, p] of Object.entries(props)) {
    const types = Array.isArray(p?.type) ? p.type : [p?.type];
    const t = types.find((x) => x === 'integer' || x === 'number' || x === 'boolean');
    if (t && !types.includes('string')) typed.set(k, t);
  }
  const wrapped: Validate = (data: unknown) => {
    const errors: FastifySchemaValidationError[] = [];
    if (data && typeof data === 'object') {
      for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
        const at = { keyword: 'format', instancePath: `/${k}`, schemaPath: '#', params: {} };
        if (Array.isArray(v)) errors.push({ ...at, message: 'must be given once' });
        else if (typeof v === 'string' && CONTROL_RE.test(v)) errors.push({ ...at, message: 'must not contain control characters' });
        else if (typeof v === 'string' && typed.has(k) && !PLAIN[typed.get(k)!]!.test(v)) errors.push({ ...at, message: `must be ${SPELLING[typed.get(k)!]}` });
      }
    }
    if (errors.length) {
      wrapped.errors = errors;
      return false;
    }
    const ok = validate(data);
    wrapped.errors = validate.errors ?? null;
    return ok;
  };
  return wrapped;
}

/** The SQLSTATE class of a PostgreSQL error (node-postgres and PGlite both carry `code`), or null. */
export function postgresErrorClass(e: unknown): string | null {
  const x = e as { code?: unknown; severity?: unknown } | null;
  return x && typeof x.code === 'string' && typeof x.severity === 'string' && /^[0-9A-Z]{5}$/.test(x.code) ? x.code.slice(0, 2) : null;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

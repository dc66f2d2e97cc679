import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { KestrelError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { DatabaseUnavailableError } from '../db/db.js';
import { createMetrics, type Metrics } from './metrics.js';

/**
 * The common shape of every Kestrel HTTP service: JSON only, strict schemas (unknown fields
 * are an error, not silently dropped), a trace id on every request and log line, errors
 * mapped to honest status codes, `/health`, `/metrics` and OpenAPI at `/docs`.
 */

/** An error that knows its HTTP answer. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Array<{ field: string; reason: string }>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

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

export async function createServiceApp(opts: ServiceAppOptions): Promise<ServiceApp> {
  const metrics = opts.metrics ?? createMetrics(opts.name);
  const checks = [...(opts.checks ?? [])];
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Request lines are ours (onResponse below); every log line of a request carries trace_id.
    logController: new LogController({ requestIdLogLabel: 'trace_id', disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true } },
  });

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
    if (err instanceof KestrelError) return body(err.exitCode === 2 ? 422 : 500, err.code, err.message);
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

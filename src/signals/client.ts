import { InputError, KestrelError } from '../core/errors.js';
import { HttpError } from '../observability/http-app.js';
import type { SignalsClient, SignalsRequest, SignalsResponse } from './types.js';

/**
 * Clients of the signal service, both failing the same way:
 * - `SignalsRequestError` (an InputError: exit 2 in the CLI) — the request is wrong (4xx):
 *   unknown symbols, a date without data, a bad body. Retrying the same request cannot help.
 * - `SignalsUnavailableError` (`retryable` true) — the service cannot answer now: 5xx, no
 *   production model or no data (503), network failure or timeout. Retry later or elsewhere.
 */
export interface ErrorDetail {
  field: string;
  reason: string;
}

export class SignalsRequestError extends InputError {
  readonly retryable = false;
  constructor(
    message: string,
    /** The service's error code: unknown_symbols, no_data, bad_date, date_out_of_range, too_few_symbols, validation_failed… */
    code: string,
    readonly status: number,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message, code);
  }
}

export class SignalsUnavailableError extends KestrelError {
  readonly retryable = true;
  constructor(
    message: string,
    /** no_model, no_data, internal_error, network, timeout… */
    code: string,
    /** HTTP status, or null when no answer came back. */
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, code, 1);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export interface HttpSignalsClientOptions {
  /** e.g. `http://127.0.0.1:7303`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set (the service's API_TOKEN). */
  apiToken?: string;
  /** Per request. Default 60 000 ms (scoring a universe on a cold cache takes a while on a busy host). */
  timeoutMs?: number;
  /** Injectable for tests. */
  fetch?: typeof fetch;
}

/** The signal service over HTTP (`POST {baseUrl}/api/v1/signals/generate`). */
export class HttpSignalsClient implements SignalsClient {
  private readonly url: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: HttpSignalsClientOptions) {
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/api/v1/signals/generate`;
    this.fetchFn = opts.fetch ?? fetch;
  }

  async generate(req: SignalsRequest): Promise<SignalsResponse> {
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    let res: Response;
    try {
      res = await this.fetchFn(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...this.auth() },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
      throw new SignalsUnavailableError(
        timedOut ? `signal service at ${this.url} did not answer within ${timeoutMs} ms` : `signal service at ${this.url} is unreachable: ${causeText(e)}`,
        timedOut ? 'timeout' : 'network',
        null,
        { cause: e },
      );
    }
    let body: unknown;
    let text = '';
    try {
      text = await res.text();
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      if (res.ok) throw new SignalsUnavailableError(`signal service at ${this.url} sent a body that is not JSON (HTTP ${res.status})`, 'bad_response', res.status, { cause: e });
      body = null;
    }
    if (res.ok) {
      if (!isSignalsResponse(body)) throw new SignalsUnavailableError(`signal service at ${this.url} sent an unexpected answer (HTTP ${res.status})`, 'bad_response', res.status);
      return body;
    }
    const err = (body ?? {}) as { error?: unknown; message?: unknown; details?: unknown };
    const code = typeof err.error === 'string' ? err.error : `http_${res.status}`;
    const message = typeof err.message === 'string' ? err.message : text.slice(0, 200) || res.statusText;
    throw fromStatus(res.status, code, `signal service: ${message}`, Array.isArray(err.details) ? (err.details as ErrorDetail[]) : []);
  }

  /** Resolves when `GET /health` answers 200 (up or degraded); SignalsUnavailableError otherwise. */
  async ping(timeoutMs = 2000): Promise<void> {
    const url = this.url.replace(/\/api\/v1\/signals\/generate$/, '/health');
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: { accept: 'application/json', ...this.auth() }, signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
    } catch (e) {
      throw new SignalsUnavailableError(`signal service at ${url} is unreachable: ${causeText(e)}`, 'network', null, { cause: e });
    }
    if (res.status !== 200) throw new SignalsUnavailableError(`signal service /health answered ${res.status}`, 'unhealthy', res.status);
  }

  private auth(): Record<string, string> {
    return this.opts.apiToken ? { authorization: `Bearer ${this.opts.apiToken}` } : {};
  }
}

/**
 * The in-process client over `app.signals` (or any SignalsClient that throws HttpError), failing
 * like HttpSignalsClient: the orchestrator sees the same error classes either way.
 */
export class InProcessSignalsClient implements SignalsClient {
  constructor(private readonly inner: SignalsClient & { ready?(): boolean }) {}

  /** Resolves when the service can answer (a model and data are loaded). */
  async ping(): Promise<void> {
    if (this.inner.ready && !this.inner.ready()) throw new SignalsUnavailableError('signal service: no production model or no data loaded (see /health)', 'unhealthy', 503);
  }

  async generate(req: SignalsRequest): Promise<SignalsResponse> {
    try {
      return await this.inner.generate(req);
    } catch (e) {
      if (e instanceof HttpError) throw fromStatus(e.statusCode, e.code, `signal service: ${e.message}`, e.details ?? []);
      if (e instanceof InputError) throw new SignalsRequestError(`signal service: ${e.message}`, e.code, 422);
      throw new SignalsUnavailableError(`signal service failed: ${causeText(e)}`, 'internal_error', 500, { cause: e });
    }
  }
}

function fromStatus(status: number, code: string, message: string, details: ErrorDetail[]): Error {
  // 408 and 429 are the service being busy, not the request being wrong.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return new SignalsRequestError(message, code, status, details);
  return new SignalsUnavailableError(message, code, status);
}

function causeText(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  if (c?.code) return `${c.code}${c.message ? ` (${c.message})` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

function isSignalsResponse(v: unknown): v is SignalsResponse {
  const r = v as Partial<SignalsResponse> | null;
  return !!r && typeof r.as_of_date === 'string' && Array.isArray(r.signals) && Array.isArray(r.missing) && typeof r.model === 'object' && r.model !== null;
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { InputError } from '../core/errors.js';
import { HttpError } from './http-error.js';

/**
 * The one bearer-token check of every Kestrel service (gateway, risk, signals, orchestrator,
 * market data). RFC 7235: the scheme is case-insensitive (`bearer`, `BEARER`); one or more
 * spaces separate it from the token. Compared in constant time against each accepted token
 * (both sides hashed to 32 bytes first, so a token's length is not revealed either). Tokens
 * are never logged. Tokens themselves are checked where config is read (core/config.ts).
 */
export type Guard = (req: FastifyRequest) => Promise<void>;

const SCHEME_RE = /^bearer +(\S+)\s*$/i;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token of an Authorization header, or null. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string' || header.length > 1024) return null;
  return SCHEME_RE.exec(header)?.[1] ?? null;
}

/** A guard accepting any of `tokens`; none given = open. */
export function bearerGuard(tokens: string | ReadonlyArray<string | undefined> | undefined, name = 'API_TOKEN'): Guard {
  const list = (typeof tokens === 'string' ? [tokens] : (tokens ?? [])).filter((t): t is string => typeof t === 'string' && t.length > 0);
  if (list.length === 0) return async () => {};
  const expected = [...new Set(list)].map(digest);
  return async (req) => {
    const given = bearerToken(req.headers.authorization);
    // Every expected token is compared (no early exit): the time does not say which one matched.
    let ok = false;
    if (given !== null) {
      const g = digest(given);
      for (const e of expected) ok = timingSafeEqual(g, e) || ok;
    }
    if (!ok) throw new HttpError(401, 'unauthorized', `send Authorization: Bearer <${name}>`);
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Who may do what on a service bound to `host`:
 *  - mutations need API_TOKEN when one is set (it must be set off loopback: assertSafeBinding);
 *  - reads need READ_TOKEN when it is set, else API_TOKEN when the service is bound off
 *    loopback; API_TOKEN is always accepted for reads too. On loopback without READ_TOKEN,
 *    reads are open.
 */
export interface Access {
  writeToken?: string;
  /** Tokens a read (GET/HEAD) is accepted with; undefined = reads are open. */
  readTokens?: string[];
}

export function accessFor(c: { apiToken?: string; readToken?: string }, host: string): Access {
  const read = c.readToken ?? (isLoopback(host) ? undefined : c.apiToken);
  return { writeToken: c.apiToken, readTokens: read ? [...new Set([read, ...(c.apiToken ? [c.apiToken] : [])])] : undefined };
}

/**
 * Every service refuses to listen off loopback without its credential: API_TOKEN for the
 * HTTP services, ALPACA_API_KEY_ID/ALPACA_API_SECRET_KEY for the broker simulator and the
 * replay feed (which speak Alpaca's protocols and would otherwise accept any key).
 */
export function assertSafeBinding(service: string, host: string, credential: string | undefined | boolean, what = 'API_TOKEN'): void {
  if (!credential && !isLoopback(host)) {
    const fix = what === 'API_TOKEN' ? 'set API_TOKEN (at least 16 characters, e.g. openssl rand -hex 24)' : `set ${what}`;
    throw new InputError(`refusing to serve ${service} on ${host} without ${what}: ${fix}, or bind HOST=127.0.0.1`, 'bad_config');
  }
}

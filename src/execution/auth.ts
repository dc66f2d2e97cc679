import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { InputError } from '../core/errors.js';
import { HttpError } from '../observability/http-app.js';

/**
 * Bearer-token check for mutating endpoints. Compared in constant time (both sides hashed to
 * 32 bytes first, so the length of the token is not revealed either). The token is never logged.
 */
export function bearerGuard(token: string | undefined): (req: FastifyRequest) => Promise<void> {
  if (!token) return async () => {};
  const expected = createHash('sha256').update(token).digest();
  return async (req) => {
    const h = req.headers.authorization;
    const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : null;
    const ok = given !== null && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
    if (!ok) throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <API_TOKEN>');
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Without API_TOKEN the gateway only listens on loopback; anything else refuses to start. */
export function assertSafeBinding(host: string, token: string | undefined): void {
  if (!token && !isLoopback(host)) {
    throw new InputError(`refusing to serve the gateway on ${host} without API_TOKEN: set API_TOKEN (at least 16 characters, e.g. openssl rand -hex 24) or bind HOST=127.0.0.1`, 'bad_config');
  }
}

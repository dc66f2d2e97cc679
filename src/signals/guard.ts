import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../observability/http-app.js';

/**
 * Bearer-token check for the service's POST routes (none configured = open). Constant-time
 * compare of SHA-256 digests, so neither the token nor its length leaks; never logged.
 */
export function bearerGuard(token: string | undefined): (req: FastifyRequest) => Promise<void> {
  if (!token) return async () => {};
  const expected = createHash('sha256').update(token).digest();
  return async (req) => {
    const h = req.headers.authorization;
    const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : null;
    if (given === null || !timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
      throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <API_TOKEN>');
    }
  };
}

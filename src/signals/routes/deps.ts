import type { FastifyRequest } from 'fastify';
import type { SignalsRuntime } from '../runtime.js';

/** What a route file gets: the runtime (plain methods) and the bearer guard of mutating routes. */
export interface RouteDeps {
  runtime: SignalsRuntime;
  guard: (req: FastifyRequest) => Promise<void>;
}

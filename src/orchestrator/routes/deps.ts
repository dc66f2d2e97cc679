import type { FastifyRequest } from 'fastify';
import type { OrchestratorContext } from '../run.js';

/** What a route file gets: the work context and the auth guard for mutating routes. */
export interface RouteDeps {
  ctx: OrchestratorContext;
  guard: (req: FastifyRequest) => Promise<void>;
}

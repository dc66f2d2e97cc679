import type { FastifyRequest } from 'fastify';
import type { RiskService } from '../service.js';

/** What every risk route gets: the work functions and the gateway's bearer-token check for mutations. */
export interface RiskRouteOptions {
  service: RiskService;
  /** onRequest guard for mutating routes: the gateway's `bearerGuard(API_TOKEN)` (throws HttpError 401). */
  auth: (req: FastifyRequest) => Promise<void>;
}

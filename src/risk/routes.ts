import type { FastifyPluginAsync } from 'fastify';
import { breakerRoutes } from './routes/breaker.js';
import type { RiskRouteOptions } from './routes/context.js';
import { eventsRoute } from './routes/events.js';
import { statusRoute } from './routes/status.js';

export type { RiskRouteOptions } from './routes/context.js';

/**
 * The risk API for the gateway (one route per file under routes/):
 *   GET  /api/v1/risk/status          breaker, daily loss, equity, kill switch, limits
 *   POST /api/v1/risk/breaker/trip    {reason, actor?}   (bearer)
 *   POST /api/v1/risk/breaker/reset   {reason, actor?}   (bearer)
 *   GET  /api/v1/risk/events          ?kind&symbol&before&limit
 * Register on the gateway app: `await app.register(riskRoutes, { service, auth })`.
 */
export const riskRoutes: FastifyPluginAsync<RiskRouteOptions> = async (app, opts) => {
  await app.register(statusRoute, opts);
  await app.register(breakerRoutes, opts);
  await app.register(eventsRoute, opts);
};

import type { FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.js';
import type { ReconcileReport } from '../reconcile.js';

/** What a route file gets: the work context, the auth guard for mutating routes, reconciliation. */
export interface RouteDeps {
  ctx: GatewayContext;
  guard: (req: FastifyRequest) => Promise<void>;
  reconcile(trigger: string): Promise<ReconcileReport>;
}

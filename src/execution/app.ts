import type { FastifyInstance } from 'fastify';
import { createServiceApp, type HealthCheck } from '../observability/http-app.js';
import { bearerGuard } from '../observability/auth.js';
import { createGatewayContext, type GatewayContext, type GatewayDeps } from './context.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { Retrier, type RetrierOptions } from './retrier.js';
import { registerCancelOrder } from './routes/cancel-order.js';
import type { RouteDeps } from './routes/deps.js';
import { registerGetAccount } from './routes/get-account.js';
import { registerGetOrder } from './routes/get-order.js';
import { registerGetPositions } from './routes/get-positions.js';
import { registerDisengageKillSwitch } from './routes/kill-switch-disengage.js';
import { registerEngageKillSwitch } from './routes/kill-switch-engage.js';
import { registerGetKillSwitch } from './routes/kill-switch-get.js';
import { registerListOrders } from './routes/list-orders.js';
import { registerPostOrder } from './routes/post-order.js';
import { registerPostReconcile } from './routes/post-reconcile.js';
import { TradeUpdateConsumer } from './trade-updates.js';

export interface GatewayAppOptions extends GatewayDeps {
  /** Bearer token for mutating endpoints; none = open (the CLI allows that on loopback only). */
  apiToken?: string;
  /** Tokens reads need (accessFor in observability/auth.ts); none = reads open. */
  readTokens?: readonly string[];
  /** More /health dependencies (e.g. risk's breaker store and price cache). */
  checks?: HealthCheck[];
  version?: string;
  /**
   * Background work started when the app is ready and stopped when it closes. Defaults: all on,
   * except under dryRun (no broker traffic at all then).
   */
  background?: {
    tradeUpdates?: boolean;
    retrier?: boolean | RetrierOptions;
    reconcileOnStart?: boolean;
    /** Parallel lanes of the trade-update consumer (per symbol). Default 8. */
    lanes?: number;
  };
}

/**
 * The gateway's background work: the trade-update consumer, the retrier and reconciliation
 * (single-flight in this process; replicas on one PostgreSQL take turns).
 */
export class GatewayRuntime {
  readonly consumer: TradeUpdateConsumer | null;
  readonly retrier: Retrier | null;
  /** Settles when the start-up reconciliation has completed (null when it is off). */
  startup: Promise<ReconcileReport | null> = Promise.resolve(null);
  private inFlight: Promise<ReconcileReport> | null = null;
  private closed = false;
  private startupTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly ctx: GatewayContext,
    private readonly opts: NonNullable<GatewayAppOptions['background']>,
  ) {
    this.consumer = opts.tradeUpdates ? new TradeUpdateConsumer(ctx, { lanes: opts.lanes, onReconnect: () => void this.reconcileQuietly('stream_reconnect') }) : null;
    this.retrier = opts.retrier ? new Retrier(ctx, typeof opts.retrier === 'object' ? opts.retrier : {}) : null;
  }

  /** One reconciliation at a time in this process: a caller arriving during a run shares it. */
  reconcile(trigger: string): Promise<ReconcileReport> {
    if (!this.inFlight) {
      this.inFlight = reconcile(this.ctx, { trigger, drain: this.consumer ? () => this.consumer!.idle() : undefined }).finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  async start(): Promise<void> {
    // Stream first, so the fills of anything reconciliation submits are not missed.
    if (this.consumer) {
      try {
        await this.consumer.start();
      } catch (e) {
        this.ctx.logger.error({ err: e }, 'trade update stream refused; the gateway runs without it (reconciliation keeps books right)');
      }
    }
    this.retrier?.start();
    if (this.opts.reconcileOnStart) this.startup = this.startupReconcile();
  }

  /** Start-up reconciliation, retried with backoff until it completes once. */
  private startupReconcile(): Promise<ReconcileReport | null> {
    return new Promise((resolve) => {
      let delay = 1_000;
      const attempt = () => {
        if (this.closed) return resolve(null);
        this.reconcile('startup').then(
          (r) => {
            if (r.complete || this.closed) return resolve(r);
            this.ctx.logger.warn({ errors: r.errors, retry_ms: delay }, 'start-up reconciliation incomplete; retrying');
            this.startupTimer = setTimeout(attempt, delay);
            delay = Math.min(delay * 2, 30_000);
          },
          (e: unknown) => {
            this.ctx.logger.warn({ err: e, retry_ms: delay }, 'start-up reconciliation failed; retrying');
            this.startupTimer = setTimeout(attempt, delay);
            delay = Math.min(delay * 2, 30_000);
          },
        );
      };
      attempt();
    });
  }

  private reconcileQuietly(trigger: string): void {
    this.reconcile(trigger).catch((e: unknown) => this.ctx.logger.warn({ err: e, trigger }, 'reconciliation failed'));
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.startupTimer) clearTimeout(this.startupTimer);
    await this.retrier?.stop();
    await this.consumer?.stop();
    await this.inFlight?.catch(() => null);
  }
}

export type GatewayApp = FastifyInstance & { gateway: GatewayRuntime };

/**
 * The execution gateway as a Fastify app (nothing listens yet: the caller decides). Tests use
 * `app.inject()`; `kestrel serve gateway` wires the real database and broker. Background work
 * starts on `ready()` and stops on `close()`; the caller owns `db` and closes it afterwards.
 */
export async function buildGatewayApp(opts: GatewayAppOptions): Promise<GatewayApp> {
  const ctx = createGatewayContext(opts);
  const dry = ctx.dryRun;
  const background = {
    tradeUpdates: opts.background?.tradeUpdates ?? !dry,
    retrier: opts.background?.retrier ?? !dry,
    reconcileOnStart: opts.background?.reconcileOnStart ?? !dry,
    lanes: opts.background?.lanes,
  };
  const runtime = new GatewayRuntime(ctx, background);

  const checks: HealthCheck[] = [
    {
      name: 'database',
      critical: true,
      check: async () => {
        await ctx.db.ping();
        return { status: 'up' };
      },
    },
  ];
  if (!dry) {
    checks.push({
      name: 'broker',
      critical: false,
      check: async () => {
        await ctx.broker.getAccount();
        return { status: 'up', detail: ctx.broker.name };
      },
    });
  }
  if (runtime.consumer) {
    const consumer = runtime.consumer;
    checks.push({
      name: 'trade_updates',
      critical: false,
      check: async () => (consumer.state === 'connected' ? { status: 'up', detail: `backlog ${consumer.backlog}` } : { status: 'down', detail: consumer.state }),
    });
  }

  checks.push(...(opts.checks ?? []));

  const { app } = await createServiceApp({
    name: 'gateway',
    version: opts.version ?? '0.1.0',
    logger: opts.logger,
    metrics: ctx.registry,
    description: 'Execution gateway: idempotent orders (write-ahead, deterministic client_order_id), fills, positions, reconciliation, kill switch.' + (dry ? ' DRY RUN: orders are recorded, never sent.' : ''),
    checks,
    bodyLimit: 16 * 1024,
    readTokens: opts.readTokens,
  });

  const deps: RouteDeps = { ctx, guard: bearerGuard(opts.apiToken), reconcile: (trigger) => runtime.reconcile(trigger) };
  registerPostOrder(app, deps);
  registerListOrders(app, deps);
  registerGetOrder(app, deps);
  registerCancelOrder(app, deps);
  registerGetPositions(app, deps);
  registerGetAccount(app, deps);
  registerPostReconcile(app, deps);
  registerGetKillSwitch(app, deps);
  registerEngageKillSwitch(app, deps);
  registerDisengageKillSwitch(app, deps);

  app.decorate('gateway', runtime);
  app.addHook('onReady', async () => runtime.start());
  app.addHook('preClose', async () => runtime.stop());
  return app as GatewayApp;
}

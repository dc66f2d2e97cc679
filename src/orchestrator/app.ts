import type { FastifyInstance } from 'fastify';
import type { Bus, ConsumeOptions, StreamConsumer } from '../bus/types.js';
import { bearerGuard } from '../observability/auth.js';
import { createServiceApp, type HealthCheck } from '../observability/http-app.js';
import { startSignalsConsumer } from './consumer.js';
import { registerGetRun } from './routes/get-run.js';
import { registerListRuns } from './routes/list-runs.js';
import { registerPostRun } from './routes/post-run.js';
import type { RouteDeps } from './routes/deps.js';
import { createOrchestratorContext, type OrchestratorContext, type OrchestratorDeps } from './run.js';
import { RunScheduler, type SchedulerOptions } from './scheduler.js';
import type { ProbeableSignalsClient } from './signals-clients.js';
import type { StrategyConfig } from './types.js';

export interface OrchestratorAppOptions extends OrchestratorDeps {
  /** The bus whose `signals.generated` stream triggers runs; none = HTTP only. */
  bus?: Bus;
  /** What every `signals.generated` event runs. */
  strategies?: StrategyConfig[];
  /** Bearer token for POST /api/v1/orchestration/run; none = open (loopback only, as the gateway). */
  apiToken?: string;
  /** Tokens reads need (accessFor in observability/auth.ts); none = reads open. */
  readTokens?: readonly string[];
  version?: string;
  /**
   * Background work started when the app is ready and stopped when it closes. Defaults: the
   * stream consumer when a bus and strategies are given; the scheduler always.
   */
  background?: {
    consumer?: boolean | { name?: string; consume?: ConsumeOptions; maxAttempts?: number };
    scheduler?: boolean | SchedulerOptions;
  };
}

/** The orchestrator's background work: the signals.generated consumer and the run scheduler. */
export class OrchestratorRuntime {
  consumer: StreamConsumer | null = null;
  readonly scheduler: RunScheduler | null;

  constructor(
    readonly ctx: OrchestratorContext,
    private readonly opts: { bus: Bus | null; strategies: StrategyConfig[]; consumer: false | { name?: string; consume?: ConsumeOptions; maxAttempts?: number }; scheduler: false | SchedulerOptions },
  ) {
    this.scheduler = opts.scheduler === false ? null : new RunScheduler(ctx, opts.scheduler);
  }

  start(): void {
    if (this.opts.consumer !== false && this.opts.bus && this.opts.strategies.length > 0 && !this.consumer) {
      this.consumer = startSignalsConsumer({ ctx: this.ctx, bus: this.opts.bus, strategies: this.opts.strategies, consumerName: this.opts.consumer.name, consume: this.opts.consumer.consume, maxAttempts: this.opts.consumer.maxAttempts });
      this.ctx.logger.info({ consumer: this.consumer.consumer, strategies: this.opts.strategies.map((s) => s.strategy_id) }, 'consuming signals.generated');
    }
    this.scheduler?.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
    await this.scheduler?.stop();
  }
}

export type OrchestratorApp = FastifyInstance & { orchestrator: OrchestratorRuntime };

/**
 * The orchestrator as a Fastify app (nothing listens yet: the caller decides). Tests use
 * `app.inject()`; `kestrel serve orchestrator` wires the database, the gateway client, the
 * signal client, prices and the bus. Background work starts on `ready()` and stops on
 * `close()`; the caller owns db and bus and closes them afterwards.
 */
export async function buildOrchestratorApp(opts: OrchestratorAppOptions): Promise<OrchestratorApp> {
  const schedulerOpt = opts.background?.scheduler ?? true;
  const consumerOpt = opts.background?.consumer ?? true;
  const ctx = createOrchestratorContext({ ...opts, tuning: { scheduling: schedulerOpt !== false, ...opts.tuning } });
  const strategies = opts.strategies ?? [];
  const runtime = new OrchestratorRuntime(ctx, {
    bus: opts.bus ?? null,
    strategies,
    consumer: consumerOpt === false ? false : consumerOpt === true ? {} : consumerOpt,
    scheduler: schedulerOpt === false ? false : schedulerOpt === true ? {} : schedulerOpt,
  });

  const signals = opts.signals as ProbeableSignalsClient;
  const checks: HealthCheck[] = [
    {
      name: 'database',
      critical: true,
      check: async () => {
        await ctx.db.ping();
        return { status: 'up' };
      },
    },
    {
      name: 'gateway',
      critical: false,
      check: async () => {
        await ctx.gateway.ping();
        return { status: 'up' };
      },
    },
    {
      name: 'signals',
      critical: false,
      check: async () => {
        if (typeof signals.ping !== 'function') return { status: 'up', detail: 'no probe (in-process client)' };
        await signals.ping();
        return { status: 'up' };
      },
    },
  ];
  if (opts.bus) {
    const bus = opts.bus;
    const busCheck = bus.healthCheck('bus', false);
    checks.push({
      name: 'bus',
      critical: false,
      check: async () => {
        const r = await busCheck.check();
        const consumer = runtime.consumer ? `consumer ${runtime.consumer.consumer}` : 'no consumer';
        return { status: r.status, detail: [r.detail, consumer].filter(Boolean).join('; ') };
      },
    });
  }

  const { app } = await createServiceApp({
    name: 'orchestrator',
    version: opts.version ?? '0.1.0',
    logger: opts.logger,
    metrics: ctx.registry,
    description:
      'Orchestrator: signals → whole-share targets → orders through the execution gateway, once per (strategy_id, as_of_date); run records with their plan. ' +
      'Triggered over HTTP or by signals.generated events (consumer group orchestrator).',
    checks,
    bodyLimit: 1024 * 1024,
    readTokens: opts.readTokens,
  });

  const deps: RouteDeps = { ctx, guard: bearerGuard(opts.apiToken) };
  registerPostRun(app, deps);
  registerListRuns(app, deps);
  registerGetRun(app, deps);

  app.decorate('orchestrator', runtime);
  app.addHook('onReady', async () => runtime.start());
  app.addHook('preClose', async () => runtime.stop());
  return app as OrchestratorApp;
}

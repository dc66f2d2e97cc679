import type { FastifyInstance } from 'fastify';
import type { Bus } from '../bus/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { createServiceApp } from '../observability/http-app.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { bearerGuard } from '../observability/auth.js';
import { signalsMetrics } from './metrics.js';
import type { RouteDeps } from './routes/deps.js';
import { registerGenerate } from './routes/generate.js';
import { registerModelInfo } from './routes/model-info.js';
import { registerModelReload } from './routes/model-reload.js';
import { SignalsRuntime } from './runtime.js';

export interface SignalsAppOptions {
  /** The model registry's database. The caller owns it (closes it after the app). */
  db: Db;
  /** Feature cache and `signals.generated`. The caller owns it (closes it after the app). */
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** Data directory of the Parquet store (`_manifest.json`). */
  dataDir: string;
  /** Default `alpha158-gbdt`. */
  modelName?: string;
  /** Registry poll interval (ms); 0 = reload only through the API. Default 5000. */
  pollMs?: number;
  /** TTL of `features:{symbol}:{date}` (s). Default 86 400. */
  featureTtlSeconds?: number;
  /** Longs sum to +grossPerSide, shorts to −grossPerSide. Default 1. */
  grossPerSide?: number;
  /** How often requests look for a new data snapshot (ms). Default 1000. */
  dataCheckMs?: number;
  /** Share with `openBus({ metrics })` so `kestrel_bus_*` shows on this /metrics too. */
  metrics?: Metrics;
  /** Bearer token required by the POST routes (none = open). */
  apiToken?: string;
  /** Tokens reads need (accessFor in observability/auth.ts); none = reads open. */
  readTokens?: readonly string[];
  version?: string;
}

export type SignalsApp = FastifyInstance & { signals: SignalsRuntime };

/**
 * The signal service as a Fastify app (nothing listens yet). The production model and the
 * data snapshot are loaded before it returns (a missing model or data does not stop it: the
 * service starts, /health says what is down and generate answers 503 until it is there);
 * polling stops on `app.close()`. `app.signals` is the same service without HTTP.
 */
export async function buildSignalsApp(opts: SignalsAppOptions): Promise<SignalsApp> {
  const metrics = opts.metrics ?? createMetrics('signals');
  const runtime = new SignalsRuntime({ ...opts, metrics: signalsMetrics(metrics) });
  await runtime.start();
  try {
    const { app } = await createServiceApp({
      name: 'signals',
      version: opts.version ?? '0.1.0',
      logger: opts.logger,
      metrics,
      description:
        'Signal service: scores symbols with the production GBDT model on Alpha158 features (cached in Redis), ranks them and assigns long/short target weights; hot-reloads the model from the registry.',
      checks: runtime.healthChecks(),
      bodyLimit: 512 * 1024,
      readTokens: opts.readTokens,
    });
    const deps: RouteDeps = { runtime, guard: bearerGuard(opts.apiToken) };
    registerGenerate(app, deps);
    registerModelInfo(app, deps);
    registerModelReload(app, deps);
    app.decorate('signals', runtime);
    app.addHook('onClose', async () => runtime.close());
    return app as SignalsApp;
  } catch (e) {
    await runtime.close();
    throw e;
  }
}

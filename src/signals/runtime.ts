import { busGroups, busStreams, DEFAULT_FEATURES_TTL_SECONDS, encodeSignalsGenerated, type Bus, type SignalsGenerated } from '../bus/index.js';
import type { Clock } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Db } from '../db/db.js';
import { HttpError, type HealthCheck } from '../observability/http-app.js';
import { ModelRegistry } from '../registry/models.js';
import { DataSource } from './data-source.js';
import { FeatureScratch } from './features.js';
import { generateSignals, validateRequest, type GenerateDeps } from './generate.js';
import type { SignalsMetrics } from './metrics.js';
import { ModelHolder, type LoadedModel, type ReloadOutcome } from './model-holder.js';
import type { SignalsClient, SignalsRequest, SignalsResponse } from './types.js';

/**
 * The signal service without HTTP: model holder, data snapshot, feature cache, publishing.
 * `generate` is the in-process SignalsClient (errors are HttpErrors: 4xx = the request,
 * 503 = no model / no data); the routes call the same methods.
 */
export const DEFAULT_MODEL_NAME = 'alpha158-gbdt';
export const DEFAULT_POLL_MS = 5000;
export const SIGNALS_STREAM_MAXLEN = 10_000;

export interface SignalsRuntimeOptions {
  db: Db;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  dataDir: string;
  metrics: SignalsMetrics;
  /** Registry name of the model to serve. Default `alpha158-gbdt` (what `kestrel train` registers). */
  modelName?: string;
  /** Registry poll interval; 0 = no polling (reload via the API only). Default 5000 ms. */
  pollMs?: number;
  /** TTL of `features:{symbol}:{date}`. Default 86 400 s. */
  featureTtlSeconds?: number;
  /** Gross weight of each side: longs sum to +grossPerSide, shorts to −grossPerSide. Default 1. */
  grossPerSide?: number;
  /** How often requests look at `_manifest.json` for a new snapshot. Default 1000 ms. */
  dataCheckMs?: number;
  /** Stream `signals.generated` cap (approximate trim). Default 10 000. */
  streamMaxLen?: number;
}

export interface ModelInfo {
  name: string;
  version: number;
  loaded_at: string;
  artifact_path: string;
  trees: number;
  features: number;
  objective: string;
  /** What the model predicts (return | abs_return) and where that came from (assumed = an older version that recorded none). */
  label: string;
  label_source: 'registry' | 'artifact' | 'assumed';
  registered_at: string;
  description: string | null;
  metrics: Record<string, number | null>;
  registry: { production_version: number | null; last_check: { at: string; trigger: string; ok: boolean; error?: string } | null; poll_ms: number };
}

export class SignalsRuntime implements SignalsClient {
  readonly modelName: string;
  readonly pollMs: number;
  readonly holder: ModelHolder;
  readonly data: DataSource;
  private readonly deps: GenerateDeps;
  private readonly scratch = new FeatureScratch();
  private readonly publishing = new Set<Promise<void>>();
  private groupReady = false;
  private publishWarned = false;
  private closed = false;

  constructor(private readonly opts: SignalsRuntimeOptions) {
    this.modelName = ModelRegistry.checkName(opts.modelName ?? DEFAULT_MODEL_NAME);
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    const ttl = opts.featureTtlSeconds ?? DEFAULT_FEATURES_TTL_SECONDS;
    if (!(Number.isFinite(ttl) && ttl > 0)) throw new InputError(`signals: featureTtlSeconds must be a positive number of seconds, got ${ttl}`, 'bad_config');
    const gross = opts.grossPerSide ?? 1;
    if (!(Number.isFinite(gross) && gross > 0)) throw new InputError(`signals: grossPerSide must be a positive number (1 = each side sums to 1), got ${gross}`, 'bad_config');
    if (!(Number.isInteger(this.pollMs) && this.pollMs >= 0)) throw new InputError(`signals: pollMs must be a whole number of milliseconds ≥ 0 (0 = no polling), got ${this.pollMs}`, 'bad_config');
    const check = opts.dataCheckMs ?? 1000;
    if (!(Number.isFinite(check) && check >= 0)) throw new InputError(`signals: dataCheckMs must be ≥ 0, got ${check}`, 'bad_config');
    this.holder = new ModelHolder({ name: this.modelName, registry: new ModelRegistry(opts.db, opts.clock), bus: opts.bus, clock: opts.clock, logger: opts.logger, metrics: opts.metrics });
    this.data = new DataSource({ dataDir: opts.dataDir, logger: opts.logger, clock: opts.clock, metrics: opts.metrics, checkIntervalMs: opts.dataCheckMs });
    this.deps = { bus: opts.bus, clock: opts.clock, logger: opts.logger, metrics: opts.metrics, featureTtlSeconds: ttl, grossPerSide: gross };
  }

  /** Loads the model and the data (in parallel), starts polling, prepares the stream's group. */
  async start(): Promise<void> {
    const { metrics, bus } = this.opts;
    metrics.modelVersion.set({ name: this.modelName }, 0);
    metrics.busDegraded.set(bus.status() === 'up' ? 0 : 1);
    await Promise.all([this.holder.start(this.pollMs), this.data.load(), this.ensureGroup()]);
  }

  async generate(req: SignalsRequest): Promise<SignalsResponse> {
    const t0 = performance.now();
    const { metrics } = this.opts;
    try {
      if (this.closed) throw new HttpError(503, 'shutting_down', 'the signal service is shutting down; retry on another replica');
      const valid = validateRequest(req);
      const model = this.holder.current; // captured once: a reload swaps the holder, not this request's model
      if (!model) throw noModel(this.modelName, this.holder.lastCheck?.error);
      const data = await this.data.current();
      if (!data) throw new HttpError(503, 'no_data', `no market data to compute features from (${this.data.state().detail})`);
      const r = await generateSignals(this.deps, model, data, valid, this.scratch);
      metrics.generateSeconds.observe({ cache: r.cache }, (performance.now() - t0) / 1000);
      metrics.requests.inc({ result: 'ok' });
      this.publish(r.event);
      return r.response;
    } catch (e) {
      const status = e instanceof HttpError ? e.statusCode : 500;
      metrics.requests.inc({ result: status === 503 ? 'unavailable' : status < 500 ? 'client_error' : 'error' });
      throw e;
    }
  }

  /** Asks the registry now; swaps when the production version changed. */
  reload(trigger = 'api'): Promise<ReloadOutcome> {
    return this.holder.reload(trigger);
  }

  /** A model and a data snapshot are loaded: generate can answer. */
  ready(): boolean {
    return this.holder.current !== null && this.data.peek() !== null;
  }

  /** The model being served, or null. */
  model(): LoadedModel | null {
    return this.holder.current;
  }

  modelInfo(): ModelInfo | null {
    const m = this.holder.current;
    if (!m) return null;
    return {
      name: m.name,
      version: m.version,
      loaded_at: m.loadedAt,
      artifact_path: m.artifactPath,
      trees: m.model.numTrees,
      features: m.model.nFeatures,
      objective: m.model.objective,
      label: m.label.kind,
      label_source: m.label.source,
      registered_at: m.registered.created_at,
      description: m.registered.description,
      metrics: m.registered.metrics,
      registry: { production_version: this.holder.registryVersion, last_check: this.holder.lastCheck, poll_ms: this.pollMs },
    };
  }

  /** /health checks: model and data are critical, the bus (feature cache, stream) is not. */
  healthChecks(): HealthCheck[] {
    const { bus, db, metrics } = this.opts;
    return [
      {
        name: 'model',
        critical: true,
        check: async () => {
          const m = this.holder.current;
          if (!m) return { status: 'down', detail: noModel(this.modelName, this.holder.lastCheck?.error).message };
          const err = this.holder.lastCheck && !this.holder.lastCheck.ok ? `; last check failed: ${this.holder.lastCheck.error}` : '';
          return { status: 'up', detail: `${m.name} v${m.version}, loaded ${m.loadedAt}${err}` };
        },
      },
      { name: 'data', critical: true, check: async () => this.data.state() },
      {
        name: 'bus',
        critical: false,
        check: async () => {
          const r = await bus.healthCheck('bus', false).check();
          metrics.busDegraded.set(r.status === 'up' ? 0 : 1);
          return r.status === 'up' ? r : { status: 'down', detail: `${r.detail ?? 'unreachable'}: signals are computed without the feature cache and signals.generated is not published` };
        },
      },
      {
        name: 'registry',
        critical: false,
        check: async () => {
          await db.ping();
          return { status: 'up' };
        },
      },
    ];
  }

  /** Stops polling and waits for publishes in flight. The caller closes db and bus. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.holder.stop();
    await Promise.all([...this.publishing]);
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.opts.bus.ensureGroup(busStreams.signalsGenerated, busGroups.orchestrator);
      this.groupReady = true;
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'signals: cannot create the orchestrator group on signals.generated yet (retried on the next publish)');
    }
  }

  /** Fire and forget: a failure is logged and counted, never the request's problem. */
  private publish(event: SignalsGenerated): void {
    const { bus, logger, metrics } = this.opts;
    const p = (async () => {
      try {
        await this.ensureGroup();
        await bus.xadd(busStreams.signalsGenerated, encodeSignalsGenerated(event), { maxLen: this.opts.streamMaxLen ?? SIGNALS_STREAM_MAXLEN });
        if (this.publishWarned) logger.info('signals: publishing signals.generated again');
        this.publishWarned = false;
      } catch (e) {
        metrics.publishFailures.inc();
        // once per outage; the counter has every one
        if (!this.publishWarned) logger.warn({ err: (e as Error).message, as_of_date: event.as_of_date }, 'signals: cannot publish signals.generated (answers are still given; counted in kestrel_signals_publish_failures_total)');
        this.publishWarned = true;
      }
    })();
    this.publishing.add(p);
    void p.finally(() => this.publishing.delete(p));
  }
}

function noModel(name: string, lastError: string | undefined): HttpError {
  const why = lastError ? ` (${lastError})` : '';
  return new HttpError(503, 'no_model', `no production model for ${name}${why}: run \`kestrel train\` (or \`kestrel models promote ${name} <version>\`), then POST /api/v1/model/reload or wait for the next poll`);
}

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { busChannels, type Bus, type ModelReloaded } from '../bus/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { GbdtModel } from '../ml/index.js';
import type { ModelRegistry, ModelVersion } from '../registry/models.js';
import { FEATURE_COUNT, FEATURE_NAMES } from './features.js';
import type { SignalsMetrics } from './metrics.js';

/**
 * The production model, swapped by reference. A request reads `current` once at its start
 * and uses that object to the end, so a reload never changes the model under a request in
 * flight and no request waits for or fails because of a reload.
 *
 * Reloads: a poll of `registry.production(name)` every `pollMs`, `POST /api/v1/model/reload`,
 * and a `model.reloaded` message from another replica (a hint to poll now). The version is
 * loaded (artifact JSON → GbdtModel, feature names checked) before the swap; a failure keeps
 * the old model, is logged and counted, and is not retried by polling until the registry row
 * changes (an explicit reload always retries). No production version → no model (503).
 */
export interface LoadedModel {
  name: string;
  version: number;
  model: GbdtModel;
  /** For model feature j, its index in the Alpha158 vector. */
  columns: Int32Array;
  artifactPath: string;
  /**
   * What the model predicts: the registry's label_kind, else the artifact's `label.kind`, else
   * `return` assumed (versions registered before labels were recorded; logged as a warning).
   */
  label: { kind: string; source: 'registry' | 'artifact' | 'assumed' };
  /** When this process loaded it (UTC ISO-8601). */
  loadedAt: string;
  /** The registry row it came from. */
  registered: { created_at: string; updated_at: string; description: string | null; metrics: Record<string, number | null> };
}

export interface ModelRef {
  name: string;
  version: number;
}

export interface ReloadOutcome {
  trigger: string;
  changed: boolean;
  previous: ModelRef | null;
  current: ModelRef | null;
  /** Why the registry's production version could not be loaded (the previous model stays). */
  error?: string;
  errorKind?: 'registry_unavailable' | 'load_failed' | 'closing';
}

export interface ModelHolderOptions {
  name: string;
  registry: Pick<ModelRegistry, 'production'>;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  metrics: SignalsMetrics;
}

/** `alpha158-gbdt@3`: how a model version travels in bus payloads. */
export function modelVersionString(m: ModelRef): string {
  return `${m.name}@${m.version}`;
}

export class ModelHolder {
  /** Swapped, never mutated. */
  current: LoadedModel | null = null;
  /** Serialises checks: each explicit reload runs after the one before it. */
  private chain: Promise<unknown> = Promise.resolve();
  private running = 0;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private failedKey: string | null = null;
  private registryDown = false;
  private closed = false;
  lastCheck: { at: string; trigger: string; ok: boolean; error?: string } | null = null;
  /** The registry's production version at the last successful check (null = none). */
  registryVersion: number | null = null;

  constructor(private readonly opts: ModelHolderOptions) {}

  /** First load, the poll timer and the `model.reloaded` subscription. */
  async start(pollMs: number): Promise<ReloadOutcome> {
    const first = await this.check('start', true);
    if (pollMs > 0) {
      this.timer = setInterval(() => {
        if (this.running === 0) void this.check('poll', false);
      }, pollMs);
      this.timer.unref();
    }
    try {
      this.unsubscribe = await this.opts.bus.subscribe(busChannels.modelReloaded, (message) => this.onPeerReload(message));
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'signals: cannot subscribe to model.reloaded (polling still reloads)');
    }
    return first;
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.unsubscribe?.().catch(() => {});
    await this.chain.catch(() => {});
  }

  /** Asks the registry now and swaps when the production version differs. Never throws. */
  reload(trigger = 'api'): Promise<ReloadOutcome> {
    return this.check(trigger, true);
  }

  private check(trigger: string, explicit: boolean): Promise<ReloadOutcome> {
    this.running++;
    const run = this.chain.then(() => this.checkOnce(trigger, explicit));
    this.chain = run.catch(() => {});
    return run.finally(() => {
      this.running--;
    });
  }

  private onPeerReload(message: string): void {
    let version: string | undefined;
    try {
      version = (JSON.parse(message) as Partial<ModelReloaded>).model_version;
    } catch {
      return;
    }
    const cur = this.current;
    if (this.closed || typeof version !== 'string' || !version.startsWith(`${this.opts.name}@`)) return; // another model's news
    if (cur && version === modelVersionString(cur)) return;
    void this.check('peer', false);
  }

  private async checkOnce(trigger: string, explicit: boolean): Promise<ReloadOutcome> {
    const { registry, name, logger, metrics, clock } = this.opts;
    const previous = ref(this.current);
    if (this.closed) return { trigger, changed: false, previous, current: previous, error: 'the signal service is closing', errorKind: 'closing' };
    const at = clock.now().toISOString();
    let row: ModelVersion | null;
    try {
      row = await registry.production(name);
    } catch (e) {
      const error = `model registry unreachable: ${(e as Error).message}`;
      metrics.registryErrors.inc();
      if (!this.registryDown || explicit) logger.warn({ err: (e as Error).message, trigger }, 'signals: registry check failed; keeping the current model');
      this.registryDown = true;
      this.lastCheck = { at, trigger, ok: false, error };
      return { trigger, changed: false, previous, current: previous, error, errorKind: 'registry_unavailable' };
    }
    if (this.registryDown) logger.info('signals: model registry reachable again');
    this.registryDown = false;
    this.registryVersion = row?.version ?? null;

    if (!row) {
      this.lastCheck = { at, trigger, ok: true };
      if (!this.current) return { trigger, changed: false, previous, current: null };
      logger.warn({ model: name, version: previous?.version }, 'signals: the registry has no production version any more; unloading the model (generate answers 503 no_model)');
      this.swap(null);
      return { trigger, changed: true, previous, current: null };
    }
    if (this.current?.version === row.version) {
      this.lastCheck = { at, trigger, ok: true };
      return { trigger, changed: false, previous, current: previous };
    }
    const key = `${row.version}|${row.updated_at}|${row.artifact_path}`;
    if (!explicit && key === this.failedKey) {
      this.lastCheck = { at, trigger, ok: false, error: this.lastCheck?.error };
      return { trigger, changed: false, previous, current: previous, error: this.lastCheck.error, errorKind: 'load_failed' };
    }
    try {
      const loaded = await loadModel(row, clock);
      if (loaded.label.source === 'assumed') {
        logger.warn({ model: name, version: row.version }, `signals: ${name} v${row.version} records no label kind (registered before labels were recorded): treating it as a return model; retrain it to record one`);
      }
      this.failedKey = null;
      this.swap(loaded);
      metrics.reloads.inc({ result: 'ok' });
      this.lastCheck = { at, trigger, ok: true };
      logger.info({ model: name, version: loaded.version, previous: previous?.version ?? null, trigger, trees: loaded.model.numTrees }, 'signals: model loaded');
      return { trigger, changed: true, previous, current: ref(loaded) };
    } catch (e) {
      const error = `cannot load ${name} v${row.version} from ${row.artifact_path}: ${(e as Error).message}`;
      metrics.reloads.inc({ result: 'failed' });
      this.failedKey = key;
      this.lastCheck = { at, trigger, ok: false, error };
      logger.error({ err: (e as Error).message, model: name, version: row.version, artifact: row.artifact_path, keeping: previous?.version ?? null, trigger }, 'signals: model reload failed; keeping the current model');
      return { trigger, changed: false, previous, current: previous, error, errorKind: 'load_failed' };
    }
  }

  private swap(next: LoadedModel | null): void {
    const prev = this.current;
    this.current = next;
    const { metrics, name, bus, clock, logger } = this.opts;
    metrics.modelVersion.set({ name }, next?.version ?? 0);
    if (!next) return;
    const msg: ModelReloaded = { model_version: modelVersionString(next), previous_version: prev ? modelVersionString(prev) : null, ts: clock.now().toISOString() };
    bus.publish(busChannels.modelReloaded, JSON.stringify(msg)).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'signals: cannot publish model.reloaded'));
  }
}

function ref(m: LoadedModel | null): ModelRef | null {
  return m ? { name: m.name, version: m.version } : null;
}

/** Reads and checks a registered model: GBDT JSON whose features are Alpha158 columns. */
export async function loadModel(row: ModelVersion, clock: Clock): Promise<LoadedModel> {
  const path = resolve(row.artifact_path);
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`, { cause: e });
  }
  const model = GbdtModel.fromJSON(json);
  return {
    name: row.name,
    version: row.version,
    model,
    columns: featureColumns(model),
    artifactPath: path,
    label: labelOf(row, model),
    loadedAt: clock.now().toISOString(),
    registered: { created_at: row.created_at, updated_at: row.updated_at, description: row.description, metrics: row.metrics },
  };
}

/** The label kind of a registered model; the registry and the artifact must agree when both say. */
export function labelOf(row: Pick<ModelVersion, 'label_kind'>, model: Pick<GbdtModel, 'label'>): LoadedModel['label'] {
  const registered = row.label_kind ?? null;
  const inFile = model.label?.kind ?? null;
  if (registered !== null && inFile !== null && registered !== inFile) throw new Error(`the registry says label ${registered}, the artifact says ${inFile}`);
  if (registered !== null) return { kind: registered, source: 'registry' };
  if (inFile !== null) return { kind: inFile, source: 'artifact' };
  return { kind: 'return', source: 'assumed' };
}

/** Maps the model's features onto the Alpha158 vector (by name; positional for unnamed 158-feature models). */
export function featureColumns(model: GbdtModel): Int32Array {
  const names = model.featureNames;
  if (!names) {
    if (model.nFeatures !== FEATURE_COUNT) throw new Error(`the model has ${model.nFeatures} unnamed features; the signal service computes the ${FEATURE_COUNT} Alpha158 features`);
    return Int32Array.from({ length: FEATURE_COUNT }, (_, i) => i);
  }
  const index = new Map(FEATURE_NAMES.map((n, i) => [n, i]));
  const unknown = names.filter((n) => !index.has(n));
  if (unknown.length > 0) throw new Error(`the model uses features the signal service does not compute: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` (+${unknown.length - 5} more)` : ''}`);
  return Int32Array.from(names, (n) => index.get(n)!);
}

import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { dayString } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { SymbolBars } from '../data/bars.js';
import { loadAdjustedBars } from '../data/bars-loader.js';
import { openCatalog } from '../data/catalog.js';
import { readManifest, type Manifest } from '../data/store.js';
import { prepareSeries } from './features.js';
import type { SignalsMetrics } from './metrics.js';

/**
 * The adjusted bars the signal service computes features from: every symbol of the current
 * data-store snapshot, in memory (≈ 30 MB for 500 symbols × 5 years). Loaded at start and
 * again when `_manifest.json`'s `created_at` (or its list of adjusted-bars files) changes —
 * looked at by requests, at most once
 * per `checkIntervalMs` (default 1 s). A request that notices a new snapshot waits for it to
 * load (one load at a time, shared); a failed load keeps the previous snapshot and is retried
 * with backoff (1 s doubling to 60 s) while the manifest stays the same.
 */
export interface DataSnapshot {
  /** The manifest's `created_at`. */
  createdAt: string;
  /** created_at + the adjusted-bars file list: what identifies the snapshot. */
  key: string;
  bars: ReadonlyMap<string, SymbolBars>;
  /** Day number of the first / last stored date (over all symbols). */
  firstDay: number;
  lastDay: number;
  loadedAt: string;
}

export interface DataSourceOptions {
  dataDir: string;
  logger: Logger;
  clock: Clock;
  metrics: SignalsMetrics;
  checkIntervalMs?: number;
}

export type DataState = { status: 'up'; detail: string } | { status: 'down'; detail: string };

export class DataSource {
  private snapshot: DataSnapshot | null = null;
  private loading: Promise<DataSnapshot | null> | null = null;
  private lastCheck = -Infinity;
  private lastError: string | null = null;
  /** What the last check found when there is nothing to load (no manifest, no bars table). */
  private absent: string | null = 'not loaded yet';
  private failed: { key: string; retryAt: number; delayMs: number } | null = null;
  private readonly checkIntervalMs: number;

  constructor(private readonly opts: DataSourceOptions) {
    this.checkIntervalMs = opts.checkIntervalMs ?? 1000;
  }

  /** The snapshot to answer from (after a manifest check when the last one is older than the interval). */
  async current(): Promise<DataSnapshot | null> {
    const now = performance.now();
    if (now - this.lastCheck >= this.checkIntervalMs) {
      this.lastCheck = now;
      const p = this.refresh();
      if (p) await p;
    }
    return this.snapshot;
  }

  /** Loads now when the manifest changed (start-up; tests). */
  async load(): Promise<DataSnapshot | null> {
    this.lastCheck = performance.now();
    const p = this.refresh(true);
    if (p) await p;
    return this.snapshot;
  }

  peek(): DataSnapshot | null {
    return this.snapshot;
  }

  state(): DataState {
    const s = this.snapshot;
    if (!s) return { status: 'down', detail: this.lastError ?? this.absent ?? 'no data' };
    const note = this.lastError ? `; last reload failed: ${this.lastError}` : '';
    return { status: 'up', detail: `${s.bars.size} symbols, ${dayString(s.firstDay)}..${dayString(s.lastDay)}, snapshot ${s.createdAt}${note}` };
  }

  /** Starts a load when the manifest names another snapshot; null when there is nothing to do. */
  private refresh(force = false): Promise<DataSnapshot | null> | null {
    if (this.loading) return this.loading;
    let key: string;
    try {
      const m = readManifest(this.opts.dataDir);
      if (!m) {
        this.absent = `no data in ${this.opts.dataDir}: run \`kestrel etl\``;
        return null;
      }
      key = snapshotKey(m);
    } catch (e) {
      this.lastError = (e as Error).message;
      return null;
    }
    if (this.snapshot?.key === key) return null;
    const f = this.failed;
    if (!force && f && f.key === key && Date.now() < f.retryAt) return null;
    this.loading = this.loadSnapshot(key).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async loadSnapshot(expected: string): Promise<DataSnapshot | null> {
    const { logger, metrics, dataDir, clock } = this.opts;
    const t0 = performance.now();
    let key = expected;
    try {
      const cat = await openCatalog(dataDir);
      try {
        key = snapshotKey(cat.manifest);
        const createdAt = cat.manifest.created_at;
        if (!cat.views.includes('bars')) {
          this.absent = `the snapshot in ${dataDir} has no adjusted bars: run \`kestrel etl\``;
          this.failed = { key, retryAt: Date.now() + 5000, delayMs: 5000 };
          return this.snapshot;
        }
        const bars = await loadAdjustedBars(cat);
        let firstDay = Infinity;
        let lastDay = -Infinity;
        for (const b of bars.values()) {
          const n = b.day.length;
          if (n === 0) continue;
          if (b.day[0]! < firstDay) firstDay = b.day[0]!;
          if (b.day[n - 1]! > lastDay) lastDay = b.day[n - 1]!;
        }
        if (bars.size === 0 || !Number.isFinite(lastDay)) {
          this.absent = `the snapshot in ${dataDir} holds no bars: run \`kestrel etl\``;
          this.failed = { key, retryAt: Date.now() + 5000, delayMs: 5000 };
          return this.snapshot;
        }
        for (const b of bars.values()) prepareSeries(b);
        const previous = this.snapshot;
        this.snapshot = { createdAt, key, bars, firstDay, lastDay, loadedAt: clock.now().toISOString() };
        this.lastError = null;
        this.failed = null;
        metrics.dataReloads.inc({ result: 'ok' });
        logger.info(
          { snapshot: createdAt, previous: previous?.createdAt ?? null, symbols: bars.size, last_date: dayString(lastDay), ms: Math.round(performance.now() - t0) },
          'signals: data snapshot loaded',
        );
        return this.snapshot;
      } finally {
        cat.close();
      }
    } catch (e) {
      const msg = (e as Error).message;
      this.lastError = msg;
      const delayMs = Math.min(60_000, this.failed?.key === key ? this.failed.delayMs * 2 : 1000);
      this.failed = { key, retryAt: Date.now() + delayMs, delayMs };
      metrics.dataReloads.inc({ result: 'failed' });
      logger.error({ err: msg, retry_ms: delayMs, keeping: this.snapshot?.createdAt ?? null }, 'signals: loading the data snapshot failed; keeping the previous one');
      return this.snapshot;
    }
  }
}

/** A snapshot is its manifest's created_at and adjusted-bars files (content-addressed names). */
function snapshotKey(m: Manifest): string {
  return `${m.created_at}|${createHash('sha1').update(JSON.stringify(m.tables.bars_adjusted ?? [])).digest('hex')}`;
}

import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { DecimalLike } from '../../core/money.js';
import type { Queryable } from '../../db/db.js';
import { computePnl, type Mark, type PnlSnapshot, type PositionInput } from '../../pnl/portfolio.js';

/**
 * Live portfolio P&L: positions from the `positions` table (reloaded on demand and every
 * `reloadIntervalMs`), marks from the price cache.
 *
 * Computation is coalesced, not delayed: a price update marks the P&L dirty and it is
 * recomputed once per burst — at `settle()` (the service calls it at the end of every feed
 * frame) or else in a microtask — so every snapshot after a tick includes it, and a frame of
 * 50 trades costs one computePnl, not 50. `snapshot()` never returns a dirty result.
 * Listeners (`subscribe`, e.g. SSE) are notified at most once per `throttleMs` (leading edge,
 * plus one trailing notification with the newest snapshot); `onCompute` sees every computation.
 */
export interface MarkSource {
  get(symbol: string): Mark | undefined;
}

export interface LivePnlOptions {
  db: Queryable;
  marks: MarkSource;
  /** Notify `subscribe` listeners at most this often. Default 250 ms. */
  throttleMs?: number;
  /** Marks older than this are listed in stale_marks. Default 60 000 ms. */
  staleAfterMs?: number;
  /** Reload positions this often (0 = only on demand). Default 0. */
  reloadIntervalMs?: number;
  cash?: DecimalLike;
  clock?: Clock;
  logger?: Logger;
}

export type PnlListener = (snapshot: PnlSnapshot) => void;

interface PositionRow {
  symbol: string;
  qty: string;
  avg_entry_price: string;
  realized_pnl: string;
}

export class LivePnl {
  private readonly db: Queryable;
  private readonly marks: MarkSource;
  private readonly throttleMs: number;
  private readonly staleAfterMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private cash: DecimalLike | undefined;
  private positions: PositionInput[] = [];
  private symbols = new Set<string>();
  private latest: PnlSnapshot | undefined;
  private dirty = false;
  private scheduled = false;
  private lastNotifyMs = -Infinity;
  private trailing: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<PnlListener>();
  private readonly computeListeners = new Set<PnlListener>();
  private closed = false;
  computations = 0;
  notifications = 0;

  constructor(opts: LivePnlOptions) {
    this.db = opts.db;
    this.marks = opts.marks;
    this.throttleMs = opts.throttleMs ?? 250;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
    this.cash = opts.cash;
    if (opts.reloadIntervalMs && opts.reloadIntervalMs > 0) {
      this.reloadTimer = setInterval(() => {
        this.reload().catch((e: unknown) => this.logger?.warn({ err: e }, 'live pnl: position reload failed'));
      }, opts.reloadIntervalMs);
      this.reloadTimer.unref();
    }
  }

  /** Reads positions (open and closed: closed ones still carry realized P&L) and recomputes. */
  async reload(): Promise<PnlSnapshot> {
    const r = await this.db.query<PositionRow>('SELECT symbol, qty::text AS qty, avg_entry_price::text AS avg_entry_price, realized_pnl::text AS realized_pnl FROM positions ORDER BY symbol');
    this.positions = r.rows.map((p) => ({ symbol: p.symbol, qty: p.qty, avg_entry_price: p.avg_entry_price, realized_pnl: p.realized_pnl }));
    this.symbols = new Set(this.positions.map((p) => p.symbol));
    return this.recompute();
  }

  setCash(cash: DecimalLike | undefined): void {
    this.cash = cash;
  }

  /** Symbols of positions held (qty ≠ 0). */
  openSymbols(): string[] {
    return this.positions.filter((p) => Number(p.qty) !== 0).map((p) => p.symbol);
  }

  /** A price changed: the P&L is recomputed at settle() or in a microtask, whichever is first. Ignores symbols not held. */
  onPrice(symbol?: string): void {
    if (this.closed) return;
    if (symbol !== undefined && !this.symbols.has(symbol)) return;
    this.dirty = true;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.settle();
    });
  }

  /** Recomputes now when a price changed since the last computation. */
  settle(): void {
    if (this.dirty && !this.closed) this.recompute();
  }

  /** Computes a snapshot now, hands it to compute listeners, and notifies (throttled) subscribers. */
  recompute(): PnlSnapshot {
    this.dirty = false;
    this.computations++;
    const snap = computePnl(this.positions, (s) => this.marks.get(s), { now: this.clock.now(), cash: this.cash, staleAfterMs: this.staleAfterMs });
    this.latest = snap;
    this.emit(this.computeListeners, snap);
    this.notify();
    return snap;
  }

  private notify(): void {
    if (this.trailing || this.listeners.size === 0) return;
    const wait = this.lastNotifyMs + this.throttleMs - performance.now();
    if (wait <= 0) return this.notifyNow();
    this.trailing = setTimeout(() => {
      this.trailing = undefined;
      if (!this.closed) this.notifyNow();
    }, wait);
    this.trailing.unref();
  }

  private notifyNow(): void {
    // `latest` is current here: a dirty flag never outlives the microtask that settles it.
    const snap = this.latest;
    if (!snap) return;
    this.lastNotifyMs = performance.now();
    this.notifications++;
    this.emit(this.listeners, snap);
  }

  private emit(listeners: Set<PnlListener>, snap: PnlSnapshot): void {
    for (const l of listeners) {
      try {
        l(snap);
      } catch (e) {
        this.logger?.warn({ err: e }, 'pnl listener failed');
      }
    }
  }

  /** The latest snapshot: computed now if there is none yet or a price changed since. */
  snapshot(): PnlSnapshot {
    return !this.latest || this.dirty ? this.recompute() : this.latest;
  }

  /** Snapshots as they change, at most one per throttleMs (the newest). */
  subscribe(listener: PnlListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Every computation, synchronously (measurements, metrics). */
  onCompute(listener: PnlListener): () => void {
    this.computeListeners.add(listener);
    return () => void this.computeListeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.closed = true;
    if (this.trailing) clearTimeout(this.trailing);
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    this.trailing = undefined;
    this.reloadTimer = undefined;
    this.listeners.clear();
    this.computeListeners.clear();
  }
}

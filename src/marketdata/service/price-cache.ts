import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { busChannels, busKeys, DEFAULT_PRICE_TTL_SECONDS, type Bus, type PricesUpdated, type PriceTick } from '../../bus/index.js';
import type { Trade } from './types.js';

/**
 * Latest trade per symbol, in memory and on the bus (`price:{symbol}` as JSON PriceTick).
 *
 * Writes are coalesced: a symbol traded 1000 times between flushes is written once, with its
 * latest trade. A flush happens every `flushIntervalMs` after the first pending change, or at
 * once when `maxPendingSymbols` symbols are pending — one pipelined `mset` with the TTL, then
 * one best-effort `prices.updated` naming the flushed symbols. Trades older than the stored
 * one for their symbol (out of order) are ignored and counted.
 */
export interface PriceCacheOptions {
  bus: Bus;
  /** Flush this long after the first pending change. Default 50 ms. */
  flushIntervalMs?: number;
  /** Flush at once when this many symbols are pending. Default 500. */
  maxPendingSymbols?: number;
  /** TTL of `price:{symbol}`. Default DEFAULT_PRICE_TTL_SECONDS (7 days). */
  ttlSeconds?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface PriceCacheStats {
  applied: number;
  outOfOrder: number;
  flushes: number;
  keysWritten: number;
  /** Flushes whose mset was dropped (bus down) or threw. */
  writeFailures: number;
  publishFailures: number;
}

/** Called synchronously with the symbol of every applied trade. */
export type PriceListener = (symbol: string, tick: PriceTick) => void;

export class PriceCache {
  private readonly bus: Bus;
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly latest = new Map<string, PriceTick & { tsMs: number; id: number }>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<PriceListener>();
  private closed = false;
  readonly stats: PriceCacheStats = { applied: 0, outOfOrder: 0, flushes: 0, keysWritten: 0, writeFailures: 0, publishFailures: 0 };

  constructor(opts: PriceCacheOptions) {
    this.bus = opts.bus;
    this.flushIntervalMs = opts.flushIntervalMs ?? 50;
    this.maxPending = Math.max(1, opts.maxPendingSymbols ?? 500);
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_PRICE_TTL_SECONDS;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
  }

  /** Applies one trade; false when it was older than the stored one (or the cache is closed). */
  onTrade(t: Trade): boolean {
    if (this.closed) return false;
    const tsMs = Date.parse(t.ts);
    if (Number.isNaN(tsMs)) throw new Error(`trade ${t.symbol}#${t.id}: ts ${JSON.stringify(t.ts)} is not ISO-8601`);
    const prev = this.latest.get(t.symbol);
    if (prev && tsMs < prev.tsMs) {
      this.stats.outOfOrder++;
      return false;
    }
    const tick: PriceTick = { price: t.price, size: Number(t.size), ts: new Date(tsMs).toISOString() };
    this.latest.set(t.symbol, { ...tick, tsMs, id: t.id });
    this.stats.applied++;
    this.pending.add(t.symbol);
    for (const l of this.listeners) {
      try {
        l(t.symbol, tick);
      } catch (e) {
        this.logger?.warn({ err: e }, 'price listener failed');
      }
    }
    if (this.pending.size >= this.maxPending) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
    return true;
  }

  get(symbol: string): PriceTick | undefined {
    const e = this.latest.get(symbol);
    return e ? { price: e.price, size: e.size, ts: e.ts } : undefined;
  }

  snapshot(): Record<string, PriceTick> {
    const out: Record<string, PriceTick> = {};
    for (const [s, e] of [...this.latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[s] = { price: e.price, size: e.size, ts: e.ts };
    return out;
  }

  /** True when there is no price for the symbol or it is older than maxAgeMs at `now`. */
  isStale(symbol: string, now: Date, maxAgeMs: number): boolean {
    const e = this.latest.get(symbol);
    return !e || now.getTime() - e.tsMs > maxAgeMs;
  }

  onPrice(listener: PriceListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Writes every pending symbol now (serialised behind any flush in flight). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.chain = this.chain.then(() => this.flushPending());
    return this.chain;
  }

  private async flushPending(): Promise<void> {
    if (this.pending.size === 0) return;
    const symbols = [...this.pending];
    this.pending = new Set();
    const entries = symbols.map((s) => {
      const e = this.latest.get(s)!;
      const tick: PriceTick = { price: e.price, size: e.size, ts: e.ts };
      return [busKeys.price(s), JSON.stringify(tick)] as const;
    });
    this.stats.flushes++;
    try {
      if (await this.bus.mset(entries, this.ttlSeconds)) this.stats.keysWritten += entries.length;
      else this.stats.writeFailures++;
    } catch (e) {
      this.stats.writeFailures++;
      this.logger?.warn({ err: e }, 'price cache: bus write failed');
    }
    const msg: PricesUpdated = { symbols, ts: this.clock.now().toISOString() };
    try {
      if (!(await this.bus.publish(busChannels.pricesUpdated, JSON.stringify(msg)))) this.stats.publishFailures++;
    } catch (e) {
      this.stats.publishFailures++;
      this.logger?.warn({ err: e }, 'price cache: publish failed');
    }
  }

  /** Flushes what is pending and stops accepting trades. Does not close the bus. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.listeners.clear();
  }
}

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
  /** The flush waiting behind the one in flight (it takes everything pending when it starts). */
  private queued: Promise<void> | null = null;
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
    const ts = canonicalIso(t.ts, tsMs);
    const tick: PriceTick = { price: t.price, size: Number(t.size), ts };
    this.latest.set(t.symbol, { price: tick.price, size: tick.size, ts, tsMs, id: t.id });
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

  /**
   * Writes every pending symbol now (serialised behind any flush in flight). At most one flush
   * waits: with a slow bus and many symbols, calls fold into it instead of queueing one each.
   */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queued) return this.queued;
    const run = this.chain.then(() => {
      this.queued = null;
      return this.flushPending();
    });
    this.queued = run;
    this.chain = run;
    return run;
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

/**
 * `new Date(ms).toISOString()` without the formatting when `s` (which parsed to `ms`) already is
 * that text — what the replay server and most feeds send; formatting was the costliest step of
 * a tick. Only unambiguous cases take the shortcut: all digits where digits belong, month
 * 01–12, day 01–28, hour 00–23, minute and second 00–59 (nothing a lenient parser could roll over).
 */
export function canonicalIso(s: string, ms: number): string {
  if (s.length !== 24 || Number.isNaN(ms)) return new Date(ms).toISOString();
  for (let i = 0; i < 24; i++) {
    const c = s.charCodeAt(i);
    const want = SHAPE.charCodeAt(i);
    if (want === 100 /* d */ ? c < 48 || c > 57 : c !== want) return new Date(ms).toISOString();
  }
  // No helper closure: under tsx (keepNames) every closure creation costs a call.
  const month = (s.charCodeAt(5) - 48) * 10 + s.charCodeAt(6) - 48;
  const day = (s.charCodeAt(8) - 48) * 10 + s.charCodeAt(9) - 48;
  const hour = (s.charCodeAt(11) - 48) * 10 + s.charCodeAt(12) - 48;
  const minute = (s.charCodeAt(14) - 48) * 10 + s.charCodeAt(15) - 48;
  const second = (s.charCodeAt(17) - 48) * 10 + s.charCodeAt(18) - 48;
  if (month < 1 || month > 12 || day < 1 || day > 28 || hour > 23 || minute > 59 || second > 59) return new Date(ms).toISOString();
  return s;
}
const SHAPE = 'dddd-dd-ddTdd:dd:dd.dddZ';

import { KestrelError } from '../core/errors.js';
import type { HealthCheck } from '../observability/http-app.js';

/**
 * The bus: Kestrel's cache, best-effort notifications and durable triggers. One small
 * interface with two implementations — Redis (`REDIS_URL` set) and an in-process default —
 * that behave the same (the contract suite in `test-helpers.ts` runs against both).
 *
 * Failure rule while Redis is unreachable (see docs/concepts/redis-patterns.md):
 * what loses nothing but speed degrades (cache reads miss, cache writes and publishes are
 * dropped and counted), what would lose or corrupt state throws `BusUnavailableError`
 * (`del`, `xadd`, `ensureGroup`, strict reads). No call waits longer than the fail-fast
 * command timeout.
 */

/** Cache values: callers serialise (JSON via getJson/setJson, Float64 vectors via getF64/setF64). */
export type BusValue = string | Buffer;

export interface ReadOptions {
  /**
   * Throw `BusUnavailableError` instead of returning a miss while the bus is unreachable.
   * For reads where "absent" and "unknown" must not be confused (e.g. `breaker:state`).
   */
  strict?: boolean;
}

export type MessageHandler = (message: string, channel: string) => void | Promise<void>;
export type Unsubscribe = () => Promise<void>;

export interface XaddOptions {
  /** Cap the stream at about this many entries (oldest trimmed first). */
  maxLen?: number;
  /** Trim exactly to maxLen instead of Redis's cheaper approximate (`~`) trim. Default false. */
  exactTrim?: boolean;
}

export interface GroupOptions {
  /** Where a newly created group starts: `$` only entries added from now on (default), `0` the whole retained stream. */
  startId?: '$' | '0';
}

export interface StreamEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

export type StreamHandler = (entry: StreamEntry) => void | Promise<void>;

export interface ConsumeOptions extends GroupOptions {
  /** Entries fetched per read. Default 10. */
  count?: number;
  /** Longest one blocking read waits for new entries. Default 2000 ms. */
  blockMs?: number;
  /**
   * Entries pending (delivered, not acked) longer than this are claimed from their consumer,
   * presumed dead, and processed here. A running handler keeps its entry fresh, so this is
   * not a limit on handler duration. Default 60 000 ms.
   */
  claimIdleMs?: number;
  /** How often to look for idle entries to claim. Default min(claimIdleMs / 2, 10 000) ms. */
  claimIntervalMs?: number;
}

export interface StreamConsumer {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** Stops after the running handler (if any) finishes; unread entries stay in the stream. */
  stop(): Promise<void>;
  /** Settles when the loop has ended. */
  readonly done: Promise<void>;
}

export type BusStatus = 'up' | 'down';

export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Prepended to every key, channel and stream name. */
  readonly keyPrefix: string;

  // ---- cache ----
  get(key: string, opts?: ReadOptions): Promise<string | null>;
  getBuffer(key: string, opts?: ReadOptions): Promise<Buffer | null>;
  /** Stores the value (with a TTL when given). Resolves false when dropped because the bus is down. */
  set(key: string, value: BusValue, ttlSeconds?: number): Promise<boolean>;
  mget(keys: readonly string[], opts?: ReadOptions): Promise<Array<string | null>>;
  mgetBuffer(keys: readonly string[], opts?: ReadOptions): Promise<Array<Buffer | null>>;
  /** One round trip (pipelined SETs; a single MSET without TTL). Not atomic with a TTL. */
  mset(entries: Iterable<readonly [string, BusValue]>, ttlSeconds?: number): Promise<boolean>;
  /** Number of keys removed. Throws BusUnavailableError while down: invalidation must not be lost silently. */
  del(keys: string | readonly string[]): Promise<number>;
  getJson<T>(key: string, opts?: ReadOptions): Promise<T | null>;
  setJson(key: string, value: unknown, ttlSeconds?: number): Promise<boolean>;
  /** Little-endian IEEE-754 doubles; a view over the received bytes when they are aligned. */
  getF64(key: string, opts?: ReadOptions): Promise<Float64Array | null>;
  setF64(key: string, value: Float64Array, ttlSeconds?: number): Promise<boolean>;

  // ---- pub/sub: best effort, at most once, only to subscribers connected at the time ----
  /** Resolves false when the message was dropped because the bus is down. */
  publish(channel: string, message: string): Promise<boolean>;
  /** Resolves once subscribed (or, while down, once registered: re-subscribed on reconnect). */
  subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe>;

  // ---- streams with consumer groups: durable, at least once ----
  xadd(stream: string, fields: Record<string, string | number>, opts?: XaddOptions): Promise<string>;
  /** Creates the group (and the stream) if missing. */
  ensureGroup(stream: string, group: string, opts?: GroupOptions): Promise<void>;
  consume(stream: string, group: string, consumer: string, handler: StreamHandler, opts?: ConsumeOptions): StreamConsumer;

  // ---- health ----
  /** Round-trip latency in ms; throws BusUnavailableError after timeoutMs (default 1000). */
  ping(timeoutMs?: number): Promise<number>;
  status(): BusStatus;
  healthCheck(name?: string, critical?: boolean): HealthCheck;
  /** Stops consumers, drops subscriptions and closes connections. */
  close(): Promise<void>;
}

/** The bus could not be reached (or did not answer within the fail-fast timeout). */
export class BusUnavailableError extends KestrelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'bus_unavailable', 1);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** A stored value could not be decoded as the requested type. */
export class BusDecodeError extends KestrelError {
  constructor(message: string) {
    super(message, 'bus_decode_failed', 1);
  }
}

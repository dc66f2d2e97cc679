import type { Logger } from '../core/logger.js';
import type { HealthCheck } from '../observability/http-app.js';
import type { Metrics } from '../observability/metrics.js';
import { bufferToF64, checkName, decodeJson, encodeJson, f64ToBuffer, ttlMs } from './codec.js';
import { errText, runConsumer, type StreamDriver } from './consumer.js';
import {
  BusUnavailableError,
  type Bus,
  type BusStatus,
  type BusValue,
  type ConsumeOptions,
  type GroupOptions,
  type MessageHandler,
  type ReadOptions,
  type StreamConsumer,
  type StreamHandler,
  type Unsubscribe,
  type XaddOptions,
} from './types.js';

export interface BaseBusOptions {
  logger: Logger;
  keyPrefix?: string;
  metrics?: Metrics;
}

/**
 * What both implementations share: key prefixing, argument checks, codecs, the degrade/throw
 * policy while the backend is unreachable, subscription bookkeeping, the consumer loop and
 * the health check. Subclasses implement the `raw*` primitives against their backend; a raw
 * primitive throws when the backend is unreachable, and `isUnavailable` says which errors
 * mean that (as opposed to a bug such as WRONGTYPE, which always propagates).
 */
export abstract class BaseBus implements Bus {
  abstract readonly kind: 'memory' | 'redis';
  readonly keyPrefix: string;
  protected readonly log: Logger;
  private readonly degradedCounter?: { inc(labels: { op: string }): void };
  private readonly handlerFailures?: { inc(labels: { stream: string; group: string }): void };
  /** Ops that already logged a degrade warning during the current outage. */
  private readonly warned = new Set<string>();
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly consumers = new Set<StreamConsumer>();
  protected closed = false;

  constructor(opts: BaseBusOptions) {
    this.keyPrefix = opts.keyPrefix ?? '';
    this.log = opts.logger;
    this.degradedCounter = opts.metrics?.counter('bus_degraded_total', 'Bus calls that degraded (cache miss, dropped write or publish) because the bus was unreachable', ['op']);
    this.handlerFailures = opts.metrics?.counter('bus_stream_handler_failures_total', 'Stream entries whose handler threw (left pending for retry)', ['stream', 'group']);
  }

  // ---- primitives (keys, channels and streams arrive prefixed) ----
  protected abstract rawGet(key: string): Promise<string | null>;
  protected abstract rawGetBuffer(key: string): Promise<Buffer | null>;
  protected abstract rawMget(keys: string[]): Promise<Array<string | null>>;
  protected abstract rawMgetBuffer(keys: string[]): Promise<Array<Buffer | null>>;
  protected abstract rawSet(key: string, value: BusValue, ttlMs: number | undefined): Promise<void>;
  protected abstract rawMset(entries: Array<[string, BusValue]>, ttlMs: number | undefined): Promise<void>;
  protected abstract rawDel(keys: string[]): Promise<number>;
  protected abstract rawPublish(channel: string, message: string): Promise<void>;
  /** Start receiving a channel; messages go to `this.dispatch`. */
  protected abstract rawListen(channel: string): Promise<void>;
  protected abstract rawUnlisten(channel: string): Promise<void>;
  protected abstract rawXadd(stream: string, fields: string[], maxLen: number | undefined, exact: boolean): Promise<string>;
  protected abstract rawEnsureGroup(stream: string, group: string, startId: '$' | '0'): Promise<void>;
  protected abstract rawPing(): Promise<void>;
  protected abstract streamDriver(): StreamDriver;
  protected abstract isUnavailable(err: unknown): boolean;
  protected abstract closeBackend(): Promise<void>;
  abstract status(): BusStatus;
  protected abstract describe(): string;

  /** Float64 read; the in-process bus overrides it to copy once. */
  protected async rawGetF64(key: string): Promise<Float64Array | null> {
    const buf = await this.rawGetBuffer(key);
    return buf === null ? null : bufferToF64(buf, key);
  }

  protected k(kind: string, name: string): string {
    checkName(kind, name);
    return this.keyPrefix + name;
  }

  // ---- degrade policy ----

  /** Runs a read; while unreachable it returns `miss` (or throws when strict). */
  private async read<T>(op: string, miss: T, opts: ReadOptions | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      this.assertOpen(op);
      return await fn();
    } catch (err) {
      if (!this.isUnavailable(err)) throw err;
      if (opts?.strict) throw this.unavailable(op, err);
      this.degraded(op, err);
      return miss;
    }
  }

  /** Runs a write that may be dropped; resolves false when it was. */
  private async droppable(op: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      this.assertOpen(op);
      await fn();
      return true;
    } catch (err) {
      if (!this.isUnavailable(err)) throw err;
      this.degraded(op, err);
      return false;
    }
  }

  /** Runs a call that must not fail silently: BusUnavailableError while unreachable. */
  private async must<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      this.assertOpen(op);
      return await fn();
    } catch (err) {
      if (this.isUnavailable(err)) throw this.unavailable(op, err);
      throw err;
    }
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new BusUnavailableError(`bus is closed (${op})`);
  }

  protected unavailable(op: string, err: unknown): BusUnavailableError {
    if (err instanceof BusUnavailableError) return err;
    return new BusUnavailableError(`${this.describe()} unavailable during ${op}: ${errText(err)}`, { cause: err });
  }

  private degraded(op: string, err: unknown): void {
    this.degradedCounter?.inc({ op });
    if (!this.warned.has(op)) {
      this.warned.add(op);
      this.log.warn({ op, err: errText(err) }, `${this.describe()} unavailable: ${op} degraded (counted in kestrel_bus_degraded_total until it is back)`);
    }
  }

  /** Subclasses call this when the backend is reachable again. */
  protected recovered(): void {
    this.warned.clear();
  }

  // ---- cache ----

  async get(key: string, opts?: ReadOptions): Promise<string | null> {
    const k = this.k('key', key);
    return this.read('get', null, opts, () => this.rawGet(k));
  }

  async getBuffer(key: string, opts?: ReadOptions): Promise<Buffer | null> {
    const k = this.k('key', key);
    return this.read('get', null, opts, () => this.rawGetBuffer(k));
  }

  async set(key: string, value: BusValue, ttlSeconds?: number): Promise<boolean> {
    const k = this.k('key', key);
    const ms = ttlMs(ttlSeconds);
    checkValue(value, key);
    return this.droppable('set', () => this.rawSet(k, value, ms));
  }

  async mget(keys: readonly string[], opts?: ReadOptions): Promise<Array<string | null>> {
    const ks = keys.map((key) => this.k('key', key));
    if (ks.length === 0) return Promise.resolve([]);
    return this.read('mget', ks.map(() => null), opts, () => this.rawMget(ks));
  }

  async mgetBuffer(keys: readonly string[], opts?: ReadOptions): Promise<Array<Buffer | null>> {
    const ks = keys.map((key) => this.k('key', key));
    if (ks.length === 0) return Promise.resolve([]);
    return this.read('mget', ks.map(() => null), opts, () => this.rawMgetBuffer(ks));
  }

  async mset(entries: Iterable<readonly [string, BusValue]>, ttlSeconds?: number): Promise<boolean> {
    const ms = ttlMs(ttlSeconds);
    const list: Array<[string, BusValue]> = [];
    for (const [key, value] of entries) {
      checkValue(value, key);
      list.push([this.k('key', key), value]);
    }
    if (list.length === 0) return Promise.resolve(true);
    return this.droppable('mset', () => this.rawMset(list, ms));
  }

  async del(keys: string | readonly string[]): Promise<number> {
    const ks = (typeof keys === 'string' ? [keys] : keys).map((key) => this.k('key', key));
    if (ks.length === 0) return Promise.resolve(0);
    return this.must('del', () => this.rawDel(ks));
  }

  async getJson<T>(key: string, opts?: ReadOptions): Promise<T | null> {
    return decodeJson<T>(await this.get(key, opts), key);
  }

  async setJson(key: string, value: unknown, ttlSeconds?: number): Promise<boolean> {
    return this.set(key, encodeJson(value, key), ttlSeconds);
  }

  async getF64(key: string, opts?: ReadOptions): Promise<Float64Array | null> {
    const k = this.k('key', key);
    return this.read('get', null, opts, () => this.rawGetF64(k));
  }

  async setF64(key: string, value: Float64Array, ttlSeconds?: number): Promise<boolean> {
    if (!(value instanceof Float64Array)) throw new TypeError(`setF64(${key}) needs a Float64Array`);
    return this.set(key, f64ToBuffer(value), ttlSeconds);
  }

  // ---- pub/sub ----

  async publish(channel: string, message: string): Promise<boolean> {
    const c = this.k('channel', channel);
    if (typeof message !== 'string') throw new TypeError(`publish(${channel}) needs a string message (serialise JSON first)`);
    return this.droppable('publish', () => this.rawPublish(c, message));
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    const c = this.k('channel', channel);
    this.assertOpen('subscribe');
    let set = this.handlers.get(c);
    const first = set === undefined;
    if (!set) this.handlers.set(c, (set = new Set()));
    // A wrapper per call, so subscribing one function twice gives two independent subscriptions.
    const h: MessageHandler = (m, ch) => handler(m, ch);
    set.add(h);
    if (first) {
      try {
        await this.rawListen(c);
      } catch (err) {
        if (!this.isUnavailable(err)) {
          set.delete(h);
          if (set.size === 0) this.handlers.delete(c);
          throw err;
        }
        this.log.warn({ channel, err: errText(err) }, `${this.describe()} unavailable: subscription registered, it starts when the bus is back`);
      }
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      const s = this.handlers.get(c);
      if (!s) return;
      s.delete(h);
      if (s.size === 0) {
        this.handlers.delete(c);
        await this.rawUnlisten(c).catch(() => {});
      }
    };
  }

  /** Channels with at least one handler (prefixed): what to re-subscribe after a reconnect. */
  protected listenedChannels(): string[] {
    return [...this.handlers.keys()];
  }

  /** Delivers a message to the handlers of a (prefixed) channel; handler errors are logged. */
  protected dispatch(channel: string, message: string): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    const name = channel.slice(this.keyPrefix.length);
    for (const h of [...set]) {
      try {
        const r = h(message, name);
        if (r instanceof Promise) r.catch((err: unknown) => this.log.error({ channel: name, err: errText(err) }, 'message handler failed'));
      } catch (err) {
        this.log.error({ channel: name, err: errText(err) }, 'message handler failed');
      }
    }
  }

  // ---- streams ----

  async xadd(stream: string, fields: Record<string, string | number>, opts: XaddOptions = {}): Promise<string> {
    const s = this.k('stream', stream);
    const flat: string[] = [];
    for (const [f, v] of Object.entries(fields)) {
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) throw new TypeError(`xadd(${stream}) field ${f} must be a string or finite number`);
      flat.push(f, String(v));
    }
    if (flat.length === 0) throw new TypeError(`xadd(${stream}) needs at least one field`);
    if (opts.maxLen !== undefined && (!Number.isInteger(opts.maxLen) || opts.maxLen < 0)) throw new RangeError(`xadd maxLen must be a whole number ≥ 0, got ${opts.maxLen}`);
    return this.must('xadd', () => this.rawXadd(s, flat, opts.maxLen, opts.exactTrim ?? false));
  }

  async ensureGroup(stream: string, group: string, opts: GroupOptions = {}): Promise<void> {
    const s = this.k('stream', stream);
    checkName('group', group);
    return this.must('ensureGroup', () => this.rawEnsureGroup(s, group, opts.startId ?? '$'));
  }

  consume(stream: string, group: string, consumer: string, handler: StreamHandler, opts: ConsumeOptions = {}): StreamConsumer {
    const key = this.k('stream', stream);
    checkName('group', group);
    checkName('consumer', consumer);
    this.assertOpen('consume');
    const c = runConsumer(this.streamDriver(), { stream, key, group, consumer }, handler, opts, {
      logger: this.log,
      onHandlerError: () => this.handlerFailures?.inc({ stream, group }),
      onStopped: () => this.consumers.delete(c),
    });
    this.consumers.add(c);
    return c;
  }

  // ---- health ----

  async ping(timeoutMs = 1000): Promise<number> {
    this.assertOpen('ping');
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.rawPing(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BusUnavailableError(`${this.describe()} did not answer PING within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      throw this.unavailable('ping', err);
    } finally {
      clearTimeout(timer);
    }
    return performance.now() - t0;
  }

  healthCheck(name = 'bus', critical = false): HealthCheck {
    return {
      name,
      critical,
      check: async () => {
        try {
          const ms = await this.ping();
          return { status: 'up', detail: `${this.describe()}, ping ${ms.toFixed(1)} ms` };
        } catch (err) {
          return { status: 'down', detail: errText(err) };
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    this.closed = true;
    const channels = this.listenedChannels();
    this.handlers.clear();
    await Promise.all(channels.map((c) => this.rawUnlisten(c).catch(() => {})));
    await this.closeBackend();
  }
}

function checkValue(value: BusValue, key: string): void {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) throw new TypeError(`value for ${key} must be a string or Buffer (use setJson/setF64 for other types)`);
}

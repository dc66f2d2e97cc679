import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { KestrelError } from '../core/errors.js';
import { BaseBus, type BaseBusOptions } from './base.js';
import { errText, type RawEntry, type StreamDriver } from './consumer.js';
import { BusUnavailableError, type BusStatus, type BusValue } from './types.js';

/**
 * The Redis bus (`REDIS_URL`). Up to 2 + N connections: one for commands (fail-fast), one for
 * subscriptions (opened on first subscribe), one blocking connection per running consumer.
 *
 * Fail-fast while Redis is down: the offline queue is off (a command issued while
 * disconnected is rejected at once instead of queueing), every command has a
 * `commandTimeoutMs` deadline (default 1000 ms, bounding calls in flight when the server
 * vanishes or hangs), and in-flight commands are not silently re-sent after a reconnect.
 * ioredis reconnects forever with capped exponential backoff (100 ms doubling to
 * `maxBackoffMs`, default 2000 ms, plus jitter); subscriptions are restored on reconnect
 * and consumers resume by themselves.
 */

export interface RedisTuning {
  /** Deadline of every non-blocking command. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** Deadline of one connection attempt. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Cap of the reconnect backoff. Default 2000 ms. */
  maxBackoffMs?: number;
}

export interface RedisBusOptions extends BaseBusOptions, RedisTuning {
  url: string;
}

const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|BUSY |TRYAGAIN|CLUSTERDOWN|READONLY)/;
const ReplyErrorClass = ReplyError as unknown as abstract new (...args: never[]) => Error;

/** The URL without credentials, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'redis (unparseable URL)';
  }
}

export class RedisBus extends BaseBus {
  readonly kind = 'redis' as const;
  private readonly client: Redis;
  private sub: Redis | undefined;
  private readonly where: string;
  private readonly commandTimeoutMs: number;
  private readonly baseOptions: RedisOptions;
  private everReady = false;
  private lost = false;
  private lastError: string | undefined;
  private readonly drivers = new Set<Redis>();

  constructor(opts: RedisBusOptions) {
    super(opts);
    this.where = redactUrl(opts.url);
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 1000;
    const maxBackoff = opts.maxBackoffMs ?? 2000;
    this.baseOptions = {
      lazyConnect: true,
      protocol: 2,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: opts.connectTimeoutMs ?? 2000,
      autoResubscribe: false,
      retryStrategy: (times: number) => Math.min(maxBackoff, 100 * 2 ** Math.min(times - 1, 10)) + Math.floor(Math.random() * 100),
    };
    this.client = new Redis(opts.url, { ...this.baseOptions, connectionName: 'kestrel-bus' });
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.client.on('ready', () => {
      if (this.lost) this.log.info({ redis: this.where }, 'redis reachable again');
      this.everReady = true;
      this.lost = false;
      this.recovered();
    });
    this.client.on('close', () => {
      if (this.everReady && !this.lost && !this.closed) {
        this.lost = true;
        this.log.warn({ redis: this.where }, 'redis connection lost; reconnecting (cache reads miss, writes and publishes are dropped meanwhile)');
      }
    });
  }

  /** Connects; rejects with BusUnavailableError after `timeoutMs` (ioredis keeps retrying in the background). */
  async connect(timeoutMs: number): Promise<void> {
    this.client.connect().catch(() => {});
    await waitReady(this.client, timeoutMs, () => this.lastError).catch((err: unknown) => {
      throw new BusUnavailableError(`redis at ${this.where} is unreachable (${errText(err)}); start it, or unset REDIS_URL to use the in-process bus`, { cause: err });
    });
  }

  protected describe(): string {
    return `redis ${this.where}`;
  }

  status(): BusStatus {
    return !this.closed && this.client.status === 'ready' ? 'up' : 'down';
  }

  protected isUnavailable(err: unknown): boolean {
    if (err instanceof BusUnavailableError) return true;
    if (err instanceof ReplyErrorClass) return TRANSIENT_REPLY.test(err.message);
    if (err instanceof KestrelError || err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return false;
    return err instanceof Error; // connection closed, not writeable, timed out, max retries, ECONNREFUSED…
  }

  protected rawGet(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  protected rawGetBuffer(key: string): Promise<Buffer | null> {
    return this.client.getBuffer(key);
  }

  protected rawMget(keys: string[]): Promise<Array<string | null>> {
    return this.client.mget(keys);
  }

  protected rawMgetBuffer(keys: string[]): Promise<Array<Buffer | null>> {
    return this.client.mgetBuffer(keys);
  }

  protected async rawSet(key: string, value: BusValue, ttlMs: number | undefined): Promise<void> {
    if (ttlMs === undefined) await this.client.set(key, value);
    else await this.client.set(key, value, 'PX', ttlMs);
  }

  protected async rawMset(entries: Array<[string, BusValue]>, ttlMs: number | undefined): Promise<void> {
    if (ttlMs === undefined) {
      await this.client.mset(entries.flat());
      return;
    }
    const p = this.client.pipeline();
    for (const [k, v] of entries) p.set(k, v, 'PX', ttlMs);
    const results = await p.exec();
    if (results === null) throw new BusUnavailableError(`redis ${this.where}: pipeline was discarded`);
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  protected rawDel(keys: string[]): Promise<number> {
    return this.client.del(keys);
  }

  protected async rawPublish(channel: string, message: string): Promise<void> {
    await this.client.publish(channel, message);
  }

  /** The subscriber connection, opened on first use; (re)subscribes every channel on each ready. */
  private async subscriber(): Promise<Redis> {
    if (!this.sub) {
      const sub = this.client.duplicate({ ...this.baseOptions, connectionName: 'kestrel-bus-sub' });
      this.sub = sub;
      sub.on('error', () => {});
      sub.on('message', (channel: string, message: string) => this.dispatch(channel, message));
      sub.on('ready', () => {
        const channels = this.listenedChannels();
        if (channels.length > 0) sub.subscribe(...channels).catch((err: unknown) => this.log.warn({ err: errText(err) }, 'redis re-subscribe failed; retried on next reconnect'));
      });
      sub.connect().catch(() => {});
    }
    if (this.sub.status !== 'ready') await waitReady(this.sub, this.commandTimeoutMs, () => this.lastError);
    return this.sub;
  }

  protected async rawListen(channel: string): Promise<void> {
    const sub = await this.subscriber();
    await sub.subscribe(channel);
  }

  protected async rawUnlisten(channel: string): Promise<void> {
    if (this.sub?.status === 'ready') await this.sub.unsubscribe(channel);
  }

  protected async rawXadd(stream: string, flat: string[], maxLen: number | undefined, exact: boolean): Promise<string> {
    const trim = maxLen === undefined ? [] : ['MAXLEN', exact ? '=' : '~', maxLen];
    return String(await this.client.call('XADD', [stream, ...trim, '*', ...flat]));
  }

  protected async rawEnsureGroup(stream: string, group: string, startId: '$' | '0'): Promise<void> {
    try {
      await this.client.call('XGROUP', ['CREATE', stream, group, startId, 'MKSTREAM']);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
    }
  }

  protected async rawPing(): Promise<void> {
    await this.client.ping();
  }

  protected streamDriver(): StreamDriver {
    const client = this.client;
    // XREADGROUP BLOCK holds its connection: each consumer gets its own. No command timeout
    // there; ioredis's blockingTimeout resolves a read that outlives BLOCK + grace (zombie socket).
    const blocking = client.duplicate({ ...this.baseOptions, commandTimeout: undefined, blockingTimeout: 60_000, connectionName: 'kestrel-bus-consumer' });
    blocking.on('error', () => {});
    this.drivers.add(blocking);
    let interrupted = false;
    const ensure = async (s: string, g: string, startId: '$' | '0') => this.rawEnsureGroup(s, g, startId);
    return {
      ensureGroup: ensure,
      readPending: async (s, g, c, after, n) => parseRead(await client.call('XREADGROUP', ['GROUP', g, c, 'COUNT', n, 'STREAMS', s, after])),
      readNew: async (s, g, c, n, blockMs) => {
        if (interrupted) return [];
        if (blocking.status === 'wait') await blocking.connect();
        return parseRead(await blocking.call('XREADGROUP', ['GROUP', g, c, 'COUNT', n, 'BLOCK', blockMs, 'STREAMS', s, '>']));
      },
      autoclaim: async (s, g, c, idle, cursor, n) => {
        const r = (await client.call('XAUTOCLAIM', [s, g, c, idle, cursor, 'COUNT', n])) as [string, unknown[]];
        const entries = parseEntries(r[1]);
        // Redis 6.2 returns entries deleted while pending as nil: drop them from the pending list.
        const gone = entries.filter((e) => e.fields === null).map((e) => e.id);
        if (gone.length > 0) await client.call('XACK', [s, g, ...gone]);
        return { next: String(r[0]), entries: entries.filter((e) => e.fields !== null) };
      },
      ack: async (s, g, ids) => void (await client.call('XACK', [s, g, ...ids])),
      touch: async (s, g, c, ids) => void (await client.call('XCLAIM', [s, g, c, 0, ...ids, 'JUSTID'])),
      isNoGroup: (err) => err instanceof Error && err.message.startsWith('NOGROUP'),
      interrupt: () => {
        interrupted = true;
        blocking.disconnect();
      },
      close: async () => {
        this.drivers.delete(blocking);
        await closeConnection(blocking);
      },
    };
  }

  protected async closeBackend(): Promise<void> {
    const conns = [this.client, ...(this.sub ? [this.sub] : []), ...this.drivers];
    await Promise.all(conns.map((c) => closeConnection(c)));
  }
}

/** Opens a Redis bus; see openBus. */
export async function openRedisBus(opts: RedisBusOptions & { requireConnection?: boolean }): Promise<RedisBus> {
  const bus = new RedisBus(opts);
  try {
    await bus.connect(opts.connectTimeoutMs ?? 3000);
  } catch (err) {
    if (opts.requireConnection !== false) {
      await bus.close();
      throw err;
    }
    opts.logger.warn({ err: errText(err) }, 'starting with redis unreachable; bus calls degrade until it is back');
  }
  return bus;
}

function waitReady(conn: Redis, timeoutMs: number, lastError: () => string | undefined): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(t);
      conn.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      clearTimeout(t);
      conn.off('ready', onReady);
      reject(new BusUnavailableError('connection closed'));
    };
    const t = setTimeout(() => {
      conn.off('ready', onReady);
      conn.off('end', onEnd);
      reject(new BusUnavailableError(lastError() ?? `not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.once('ready', onReady);
    conn.once('end', onEnd);
  });
}

async function closeConnection(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  if (conn.status === 'ready') {
    const quit = conn.quit().then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 500);
    });
    const ok = await Promise.race([quit, timeout]);
    clearTimeout(timer);
    if (ok) return;
  }
  conn.disconnect();
}

function parseRead(reply: unknown): RawEntry[] {
  // [[stream, [[id, [f, v, …] | null], …]]] or null on timeout
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as [string, unknown[]];
  return parseEntries(first[1]);
}

function parseEntries(list: unknown): RawEntry[] {
  if (!Array.isArray(list)) return [];
  const out: RawEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item)) continue;
    const [id, flat] = item as [unknown, unknown];
    if (Array.isArray(flat)) {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
      out.push({ id: String(id), fields });
    } else out.push({ id: String(id), fields: null });
  }
  return out;
}


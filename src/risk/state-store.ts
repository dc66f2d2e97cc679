import type { Redis } from 'ioredis';
import type { Bus } from '../bus/types.js';

/**
 * Where the breaker's live state lives: a key with get and compare-and-set, shared by every
 * gateway replica. Redis (RedisStateStore, an atomic Lua CAS) when REDIS_URL is set; the
 * in-process bus otherwise (busStateStore: atomic within the one process it serves).
 * The Bus interface (src/bus) has no CAS, hence this small interface of our own.
 *
 * Failures: `get` and `compareAndSet` throw when the store cannot be reached; the breaker then
 * reports UNAVAILABLE and the pre-trade checks fail closed (only reducing orders pass).
 */
export interface StateStore {
  get(key: string): Promise<string | null>;
  /** Sets key to `next` only if it currently holds `expected` (null: absent). True when set. */
  compareAndSet(key: string, expected: string | null, next: string): Promise<boolean>;
  close?(): Promise<void>;
}

/** In memory, for one process (tests, embedded mode without a bus). */
export class MemoryStateStore implements StateStore {
  private readonly kv = new Map<string, string>();
  async get(key: string): Promise<string | null> {
    return this.kv.get(key) ?? null;
  }
  async compareAndSet(key: string, expected: string | null, next: string): Promise<boolean> {
    if ((this.kv.get(key) ?? null) !== expected) return false;
    this.kv.set(key, next);
    return true;
  }
  /** Test helper: simulate a lost store (Redis flushed). */
  clear(): void {
    this.kv.clear();
  }
}

const CAS_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
else
  if cur ~= ARGV[2] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`;

/**
 * Redis: GET, and an atomic compare-and-set in one Lua script (no WATCH/MULTI round trips).
 * Keys are prefixed with `keyPrefix` (tests use a unique one). The client is the caller's: it
 * is closed by `close()` only when `ownsClient` is true.
 */
export class RedisStateStore implements StateStore {
  constructor(
    private readonly redis: Redis,
    private readonly opts: { keyPrefix?: string; ownsClient?: boolean } = {},
  ) {}

  private k(key: string): string {
    return (this.opts.keyPrefix ?? '') + key;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.k(key));
  }

  async compareAndSet(key: string, expected: string | null, next: string): Promise<boolean> {
    const r = await this.redis.eval(CAS_SCRIPT, 1, this.k(key), expected === null ? '0' : '1', expected ?? '', next);
    return r === 1;
  }

  async close(): Promise<void> {
    if (this.opts.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * Over the in-process bus (`kestrel up` without REDIS_URL): get/set through the bus, made
 * atomic by a lock in this process, which is all an in-process bus spans. A Redis-backed bus
 * needs RedisStateStore (a CAS must run inside Redis to hold across replicas).
 */
export function busStateStore(bus: Bus): StateStore {
  if (bus.kind !== 'memory') throw new Error('busStateStore: a Redis bus cannot compare-and-set across replicas; use RedisStateStore with a Redis client');
  let chain: Promise<unknown> = Promise.resolve();
  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
  return {
    get: (key) => bus.get(key, { strict: true }),
    compareAndSet: (key, expected, next) =>
      locked(async () => {
        const cur = await bus.get(key, { strict: true });
        if (cur !== expected) return false;
        return bus.set(key, next);
      }),
  };
}

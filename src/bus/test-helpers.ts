import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { openBus } from './index.js';
import { redactUrl, type RedisTuning } from './redis.js';
import { BusDecodeError, BusUnavailableError, type Bus, type StreamEntry } from './types.js';

/**
 * Integration tests run against the real Redis server (127.0.0.1:6379 on dev and CI machines)
 * under a unique key prefix per test file, deleted afterwards. When the server is missing
 * they fail with a message saying so: integration tests never skip.
 */
export const TEST_REDIS_URL = process.env.KESTREL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(): string {
  return `kt:${randomBytes(5).toString('hex')}:`;
}

export async function openTestRedisBus(opts: { keyPrefix: string; metrics?: Metrics; redis?: RedisTuning; url?: string }): Promise<Bus> {
  const url = opts.url ?? TEST_REDIS_URL;
  try {
    return await openBus({ redisUrl: url, logger: silentLogger(), keyPrefix: opts.keyPrefix, metrics: opts.metrics, redis: opts.redis });
  } catch (e) {
    throw new Error(`Redis is required for integration tests at ${redactUrl(url)} (${(e as Error).message}); start it: redis-server --daemonize yes`, { cause: e });
  }
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await r.del(keys);
      cursor = next;
    } while (cursor !== '0');
    await r.quit();
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server (no persistence) on its own port, for outage tests. Never the shared 6379. */
export class ThrowawayRedis {
  private proc: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    this.proc = proc;
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (e) => reject(new Error(`cannot start redis-server (is it installed? apt-get install redis-server): ${e.message}`)));
      proc.once('exit', (code) => reject(new Error(`redis-server on port ${this.port} exited with code ${code}`)));
    });
    failed.catch(() => {});
    const deadline = Date.now() + 5000;
    for (;;) {
      if (await canConnect(this.port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${this.port} within 5 s`);
      await Promise.race([sleep(25), failed]);
    }
  }

  /** SIGKILL: the server vanishes without a goodbye, as in a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, '127.0.0.1');
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function uid(): string {
  return randomBytes(4).toString('hex');
}

export interface ContractTarget {
  /** A bus under the test prefix. */
  bus: Bus;
  /** Another, independent bus on the same data and prefix (another process, as far as the bus can tell). */
  another(): Promise<Bus>;
  /** A bus on the same data under a different prefix. */
  otherPrefix(): Promise<Bus>;
  cleanup(): Promise<void>;
}

/**
 * The bus contract, run against both implementations (memory.test.ts, redis.int.test.ts).
 * Timings are real: the in-process bus runs on the system clock here.
 */
export function busContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`bus contract: ${name}`, () => {
    let t: ContractTarget;
    let bus: Bus;
    const extra: Bus[] = [];
    const another = async () => {
      const b = await t.another();
      extra.push(b);
      return b;
    };
    beforeAll(async () => {
      t = await open();
      bus = t.bus;
    });
    afterAll(async () => {
      await Promise.all(extra.map((b) => b.close()));
      await bus?.close();
      await t?.cleanup();
    });

    describe('cache', () => {
      it('sets, gets and deletes strings and Buffers; a missing key is null', async () => {
        const k = `s:${uid()}`;
        expect(await bus.get(k)).toBeNull();
        expect(await bus.set(k, 'héllo')).toBe(true);
        expect(await bus.get(k)).toBe('héllo');
        const bin = Buffer.from([0, 255, 1, 254]);
        expect(await bus.set(`${k}:b`, bin)).toBe(true);
        expect((await bus.getBuffer(`${k}:b`))!.equals(bin)).toBe(true);
        expect(await bus.del([k, `${k}:b`, `${k}:none`])).toBe(2);
        expect(await bus.get(k)).toBeNull();
        expect(await bus.del(k)).toBe(0);
      });

      it('expires keys after their TTL and keeps keys without one', async () => {
        const k = uid();
        await bus.set(`ttl:${k}`, 'x', 0.3);
        await bus.set(`keep:${k}`, 'y');
        await bus.mset([[`mttl:${k}`, 'z']], 0.3);
        expect(await bus.get(`ttl:${k}`)).toBe('x');
        expect(await bus.get(`mttl:${k}`)).toBe('z');
        await sleep(450);
        expect(await bus.get(`ttl:${k}`)).toBeNull();
        expect(await bus.get(`mttl:${k}`)).toBeNull();
        expect(await bus.get(`keep:${k}`)).toBe('y');
      });

      it('rejects a TTL that is not a positive number', async () => {
        await expect(bus.set('bad', 'x', 0)).rejects.toThrow(/ttlSeconds/);
        await expect(bus.set('bad', 'x', Number.NaN)).rejects.toThrow(/ttlSeconds/);
        await expect(bus.mset([['bad', 'x']], -1)).rejects.toThrow(/ttlSeconds/);
      });

      it('mget returns values in key order with null for misses; mset writes all', async () => {
        const k = uid();
        const entries: Array<[string, string]> = Array.from({ length: 50 }, (_, i) => [`m:${k}:${i}`, `v${i}`]);
        expect(await bus.mset(entries, 60)).toBe(true);
        const keys = [`m:${k}:missing`, ...entries.map(([key]) => key)];
        expect(await bus.mget(keys)).toEqual([null, ...entries.map(([, v]) => v)]);
        const bufs = await bus.mgetBuffer([entries[3]![0], `m:${k}:none`]);
        expect(bufs[0]!.toString()).toBe('v3');
        expect(bufs[1]).toBeNull();
        expect(await bus.mset(new Map([[`m:${k}:plain`, Buffer.from('p')]]))).toBe(true);
        expect(await bus.get(`m:${k}:plain`)).toBe('p');
        expect(await bus.mget([])).toEqual([]);
        expect(await bus.mset([])).toBe(true);
      });

      it('round-trips JSON and Float64 vectors bit for bit', async () => {
        const k = uid();
        const doc = { price: '187.42', size: 100, ts: '2025-01-17T14:30:00.000Z', nested: [1, null, 'x'] };
        await bus.setJson(`j:${k}`, doc, 60);
        expect(await bus.getJson(`j:${k}`)).toEqual(doc);
        expect(await bus.getJson(`j:${k}:none`)).toBeNull();
        const v = new Float64Array([0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, Number.MAX_VALUE, -1e-308]);
        await bus.setF64(`f:${k}`, v, 60);
        const back = (await bus.getF64(`f:${k}`))!;
        expect(back).toBeInstanceOf(Float64Array);
        expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(v.buffer))).toBe(true);
        await bus.setF64(`f:${k}:empty`, new Float64Array(0));
        expect((await bus.getF64(`f:${k}:empty`))!.length).toBe(0);
        // a subarray stores only its own elements
        const big = new Float64Array([1, 2, 3, 4, 5]);
        await bus.setF64(`f:${k}:sub`, big.subarray(1, 3));
        expect([...(await bus.getF64(`f:${k}:sub`))!]).toEqual([2, 3]);
      });

      it('reports values that are not what the reader expects', async () => {
        const k = uid();
        await bus.set(`bad:${k}`, 'not json {');
        await expect(bus.getJson(`bad:${k}`)).rejects.toBeInstanceOf(BusDecodeError);
        await bus.set(`bad:${k}`, Buffer.alloc(12));
        await expect(bus.getF64(`bad:${k}`)).rejects.toBeInstanceOf(BusDecodeError);
      });

      it('isolates key prefixes', async () => {
        const other = await t.otherPrefix();
        extra.push(other);
        const k = `iso:${uid()}`;
        await bus.set(k, 'mine');
        expect(await other.get(k)).toBeNull();
        await other.set(k, 'theirs');
        expect(await bus.get(k)).toBe('mine');
        expect(await other.get(k)).toBe('theirs');
      });
    });

    describe('pub/sub', () => {
      it('delivers messages in order to every subscriber, across bus instances, until unsubscribed', async () => {
        const ch = `ch.${uid()}`;
        const b2 = await another();
        const got1: string[] = [];
        const got2: Array<[string, string]> = [];
        const un1 = await bus.subscribe(ch, (m) => void got1.push(m));
        const un2 = await b2.subscribe(ch, (m, c) => void got2.push([m, c]));
        for (let i = 0; i < 20; i++) expect(await bus.publish(ch, `m${i}`)).toBe(true);
        const all = Array.from({ length: 20 }, (_, i) => `m${i}`);
        await waitFor(() => got1.length === 20 && got2.length === 20, 5000, 'deliveries');
        expect(got1).toEqual(all);
        expect(got2).toEqual(all.map((m) => [m, ch]));
        await un1();
        await un1(); // idempotent
        await b2.publish(ch, 'after');
        await waitFor(() => got2.length === 21, 5000, 'delivery to the remaining subscriber');
        await sleep(50);
        expect(got1).toHaveLength(20);
        await un2();
      });

      it('keeps delivering when a handler throws, and does not cross prefixes', async () => {
        const ch = `ch.${uid()}`;
        const other = await t.otherPrefix();
        extra.push(other);
        const seen: string[] = [];
        const leaked: string[] = [];
        const unA = await bus.subscribe(ch, () => {
          throw new Error('handler bug');
        });
        const unB = await bus.subscribe(ch, async (m) => {
          seen.push(m);
          if (m === 'a') throw new Error('async handler bug');
        });
        const unC = await other.subscribe(ch, (m) => void leaked.push(m));
        await bus.publish(ch, 'a');
        await bus.publish(ch, 'b');
        await waitFor(() => seen.length === 2, 5000, 'deliveries');
        expect(seen).toEqual(['a', 'b']);
        await sleep(50);
        expect(leaked).toEqual([]);
        await Promise.all([unA(), unB(), unC()]);
      });
    });

    describe('streams', () => {
      it('xadd returns increasing ids and trims to maxLen', async () => {
        const s = `st.${uid()}`;
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) ids.push(await bus.xadd(s, { i, tag: 'x' }, { maxLen: 4, exactTrim: true }));
        const sorted = [...ids].sort((a, b) => {
          const [am, as] = a.split('-').map(Number) as [number, number];
          const [bm, bs] = b.split('-').map(Number) as [number, number];
          return am - bm || as - bs;
        });
        expect(ids).toEqual(sorted);
        expect(new Set(ids).size).toBe(10);
        // only the last 4 remain: a group reading from the start sees exactly those
        await bus.ensureGroup(s, 'g', { startId: '0' });
        const got: StreamEntry[] = [];
        const c = bus.consume(s, 'g', 'c1', (e) => void got.push(e), { blockMs: 50 });
        await waitFor(() => got.length === 4, 5000, '4 entries');
        await sleep(100);
        await c.stop();
        expect(got.map((e) => e.id)).toEqual(ids.slice(6));
        expect(got[0]!.fields).toEqual({ i: '6', tag: 'x' });
        expect(got[0]!.stream).toBe(s);
        await expect(bus.xadd(s, {})).rejects.toThrow(/at least one field/);
      });

      it('ensureGroup is idempotent; $ starts at new entries, 0 at the whole stream', async () => {
        const s = `st.${uid()}`;
        await bus.xadd(s, { n: 1 });
        await bus.ensureGroup(s, 'new');
        await bus.ensureGroup(s, 'new');
        await bus.ensureGroup(s, 'all', { startId: '0' });
        await bus.xadd(s, { n: 2 });
        const seen: Record<string, string[]> = { new: [], all: [] };
        const cs = ['new', 'all'].map((g) => bus.consume(s, g, 'c', (e) => void seen[g]!.push(e.fields.n!), { blockMs: 50 }));
        await waitFor(() => seen.new!.length === 1 && seen.all!.length === 2, 5000, 'both groups');
        await Promise.all(cs.map((c) => c.stop()));
        expect(seen).toEqual({ new: ['2'], all: ['1', '2'] });
      });

      it('two consumers in one group process disjoint entries and together every entry exactly once', async () => {
        const s = `st.${uid()}`;
        const b2 = await another();
        await bus.ensureGroup(s, 'workers');
        const byConsumer: Record<string, string[]> = { a: [], b: [] };
        const handler = (who: string) => async (e: StreamEntry) => {
          byConsumer[who]!.push(e.fields.n!);
          await sleep(15);
        };
        const ca = bus.consume(s, 'workers', 'a', handler('a'), { count: 2, blockMs: 200 });
        const cb = b2.consume(s, 'workers', 'b', handler('b'), { count: 2, blockMs: 200 });
        await sleep(100); // both blocked on the group
        const N = 40;
        for (let i = 0; i < N; i++) {
          await bus.xadd(s, { n: i });
          if (i % 4 === 0) await sleep(5);
        }
        await waitFor(() => byConsumer.a!.length + byConsumer.b!.length >= N, 10_000, `${N} entries processed`);
        await sleep(200);
        await Promise.all([ca.stop(), cb.stop()]);
        const all = [...byConsumer.a!, ...byConsumer.b!];
        expect(all).toHaveLength(N);
        expect(new Set(all).size).toBe(N);
        expect(byConsumer.a!.length).toBeGreaterThan(0);
        expect(byConsumer.b!.length).toBeGreaterThan(0);
        expect(byConsumer.a!.filter((n) => byConsumer.b!.includes(n))).toEqual([]);
      });

      it('a consumer stopped mid-batch gets the un-acked rest again when it restarts', async () => {
        const s = `st.${uid()}`;
        await bus.ensureGroup(s, 'g');
        for (let i = 0; i < 5; i++) await bus.xadd(s, { n: i });
        const processed: string[] = [];
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let started = false;
        const c1 = bus.consume(
          s,
          'g',
          'worker-1',
          async (e) => {
            started = true;
            await gate; // stop() is requested while the first entry is in flight
            processed.push(e.fields.n!);
          },
          { count: 10, blockMs: 100 },
        );
        await waitFor(() => started, 5000, 'first delivery');
        const stopping = c1.stop();
        release();
        await stopping;
        expect(processed).toEqual(['0']); // the in-flight handler finished; the rest were left pending
        const c2 = bus.consume(s, 'g', 'worker-1', (e) => void processed.push(e.fields.n!), { blockMs: 100 });
        await waitFor(() => processed.length === 5, 5000, 'redelivery');
        await sleep(100);
        await c2.stop();
        expect(processed).toEqual(['0', '1', '2', '3', '4']);
      });

      it('an entry whose handler failed is redelivered on restart, then acked once it succeeds', async () => {
        const s = `st.${uid()}`;
        await bus.ensureGroup(s, 'g');
        await bus.xadd(s, { n: 'x' });
        let calls = 0;
        const c1 = bus.consume(
          s,
          'g',
          'w',
          () => {
            calls++;
            throw new Error('transient failure');
          },
          { blockMs: 50 },
        );
        await waitFor(() => calls === 1, 5000, 'first attempt');
        await c1.stop();
        const ok: string[] = [];
        const c2 = bus.consume(s, 'g', 'w', (e) => void ok.push(e.fields.n!), { blockMs: 50 });
        await waitFor(() => ok.length === 1, 5000, 'retry');
        await c2.stop();
        const c3 = bus.consume(s, 'g', 'w', (e) => void ok.push(e.fields.n!), { blockMs: 50 });
        await sleep(200);
        await c3.stop();
        expect(ok).toEqual(['x']); // acked: not delivered a third time
      });

      it('entries added while no consumer runs are picked up when one starts', async () => {
        const s = `st.${uid()}`;
        await bus.ensureGroup(s, 'g');
        const got: string[] = [];
        const c1 = bus.consume(s, 'g', 'w', (e) => void got.push(e.fields.n!), { blockMs: 50 });
        await bus.xadd(s, { n: 0 });
        await waitFor(() => got.length === 1, 5000, 'first entry');
        await c1.stop();
        for (let i = 1; i <= 3; i++) await bus.xadd(s, { n: i });
        const b2 = await another(); // e.g. the orchestrator restarted in a new process
        const c2 = b2.consume(s, 'g', 'w2', (e) => void got.push(e.fields.n!), { blockMs: 50 });
        await waitFor(() => got.length === 4, 5000, 'missed entries');
        await c2.stop();
        expect(got).toEqual(['0', '1', '2', '3']);
      });

      it('claims the entries of a dead consumer once they are idle for claimIdleMs', async () => {
        const s = `st.${uid()}`;
        await bus.ensureGroup(s, 'g');
        for (let i = 0; i < 3; i++) await bus.xadd(s, { n: i });
        // "dead": received the entries, never acked, gone (long claimIdleMs: it never retries itself)
        let seenByDead = 0;
        const dead = bus.consume(
          s,
          'g',
          'dead',
          () => {
            seenByDead++;
            throw new Error('crash');
          },
          { claimIdleMs: 600_000, blockMs: 50 },
        );
        await waitFor(() => seenByDead === 3, 5000, 'delivery to the doomed consumer');
        await dead.stop();
        const b2 = await another();
        const got: Array<[string, number]> = [];
        const t0 = Date.now();
        const alive = b2.consume(s, 'g', 'alive', (e) => void got.push([e.fields.n!, Date.now() - t0]), { claimIdleMs: 300, blockMs: 50 });
        await waitFor(() => got.length === 3, 5000, 'claimed entries');
        await sleep(100);
        await alive.stop();
        expect(got.map(([n]) => n).sort()).toEqual(['0', '1', '2']);
        expect(Math.min(...got.map(([, ms]) => ms))).toBeGreaterThanOrEqual(150); // not before they went idle
        // the dead consumer, restarting, finds nothing left: the claim moved and acked them
        const again: string[] = [];
        const revived = bus.consume(s, 'g', 'dead', (e) => void again.push(e.fields.n!), { claimIdleMs: 600_000, blockMs: 50 });
        await sleep(200);
        await revived.stop();
        expect(again).toEqual([]);
      });

      it('never claims an entry from a live consumer whose handler is slow', async () => {
        const s = `st.${uid()}`;
        const b2 = await another();
        await bus.ensureGroup(s, 'g');
        const runs: Array<{ who: string; n: string }> = [];
        let slowDone = false;
        const slow = bus.consume(
          s,
          'g',
          'slow',
          async (e) => {
            runs.push({ who: 'slow', n: e.fields.n! });
            await sleep(1200); // 4 × claimIdleMs
            slowDone = true;
          },
          { claimIdleMs: 300, blockMs: 50 },
        );
        await sleep(100);
        await bus.xadd(s, { n: 'long' });
        await waitFor(() => runs.length === 1, 5000, 'slow consumer started');
        const fast = b2.consume(s, 'g', 'fast', (e) => void runs.push({ who: 'fast', n: e.fields.n! }), { claimIdleMs: 300, claimIntervalMs: 50, blockMs: 50 });
        await waitFor(() => slowDone, 5000, 'slow handler');
        await sleep(400);
        await Promise.all([slow.stop(), fast.stop()]);
        expect(runs).toEqual([{ who: 'slow', n: 'long' }]);
      });

      it('stop() ends a consumer blocked on an empty stream promptly', async () => {
        const s = `st.${uid()}`;
        const c = bus.consume(s, 'g', 'w', () => {}, { blockMs: 10_000 });
        await sleep(150);
        const t0 = Date.now();
        await c.stop();
        expect(Date.now() - t0).toBeLessThan(1000);
        await c.done;
      });
    });

    describe('health', () => {
      it('pings, reports up, and produces the /health check shape', async () => {
        expect(await bus.ping()).toBeGreaterThanOrEqual(0);
        expect(bus.status()).toBe('up');
        const hc = bus.healthCheck('cache', true);
        expect(hc.name).toBe('cache');
        expect(hc.critical).toBe(true);
        const r = await hc.check();
        expect(r.status).toBe('up');
        expect(r.detail).toMatch(/ping/);
      });

      it('after close: down, reads miss, droppable writes drop, state-changing calls throw', async () => {
        const b = await another();
        await b.close();
        expect(b.status()).toBe('down');
        expect(await b.get('x')).toBeNull();
        expect(await b.mget(['x', 'y'])).toEqual([null, null]);
        expect(await b.set('x', 'y')).toBe(false);
        expect(await b.publish('c', 'm')).toBe(false);
        await expect(b.get('x', { strict: true })).rejects.toBeInstanceOf(BusUnavailableError);
        await expect(b.del('x')).rejects.toBeInstanceOf(BusUnavailableError);
        await expect(b.xadd('s', { a: 1 })).rejects.toBeInstanceOf(BusUnavailableError);
        await expect(b.ping()).rejects.toBeInstanceOf(BusUnavailableError);
        expect((await b.healthCheck().check()).status).toBe('down');
        await b.close(); // idempotent
      });
    });
  });
}


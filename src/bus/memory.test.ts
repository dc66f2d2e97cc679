import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { bufferToF64, f64ToBuffer } from './codec.js';
import { MemoryBackend, MemoryBus, openBus } from './index.js';
import { busContract, sleep, uniquePrefix, waitFor } from './test-helpers.js';

busContract('in-process (memory.ts)', async () => {
  const backend = new MemoryBackend();
  const prefix = uniquePrefix();
  const make = (keyPrefix: string) => openBus({ logger: silentLogger(), keyPrefix, memory: backend });
  return { bus: await make(prefix), another: () => make(prefix), otherPrefix: () => make(uniquePrefix()), cleanup: async () => {} };
});

describe('openBus', () => {
  it('gives the in-process bus without a Redis URL; buses of one process share state by default', async () => {
    const a = await openBus({ logger: silentLogger() });
    const b = await openBus({ logger: silentLogger() });
    expect(a.kind).toBe('memory');
    const k = `shared:${Math.random()}`;
    await a.set(k, 'v');
    expect(await b.get(k)).toBe('v');
    await b.del(k);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('in-process bus with an injected clock', () => {
  const setup = () => {
    const clock = fixedClock('2025-01-17T14:30:00.000Z');
    const backend = new MemoryBackend({ clock });
    const bus = new MemoryBus({ logger: silentLogger(), backend, keyPrefix: 'p:' });
    return { clock, backend, bus };
  };

  it('expires a key exactly at its TTL', async () => {
    const { clock, backend, bus } = setup();
    await bus.set('k', 'v', 10);
    await bus.mset([['m', 'w']], 2.5);
    expect(backend.pttl('p:k')).toBe(10_000);
    clock.advance(2499);
    expect(await bus.mget(['k', 'm'])).toEqual(['v', 'w']);
    clock.advance(1);
    expect(await bus.mget(['k', 'm'])).toEqual(['v', null]);
    clock.advance(7499);
    expect(await bus.get('k')).toBe('v');
    clock.advance(1);
    expect(await bus.get('k')).toBeNull();
    expect(backend.pttl('p:k')).toBe(-2);
    await bus.set('k', 'again');
    expect(backend.pttl('p:k')).toBe(-1);
    await bus.close();
  });

  it('behaves like a map with expiry under any sequence of set/get/del/advance (property)', async () => {
    type Op = { t: 'set'; k: number; v: string; ttl?: number } | { t: 'get'; k: number } | { t: 'del'; k: number } | { t: 'adv'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('set' as const), k: fc.nat(4), v: fc.string(), ttl: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) }),
      fc.record({ t: fc.constant('get' as const), k: fc.nat(4) }),
      fc.record({ t: fc.constant('del' as const), k: fc.nat(4) }),
      fc.record({ t: fc.constant('adv' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const { clock, bus } = setup();
        const model = new Map<number, { v: string; exp: number }>();
        let now = 0;
        const live = (k: number) => {
          const e = model.get(k);
          return e && e.exp > now ? e.v : null;
        };
        for (const o of ops) {
          if (o.t === 'set') {
            await bus.set(`k${o.k}`, o.v, o.ttl);
            model.set(o.k, { v: o.v, exp: o.ttl === undefined ? Infinity : now + o.ttl * 1000 });
          } else if (o.t === 'get') {
            expect(await bus.get(`k${o.k}`)).toBe(live(o.k));
          } else if (o.t === 'del') {
            expect(await bus.del(`k${o.k}`)).toBe(live(o.k) === null ? 0 : 1);
            model.delete(o.k);
          } else {
            clock.advance(o.ms);
            now += o.ms;
          }
        }
        await bus.close();
      }),
      { numRuns: 200 },
    );
  });

  it('claims idle entries by the injected clock, not the wall clock', async () => {
    const { clock, backend, bus } = setup();
    await bus.ensureGroup('s', 'g');
    await bus.xadd('s', { n: 1 });
    const dead = bus.consume('s', 'g', 'dead', () => Promise.reject(new Error('crash')), { claimIdleMs: 3_600_000, blockMs: 20 });
    await waitFor(() => backend.pending('p:s', 'g').length === 1, 2000, 'delivery');
    await dead.stop();
    const got: string[] = [];
    const alive = bus.consume('s', 'g', 'alive', (e) => void got.push(e.id), { claimIdleMs: 60_000, claimIntervalMs: 20, blockMs: 20 });
    await sleep(150);
    expect(got).toEqual([]); // wall time passes, the clock does not: nothing is idle yet
    clock.advance(60_000);
    await waitFor(() => got.length === 1, 2000, 'claim');
    await alive.stop();
    expect(backend.pending('p:s', 'g')).toEqual([]);
    await bus.close();
  });

  it('acks pending entries that were trimmed away instead of delivering them', async () => {
    const { backend, bus } = setup();
    await bus.ensureGroup('s', 'g');
    await bus.xadd('s', { n: 1 });
    const first = bus.consume('s', 'g', 'w', () => Promise.reject(new Error('no')), { blockMs: 20 });
    await waitFor(() => backend.pending('p:s', 'g').length === 1, 2000, 'delivery');
    await first.stop();
    await bus.xadd('s', { n: 2 }, { maxLen: 1, exactTrim: true }); // entry 1 is gone while pending
    const got: string[] = [];
    const again = bus.consume('s', 'g', 'w', (e) => void got.push(e.fields.n!), { blockMs: 20 });
    await waitFor(() => got.length === 1, 2000, 'entry 2');
    await again.stop();
    expect(got).toEqual(['2']);
    expect(backend.pending('p:s', 'g')).toEqual([]);
    await bus.close();
  });

  it('counts nothing as degraded while up, and counts drops after close', async () => {
    const metrics = createMetrics('t', { defaultMetrics: false });
    const bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend(), metrics });
    await bus.set('a', 'b');
    await bus.close();
    await bus.publish('c', 'm');
    await bus.get('a');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kestrel_bus_degraded_total\{op="publish",service="t"\} 1/);
    expect(text).toMatch(/kestrel_bus_degraded_total\{op="get",service="t"\} 1/);
  });
});

describe('Float64 codec', () => {
  it('round-trips any Float64Array bit for bit (property)', () => {
    fc.assert(
      fc.property(fc.float64Array({ maxLength: 300 }), (v) => {
        const bytes = Buffer.from(f64ToBuffer(v)); // as received: a fresh buffer
        const back = bufferToF64(bytes, 'k');
        expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(v.buffer, v.byteOffset, v.byteLength))).toBe(true);
      }),
    );
  });

  it('shares memory when it can and copies when it must', () => {
    const v = new Float64Array([1, 2, 3]);
    const buf = f64ToBuffer(v);
    expect(buf.buffer).toBe(v.buffer); // encoding: a view, no copy
    const own = Buffer.alloc(24);
    buf.copy(own);
    const view = bufferToF64(own.buffer.byteLength === 24 ? own : Buffer.from(own), 'k');
    expect([...view]).toEqual([1, 2, 3]);
    // misaligned (offset 1): must copy to build a Float64Array
    const host = Buffer.alloc(25);
    buf.copy(host, 1);
    const mis = bufferToF64(host.subarray(1), 'k');
    expect([...mis]).toEqual([1, 2, 3]);
    // a small slice of a large buffer is copied rather than pinning the large one
    const large = Buffer.alloc(65536);
    buf.copy(large, 0);
    const small = bufferToF64(large.subarray(0, 24), 'k');
    expect(small.buffer.byteLength).toBe(24);
    // an exactly-sized aligned buffer is wrapped without copying
    const exact = new Uint8Array(new ArrayBuffer(24));
    exact.set(buf);
    const wrapped = bufferToF64(Buffer.from(exact.buffer), 'k');
    expect(wrapped.buffer).toBe(exact.buffer);
  });
});

import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { MemoryBackend, MemoryBus, busChannels, type Bus, type PricesUpdated, type PriceTick } from '../../bus/index.js';
import { waitFor } from '../../bus/test-helpers.js';
import { canonicalIso, PriceCache } from './price-cache.js';
import type { Trade } from './types.js';

const T0 = '2026-11-25T14:30:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
let nextId = 1;
const trade = (symbol: string, price: string, tsMs: number, size = '100'): Trade => ({ symbol, id: nextId++, price, size, ts: at(tsMs) });

function setup(opts: { flushIntervalMs?: number; maxPendingSymbols?: number; ttlSeconds?: number } = {}) {
  const clock = fixedClock(T0);
  const backend = new MemoryBackend({ clock });
  const bus = new MemoryBus({ logger: silentLogger(), backend, keyPrefix: 'pc:' });
  const cache = new PriceCache({ bus, clock, flushIntervalMs: opts.flushIntervalMs ?? 10_000, maxPendingSymbols: opts.maxPendingSymbols, ttlSeconds: opts.ttlSeconds ?? 60 });
  return { clock, bus, cache };
}

const opened: Array<{ cache: PriceCache; bus: Bus }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.cache.close();
    await o.bus.close();
  }
  vi.restoreAllMocks();
});
function track<T extends { cache: PriceCache; bus: Bus }>(x: T): T {
  opened.push(x);
  return x;
}

describe('PriceCache', () => {
  it('keeps the latest trade per symbol and skips (and counts) out-of-order trades', () => {
    const { cache } = track(setup());
    expect(cache.onTrade(trade('AAPL', '187.42', 1000))).toBe(true);
    expect(cache.onTrade(trade('AAPL', '187.50', 2000, '5'))).toBe(true);
    expect(cache.onTrade(trade('AAPL', '180.00', 1500))).toBe(false); // older than stored
    expect(cache.onTrade(trade('AAPL', '187.51', 2000, '7'))).toBe(true); // same instant: latest wins
    expect(cache.onTrade(trade('MSFT', '410.1', 500))).toBe(true);
    expect(cache.get('AAPL')).toEqual({ price: '187.51', size: 7, ts: at(2000) });
    expect(cache.get('NONE')).toBeUndefined();
    expect(cache.stats.outOfOrder).toBe(1);
    expect(cache.stats.applied).toBe(4);
    expect(Object.keys(cache.snapshot())).toEqual(['AAPL', 'MSFT']);
    expect(cache.snapshot().MSFT).toEqual({ price: '410.1', size: 100, ts: at(500) });
  });

  it('isStale: missing or older than maxAgeMs', () => {
    const { cache } = track(setup());
    cache.onTrade(trade('AAPL', '1', 0));
    expect(cache.isStale('AAPL', new Date(Date.parse(T0) + 5000), 5000)).toBe(false);
    expect(cache.isStale('AAPL', new Date(Date.parse(T0) + 5001), 5000)).toBe(true);
    expect(cache.isStale('MSFT', new Date(T0), 5000)).toBe(true);
  });

  it('coalesces: many trades → one pipelined mset with the TTL and one prices.updated per flush', async () => {
    const { cache, bus, clock } = track(setup({ ttlSeconds: 60 }));
    const mset = vi.spyOn(bus, 'mset');
    const messages: PricesUpdated[] = [];
    const unsub = await bus.subscribe(busChannels.pricesUpdated, (m) => void messages.push(JSON.parse(m) as PricesUpdated));
    for (let i = 0; i < 100; i++) cache.onTrade(trade(i % 2 ? 'AAPL' : 'MSFT', `${100 + i}.25`, i));
    expect(mset).not.toHaveBeenCalled(); // interval not reached, 2 symbols < maxPending
    await cache.flush();
    expect(mset).toHaveBeenCalledTimes(1);
    const [entries, ttl] = mset.mock.calls[0]!;
    expect(ttl).toBe(60);
    expect([...entries].map(([k]) => k).sort()).toEqual(['price:AAPL', 'price:MSFT']);
    expect(await bus.getJson<PriceTick>('price:AAPL')).toEqual({ price: '199.25', size: 100, ts: at(99) });
    expect(await bus.getJson<PriceTick>('price:MSFT')).toEqual({ price: '198.25', size: 100, ts: at(98) });
    await waitFor(() => messages.length === 1, 2000, 'prices.updated');
    expect(messages[0]!.symbols.sort()).toEqual(['AAPL', 'MSFT']);
    expect(cache.stats).toMatchObject({ flushes: 1, keysWritten: 2, writeFailures: 0 });
    // nothing pending: flush is a no-op
    await cache.flush();
    expect(mset).toHaveBeenCalledTimes(1);
    // TTL on the in-process bus (its clock)
    clock.advance(59_000);
    expect(await bus.get('price:AAPL')).not.toBeNull();
    clock.advance(1_001);
    expect(await bus.get('price:AAPL')).toBeNull();
    await unsub();
  });

  it('flushes on its own after flushIntervalMs, and at once when maxPendingSymbols are pending', async () => {
    const timed = track(setup({ flushIntervalMs: 20 }));
    timed.cache.onTrade(trade('AAPL', '1.5', 0));
    await waitFor(async () => (await timed.bus.get('price:AAPL')) !== null, 2000, 'interval flush');
    const sized = track(setup({ flushIntervalMs: 60_000, maxPendingSymbols: 3 }));
    const mset = vi.spyOn(sized.bus, 'mset');
    sized.cache.onTrade(trade('A', '1', 0));
    sized.cache.onTrade(trade('B', '1', 0));
    expect(mset).not.toHaveBeenCalled();
    sized.cache.onTrade(trade('C', '1', 0));
    await waitFor(() => mset.mock.calls.length === 1, 2000, 'size flush');
    expect([...mset.mock.calls[0]![0]].length).toBe(3);
  });

  it('a bus that is down drops writes (counted) and the in-memory cache still answers', async () => {
    const { cache, bus } = track(setup());
    await bus.close();
    cache.onTrade(trade('AAPL', '2', 0));
    await cache.flush();
    expect(cache.stats.writeFailures).toBe(1);
    expect(cache.stats.publishFailures).toBe(1);
    expect(cache.get('AAPL')?.price).toBe('2');
  });

  it('notifies price listeners synchronously for applied trades only', () => {
    const { cache } = track(setup());
    const seen: string[] = [];
    const off = cache.onPrice((s, t) => void seen.push(`${s}@${t.price}`));
    cache.onTrade(trade('AAPL', '2', 10));
    cache.onTrade(trade('AAPL', '1', 5));
    off();
    cache.onTrade(trade('AAPL', '3', 20));
    expect(seen).toEqual(['AAPL@2']);
  });

  it('property: get() is the latest-ts trade (last arrival among equal ts); the bus gets the same after flush', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ symbol: fc.constantFrom('A', 'B', 'C'), cents: fc.integer({ min: 1, max: 10_000_000 }), tsMs: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 60 }),
        async (xs) => {
          const { cache, bus } = setup();
          try {
            const expected = new Map<string, { price: string; tsMs: number }>();
            let skipped = 0;
            for (const x of xs) {
              const price = (x.cents / 100).toFixed(2);
              cache.onTrade(trade(x.symbol, price, x.tsMs));
              const prev = expected.get(x.symbol);
              if (prev && x.tsMs < prev.tsMs) skipped++;
              else expected.set(x.symbol, { price, tsMs: x.tsMs });
            }
            expect(cache.stats.outOfOrder).toBe(skipped);
            await cache.flush();
            for (const [s, e] of expected) {
              expect(cache.get(s)).toEqual({ price: e.price, size: 100, ts: at(e.tsMs) });
              expect(await bus.getJson<PriceTick>(`price:${s}`)).toEqual(cache.get(s));
            }
          } finally {
            await cache.close();
            await bus.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a slow bus: flush calls while one is in flight fold into one queued flush (no flush per trade)', async () => {
    const { cache, bus } = track(setup({ maxPendingSymbols: 2 }));
    let release: () => void = () => {};
    const hung = new Promise<void>((r) => (release = r));
    const real = bus.mset.bind(bus);
    let k = 1000;
    const mset = vi.spyOn(bus, 'mset').mockImplementation(async (entries, ttl) => {
      if (mset.mock.calls.length === 1) await hung;
      cache.onTrade(trade('C', '1', k++)); // trades keep arriving during every write
      return real(entries, ttl);
    });
    cache.onTrade(trade('A', '1', 0));
    cache.onTrade(trade('B', '1', 0)); // 2 pending → flush, which hangs in mset
    await waitFor(() => mset.mock.calls.length === 1, 2000, 'first mset');
    for (let i = 1; i <= 200; i++) cache.onTrade(trade(i % 2 ? 'A' : 'B', String(i), i)); // each one reaches maxPending
    release();
    await waitFor(() => mset.mock.calls.length >= 2, 2000, 'second mset');
    await new Promise((r) => setTimeout(r, 50));
    // One queued flush took all 200 trades; a flush per call would have been ~200 writes.
    expect(mset.mock.calls.length).toBeLessThanOrEqual(3);
    expect(await bus.getJson<PriceTick>('price:B')).toEqual({ price: '200', size: 100, ts: at(200) });
  });

  it('canonicalIso: the input when it is already toISOString() of its instant, else that', () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(canonicalIso('2026-11-25T14:30:00.123Z', Date.parse('2026-11-25T14:30:00.123Z'))).toBe('2026-11-25T14:30:00.123Z');
    for (const s of ['2026-11-25T14:30:00Z', '2026-11-25T14:30:00.123456Z', '2026-11-25T15:30:00.123+01:00', '2025-02-31T00:00:00.000Z', '2026-11-25T24:00:00.000Z']) {
      expect(canonicalIso(s, Date.parse(s))).toBe(iso(Date.parse(s)));
    }
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }), fc.constantFrom('', 'Z', '.5Z', '+00:00'), (ms, tail) => {
        const s = iso(ms);
        const variant = tail === '' ? s : s.slice(0, 19) + tail;
        expect(canonicalIso(variant, Date.parse(variant))).toBe(iso(Date.parse(variant)));
      }),
      { numRuns: 2000 },
    );
  });
});

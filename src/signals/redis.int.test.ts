import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busKeys, busStreams, decodeSignalsGenerated, type Bus, type SignalsGenerated } from '../bus/index.js';
import { deletePrefix, freePort, openTestRedisBus, TEST_REDIS_URL, ThrowawayRedis, uniquePrefix, waitFor } from '../bus/test-helpers.js';
import { createMetrics } from '../observability/metrics.js';
import { LAST_DATE, metricValue, signalsFixture, testApp, type SignalsFixture } from './test-helpers.js';
import type { SignalsResponse } from './types.js';

/**
 * The signal service on real Redis: the shared server at KESTREL_TEST_REDIS_URL (unique key
 * prefix, deleted afterwards) and a throwaway redis-server killed with SIGKILL for the outage.
 * Fails, never skips, when Redis is missing.
 */
describe('signal service on Redis', () => {
  let fx: SignalsFixture;
  beforeAll(async () => {
    fx = await signalsFixture();
    await fx.promote(await fx.trainModel(4));
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('caches feature vectors in Redis with the TTL, answers identically from the cache, publishes to the stream', async () => {
    const prefix = uniquePrefix();
    const metrics = createMetrics('signals-redis', { defaultMetrics: false });
    const bus = await openTestRedisBus({ keyPrefix: prefix, metrics });
    const t = await testApp(fx, { bus, metrics, featureTtlSeconds: 120 });
    const raw = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await raw.connect();
      const got: SignalsGenerated[] = [];
      const c = bus.consume(busStreams.signalsGenerated, 'orchestrator', 'test', (e) => void got.push(decodeSignalsGenerated(e.fields)), { blockMs: 100 });
      const req = { as_of_date: LAST_DATE, top_n: 3, bottom_n: 3 };
      const cold = await t.app.signals.generate(req);
      expect(cold.cache.hits).toBe(0);
      const n = cold.signals.length;
      const pttl = await raw.pttl(prefix + busKeys.features('AAPL', LAST_DATE));
      expect(pttl).toBeGreaterThan(100_000);
      expect(pttl).toBeLessThanOrEqual(120_000);
      const warm = await t.app.signals.generate(req);
      expect(warm.cache).toEqual({ hits: n, misses: 0 });
      expect(warm.signals).toEqual(cold.signals);
      await waitFor(() => got.length >= 2, 5000, 'two signals.generated entries');
      await c.stop();
      expect(got[1]).toEqual({ as_of_date: LAST_DATE, symbols: warm.signals.map((s) => s.symbol), model_version: 'alpha158-gbdt@1', timestamp: warm.generated_at });
    } finally {
      raw.disconnect();
      await t.close();
      await bus.close();
      await deletePrefix(prefix);
    }
  });

  describe('Redis outage (throwaway redis-server, SIGKILL)', () => {
    let server: ThrowawayRedis | undefined;
    let bus: Bus | undefined;
    afterAll(async () => {
      await bus?.close();
      await server?.kill();
    });

    it('keeps answering without the cache while Redis is down (identical signals), /health degraded; the cache is back with Redis', async () => {
      server = new ThrowawayRedis(await freePort());
      await server.start();
      const metrics = createMetrics('signals-outage', { defaultMetrics: false });
      bus = await openTestRedisBus({ url: server.url, keyPrefix: 'o:', metrics, redis: { commandTimeoutMs: 300, maxBackoffMs: 200 } });
      const t = await testApp(fx, { bus, metrics });
      try {
        const req = { as_of_date: LAST_DATE, top_n: 4, bottom_n: 4 };
        const cold = await t.app.signals.generate(req);
        const n = cold.signals.length;
        expect((await t.app.signals.generate(req)).cache).toEqual({ hits: n, misses: 0 });

        await server.kill();
        await waitFor(() => bus!.status() === 'down', 5000, 'the bus to notice');
        for (let i = 0; i < 3; i++) {
          const r = await t.app.inject({ method: 'POST', url: '/api/v1/signals/generate', payload: req });
          expect(r.statusCode).toBe(200);
          const b = r.json<SignalsResponse>();
          expect(b.cache).toEqual({ hits: 0, misses: n });
          expect(b.signals).toEqual(cold.signals);
        }
        const h = await t.app.inject({ method: 'GET', url: '/health' });
        expect(h.statusCode).toBe(200);
        const hb = h.json<{ status: string; checks: Record<string, { status: string; detail?: string }> }>();
        expect(hb.status).toBe('degraded');
        expect(hb.checks.bus!.status).toBe('down');
        expect(hb.checks.bus!.detail).toMatch(/without the feature cache/);
        expect([hb.checks.model!.status, hb.checks.data!.status]).toEqual(['up', 'up']);
        expect(await metricValue(metrics, 'kestrel_signals_bus_degraded')).toBe(1);
        expect(await metricValue(metrics, 'kestrel_signals_degraded_requests_total')).toBe(3);
        await waitFor(async () => ((await metricValue(metrics, 'kestrel_signals_publish_failures_total')) ?? 0) >= 3, 5000, 'publish failures counted');
        const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
        expect(text).toMatch(/kestrel_signals_generate_duration_seconds_count\{[^}]*cache="off"[^}]*\} 3/);

        // Redis is back (empty: no persistence): misses once, then hits again
        await server.start();
        await waitFor(() => bus!.status() === 'up', 10_000, 'the bus to reconnect');
        expect((await t.app.signals.generate(req)).cache).toEqual({ hits: 0, misses: n });
        expect((await t.app.signals.generate(req)).cache).toEqual({ hits: n, misses: 0 });
        const h2 = (await t.app.inject({ method: 'GET', url: '/health' })).json<{ status: string }>();
        expect(h2.status).toBe('ok');
        expect(await metricValue(metrics, 'kestrel_signals_bus_degraded')).toBe(0);
      } finally {
        await t.close();
      }
    });
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../observability/metrics.js';
import { BusUnavailableError, type Bus } from './index.js';
import { busContract, deletePrefix, freePort, openTestRedisBus, sleep, ThrowawayRedis, uniquePrefix, waitFor } from './test-helpers.js';

const prefix = uniquePrefix();
const otherPrefixes: string[] = [];

busContract('Redis (redis.ts)', async () => ({
  bus: await openTestRedisBus({ keyPrefix: prefix }),
  another: () => openTestRedisBus({ keyPrefix: prefix }),
  otherPrefix: () => {
    const p = uniquePrefix();
    otherPrefixes.push(p);
    return openTestRedisBus({ keyPrefix: p });
  },
  cleanup: async () => {
    for (const p of [prefix, ...otherPrefixes]) await deletePrefix(p);
  },
}));

describe('Redis bus start-up', () => {
  it('fails fast with a one-line cause (no credentials) when Redis is unreachable', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = await openTestRedisBus({ keyPrefix: 'x:', url: `redis://kestrel:s3cret@127.0.0.1:${port}`, redis: { connectTimeoutMs: 500 } }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(Error);
    const cause = (err as Error).cause;
    expect(cause).toBeInstanceOf(BusUnavailableError);
    expect((cause as Error).message).toMatch(new RegExp(`redis at redis://127\\.0\\.0\\.1:${port} is unreachable.*unset REDIS_URL`));
    expect((err as Error).message).not.toMatch(/s3cret/);
  });
});

describe('Redis outage (throwaway redis-server, SIGKILL)', () => {
  let server: ThrowawayRedis | undefined;
  let bus: Bus | undefined;
  afterAll(async () => {
    await bus?.close();
    await server?.kill();
  });

  it('degrades while Redis is down and recovers by itself when it is back', async () => {
    server = new ThrowawayRedis(await freePort());
    await server.start();
    const metrics = createMetrics('outage', { defaultMetrics: false });
    const commandTimeoutMs = 500;
    bus = await openTestRedisBus({ url: server.url, keyPrefix: 'o:', metrics, redis: { commandTimeoutMs, maxBackoffMs: 300 } });
    const b = bus;

    await b.set('k', 'v');
    expect(await b.get('k')).toBe('v');
    const messages: string[] = [];
    await b.subscribe('events', (m) => void messages.push(m));
    const processed: string[] = [];
    const consumer = b.consume('signals', 'orchestrator', 'w1', (e) => void processed.push(e.fields.n!), { blockMs: 200 });
    await b.xadd('signals', { n: 'before' });
    await waitFor(() => processed.length === 1, 5000, 'entry before the outage');
    expect(b.status()).toBe('up');

    await server.kill();

    // cache reads degrade to a miss, quickly, without throwing
    const t0 = Date.now();
    expect(await b.get('k')).toBeNull();
    expect(Date.now() - t0).toBeLessThan(commandTimeoutMs + 500);
    await waitFor(() => b.status() === 'down', 2000, "status 'down'");
    const t1 = Date.now();
    expect(await b.mget(['k', 'j'])).toEqual([null, null]);
    expect(await b.getF64('f')).toBeNull();
    expect(await b.set('k', 'w', 60)).toBe(false);
    expect(await b.mset([['a', '1']], 60)).toBe(false);
    expect(await b.publish('events', 'lost')).toBe(false);
    expect(Date.now() - t1).toBeLessThan(500); // disconnected: rejected at once, no queueing
    await expect(b.get('k', { strict: true })).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(b.del('k')).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(b.xadd('signals', { n: 'lost' })).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(b.ensureGroup('signals', 'g')).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(b.ping(300)).rejects.toBeInstanceOf(BusUnavailableError);
    const hc = await b.healthCheck('redis').check();
    expect(hc.status).toBe('down');
    const unsubscribeWhileDown = await b.subscribe('late', (m) => void messages.push(`late:${m}`));
    const degraded = await metrics.registry.metrics();
    expect(degraded).toMatch(/kestrel_bus_degraded_total\{op="publish",service="outage"\} 1/);
    expect(degraded).toMatch(/kestrel_bus_degraded_total\{op="get",service="outage"\} [2-9]/);

    await sleep(300);
    await server.start(); // same port, empty (no persistence)
    await waitFor(() => b.status() === 'up', 5000, "status 'up' after restart");
    expect(await b.set('k', 'again')).toBe(true);
    expect(await b.get('k')).toBe('again');
    expect((await b.healthCheck('redis').check()).status).toBe('up');

    // subscriptions are restored (including the one made while down)
    await waitFor(
      async () => {
        await b.publish('events', 'after');
        await b.publish('late', 'x');
        await sleep(50);
        return messages.includes('after') && messages.includes('late:x');
      },
      5000,
      'pub/sub after reconnect',
    );
    await unsubscribeWhileDown();

    // the consumer resumes on its own; the restarted server lost the group, which it recreates
    await waitFor(
      async () => {
        await b.xadd('signals', { n: 'after' });
        await sleep(100);
        return processed.includes('after');
      },
      8000,
      'stream consumer after reconnect',
    );
    await consumer.stop();
    expect(processed[0]).toBe('before');
  });
});

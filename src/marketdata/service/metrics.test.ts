import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../observability/metrics.js';
import { MarketDataClient } from '../client/stream-client.js';
import type { ReplayServer } from '../replay/server.js';
import { KEYS, testServer, waitFor } from '../replay/test-kit.js';
import { registerMarketDataMetrics } from './metrics.js';

/** Value of one series in Prometheus text (labels given must all match); NaN when absent. */
function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return NaN;
}

describe('market-data client metrics', () => {
  let server: ReplayServer | null = null;
  let client: MarketDataClient | null = null;
  afterEach(async () => {
    client?.close();
    client = null;
    await server?.close();
    server = null;
  });

  it('move with the client: messages by type, malformed, out-of-order, gaps, reconnects, staleness, subscriptions', async () => {
    server = testServer();
    const port = await server.listen(0);
    client = new MarketDataClient({ url: `ws://127.0.0.1:${port}/v2/iex`, ...KEYS, staleMs: 300, backoff: { initialMs: 10, maxMs: 20 } });
    const m: Metrics = createMetrics('marketdata-test', { defaultMetrics: false });
    registerMarketDataMetrics(m, { client });
    registerMarketDataMetrics(m, { client }); // idempotent per registry
    const scrape = () => m.registry.metrics();
    const v = async (name: string, labels?: Record<string, string>) => seriesValue(await scrape(), `kestrel_marketdata_${name}`, labels);

    expect(await v('messages_total', { type: 'trade' })).toBe(0);
    expect(await v('feed_live')).toBe(0);
    expect(await v('subscribed_symbols', { source: 'wanted' })).toBe(0);

    client.subscribe(['NOPE']); // a symbol without data: confirmed, but silent
    await client.connect();
    await waitFor(() => client!.subscriptionCounts.confirmed === 1, 2000, 'subscription');
    expect(await v('feed_live')).toBe(1);
    expect(await v('subscribed_symbols', { source: 'wanted' })).toBe(1);
    expect(await v('subscribed_symbols', { source: 'confirmed' })).toBe(1);
    expect(await v('messages_total', { type: 'control' })).toBe(3); // connected, authenticated, subscription

    const t = (i: number) => ({ T: 't', S: 'ZZZ', i, x: 'V', p: 1.5, s: 10, t: '2025-01-17T15:00:00Z', c: [], z: 'C' });
    server.injectRaw(JSON.stringify([t(1), t(2), t(5)])); // 3, 4 missing
    server.injectRaw(JSON.stringify([t(4), { T: 't', S: 'ZZZ' }])); // late, malformed element
    server.injectRaw('{garbage');
    server.injectRaw(JSON.stringify([{ T: 'b', S: 'ZZZ', o: 1, h: 2, l: 1, c: 2, v: 10, t: '2025-01-17T15:00:00Z' }, { T: 'q', S: 'ZZZ', bx: 'V', bp: 1, bs: 1, ax: 'V', ap: 2, as: 1, t: '2025-01-17T15:00:00Z', c: [], z: 'C' }]));
    await waitFor(() => client!.counters.bars === 1, 2000, 'injected frames');
    const text = await scrape();
    const at = (name: string, labels?: Record<string, string>) => seriesValue(text, `kestrel_marketdata_${name}`, labels);
    expect(at('messages_total', { type: 'trade' })).toBe(3);
    expect(at('messages_total', { type: 'bar' })).toBe(1);
    expect(at('messages_total', { type: 'quote' })).toBe(1);
    expect(at('frames_total')).toBe(7);
    expect(at('malformed_total')).toBe(2);
    expect(at('out_of_order_total')).toBe(1);
    expect(at('sequence_gaps_total')).toBe(1);
    expect(at('missed_trades_total')).toBe(2);
    expect(at('reconnects_total')).toBe(0);
    expect(at('stale')).toBe(0);
    expect(at('last_message_age_seconds')).toBeLessThan(0.3);
    expect(text).toMatch(/# TYPE kestrel_marketdata_messages_total counter/);

    await waitFor(() => client!.isStale, 2000, 'stale');
    expect(await v('stale')).toBe(1);
    expect(await v('last_message_age_seconds')).toBeGreaterThanOrEqual(0.3);

    server.drop();
    await waitFor(() => client!.counters.reconnects === 1 && client!.state === 'live', 3000, 'reconnect');
    expect(await v('reconnects_total')).toBe(1);
    expect(await v('stale')).toBe(0);
    expect(await v('messages_total', { type: 'trade' })).toBe(3); // counters are totals across connections
  });
});

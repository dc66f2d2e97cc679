import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busKeys, openBus, type Bus } from '../../bus/index.js';
import { TEST_REDIS_URL } from '../../bus/test-helpers.js';
import { silentLogger } from '../../core/logger.js';
import { tempDir } from '../../data/test-helpers.js';
import { collectStatus, renderStatus } from './status.js';
import { fakeGateway, statusConfig, type FakeGateway } from './test-helpers.js';

/** `kestrel status` reading marks from a real Redis (REDIS_URL), as the market-data service writes them. */
describe('kestrel status with REDIS_URL', () => {
  const tmp = tempDir('kestrel-status-redis-');
  // status reads unprefixed keys, like the services: symbols unique to this run keep the shared server clean.
  const tag = `Z${Date.now().toString(36).toUpperCase()}${process.pid}`;
  const FRESH = `${tag}F`;
  const STALE = `${tag}S`;
  const NONE = `${tag}N`;
  let bus: Bus;
  let gw: FakeGateway;

  beforeAll(async () => {
    bus = await openBus({ redisUrl: TEST_REDIS_URL, logger: silentLogger() });
    gw = await fakeGateway([
      { symbol: FRESH, qty: '4', avg_entry_price: '10', realized_pnl: '0' },
      { symbol: STALE, qty: '2', avg_entry_price: '20', realized_pnl: '0' },
      { symbol: NONE, qty: '1', avg_entry_price: '30', realized_pnl: '0' },
    ]);
  });
  afterAll(async () => {
    await bus?.del([FRESH, STALE, NONE].map((s) => busKeys.price(s)));
    await bus?.close();
    await gw?.close();
    tmp.cleanup();
  });

  it('uses fresh price:{symbol} marks and labels stale ones', async () => {
    const now = new Date();
    await bus.setJson(busKeys.price(FRESH), { price: '12.5', size: 100, ts: new Date(now.getTime() - 2_000).toISOString() }, 60);
    await bus.setJson(busKeys.price(STALE), { price: '21', size: 100, ts: new Date(now.getTime() - 120_000).toISOString() }, 60);
    const config = await statusConfig(tmp.dir, gw.port, { REDIS_URL: TEST_REDIS_URL });
    const r = await collectStatus(config, now);

    expect(r.components.find((c) => c.name === 'redis')?.status).toBe('up');
    expect(r.pnl!.marks).toMatchObject({ live: 1, stale: 1, close: 0, none: 1, max_age_ms: 60_000 });
    expect(r.pnl!.marks!.feed).toMatch(/^price cache at redis:\/\//);
    expect(r.positions.map((p) => [p.symbol, p.mark, p.mark_source, p.mark_stale, p.live_mark, p.unrealized_pnl])).toEqual([
      // Rounded at the edge: marks at their tick, money in cents (docs/concepts/pnl.md).
      [FRESH, '12.50', 'live', false, 'fresh', '10.00'],
      [STALE, '21.00', 'live', true, 'stale', '2.00'], // no stored close to prefer: used, labelled stale
      [NONE, null, null, false, 'missing', null],
    ]);
    expect(renderStatus(r, false)).toMatch(/marks: 1 live \(≤ 60 s\), 1 stale \(oldest .*Z\), 1 none \(valued at entry\) — price cache at redis:/);
  });
});

import { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { MemoryBackend, MemoryBus } from '../../bus/index.js';
import { waitFor } from '../../bus/test-helpers.js';
import type { Db } from '../../db/db.js';
import { migrate } from '../../db/migrate.js';
import { openPglite } from '../../db/pglite.js';
import { createServiceApp, type ServiceApp } from '../../observability/http-app.js';
import type { PnlSnapshot } from '../../pnl/portfolio.js';
import { LivePnl } from './live-pnl.js';
import { PriceCache } from './price-cache.js';
import { registerPnlRoutes } from './sse.js';
import { seedPositions } from './test-helpers.js';

describe('P&L HTTP routes', () => {
  let db: Db;
  let bus: MemoryBus;
  let cache: PriceCache;
  let live: LivePnl;
  let svc: ServiceApp;
  let routes: { openStreams: () => number };
  let base: string;

  beforeAll(async () => {
    db = await openPglite(null);
    await migrate(db);
    await seedPositions(db, [
      ['AAPL', '10', '150', '0'],
      ['TSLA', '1', '200', '0'],
    ]);
    bus = new MemoryBus({ logger: silentLogger(), backend: new MemoryBackend() });
    cache = new PriceCache({ bus });
    live = new LivePnl({ db, marks: cache, throttleMs: 10, staleAfterMs: 60_000 });
    cache.onPrice((s) => live.onPrice(s));
    cache.onTrade({ symbol: 'AAPL', id: 1, price: '151', size: '1', ts: new Date().toISOString() });
    cache.onTrade({ symbol: 'TSLA', id: 2, price: '190', size: '1', ts: '2020-01-01T00:00:00.000Z' }); // stale
    await live.reload();
    svc = await createServiceApp({ name: 'marketdata-test', version: '0.0.0', logger: silentLogger() });
    routes = registerPnlRoutes(svc.app, live, { heartbeatMs: 20 });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await svc?.app.close();
    live?.close();
    await cache?.close();
    await bus?.close();
    await db?.close();
  });

  it('GET /api/v1/pnl answers the snapshot in UTC with stale marks listed', async () => {
    const res = await fetch(`${base}/api/v1/pnl`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as PnlSnapshot;
    expect(body.timezone).toBe('UTC');
    expect(body.stale_marks).toEqual(['TSLA']);
    expect(Number(body.unrealized_pnl)).toBe(10 - 10); // AAPL +10, TSLA −10
  });

  it('GET /api/v1/pnl/stream sends event: pnl on connect and on change, heartbeats, and cleans up on disconnect', async () => {
    const events: PnlSnapshot[] = [];
    let raw = '';
    let heartbeats = 0;
    const req = request(`${base}/api/v1/pnl/stream`);
    const gotTwo = new Promise<IncomingMessage>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          raw += chunk;
          let i: number;
          while ((i = raw.indexOf('\n\n')) >= 0) {
            const block = raw.slice(0, i);
            raw = raw.slice(i + 2);
            if (block.startsWith(':')) heartbeats++;
            const m = /^event: pnl\ndata: (.*)$/s.exec(block);
            if (m) {
              events.push(JSON.parse(m[1]!) as PnlSnapshot);
              if (events.length === 1) cache.onTrade({ symbol: 'AAPL', id: 3, price: '160.5', size: '1', ts: new Date().toISOString() });
              if (events.length === 2) resolve(res);
            }
          }
        });
      });
    });
    req.end();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out waiting for 2 SSE events')), 5000);
    });
    try {
      await Promise.race([gotTwo, timeout]);
    } finally {
      clearTimeout(timer);
    }
    expect(live.listenerCount).toBe(1);
    expect(routes.openStreams()).toBe(1);
    expect(Number(events[0]!.unrealized_pnl)).toBe(0);
    expect(Number(events[1]!.unrealized_pnl)).toBe(95); // (160.5 − 150) × 10 − 10
    expect(events[1]!.timezone).toBe('UTC');
    await waitFor(() => heartbeats >= 1, 2000, 'a heartbeat');
    req.destroy(); // client disconnects
    await waitFor(() => live.listenerCount === 0 && routes.openStreams() === 0, 2000, 'server-side cleanup');
  });
});

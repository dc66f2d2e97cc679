import type { Bus } from '../../bus/index.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Db } from '../../db/db.js';
import { isSymbol } from '../../model/symbol.js';
import { createServiceApp } from '../../observability/http-app.js';
import type { FastifyInstance } from 'fastify';
import { MarketDataClient } from '../client/stream-client.js';
import { toBar, toTrade } from '../client/adapters.js';
import { LivePnl } from './live-pnl.js';
import { registerMarketDataMetrics } from './metrics.js';
import { PriceCache } from './price-cache.js';
import { registerPnlRoutes } from './sse.js';
import { openPositionSymbols, SubscriptionManager } from './subscriptions.js';
import { TickStore } from './tick-store.js';

/**
 * `kestrel serve marketdata`: the streaming client (Alpaca market-data v2 protocol, the replay
 * server by default) feeding the price cache (`price:{symbol}` + `prices.updated`), the tick
 * store and live P&L (`GET /api/v1/pnl`, SSE `GET /api/v1/pnl/stream`). Subscriptions follow the
 * book: symbols with open positions, refreshed every `refreshMs`.
 */
export interface MarketDataAppOptions {
  db: Db;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** `sequenced`: trade ids form one sequence per connection (default: true unless the URL is Alpaca's). */
  feed: { url: string; key: string; secret: string; sequenced?: boolean };
  refreshMs?: number;
  /** Marks older than this are stale in the live P&L (MARKS_MAX_AGE_MS). Default 60 s. */
  marksMaxAgeMs?: number;
  /** Extra symbols to follow (e.g. today's signals). */
  signalSymbols?: () => readonly string[] | Promise<readonly string[]>;
  /** Tokens reads need (accessFor in observability/auth.ts); none = reads open. */
  readTokens?: readonly string[];
  version?: string;
}

export type MarketDataApp = FastifyInstance & { marketdata: { client: MarketDataClient; cache: PriceCache; ticks: TickStore; pnl: LivePnl; subscriptions: SubscriptionManager } };

export async function buildMarketDataApp(o: MarketDataAppOptions): Promise<MarketDataApp> {
  const cache = new PriceCache({ bus: o.bus, clock: o.clock, logger: o.logger });
  const ticks = new TickStore({ db: o.db, logger: o.logger });
  const pnl = new LivePnl({ db: o.db, marks: cache, clock: o.clock, logger: o.logger, ...(o.marksMaxAgeMs ? { staleAfterMs: o.marksMaxAgeMs } : {}) });
  cache.onPrice((symbol) => pnl.onPrice(symbol));
  const client = new MarketDataClient({
    url: o.feed.url,
    key: o.feed.key,
    secret: o.feed.secret,
    clock: o.clock,
    logger: o.logger,
    staleMs: 30_000,
    // Alpaca's ids are exchange trade ids, not a per-connection sequence (that is the replay's).
    sequenced: o.feed.sequenced ?? !/alpaca\.markets/.test(o.feed.url),
    onTrade: (m) => {
      // Only canonical tickers become `price:{symbol}` keys (what we subscribed is canonical).
      if (!isSymbol(m.S)) return;
      const t = toTrade(m);
      cache.onTrade(t);
      ticks.addTrade(t);
    },
    onBar: (m) => ticks.addBar(toBar(m)),
    // One P&L computation per frame, including every trade of it.
    onFrameEnd: () => pnl.settle(),
    onGap: (g) => o.logger.warn({ gap: g }, 'market data: reconnected after a gap'),
    onStale: (ms) => o.logger.warn({ silent_ms: ms }, 'market data: stale feed'),
  });
  const subscriptions = new SubscriptionManager({ target: client, positionSymbols: () => openPositionSymbols(o.db), signalSymbols: o.signalSymbols ?? (() => []) });

  const { app, metrics } = await createServiceApp({
    name: 'marketdata',
    version: o.version ?? '0.1.0',
    logger: o.logger,
    checks: [
      { name: 'feed', critical: true, check: async () => ({ status: client.state === 'live' ? 'up' : 'down', detail: client.state }) },
      { name: 'database', critical: true, check: async () => (await o.db.ping(), { status: 'up' }) },
      o.bus.healthCheck('bus', false),
    ],
    readTokens: o.readTokens,
  });
  registerPnlRoutes(app, pnl);
  registerMarketDataMetrics(metrics, { client, cache, ticks, pnl });
  const tagged = app as MarketDataApp;
  tagged.marketdata = { client, cache, ticks, pnl, subscriptions };

  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await pnl.reload();
    void client.connect().catch((e: unknown) => o.logger.error({ err: (e as Error).message }, 'market data: feed refused the connection'));
    const refresh = () =>
      subscriptions
        .refresh()
        .then(() => pnl.reload())
        .catch((e: unknown) => o.logger.warn({ err: (e as Error).message }, 'market data: subscription refresh failed'));
    await refresh();
    timer = setInterval(refresh, o.refreshMs ?? 5_000);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
    await client.close();
    await cache.close();
    await ticks.close();
    pnl.close();
  });
  return tagged;
}

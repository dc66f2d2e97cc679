import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../../observability/metrics.js';
import type { MarketDataClient } from '../client/stream-client.js';
import type { LivePnl } from './live-pnl.js';
import type { PriceCache } from './price-cache.js';
import type { TickStore } from './tick-store.js';

/**
 * The market-data service's Prometheus series (`kestrel_marketdata_*`). They are read from
 * the components' own plain counters when /metrics is scraped (prom-client `collect`), so the
 * hot path — 20,000 trades/s — pays nothing for them: no label hashing per message.
 */
export interface MarketDataMetricSources {
  client: MarketDataClient;
  cache?: PriceCache;
  ticks?: TickStore;
  pnl?: LivePnl;
}

export function registerMarketDataMetrics(m: Metrics, src: MarketDataMetricSources): void {
  const registers = [m.registry];
  // Counters mirror monotonic totals: reset then set to the total, so a scrape is exact.
  const counter = (name: string, help: string, read: () => Record<string, number> | number, labelName?: string) => {
    if (m.registry.getSingleMetric(`kestrel_${name}`)) return;
    new Counter({
      name: `kestrel_${name}`,
      help,
      labelNames: labelName ? [labelName] : [],
      registers,
      collect() {
        const v = read();
        this.reset();
        if (typeof v === 'number') this.inc(v);
        else for (const [label, x] of Object.entries(v)) this.inc({ [labelName!]: label }, x);
      },
    });
  };
  const gauge = (name: string, help: string, read: () => Record<string, number> | number, labelName?: string) => {
    if (m.registry.getSingleMetric(`kestrel_${name}`)) return;
    new Gauge({
      name: `kestrel_${name}`,
      help,
      labelNames: labelName ? [labelName] : [],
      registers,
      collect() {
        const v = read();
        if (typeof v === 'number') this.set(v);
        else for (const [label, x] of Object.entries(v)) this.set({ [labelName!]: label }, x);
      },
    });
  };

  const { client, cache, ticks, pnl } = src;
  const c = client.counters;
  counter('marketdata_messages_total', 'feed messages received by type (trade counts accepted trades only)', () => ({ trade: c.trades, quote: c.quotes, bar: c.bars, control: c.control }), 'type');
  counter('marketdata_frames_total', 'feed frames (WebSocket messages) received', () => c.frames);
  counter('marketdata_malformed_total', 'feed frames or elements that were not valid messages (skipped)', () => c.malformed);
  counter('marketdata_out_of_order_total', 'trades whose id was not above the last one on the connection (skipped)', () => c.outOfOrder);
  counter('marketdata_reconnects_total', 'reconnections after a live connection dropped', () => c.reconnects);
  counter('marketdata_sequence_gaps_total', 'trade id jumps within one connection (sequenced feeds)', () => c.gaps);
  counter('marketdata_missed_trades_total', 'trade ids skipped by those jumps', () => c.missedTrades);
  gauge('marketdata_last_message_age_seconds', 'seconds since the last feed frame', () => client.lastMessageAgeMs() / 1000);
  gauge('marketdata_stale', '1 while the staleness watchdog has fired and nothing arrived since', () => (client.isStale ? 1 : 0));
  gauge('marketdata_feed_live', '1 while authenticated and subscribed', () => (client.state === 'live' ? 1 : 0));
  gauge('marketdata_subscribed_symbols', 'symbols wanted by the client, and trade symbols the server confirmed', () => {
    const s = client.subscriptionCounts;
    return { wanted: s.wanted, confirmed: s.confirmed };
  }, 'source');
  if (cache) {
    counter('marketdata_price_cache_flushes_total', 'price cache flushes to the bus', () => cache.stats.flushes);
    counter('marketdata_price_cache_write_failures_total', 'price cache flushes whose bus write failed', () => cache.stats.writeFailures);
  }
  if (ticks) {
    counter('marketdata_ticks_written_total', 'rows written by the tick store', () => ({ trades: ticks.stats.tradesWritten, bars_1m: ticks.stats.barsWritten }), 'table');
    counter('marketdata_ticks_dropped_total', 'rows the tick store refused (buffer full, malformed) or the database rejected', () => ticks.stats.dropped + ticks.stats.rejected);
    gauge('marketdata_ticks_buffered', 'rows waiting in the tick store buffer', () => ticks.buffered);
  }
  if (pnl) counter('marketdata_pnl_computations_total', 'live P&L computations', () => pnl.computations);
}

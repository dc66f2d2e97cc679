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
  // One series per name, read at scrape time: `put` writes each value read (by label when the
  // reader returns a record). Counters mirror monotonic totals: reset then set to the total, so
  // a scrape is exact; gauges are set.
  type Read = () => Record<string, number> | number;
  const scraped = (kind: 'counter' | 'gauge', name: string, help: string, read: Read, labelName?: string) => {
    if (m.registry.getSingleMetric(`kestrel_${name}`)) return;
    const put = (v: ReturnType<Read>, write: (value: number, labels?: Record<string, string>) => void) => {
      if (typeof v === 'number') write(v);
      else for (const [label, x] of Object.entries(v)) write(x, { [labelName!]: label });
    };
    const config = { name: `kestrel_${name}`, help, labelNames: labelName ? [labelName] : [], registers: [m.registry] };
    if (kind === 'counter') {
      new Counter({
        ...config,
        collect() {
          const v = read();
          this.reset();
          put(v, (x, labels) => (labels ? this.inc(labels, x) : this.inc(x)));
        },
      });
    } else {
      new Gauge({
        ...config,
        collect() {
          put(read(), (x, labels) => (labels ? this.set(labels, x) : this.set(x)));
        },
      });
    }
  };
  const counter = (name: string, help: string, read: Read, labelName?: string) => scraped('counter', name, help, read, labelName);
  const gauge = (name: string, help: string, read: Read, labelName?: string) => scraped('gauge', name, help, read, labelName);

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

import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';

/** The signal service's Prometheus metrics (names get the `kestrel_` prefix). */
export interface SignalsMetrics {
  /** result: ok | client_error (4xx) | unavailable (503) | error. */
  requests: Counter<string>;
  cacheHits: Counter<string>;
  cacheMisses: Counter<string>;
  /** Cache writes dropped (bus down). */
  cacheWriteDrops: Counter<string>;
  /** cache: hit (every vector cached) | partial | miss (all computed) | off (bus down). */
  generateSeconds: Histogram<string>;
  /** The production version being served (0 = none). */
  modelVersion: Gauge<string>;
  /** result: ok | failed. */
  reloads: Counter<string>;
  registryErrors: Counter<string>;
  /** result: ok | failed. */
  dataReloads: Counter<string>;
  /** 1 while the bus is unreachable: signals are computed without the cache. */
  busDegraded: Gauge<string>;
  /** Requests answered without the cache because the bus was down. */
  degradedRequests: Counter<string>;
  publishFailures: Counter<string>;
}

export function signalsMetrics(m: Metrics): SignalsMetrics {
  return {
    requests: m.counter('signals_requests_total', 'Signal generation requests by outcome', ['result']),
    cacheHits: m.counter('signals_feature_cache_hits_total', 'Feature vectors read from the cache (features:{symbol}:{date})'),
    cacheMisses: m.counter('signals_feature_cache_misses_total', 'Feature vectors computed from the data store (not cached, stale or bus down)'),
    cacheWriteDrops: m.counter('signals_feature_cache_write_drops_total', 'Feature cache writes dropped because the bus was unreachable'),
    generateSeconds: m.histogram('signals_generate_duration_seconds', 'Signal generation latency (features, scoring, ranking)', ['cache'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
    modelVersion: m.gauge('signals_model_version', 'Production model version being served (0 = none loaded)', ['name']),
    reloads: m.counter('signals_model_reloads_total', 'Model reloads by result (failed: the previous model stays)', ['result']),
    registryErrors: m.counter('signals_registry_errors_total', 'Registry polls that failed (database unreachable)'),
    dataReloads: m.counter('signals_data_reloads_total', 'Data snapshot loads by result (failed: the previous snapshot stays)', ['result']),
    busDegraded: m.gauge('signals_bus_degraded', '1 while the bus (Redis) is unreachable: no feature cache, signals.generated not published'),
    degradedRequests: m.counter('signals_degraded_requests_total', 'Requests answered without the feature cache because the bus was unreachable'),
    publishFailures: m.counter('signals_publish_failures_total', 'signals.generated events that could not be written to the stream'),
  };
}
